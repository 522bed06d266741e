"""The staff time series: each pool's head-count and busy time every few days.

:class:`StaffSampler` is scheduled on the replication's event queue. A sample keeps
only what changes (the pool's busy-time integral, its head-count per tier, and the
workforce state of a pool with a workforce block); the two tables are computed from
those at the end, column by column, with the same arithmetic as a row-by-row record
would use, so every value is the same to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sim.model.engine import Call, Engine
from sim.model.levers.workforce import STATUS_KEYS, Workforce
from sim.model.station import Pool
from sim.monitor.records import Table

NAN = math.nan
#: Workforce columns of the ``staff_timeseries`` table, after the original ones.
WORKFORCE_COLUMNS = STATUS_KEYS
#: Columns of ``staff_timeseries`` and ``staff_tier_timeseries``.
STAFF_COLUMNS = ("day", "pool", "on_duty", "busy_mean", "utilisation", *WORKFORCE_COLUMNS)
TIER_COLUMNS = ("day", "pool", "tier", "speed_multiplier", "on_duty")


class StaffSampler:
    """Samples each pool's head-count and busy time every ``interval_days``.

    Besides head-count on duty and mean busy staff since the last sample, each row
    has the workforce state of the pool (see
    :meth:`sim.model.levers.workforce.Workforce.status`); a second table has the head-count on
    duty per tier. Rows are in sample order, then pool order (then tier order).

    Parameters
    ----------
    env : Engine
        The clock (at time zero: the first sample is taken now).
    pools : list of Pool
        The replication's pools.
    workforce : Workforce
        Its workforce lever (the state of pools with a workforce block).
    interval_days : float
        Days between samples.
    end_day : float
        No sample after this day.
    """

    def __init__(self, env: Engine, pools: list[Pool], workforce: Workforce,
                 interval_days: float, end_day: float):
        self.env = env
        self.pools = pools
        self.interval = interval_days
        self.end = end_day
        self.days: list[float] = []
        n = len(self.pools)
        #: Per pool: busy-time integral at each sample, head-count per tier at each.
        self.areas: list[list[float]] = [[] for _ in range(n)]
        #: Shift pools: days on shift up to each sample (their areas count worked time).
        self.shift_days: list[list[float] | None] = [
            [] if pool.calendar is not None else None for pool in self.pools]
        self.on_duty: list[list[tuple[int, ...]]] = [[] for _ in range(n)]
        #: Busy staff at samples taken no time after the previous one: (sample, pool).
        self.busy_now: dict[tuple[int, int], float] = {}
        # Workforce.status() values per sample, for pools with a workforce block; for
        # the others they follow from the head-counts (workforce.untracked_status).
        self._status = workforce.status
        self.states: list[list[tuple[Any, ...]] | None] = [
            None if workforce.states.get(pool.name) is None else [] for pool in self.pools]
        self._callbacks: list[Callable[[Any], None]] = [self._sample]
        self._next = Call(self._callbacks, None, -1, 0)
        self._sample(None)

    def _sample(self, _event: Call | None) -> None:
        now = self.env._now
        days = self.days
        if days and now - days[-1] <= 0:
            for i, pool in enumerate(self.pools):
                self.busy_now[len(days), i] = float(pool.busy)
        elif not days and now <= 0:
            for i, pool in enumerate(self.pools):
                self.busy_now[0, i] = float(pool.busy)
        days.append(now)
        status = self._status
        for pool, areas, on_duty, states, shift in zip(self.pools, self.areas, self.on_duty,
                                                       self.states, self.shift_days, strict=True):
            if shift is None:
                pool._account(now)
                areas.append(pool.busy_area)
            else:
                worked, on_shift_days = pool.working_time(now)
                areas.append(worked)
                shift.append(on_shift_days)
            on_duty.append(tuple(pool.on_duty))
            if states is not None:
                states.append(tuple(status(pool).values()))
        nxt = now + self.interval
        if nxt <= self.end + 1e-9:
            self._next.callbacks = self._callbacks  # env.step (not run_until) clears it
            self.env.schedule_call(nxt - now, self._next)

    def release(self) -> None:
        """Drop the samples (after the tables are made) and the scheduled call."""
        self.days, self.areas, self.on_duty, self.states, self.shift_days = [], [], [], [], []
        self._next = None  # type: ignore[assignment]

    # ----------------------------------------------------------------- tables
    def _busy(self, i: int, days: np.ndarray) -> np.ndarray:
        """Mean busy staff of pool ``i`` between consecutive samples.

        For a shift pool: mean staff working during the shift time between the samples
        (a job held over a night or a weekend is not work; NaN with no shift time).
        """
        area = np.asarray(self.areas[i], dtype=np.float64)
        busy = np.empty(days.size)
        shift = self.shift_days[i]
        if days.size and shift is not None:
            on = np.diff(np.asarray(shift, dtype=np.float64), prepend=0.0)
            last_area = np.concatenate(([0.0], area[:-1]))
            busy[:] = NAN
            np.divide(area - last_area, on, out=busy, where=on > 1e-12)
            busy[0] = float(self.busy_now.get((0, i), busy[0]))
            return busy
        if days.size:
            span = np.diff(days, prepend=0.0)
            last_area = np.concatenate(([0.0], area[:-1]))
            busy[:] = (area - last_area) / np.where(span > 0, span, 1.0)
            for (k, pool), value in self.busy_now.items():
                if pool == i:
                    busy[k] = value
        return busy

    def table(self) -> Table:
        """``staff_timeseries``: one row per (sample, pool), columns :data:`STAFF_COLUMNS`."""
        if not self.pools or not self.days:
            return {k: np.asarray(()) for k in STAFF_COLUMNS}
        days = np.asarray(self.days, dtype=np.float64)
        n = days.size
        per_pool: dict[str, list[np.ndarray]] = {k: [] for k in STAFF_COLUMNS}
        for i, pool in enumerate(self.pools):
            on = np.asarray(self.on_duty[i], dtype=np.int64).reshape(n, len(pool.tier_names))
            employed = on.sum(axis=1)
            busy = self._busy(i, days)
            utilisation = np.full(n, NAN)
            np.divide(busy, employed, out=utilisation, where=employed != 0)
            per_pool["day"].append(days)
            per_pool["on_duty"].append(employed)
            per_pool["busy_mean"].append(busy)
            per_pool["utilisation"].append(utilisation)
            states = self.states[i]
            if states is None:
                # untracked_status(pool): (0, 0, 0, 0, 0, employed, capacity), with the
                # capacity summed tier by tier as sum(n * s for ...) does.
                capacity: Any = 0
                for t, speed in enumerate(pool.tier_speeds):
                    capacity = capacity + on[:, t] * speed
                values: list[np.ndarray] = [np.zeros(n, dtype=np.int64)] * 5
                values += [employed, np.asarray(capacity) + np.zeros(n, dtype=np.int64)]
            else:
                values = [np.asarray(col) for col in zip(*states, strict=True)]
            for key, column in zip(WORKFORCE_COLUMNS, values, strict=True):
                per_pool[key].append(column)
        out = {k: _interleave(v) for k, v in per_pool.items() if k != "pool"}
        out["pool"] = np.asarray([pool.name for pool in self.pools] * n)
        return {k: out[k] for k in STAFF_COLUMNS}

    def tier_table(self) -> Table:
        """``staff_tier_timeseries``: one row per (sample, pool, tier)."""
        if not self.pools or not self.days:
            return {k: np.asarray((), dtype=object if k in ("pool", "tier") else None)
                    for k in TIER_COLUMNS}
        n = len(self.days)
        names = [pool.name for pool in self.pools for _ in pool.tier_names]
        tiers = [tier for pool in self.pools for tier in pool.tier_names]
        speeds = [speed for pool in self.pools for speed in pool.tier_speeds]
        on = np.concatenate([np.asarray(self.on_duty[i], dtype=np.int64).reshape(n, -1)
                             for i in range(len(self.pools))], axis=1)
        return {
            "day": np.repeat(np.asarray(self.days, dtype=np.float64), len(names)),
            "pool": np.asarray(names * n, dtype=object),
            "tier": np.asarray(tiers * n, dtype=object),
            "speed_multiplier": np.asarray(speeds * n),
            "on_duty": on.ravel(),
        }


def _interleave(columns: list[np.ndarray]) -> np.ndarray:
    """Row ``k`` of every column in turn: (sample 0, pool 0), (sample 0, pool 1), ..."""
    dtype = np.result_type(*columns)
    return np.stack([c.astype(dtype, copy=False) for c in columns], axis=1).ravel()
