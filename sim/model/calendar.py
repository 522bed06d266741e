"""Shift calendars: when a pool works, and when a job in hand finishes.

A pool on shifts works ``hours_per_day`` hours from ``shift_start_hour`` on
``days_per_week`` days of each week (Monday first), the week anchored on the weekday
of ``run.start_date`` (clock day 0 at midnight). A job needing ``h`` on-shift hours
that starts at clock ``t`` finishes when ``h`` hours of shift have passed since ``t``:
it runs while the pool is on shift and pauses in between. The calendar is periodic
with period one week, so :meth:`ShiftCalendar.finish` skips whole weeks at once and
then walks at most a couple of windows.

:class:`ShiftClock` tells the pools on a calendar when their shift starts and ends
(two events per working day, whatever the number of pools), so that a free member
takes new work only on shift.
"""

from __future__ import annotations

import bisect
import math
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.model.engine import Call, Engine

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.station import Pool

DAYS_PER_WEEK = 7.0
#: A job whose work ends within this of a shift's end (about 0.1 ms) ends with the shift.
_EPS_DAYS = 1e-9


class ShiftCalendar:
    """The on-shift windows of one working pattern.

    Parameters
    ----------
    hours_per_day : float
        Length of a shift, in hours (0 < h < 24, or 24 with fewer than 7 days).
    days_per_week : int
        Working days per week, Monday first (1 to 7).
    shift_start_hour : float
        Clock hour a shift starts (0 to 24).
    first_weekday : int
        Weekday of clock day 0 (Monday 0 ... Sunday 6).
    """

    def __init__(self, hours_per_day: float, days_per_week: int, shift_start_hour: float,
                 first_weekday: int):
        if not 0 < hours_per_day <= 24 or not 1 <= days_per_week <= 7:
            raise ValueError(f"no shift calendar of {hours_per_day} h on {days_per_week} days")
        if hours_per_day >= 24 and days_per_week >= 7:
            raise ValueError("a 24-hour, 7-day pool is continuous: it has no calendar")
        self.key = (hours_per_day, days_per_week, shift_start_hour, first_weekday)
        length = hours_per_day / 24.0
        base = [(k + shift_start_hour / 24.0, k + shift_start_hour / 24.0 + length)
                for k in range(7) if (first_weekday + k) % 7 < days_per_week]
        # Merge windows that touch (24-hour shifts on consecutive days).
        merged: list[list[float]] = []
        for s, e in base:
            if merged and s <= merged[-1][1] + 1e-12:
                merged[-1][1] = e
            else:
                merged.append([s, e])
        # Windows of the previous, this and the next week, so that any point of [0, 7)
        # finds the window it is in (a shift may run past midnight into the next week).
        ext = sorted((s + 7.0 * m, e + 7.0 * m) for m in (-1, 0, 1, 2) for s, e in merged)
        self._starts = [s for s, _ in ext]
        self._ends = [e for _, e in ext]
        self.shift_days_per_week = days_per_week * length

    def on_shift(self, t: float) -> bool:
        """True if clock ``t`` (days) is inside a shift window (start included, end not)."""
        week = math.floor(t / DAYS_PER_WEEK)
        r = t - week * DAYS_PER_WEEK
        i = bisect.bisect_right(self._ends, r)
        return self._starts[i] <= r

    def window_after(self, t: float) -> tuple[float, float]:
        """The first shift window ``(start, end)`` (clock days) that ends after ``t``.

        ``start`` may be before ``t`` (``t`` is on shift). A window that ends within
        rounding of ``t`` (about 0.1 ms) is over.
        """
        week = math.floor(t / DAYS_PER_WEEK)
        base = week * DAYS_PER_WEEK
        i = bisect.bisect_right(self._ends, t - base + 2 * _EPS_DAYS)
        return base + self._starts[i], base + self._ends[i]

    def finish(self, t: float, shift_hours: float) -> float:
        """Clock time at which ``shift_hours`` hours of shift have passed since ``t``.

        Parameters
        ----------
        t : float
            Start, clock days.
        shift_hours : float
            On-shift hours of work (>= 0).

        Returns
        -------
        float
            Clock days; ``t`` itself for no work.
        """
        if shift_hours <= 0.0:
            return t
        need = shift_hours / 24.0
        per_week = self.shift_days_per_week
        week = math.floor(t / 7.0)  # DAYS_PER_WEEK, as a constant (this is the hot path)
        if need < per_week:  # under a week of shift: no whole weeks to skip (most jobs)
            base = week * 7.0
        else:
            weeks = math.floor(need / per_week)
            if need - weeks * per_week <= _EPS_DAYS:
                weeks -= 1  # finish inside the last window, not at the start of the next
            need -= weeks * per_week
            base = (week + weeks) * 7.0
        r = t - week * 7.0
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, r)
        while True:
            s = starts[i]
            if s > r:
                r = s
            end = ends[i]
            room = end - r
            if need <= room + 1e-9:  # _EPS_DAYS: rounding must not carry a job to the next shift
                done = r + need
                return base + (done if done <= end else end)  # min(done, end)
            # The windows from r to r + 7 hold a week's shift time, at least what is
            # left, and the extended list runs to the end of the week after next.
            need -= room
            i += 1
            r = starts[i]


class ShiftClock:
    """Starts and ends the shifts of every pool on one calendar.

    At a shift start each pool is put on shift and given the chance to start work; at
    a shift end it is taken off shift (jobs in hand pause by the calendar's arithmetic;
    nothing else happens to them).

    Parameters
    ----------
    env : Engine
        The clock, at time zero.
    calendar : ShiftCalendar
        The working pattern.
    pools : list of Pool
        Pools on it.
    end_day : float
        No change is scheduled after this day.
    """

    def __init__(self, env: Engine, calendar: ShiftCalendar, pools: list[Pool], end_day: float):
        self.env = env
        self.calendar = calendar
        self.pools = pools
        self.end_day = end_day
        self._callbacks: list[Callable[[Any], None]] = [self._change]
        self._call = Call(self._callbacks, None, -1, 0)
        start, self._end = calendar.window_after(env._now)
        # The clock knows which boundary comes next, rather than asking on_shift() at a
        # boundary, where rounding could tip the answer either way.
        self._on = start <= env._now < self._end - _EPS_DAYS
        for pool in pools:
            if not self._on:
                pool.shift_ends(env._now)
        self._schedule(self._off_at() if self._on else start)

    def _off_at(self) -> float:
        # A shift ends, for new work, a rounding margin before its window does: a job
        # whose end the calendar put at the very end of the shift then finds the shift
        # over, whatever the order of events scheduled for that instant.
        return self._end - _EPS_DAYS

    def _schedule(self, at: float) -> None:
        if at < self.end_day:
            self._call.callbacks = self._callbacks  # env.step (not run_until) clears it
            # Urgent: at the boundary the shift changes before anything else happens, so
            # a job finishing or arriving exactly at the end of a shift finds it over.
            self.env.urgent_call_at(at, self._call)

    def _change(self, _call: Call) -> None:
        self._on = on = not self._on
        now = self.env._now
        for pool in self.pools:
            if on:
                pool.shift_starts(now)
                pool.dispatch()
            else:
                pool.shift_ends(now)
        if on:
            self._schedule(self._off_at())
        else:
            start, self._end = self.calendar.window_after(self.env._now)
            self._schedule(start)
