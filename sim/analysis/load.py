"""Offered load per stage and pool, straight from a scenario (no simulation).

For each stage: the arrival rate of work items (cases, devices or children per day,
and the jobs of any ``other_work``), the mean work per item in hours, the capacity of
the staff serving it, and the traffic intensity rho = offered work / capacity. A pool
that serves several stages is loaded by all of them, so each stage reports its pool's
total rho as well. rho >= 1 means the queue can only grow over the horizon, whatever
the discipline. The flows (who reaches which stage, with how much work) come from
:mod:`sim.analysis.flows`, the rules the model applies.

Capacity is the pool's productive hours per calendar day on average over the week
(:meth:`~sim.config.staff.StaffPool.work_hours_per_calendar_day`, tier speeds
included). For a pool that works around the clock, or ``working_time: smooth``, rho is
the long-run share of staff time busy. For a pool on a shift calendar it is the share
of *on-shift* time busy (a job in hand pauses off shift, so the share of calendar time
a member holds a job is higher); work expedited on call is counted as if done on
shift (:func:`~sim.analysis.flows.expedited_work_factor`), an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.analysis import flows
from sim.config.schema import Scenario, StaffPool


@dataclass(frozen=True)
class StageLoad:
    """Offered load of one stage.

    Attributes
    ----------
    stage : str
        Stage (or ``kiosk``).
    pool : str or None
        Pool serving it; None for a delay stage.
    arrivals_per_day : float
        Work items per day, other work included (at the day asked for).
    work_hours_mean : float
        Mean staff hours per item, other work included (calendar hours for a delay
        stage).
    servers : int
        Head-count of the pool at the start.
    capacity_hours_per_day : float
        Productive hours per calendar day the whole pool delivers (tier speeds
        included; averaged over the week for a pool on shifts).
    rho_stage : float
        This stage's offered work over the pool's capacity.
    rho_pool : float
        All stages of the pool together over its capacity.
    pipeline_per_day, pipeline_work_hours_mean : float
        The pipeline's own items (cases, devices, children) and their mean work.
    other_work_per_day, other_work_hours_mean : float
        Jobs of ``other_work`` and their mean work (0 where there is none).
    working_time : str
        ``continuous`` (24 h, 7 days), ``smooth`` or ``shifts``; ``delay`` for no pool.
    """

    stage: str
    pool: str | None
    arrivals_per_day: float
    work_hours_mean: float
    servers: int
    capacity_hours_per_day: float
    rho_stage: float
    rho_pool: float
    pipeline_per_day: float = 0.0
    pipeline_work_hours_mean: float = 0.0
    other_work_per_day: float = 0.0
    other_work_hours_mean: float = 0.0
    working_time: str = "continuous"

    @property
    def mean_service_days(self) -> float:
        """Mean service time of one item by one average member, in days."""
        if self.pool is None:
            return self.work_hours_mean / 24.0
        per_server = self.capacity_hours_per_day / self.servers if self.servers else math.nan
        return self.work_hours_mean / per_server if per_server else math.inf


def working_time(pool: StaffPool | None) -> str:
    """``continuous``, ``smooth`` or ``shifts`` for a pool; ``delay`` for None."""
    if pool is None:
        return "delay"
    if pool.continuous:
        return "continuous"
    return "shifts" if pool.uses_shifts else "smooth"


def pool_capacity_hours_per_day(pool: StaffPool) -> float:
    """Productive hours per calendar day of the whole pool at the start (tier speeds in)."""
    counts = pool.tier_counts()
    speed_sum = sum(n * t.speed_multiplier for n, t in zip(counts, pool.tiers, strict=True))
    return speed_sum * pool.work_hours_per_calendar_day()


def _capacity_factor(scenario: Scenario, station: str, pool: StaffPool | None,
                     classes: tuple[float, ...]) -> float:
    """Pool capacity an item of ``station`` takes per hour of its work, on average.

    1, except for expedited items in a pool on shifts (see the module docstring).
    """
    if pool is None:
        return 1.0
    fast = sum(s for s, on in zip(classes, flows.expedited_levels(scenario, station),
                                  strict=True) if on)
    return 1.0 - fast + fast * flows.expedited_work_factor(pool)


def offered_load(scenario: Scenario, at_day: float = 0.0) -> list[StageLoad]:
    """Offered load of every enabled staffed or delay stage at day ``at_day``.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    at_day : float
        Day at which to evaluate the (growing) referral rate, other work, data per
        device and the hash-matched share of images.

    Returns
    -------
    list of StageLoad
        In pipeline order (the kiosk after device triage); disabled stages, and a
        kiosk no device reaches, are left out.
    """
    sc = scenario
    rows = []
    for station in flows.STATIONS:
        enabled, pool_name = flows.station_pool(sc, station)
        own = flows.items_per_day(sc, station, at_day)
        if not enabled or (station == "kiosk" and own == 0):
            continue
        pool = sc.staff[pool_name] if pool_name is not None else None
        jobs = flows.other_work_per_day(sc, station, at_day)
        own_work = flows.work_mix(sc, station, at_day).mean_hours
        job_work = flows.other_work_mix(sc, station).mean_hours if jobs > 0 else 0.0
        raw = own * own_work + jobs * job_work
        offered = (own * own_work * _capacity_factor(sc, station, pool,
                                                     flows.class_shares(sc, station))
                   + jobs * job_work * _capacity_factor(sc, station, pool,
                                                        flows.other_work_classes(sc, station)))
        rows.append((station, pool_name, own, own_work, jobs, job_work, offered, raw))
    pool_work: dict[str, float] = {}
    for _s, pool_name, *_rest, offered, _raw in rows:
        if pool_name is not None:
            pool_work[pool_name] = pool_work.get(pool_name, 0.0) + offered
    out = []
    for station, pool_name, own, own_work, jobs, job_work, offered, raw in rows:
        rate = own + jobs
        work = raw / rate if rate > 0 else own_work
        parts = {"pipeline_per_day": own, "pipeline_work_hours_mean": own_work,
                 "other_work_per_day": jobs, "other_work_hours_mean": job_work}
        if pool_name is None:
            out.append(StageLoad(station, None, rate, work, 0, math.inf, 0.0, 0.0, **parts,
                                 working_time="delay"))
            continue
        pool = sc.staff[pool_name]
        cap = pool_capacity_hours_per_day(pool)
        out.append(StageLoad(station, pool_name, rate, work, pool.headcount, cap,
                             _ratio(offered, cap), _ratio(pool_work[pool_name], cap), **parts,
                             working_time=working_time(pool)))
    return out


def _ratio(work: float, capacity: float) -> float:
    if capacity > 0:
        return work / capacity
    return math.inf if work > 0 else 0.0
