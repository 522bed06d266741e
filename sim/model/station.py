"""Queues and staff pools: the engine every pipeline stage runs on.

A :class:`Station` is one stage's queue. A :class:`Pool` is a group of staff who serve
one or more stations; when a member is free, the pool takes the most urgent waiting
job across its stations (lowest key, then arrival order). A station without a pool is
an infinite-server delay (no waiting), and a disabled station passes work straight on.

Working time: a pool without a calendar works continuously (work hours become calendar
time at a fixed rate); a pool with a :class:`~sim.model.calendar.ShiftCalendar` starts
jobs only on shift, and a job in hand runs on shift and pauses off shift (its end is
computed once, by the calendar, when it starts). *Expedited* items (a station's
``expedite`` levels) sort ahead of every other item, may be started off shift by a free
member (on call) and run continuously at full speed.

Service completions are events on SimPy's queue with a callback, not a process per
job: the cost of one service is one scheduled event. Jobs are never interrupted
(service is non-preemptive); staff leaving a pool finish the job in hand first.

This is the simulator's hot path (see ``bench/RESULTS.md``): a job that finds a free
member starts at once without passing through the queue, and a service completion is a
small :class:`~sim.model.engine.Call` record pushed straight onto the environment's
event queue exactly as :meth:`simpy.Environment.schedule` would push a ``Timeout``
(same time, priority and sequence number, so the event order is unchanged).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import NORMAL

from sim.model.engine import Call, Engine
from sim.monitor.records import END_OFFSET, LOG_END, LOG_ROW, StationLog

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.calendar import ShiftCalendar

#: ``key(item, now) -> (k1, k2)``: lower keys are served first.
KeyFn = Callable[[Any, float], tuple[float, float]]
#: ``work(item) -> hours`` of staff effort (calendar hours for a delay stage).
WorkFn = Callable[[Any], float]
#: ``on_done(item)``, or ``on_done(item, tier)`` for a station made with ``pass_tier``.
DoneFn = Callable[..., None]

#: Subtracted from an expedited item's first key: it sorts ahead of every other item.
EXPEDITE_OFFSET = 1e15
#: First keys below this are expedited items (keys are priorities, days or precedence
#: offsets, all far above).
EXPEDITE_LIMIT = -1e14

_heappush = heapq.heappush
_heappop = heapq.heappop
_pack_row = LOG_ROW.pack
_pack_end = LOG_END.pack_into
NAN = math.nan


class Pool:
    """Staff of one role, split into skill tiers with speed multipliers.

    Parameters
    ----------
    env : Engine
        The simulation clock.
    name : str
        Pool name from the scenario.
    tier_names : list of str
        Tier names.
    tier_speeds : list of float
        Speed multiplier per tier (1 = accredited speed).
    tier_counts : list of int
        Staff on duty per tier at time zero.
    work_hours_per_day : float
        Productive hours per calendar day of one person at speed 1 (continuous pools).
    calendar : ShiftCalendar, optional
        The pool's shifts; None works continuously.
    availability : float
        Share of on-shift time spent on this pool's work (shift pools): a job needs
        ``work hours / (availability * speed)`` hours of shift.
    tier_find : list of float, optional
        Chance per tier of finding evidence of a child that is there (default 1).
    tier_rework : list of float, optional
        Chance per tier that a grading job must be done again (default 0).
    """

    def __init__(self, env: Engine, name: str, tier_names: list[str],
                 tier_speeds: list[float], tier_counts: list[int], work_hours_per_day: float,
                 calendar: ShiftCalendar | None = None, availability: float = 1.0,
                 tier_find: list[float] | None = None, tier_rework: list[float] | None = None):
        self.env = env
        self.name = name
        # Tiers are tried fastest first when a job starts.
        order = sorted(range(len(tier_names)), key=lambda i: (-tier_speeds[i], i))
        self.tier_names = [tier_names[i] for i in order]
        self.tier_speeds = [tier_speeds[i] for i in order]
        self.tier_find = [tier_find[i] if tier_find else 1.0 for i in order]
        self.tier_rework = [tier_rework[i] if tier_rework else 0.0 for i in order]
        self.on_duty = [tier_counts[i] for i in order]
        self.free = list(self.on_duty)
        self.leaving = [0] * len(order)   # busy staff who leave when their job ends
        self.days_per_work_hour = 1.0 / work_hours_per_day
        self.calendar = calendar
        #: Hours of shift per work hour at speed 1 (shift pools).
        self.shift_hours_per_work_hour = 1.0 / availability
        #: False between shifts: a free member then takes expedited items only.
        self.on_shift = True
        # Off-shift book-keeping (shift pools): busy_area integrates members *holding* a
        # job, paused or not; these take out what was held between shifts, so that
        # working_time() gives the busy time actually worked and the shift time it was
        # worked in. Kept at the shift changes, off the hot path.
        self._off_area = 0.0
        self._off_time = 0.0
        self._off_mark = 0.0
        self._off_since = 0.0
        self.stations: list[Station] = []
        #: True while the pool serves exactly one station (kept by Station and by
        #: ``bar_tiers``, which add to ``stations``): the hot path's shortcuts need it.
        self.solo = False
        self.busy = 0
        self.busy_area = 0.0
        self._last = 0.0
        #: True if :meth:`release` is this one whenever no member of the tier is leaving
        #: (stations then inline it); a subclass that extends it otherwise sets False.
        self.plain_release = type(self).release is Pool.release

    def shift_ends(self, now: float) -> None:
        """The shift ends at ``now``: stop counting held jobs as work."""
        self._account(now)
        self.on_shift = False
        self._off_mark = self.busy_area
        self._off_since = now

    def shift_starts(self, now: float) -> None:
        """The shift starts at ``now``: what was held off shift is not work."""
        self._account(now)
        self.on_shift = True
        self._off_area += self.busy_area - self._off_mark
        self._off_time += now - self._off_since

    def working_time(self, now: float) -> tuple[float, float]:
        """(member-days busy on shift, days on shift) from time zero to ``now``.

        For a continuous pool these are the busy-time integral and ``now`` itself.
        """
        self._account(now)
        off_area, off_time = self._off_area, self._off_time
        if not self.on_shift:
            off_area += self.busy_area - self._off_mark
            off_time += now - self._off_since
        return self.busy_area - off_area, now - off_time

    def tier_index(self, name: str) -> int:
        """Position of tier ``name`` (pool order, fastest first)."""
        return self.tier_names.index(name)

    def _account(self, now: float) -> None:
        self.busy_area += self.busy * (now - self._last)
        self._last = now

    def headcount(self) -> int:
        """Staff on duty now (busy or free)."""
        return sum(self.on_duty)

    def add_staff(self, tier: int, n: int) -> None:
        """Put ``n`` staff of ``tier`` on duty now and start work if any waits."""
        self.on_duty[tier] += n
        self.free[tier] += n
        self.dispatch()

    def remove_staff(self, tier: int, n: int) -> int:
        """Take up to ``n`` staff of ``tier`` off duty; busy ones finish their job first.

        Returns
        -------
        int
            How many were removed (at most the number on duty).
        """
        n = min(n, self.on_duty[tier] - self.leaving[tier])
        idle = min(n, self.free[tier])
        self.free[tier] -= idle
        self.on_duty[tier] -= idle
        self.leaving[tier] += n - idle
        return n

    def release(self, tier: int) -> None:
        """A member of ``tier`` finished a job: free them, or let them leave."""
        now = self.env._now
        self.busy_area += self.busy * (now - self._last)
        self._last = now
        self.busy -= 1
        if self.leaving[tier]:
            self.leaving[tier] -= 1
            self.on_duty[tier] -= 1
        else:
            self.free[tier] += 1

    def dispatch(self) -> None:
        """Start jobs while a member is free and a job waits (off shift: expedited only).

        The station's queue-length integrals are brought up to now *before* the job
        leaves its queue (a pool can start work at a station whose clock is behind,
        e.g. when another station of the pool finishes, or when staff are added).
        """
        free = self.free
        stations = self.stations
        on_call_only = not self.on_shift
        if self.solo and not on_call_only:
            station = stations[0]
            queue = station.queue
            while queue:
                if not any(free):  # one C call instead of a Python loop over idle tiers
                    return
                tier = 0  # the fastest tier with a free member
                for n_free in free:
                    if n_free:
                        break
                    tier += 1
                now = self.env._now
                station._account(now)
                entry = _heappop(queue)
                free[tier] -= 1
                self.busy_area += self.busy * (now - self._last)
                self._last = now
                self.busy += 1
                station.start(entry[4], entry[3], tier, entry[5])
            return
        while True:
            if not any(free):  # one C call instead of a Python loop over idle tiers
                return
            tier = 0  # the fastest tier with a free member
            for n_free in free:
                if n_free:
                    break
                tier += 1
            best = None
            for candidate in stations:  # the most urgent head of queue
                queue = candidate.queue
                if queue and (best is None or queue[0] < best):
                    if on_call_only and queue[0][0] >= EXPEDITE_LIMIT:
                        continue
                    best = queue[0]
                    station = candidate
            if best is None:
                return
            now = self.env._now
            dt = now - station._last
            if dt:  # station._account(now), inlined
                n_queue = len(station.queue)
                station.queue_area += n_queue * dt
                station.system_area += (n_queue + station.in_service) * dt
                station._last = now
            entry = _heappop(station.queue)
            free[tier] -= 1
            self.busy_area += self.busy * (now - self._last)  # self._account(now), inlined
            self._last = now
            self.busy += 1
            station.start(entry[4], entry[3], tier, entry[5])


class Station:
    """One stage's queue (or delay) with its conservation counters and log.

    Parameters
    ----------
    env : Engine
        The simulation clock.
    name : str
        Stage name (kiosk is a station of its own).
    pool : Pool or None
        Staff serving it; None makes the station an infinite-server delay.
    key : KeyFn
        Queue discipline.
    work : WorkFn
        Hours of effort an item needs.
    on_done : DoneFn
        Called with the item when its service ends (and with the serving member's
        tier, -1 for none, when ``pass_tier``).
    enabled : bool
        False passes items straight to ``on_done`` (no time, no record).
    expedite : list of bool, optional
        Per priority level: items of that level are expedited here.
    pass_tier : bool
        Call ``on_done(item, tier)`` instead of ``on_done(item)``.
    """

    def __init__(self, env: Engine, name: str, pool: Pool | None, key: KeyFn,
                 work: WorkFn, on_done: DoneFn, enabled: bool = True,
                 expedite: list[bool] | None = None, pass_tier: bool = False):
        self.env = env
        self.name = name
        self.pool = pool
        self.work = work
        self.on_done = on_done
        self.pass_tier = pass_tier
        self.enabled = enabled
        self.expedite = expedite if expedite is not None and any(expedite) else None
        self.key = key if self.expedite is None else self._expedite_key(key, self.expedite)
        #: Heap of (key 1, key 2, sequence, arrived at, item, priority when it queued).
        self.queue: list[tuple[float, float, int, float, Any, int]] = []
        self.log = StationLog()
        self.arrived = 0
        self.completed = 0
        self.in_service = 0
        self.queue_area = 0.0
        self.system_area = 0.0
        self._last = 0.0
        self._seq = 0
        self._days_per_hour = pool.days_per_work_hour if pool is not None else 1.0 / 24.0
        self._tier_speeds: list[float] = pool.tier_speeds if pool is not None else []
        self._calendar = pool.calendar if pool is not None else None
        self._shift_factor = pool.shift_hours_per_work_hour if pool is not None else 1.0
        # One callbacks list shared by every completion event of this station: SimPy
        # only reads it (and then sets the event's own attribute to None).
        self._callbacks: list[Callable[[Any], None]] = [self._finish]
        self._log = self.log.data  # packed rows of LOG_DTYPE, added by start()
        #: A completion event that has happened, kept for start() to reuse (None: none).
        self._spare: Call | None = None
        self._push = env.push_entry
        self._next_id = env.next_event_id
        if pool is not None:
            pool.stations.append(self)
            pool.solo = len(pool.stations) == 1
        if not enabled:
            self.arrive = self._passer()  # type: ignore[method-assign]

    @staticmethod
    def _expedite_key(key: KeyFn, levels: list[bool]) -> KeyFn:
        def expedited(item: Any, since: float) -> tuple[float, float]:
            k1, k2 = key(item, since)
            if levels[item.case.priority]:
                return k1 - EXPEDITE_OFFSET, k2
            return k1, k2

        return expedited

    def _account(self, now: float) -> None:
        dt = now - self._last
        if dt:
            n_queue = len(self.queue)
            self.queue_area += n_queue * dt
            self.system_area += (n_queue + self.in_service) * dt
            self._last = now

    def arrive(self, item: Any, arrived_at: float | None = None) -> None:
        """An item joins the stage now (``arrived_at`` earlier, for the initial backlog)."""
        self.arrived += 1
        now = self.env._now
        queue = self.queue
        dt = now - self._last
        if dt:  # self._account(now), inlined
            n_queue = len(queue)
            self.queue_area += n_queue * dt
            self.system_area += (n_queue + self.in_service) * dt
            self._last = now
        since = now if arrived_at is None else arrived_at
        pool = self.pool
        if pool is None:
            self.start(item, since, -1)
            return
        if (not queue and (pool.on_shift or self._expedited(item))
                and (pool.solo or _none_waiting(pool.stations))):
            # Nothing waits at any station of the pool: a free member (fastest tier
            # first) takes the item at once, as dispatch() would after queueing it.
            # The sequence number still counts: dispatch() compares queue heads of a
            # pool's stations by (key, sequence number), so it breaks ties between them.
            free = pool.free
            for tier, n_free in enumerate(free):
                if n_free:
                    self._seq += 1
                    free[tier] -= 1
                    pool.busy_area += pool.busy * (now - pool._last)
                    pool._last = now
                    pool.busy += 1
                    self.start(item, since, tier)
                    return
        k1, k2 = self.key(item, since)
        self._seq += 1
        _heappush(queue, (k1, k2, self._seq, since, item, item.case.priority))
        if any(pool.free):  # else dispatch() would start nothing: no member is free
            pool.dispatch()

    def _expedited(self, item: Any) -> bool:
        levels = self.expedite
        return levels is not None and levels[item.case.priority]

    def _passer(self) -> Callable[..., None]:
        """:meth:`arrive` of a disabled station: counted, and passed straight on.

        Only arrivals are counted: at a disabled station every arrival has completed
        (:meth:`balance` says so).
        """
        on_done = self.on_done
        pass_tier = self.pass_tier

        def arrive(item: Any, arrived_at: float | None = None) -> None:
            self.arrived += 1
            if pass_tier:
                on_done(item, -1)
            else:
                on_done(item)

        return arrive

    def start(self, item: Any, arrived_at: float, tier: int, queued_priority: int = -1,
              call: Call | None = None) -> None:
        """Begin service of ``item`` by a member of ``tier`` (-1 for a delay).

        ``queued_priority`` is the case's priority when the item joined the queue (-1:
        it did not queue, so it is the priority now). ``call`` is a spent completion
        event of this station to reuse for this service's end (default: a new one).
        """
        env = self.env
        now = env._now
        dt = now - self._last
        if dt:  # self._account(now), inlined
            n_queue = len(self.queue)
            self.queue_area += n_queue * dt
            self.system_area += (n_queue + self.in_service) * dt
            self._last = now
        self.in_service += 1
        hours = self.work(item)
        if tier < 0:
            duration = hours * self._days_per_hour
        elif self._calendar is None:
            duration = hours * self._days_per_hour / self._tier_speeds[tier]
        elif self.expedite is not None and self.expedite[item.case.priority]:
            duration = hours / 24.0 / self._tier_speeds[tier]  # on call: round the clock
        else:
            duration = self._calendar.finish(
                now, hours * self._shift_factor / self._tier_speeds[tier]) - now
        if duration < 0:
            raise ValueError(f"negative service time {duration} at stage {self.name}")
        # StationLog.started(), inlined: one packed row of LOG_DTYPE.
        log = self._log
        end_at = len(log) + END_OFFSET
        priority = item.case.priority
        log += _pack_row(item.id, priority, priority if queued_priority < 0 else queued_priority,
                         arrived_at, now, NAN, duration, tier)
        # What env.timeout(duration) would schedule, minus the Timeout object.
        if call is None:
            call = self._spare  # a spent completion event of this station, if one is kept
            if call is None:
                self._push((now + duration, NORMAL, self._next_id(),
                            Call(self._callbacks, item, tier, end_at)))
                return
            self._spare = None
        call.callbacks = self._callbacks  # env.step (not run_until) clears it
        call.item = item
        call.tier = tier
        call.row = end_at
        self._push((now + duration, NORMAL, self._next_id(), call))

    def _finish(self, event: Call) -> None:
        item = event.item
        now = self.env._now
        dt = now - self._last
        if dt:  # self._account(now), inlined
            n_queue = len(self.queue)
            self.queue_area += n_queue * dt
            self.system_area += (n_queue + self.in_service) * dt
            self._last = now
        self.in_service -= 1
        self.completed += 1
        _pack_end(self._log, event.row, now)  # StationLog.ended(), inlined
        pool = self.pool
        tier = event.tier
        if pool is None:
            if self.pass_tier:
                self.on_done(item, tier)
            else:
                self.on_done(item)
            self._spare = event  # spent: start() reuses it rather than make a new one
            return
        if pool.plain_release and not pool.leaving[tier]:
            if pool.solo:
                # The pool serves this station only, so nothing on_done does can reach
                # it. If a job waits, no member is free (arrive() and dispatch() never
                # leave one free while a job waits, on shift), so release(tier) and
                # dispatch() would give the head of the queue to this very member:
                # hand it over. Off shift only an expedited head is taken.
                if self.pass_tier:
                    self.on_done(item, tier)
                else:
                    self.on_done(item)
                pool.busy_area += pool.busy * (now - pool._last)
                pool._last = now
                queue = self.queue
                if queue and (pool.on_shift or queue[0][0] < EXPEDITE_LIMIT):
                    entry = _heappop(queue)
                    self.start(entry[4], entry[3], tier, entry[5], event)
                else:
                    pool.busy -= 1
                    pool.free[tier] += 1
                    self._spare = event
                return
            # pool.release(tier), inlined
            pool.busy_area += pool.busy * (now - pool._last)
            pool._last = now
            pool.busy -= 1
            pool.free[tier] += 1
        else:
            pool.release(tier)
        if self.pass_tier:
            self.on_done(item, tier)
        else:
            self.on_done(item)
        if self.queue or not pool.solo:  # else dispatch() would find nothing
            pool.dispatch()
        self._spare = event

    def close(self, now: float) -> None:
        """Bring the time integrals up to ``now`` and log the items still waiting."""
        self._spare = None  # it holds an item: let the entities go by reference counting
        self._account(now)
        for _k1, _k2, _seq, since, item, queued in self.queue:
            self.log.waiting(item.id, item.case.priority, since, queued)

    def balance(self) -> dict[str, int]:
        """Conservation counts: arrived, completed, waiting, in service."""
        return {"arrived": self.arrived,
                "completed": self.completed if self.enabled else self.arrived,
                "waiting": len(self.queue), "in_service": self.in_service}


def _none_waiting(stations: list[Station]) -> bool:
    """True if no station of a pool has a job waiting."""
    for station in stations:  # noqa: SIM110 - a loop: any() of a generator costs more here
        if station.queue:
            return False
    return True
