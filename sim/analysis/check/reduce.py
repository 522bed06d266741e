"""Each staffed station of a scenario as the textbook queue nearest to it.

The reduction, per pool (a pool serving several stations is one queue for all of
them), at one clock day:

* **servers** ``c``: the pool's starting head-count (tiers of different speeds are
  folded into the service time: a job goes to tier ``t`` in proportion to its
  throughput ``n_t v_t``);
* **service** in calendar days: work hours (:func:`sim.analysis.flows.work_mix`) over
  productive hours per calendar day (averaged over the week for a pool on shifts) and
  tier speed. A station whose work depends on the device type is a *mixture* over
  the types reaching it, with the additive parts (common ``service``, typed time,
  per-TB and per-image work) independent; other-work jobs add their own service;
* **arrivals**: rates from :mod:`sim.analysis.flows` (the enforcement decision,
  voluntary seizure, the kiosk/lab split, rework visits at grading, other work).
  Referrals and other work are Poisson; intake's output is thinned by the enforcement
  decision; devices arrive in batches (all a case's seized devices at its warrant),
  so the device stream at device triage and the kiosk has the batch index of
  dispersion, carried down the device stages with Whitt's QNA departure formula and
  merged by rate [Whitt1983]_;
* **classes**: an item's queue class is, in order, expedited or not
  (``policies.expedite``: ahead of everything), the stage's ``precedence`` in the pool,
  and, under ``discipline: priority``, its case's priority when it queued. One class:
  the FIFO wait (Erlang C when service is exactly exponential and arrivals Poisson,
  else Allen–Cunneen); several: the non-preemptive priority formula with each class's
  own load (:func:`priority_waits`). A ``deadline`` discipline orders within a class by
  deadline, which leaves the class's mean wait as FIFO's (conservation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sim.analysis import flows
from sim.analysis import queueing as q
from sim.analysis.load import StageLoad, offered_load
from sim.config.schema import RISK_LEVELS, Scenario, StaffPool

#: A queue class in a pool: (0 expedited / 1 not, precedence, priority level or 0).
ClassKey = tuple[int, int, int]
N_LEVELS = len(RISK_LEVELS)


# ----------------------------------------------------------------- service moments
@dataclass(frozen=True)
class Moments:
    """Mean, second moment and exponentiality of a service or work time."""

    mean: float
    second: float
    exponential: bool

    @property
    def scv(self) -> float:
        """Squared coefficient of variation (0 for a zero time)."""
        if self.mean <= 0:
            return 0.0
        return max(self.second / self.mean**2 - 1.0, 0.0)

    def scaled(self, factor: float) -> Moments:
        """The moments of ``factor`` times this time."""
        return Moments(self.mean * factor, self.second * factor * factor, self.exponential)


def mixture(parts: Sequence[tuple[float, Moments]]) -> Moments:
    """Moments of a mixture: part ``i`` with weight ``w_i`` (weights need not sum to 1).

    Exponential only when every part with weight is exponential with the same mean.
    """
    total = sum(w for w, _ in parts)
    if total <= 0:
        return Moments(0.0, 0.0, False)
    live = [m for w, m in parts if w > 0]
    return Moments(sum(w * m.mean for w, m in parts) / total,
                   sum(w * m.second for w, m in parts) / total,
                   all(m.exponential for m in live) and len({round(m.mean, 12) for m in live}) == 1)


def work_moments(mix: flows.WorkMix) -> Moments:
    """Moments of the work per item in hours (independent terms, mixed over components)."""
    parts = []
    for weight, terms in mix.components:
        live = [t for t in terms if t.mean_hours > 0 or t.variance_hours > 0]
        mean = sum(t.mean_hours for t in live)
        var = sum(t.variance_hours for t in live)
        exponential = len(live) == 1 and live[0].hours_per_unit == 1.0 \
            and live[0].spec.family == "exponential"
        parts.append((weight, Moments(mean, var + mean * mean, exponential)))
    return mixture(parts)


def tier_factors(pool: StaffPool) -> tuple[float, float, bool]:
    """``E[1/(h v)]``, ``E[1/(h v)^2]`` over tiers, and whether the speeds are equal.

    Tiers weigh by their share of the work (:func:`sim.analysis.flows.tier_work_shares`);
    ``h`` is the pool's productive hours per calendar day (average over the week).
    """
    h = pool.work_hours_per_calendar_day()
    speeds = [t.speed_multiplier for t in pool.tiers]
    shares = flows.tier_work_shares(pool)
    f1 = sum(w / (h * v) for w, v in zip(shares, speeds, strict=True))
    f2 = sum(w / (h * v) ** 2 for w, v in zip(shares, speeds, strict=True))
    counts = pool.tier_counts()
    live = {v for n, v in zip(counts, speeds, strict=True) if n > 0} or set(speeds)
    return f1, f2, len(live) <= 1


def service_days(work: Moments, pool: StaffPool | None) -> Moments:
    """Service time in calendar days of work ``work`` (hours) by ``pool`` (None: a delay)."""
    if pool is None:
        return Moments(work.mean / 24.0, work.second / 576.0, work.exponential)
    f1, f2, same_speed = tier_factors(pool)
    return Moments(work.mean * f1, work.second * f2, work.exponential and same_speed)


# ----------------------------------------------------------------- traffic
@dataclass(frozen=True)
class Stream:
    """Items of one kind arriving at a station.

    Attributes
    ----------
    rate : float
        Arrivals per day.
    classes : tuple of float
        Share in each priority level (risk level names).
    service, expedited_service : Moments
        Service time in days, normally and when the item is expedited.
    """

    rate: float
    classes: tuple[float, ...]
    service: Moments
    expedited_service: Moments


def class_key(scenario: Scenario, station: str, level: int) -> ClassKey:
    """Queue class of an item of priority ``level`` at ``station``."""
    cfg = flows.stage_settings(scenario, station)
    fast = flows.expedited_levels(scenario, station)[level]
    return (0 if fast else 1, cfg.precedence, level if cfg.discipline == "priority" else 0)


def streams(scenario: Scenario, station: str, pool: StaffPool | None, day: float
            ) -> tuple[Stream, Stream | None]:
    """The pipeline's own items at ``station`` and its other-work jobs (None if none)."""
    factor = flows.expedited_work_factor(pool) if pool is not None else 1.0
    own = service_days(work_moments(flows.work_mix(scenario, station, day)), pool)
    mine = Stream(flows.items_per_day(scenario, station, day),
                  flows.class_shares(scenario, station), own, own.scaled(factor))
    rate = flows.other_work_per_day(scenario, station, day)
    if rate <= 0:
        return mine, None
    job = service_days(work_moments(flows.other_work_mix(scenario, station)), pool)
    return mine, Stream(rate, flows.other_work_classes(scenario, station), job,
                        job.scaled(factor))


@dataclass
class PoolQueue:
    """One pool as a queue: its stations' traffic merged, by queue class.

    Attributes
    ----------
    name : str
        Pool name.
    servers : int
        Head-count at the start.
    lam : float
        Arrivals per day, all stations and classes.
    service : Moments
        Service time (days) over all arrivals.
    scv_arrival : float
        Squared coefficient of variation of the merged arrivals.
    classes : dict of ClassKey to (rate, Moments)
        Traffic of each queue class.
    discipline : str
        The stations' common discipline.
    shifts : bool
        True when the pool works a shift calendar (the reduction is then approximate).
    """

    name: str
    servers: int
    lam: float
    service: Moments
    scv_arrival: float
    classes: dict[ClassKey, tuple[float, Moments]] = field(default_factory=dict)
    discipline: str = "priority"
    shifts: bool = False

    @property
    def rho(self) -> float:
        """Utilisation (offered work over capacity)."""
        if self.servers <= 0:
            return math.inf if self.lam > 0 else 0.0
        return self.lam * self.service.mean / self.servers

    @property
    def exact(self) -> bool:
        """True when the queue is M/M/c (exponential service, Poisson arrivals)."""
        return self.service.exponential and math.isclose(self.scv_arrival, 1.0)


@dataclass(frozen=True)
class Prediction:
    """A staffed station's queue at one clock day.

    Attributes
    ----------
    rate : float
        The station's arrivals per day (its own items and other work).
    pool : PoolQueue
        The pool's queue.
    scv_arrival_stage : float
        The station's own arrival SCV.
    fifo : float
        The pool's all-class (FIFO) mean wait, days.
    level_waits : tuple of float
        Mean wait of the station's items in each priority level (the class wait, or
        the FIFO wait when the pool has one class).
    level_rates : tuple of float
        The station's arrivals per day in each priority level (both streams).
    stream_rates, stream_waits : tuple of float
        Rate and mean wait of the pipeline's items and of other work (0 rate: none).
    split : bool
        True when the station's levels fall in more than one queue class.
    """

    rate: float
    pool: PoolQueue
    scv_arrival_stage: float
    fifo: float
    level_waits: tuple[float, ...]
    level_rates: tuple[float, ...]
    stream_rates: tuple[float, float]
    stream_waits: tuple[float, float]
    split: bool

    @property
    def wait_all(self) -> float:
        """Mean wait over the station's arrivals."""
        total = sum(self.stream_rates)
        if total <= 0:
            return self.fifo
        return sum(r * w for r, w in zip(self.stream_rates, self.stream_waits, strict=True)
                   if r > 0) / total


def priority_waits(rates: Sequence[float], loads: Sequence[float], fifo: float, rho: float,
                   c: int) -> list[float]:
    """Per-class mean waits of GI/G/c with non-preemptive priority, classes by load.

    ``W_k = Wq (1 - rho) / ((1 - sigma_{k-1})(1 - sigma_k))`` with
    ``sigma_k = sum_{i <= k} load_i / c`` and ``load_i = lam_i E[S_i]``: the residual
    time ``Wq (1 - rho)`` is the FIFO wait's (Allen–Cunneen, or Erlang C), each class
    with its own mean service. With equal services this is
    :func:`sim.analysis.queueing.mgc_priority_waits` (Cobham's formula for M/M/c);
    for M/G/1 it is Kleinrock's non-preemptive priority formula [Kleinrock1976]_.
    """
    w0 = fifo * (1.0 - rho) if rho < 1 else math.inf
    out = []
    sigma = 0.0
    for _rate, load in zip(rates, loads, strict=True):
        before = sigma
        sigma += load / c
        after = 1.0 - sigma
        out.append(w0 / ((1.0 - before) * after) if after > 0 and math.isfinite(w0)
                   else math.inf)
    return out


# ----------------------------------------------------------------- arrival variability
def _thin(scv: float, p: float) -> float:
    """SCV of a stream keeping each item with probability ``p`` (QNA)."""
    return p * scv + 1.0 - p


def _merge(parts: Sequence[tuple[float, float]]) -> float:
    """SCV of streams merged by rate: ``(rate, scv)`` pairs (QNA superposition)."""
    total = sum(r for r, _ in parts)
    return sum(r * s for r, s in parts) / total if total > 0 else 1.0


def batch_scv(scenario: Scenario, route_share: float, case_scv: float) -> float:
    """SCV of a device stream: case departures (SCV ``case_scv``) in thinned batches.

    A case acted on brings ``B`` devices; a warrant seizes each, a voluntary attendance
    each with ``voluntary_attendance_devices_seized_share``, and each takes this route
    with ``route_share``, so a case's batch ``B'`` is a binomial thinning of ``B``. For
    a stream of batches whose epochs have SCV ``c2``, the devices' asymptotic SCV
    (index of dispersion) is ``E[B'^2] / E[B'] + (c2 - 1) E[B']`` [Whitt1983]_.
    """
    b = scenario.cases.devices_per_case
    eb, eb2 = b.mean, b.variance + b.mean**2
    g = flows.graded_mix(scenario)
    act = flows.actions(scenario)
    acted = sum(x * a for x, a in zip(g, act.acted, strict=True))
    if eb <= 0 or route_share <= 0 or acted <= 0:
        return 1.0
    s = scenario.triage.voluntary_attendance_devices_seized_share
    e1 = e2 = 0.0
    for probs, keep in ((act.warrant, 1.0), (act.voluntary, s)):
        share = sum(x * p for x, p in zip(g, probs, strict=True)) / acted
        qq = route_share * keep
        e1 += share * qq * eb
        e2 += share * (qq * (1.0 - qq) * eb + qq * qq * eb2)
    if e1 <= 0:
        return 1.0
    return max(e2 / e1 + (case_scv - 1.0) * e1, 0.0)


def propagate_scv(scenario: Scenario, day: float, loads: dict[str, StageLoad],
                  pools: dict[str, PoolQueue]) -> dict[str, float]:
    """Arrival SCV of every station, from Poisson referrals down the device stages."""

    def out(name: str, scv_in: float) -> float:
        ld = loads.get(name)
        if ld is None or ld.pool is None:  # disabled or a delay: variability passes on
            return scv_in
        pool = pools[ld.pool]
        if not pool.rho < 1.0:
            return scv_in
        return q.qna_departure_scv(pool.rho, max(pool.servers, 1), scv_in, pool.service.scv)

    def with_jobs(name: str, scv_own: float) -> float:
        return _merge([(flows.items_per_day(scenario, name, day), scv_own),
                       (flows.other_work_per_day(scenario, name, day), 1.0)])

    def own_share(name: str) -> float:
        own = flows.items_per_day(scenario, name, day)
        total = own + flows.other_work_per_day(scenario, name, day)
        return own / total if total > 0 else 1.0

    routes = flows.device_routes(scenario)
    scv = {"intake": 1.0, "safeguarding": 1.0, "victim_identification": 1.0}
    scv["enforcement"] = with_jobs("enforcement",
                                   _thin(out("intake", 1.0), flows.acted_share(scenario)))
    cases_out = _thin(out("enforcement", scv["enforcement"]), own_share("enforcement"))
    scv["device_triage"] = batch_scv(scenario, routes.lab_share, cases_out)
    scv["kiosk"] = batch_scv(scenario, routes.kiosk_share, cases_out)
    scv["lab_examination"] = with_jobs("lab_examination",
                                       out("device_triage", scv["device_triage"]))
    lab_out = _thin(out("lab_examination", scv["lab_examination"]),
                    own_share("lab_examination"))
    kiosk_out = out("kiosk", scv["kiosk"])
    scv["image_grading"] = _merge([(routes.lab_share, lab_out), (routes.kiosk_share, kiosk_out)])
    scv["database_upload"] = out("image_grading", scv["image_grading"])
    return scv


# ----------------------------------------------------------------- pools and predictions
def build_pools(scenario: Scenario, loads: dict[str, StageLoad],
                traffic: dict[str, tuple[Stream, Stream | None]],
                station_scv: dict[str, float]) -> dict[str, PoolQueue]:
    """Each pool's queue from its stations' traffic and arrival SCVs."""
    members: dict[str, list[str]] = {}
    for name, ld in loads.items():
        if ld.pool is not None:
            members.setdefault(ld.pool, []).append(name)
    pools = {}
    for pool_name, names in members.items():
        cfg = scenario.staff[pool_name]
        classes: dict[ClassKey, list[tuple[float, Moments]]] = {}
        scv_parts = []
        for name in names:
            own, jobs = traffic[name]
            rate = 0.0
            for stream in (own, jobs):
                if stream is None:
                    continue
                rate += stream.rate
                fast = flows.expedited_levels(scenario, name)
                for k, share in enumerate(stream.classes):
                    if share * stream.rate > 0:
                        m = stream.expedited_service if fast[k] else stream.service
                        classes.setdefault(class_key(scenario, name, k), []).append(
                            (share * stream.rate, m))
            scv_parts.append((rate, station_scv.get(name, 1.0)))
        merged = {key: (sum(r for r, _ in parts), mixture(parts))
                  for key, parts in sorted(classes.items())}
        lam = sum(r for r, _ in merged.values())
        all_parts = [p for parts in classes.values() for p in parts]
        service = mixture(all_parts) if all_parts else _station_service(traffic, names)
        pools[pool_name] = PoolQueue(
            pool_name, cfg.headcount, lam, service,
            _merge(scv_parts) if lam > 0 else 1.0, merged,
            flows.stage_settings(scenario, names[0]).discipline, cfg.uses_shifts)
    return pools


def _station_service(traffic: dict[str, tuple[Stream, Stream | None]],
                     names: list[str]) -> Moments:
    """Service of a pool with no arrivals: its first station's own items'."""
    return traffic[names[0]][0].service


def _class_waits(pool: PoolQueue) -> tuple[float, dict[ClassKey, float]]:
    """The pool's FIFO wait and the wait of each of its queue classes."""
    c, lam, service, ca2 = pool.servers, pool.lam, pool.service, pool.scv_arrival
    if not pool.rho < 1.0:
        return math.inf, dict.fromkeys(pool.classes, math.inf)
    fifo = (q.mmc_wait(lam, service.mean, c) if pool.exact
            else q.allen_cunneen_wait(lam, service.mean, c, service.scv, ca2))
    if len(pool.classes) <= 1:
        return fifo, dict.fromkeys(pool.classes, fifo)
    keys = list(pool.classes)
    rates = [pool.classes[k][0] for k in keys]
    loads = [pool.classes[k][0] * pool.classes[k][1].mean for k in keys]
    return fifo, dict(zip(keys, priority_waits(rates, loads, fifo, pool.rho, c), strict=True))


def predict(scenario: Scenario, day: float) -> dict[str, Prediction]:
    """Predicted waits of every staffed station at clock ``day``."""
    loads = {ld.stage: ld for ld in offered_load(scenario, at_day=day)}
    traffic = {name: streams(scenario, name, scenario.staff[ld.pool] if ld.pool else None, day)
               for name, ld in loads.items()}
    station_scv: dict[str, float] = {}
    pools = build_pools(scenario, loads, traffic, station_scv)
    for _ in range(2):  # SCVs need upstream pools' rho and cs2, which need no SCV
        station_scv = propagate_scv(scenario, day, loads, pools)
        pools = build_pools(scenario, loads, traffic, station_scv)
    waits = {name: _class_waits(pool) for name, pool in pools.items()}
    out = {}
    for name, ld in loads.items():
        if ld.pool is None:
            continue
        pool = pools[ld.pool]
        fifo, by_class = waits[ld.pool]
        keys = [class_key(scenario, name, k) for k in range(N_LEVELS)]
        level_waits = tuple(by_class.get(key, fifo) for key in keys)
        own, jobs = traffic[name]
        level_rates = tuple(own.rate * own.classes[k]
                            + (jobs.rate * jobs.classes[k] if jobs is not None else 0.0)
                            for k in range(N_LEVELS))
        stream_waits = []
        for stream in (own, jobs):
            if stream is None or stream.rate <= 0:
                stream_waits.append(fifo)
                continue
            total = sum(stream.classes)
            stream_waits.append(sum(s * w for s, w in zip(stream.classes, level_waits,
                                                          strict=True) if s > 0) / total
                                if total > 0 else fifo)
        used = {keys[k] for k in range(N_LEVELS) if level_rates[k] > 0}
        out[name] = Prediction(ld.arrivals_per_day, pool, station_scv.get(name, 1.0), fifo,
                               level_waits, level_rates,
                               (own.rate, jobs.rate if jobs is not None else 0.0),
                               (stream_waits[0], stream_waits[1]), len(used) > 1)
    return out
