"""``fbsim check``: compare simulated waits with queueing theory, stage by stage.

Each staffed stage is reduced to the textbook queue nearest to it, using only the
scenario's own numbers: arrival rates from :func:`sim.analysis.load.offered_load`
(averaged over the measured window), the pool's head-count, and the mean and variance
of the stage's service time. The predicted mean wait is then compared with the
simulated one (mean over replications with a t-interval), and Little's law is checked
per stage on the whole run.

The reduction, per pool (a pool serving several stages is one queue for all of them):

* **servers** ``c``: the pool's starting head-count (tiers of different speeds are
  folded into the service time: a job goes to tier ``t`` in proportion to its
  throughput ``n_t v_t``);
* **service** in calendar days: work hours over productive hours per day and tier
  speed. A stage whose work depends on the device type (``service_by_device_type``,
  terabytes at the lab, unknown images at grading) is a *mixture* over device types;
  its mean and second moment are mixed accordingly, with the additive parts
  (common ``service`` + typed time + per-TB or per-image work) independent;
* **arrivals**: Poisson for referrals. Devices arrive in batches (all of a case's at
  its warrant), so the squared coefficient of variation of the device stream at
  device triage and the kiosk is the batch index of dispersion
  ``E[B^2] / E[B]`` (after thinning by route), and it is carried down the device
  stages with Whitt's QNA departure formula
  (:func:`sim.analysis.queueing.qna_departure_scv`), merging streams by rate;
* **model**: M/M/c (Erlang C) when the service is exactly exponential and arrivals are
  Poisson; otherwise the Allen–Cunneen approximation for M/G/c or G/G/c. Priority
  pools get per-class waits from :func:`~sim.analysis.queueing.mgc_priority_waits`
  (Cobham's formula for M/M/c). Classes are the *graded* risk levels (grading errors
  move cases one level), and from the lab on, escalated cases are in the top class.
  A ``deadline`` discipline has no per-class formula; its all-class mean wait is the
  FIFO one (conservation: no discipline that ignores service times changes it).

Flags: ``UNSTABLE`` (a pool's rho >= 1: the queue grows without limit, no steady state),
``WAIT`` (simulated and predicted mean wait differ by more than the tolerance *and*
the prediction lies outside the simulated interval; judged only for rows with at least
:data:`MIN_ITEMS` items and :data:`MIN_ITEMS_PER_REPLICATION` per replication, and for
priority classes only with Poisson arrivals), ``LITTLE`` (the exact identity
between a station's time integral and its visit log is broken: a bookkeeping bug),
``NOT-STEADY`` (``L`` and ``lambda W`` differ by more than 10 %: the stage is not in
steady state over the run, e.g. a backlog still clearing or a growing queue).

The approximations are good to some 10-20 % for a stable stage with a warm-up and
constant staff; they are rough for shared pools, strong growth, initial backlogs,
changing head-counts (hiring, attrition, training), outsourcing and automation, which
the report notes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.analysis import queueing as q
from sim.analysis.load import StageLoad, offered_load
from sim.analysis.stats import mean_ci
from sim.config.distspec import DistSpec
from sim.config.schema import DEVICE_STAGES, RISK_LEVELS, Scenario, StaffPool
from sim.monitor.records import Records

__all__ = ["CheckReport", "CheckRow", "check_scenario"]

#: Relative error above which the exact Little identity counts as broken.
LITTLE_EXACT_RTOL = 1e-6
#: Relative gap between L and lambda W above which a stage is not in steady state.
STEADY_RTOL = 0.10
#: Fewest items (over all replications) for a mean wait to be judged ...
MIN_ITEMS = 200
#: ... and fewest per replication on average (a replication's mean of a handful of
#: skewed waits is far from normal, and the t-interval then under-covers).
MIN_ITEMS_PER_REPLICATION = 50
LOWEST = len(RISK_LEVELS) - 1
#: Stages whose items' priority can have been raised by escalation at device triage.
AFTER_TRIAGE = ("lab_examination", "image_grading", "database_upload", "victim_identification")


@dataclass(frozen=True)
class CheckRow:
    """One stage (``cls == "all"``) or one priority class at a stage.

    Attributes
    ----------
    stage : str
        Station name (a pipeline stage or ``kiosk``).
    cls : str
        ``"all"`` or a risk level (the graded priority class).
    pool : str or None
        Staff pool; None for a delay stage.
    model : str
        Queue used: ``M/M/c``, ``M/G/c``, ``G/G/c`` (Allen–Cunneen), ``delay``.
    servers : int
        Head-count of the pool at the start (0 for a delay).
    arrivals_per_day : float
        Predicted arrival rate over the measured window.
    arrivals_per_day_sim : float
        Observed arrival rate (mean over replications).
    mean_service_days : float
        Mean service time of the pool (mixture over its stages, types and tiers).
    scv_service, scv_arrival : float
        Squared coefficients of variation used by the approximation.
    rho : float
        Utilisation of the pool.
    wait_model : float
        Predicted mean wait in days (``inf`` when unstable).
    wait_sim, wait_sim_half_width : float
        Simulated mean wait over replications and its confidence half-width.
    replications : int
        Replications with data.
    little_l : float
        Time-averaged number at the stage over the run (mean over replications).
    little_lambda_w : float
        Observed arrival rate times mean time at the stage of completed items.
    little_error : float
        ``(L - lambda W) / L``.
    little_exact_error : float
        Largest relative gap between the station's time integral and the visit log.
    flags : tuple of str
        Problems found (see the module docstring).
    notes : tuple of str
        Caveats of the approximation for this stage.
    """

    stage: str
    cls: str
    pool: str | None
    model: str
    servers: int
    arrivals_per_day: float
    arrivals_per_day_sim: float
    mean_service_days: float
    scv_service: float
    scv_arrival: float
    rho: float
    wait_model: float
    wait_sim: float
    wait_sim_half_width: float
    replications: int
    little_l: float = math.nan
    little_lambda_w: float = math.nan
    little_error: float = math.nan
    little_exact_error: float = math.nan
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def relative_difference(self) -> float:
        """``(simulated - predicted) / predicted`` mean wait."""
        if not math.isfinite(self.wait_model) or self.wait_model == 0:
            return math.nan
        return (self.wait_sim - self.wait_model) / self.wait_model


@dataclass
class CheckReport:
    """Result of :func:`check_scenario`.

    Attributes
    ----------
    scenario : str
        Scenario name.
    replications : int
        Replications checked.
    window : tuple of float
        ``(warm-up day, end day)``; waits are of items arriving in it.
    confidence : float
        Level of the simulated intervals.
    tolerance : float
        Relative wait difference tolerated before ``WAIT`` is flagged.
    rows : list of CheckRow
        Stages in pipeline order, each followed by its priority classes.
    notes : list of str
        Scenario-wide caveats.
    """

    scenario: str
    replications: int
    window: tuple[float, float]
    confidence: float
    tolerance: float
    rows: list[CheckRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[CheckRow]:
        """Rows with at least one flag."""
        return [r for r in self.rows if r.flags]

    @property
    def ok(self) -> bool:
        """True when no row is flagged."""
        return not self.flagged

    def to_text(self) -> str:
        """An aligned plain-text table with notes, for the terminal."""
        head = ("stage", "class", "model", "c", "lam/d", "E[S] d", "cs2", "ca2", "rho",
                "Wq model", "Wq sim", f"±{self.confidence:.0%}", "diff", "L", "lam W",
                "Little", "flags")
        body = []
        for r in self.rows:
            is_all = r.cls == "all"
            body.append((
                r.stage if is_all else "", r.cls, r.model if is_all else "",
                str(r.servers) if is_all and r.pool is not None else ("inf" if is_all else ""),
                _num(r.arrivals_per_day), _num(r.mean_service_days) if is_all else "",
                _num(r.scv_service, 2) if is_all else "", _num(r.scv_arrival, 2) if is_all else "",
                _num(r.rho, 3) if is_all else "", _num(r.wait_model), _num(r.wait_sim),
                _num(r.wait_sim_half_width), _pct(r.relative_difference),
                _num(r.little_l) if is_all else "", _num(r.little_lambda_w) if is_all else "",
                _pct(r.little_error) if is_all else "", " ".join(r.flags)))
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
                  for i, h in enumerate(head)]
        left = {0, 1, 2, len(head) - 1}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        lo, hi = self.window
        lines = [f"fbsim check: {self.scenario}: {self.replications} replication(s), "
                 f"items arriving on days {lo:g} to {hi:g}; waits in days",
                 fmt(head), fmt(["-" * w for w in widths])]
        lines += [fmt(row) for row in body]
        lines.append("")
        n_flagged = len(self.flagged)
        lines.append("OK: no stage flagged" if self.ok else
                     f"{n_flagged} row(s) flagged (WAIT: differs by > {self.tolerance:.0%} and "
                     f"outside the interval; UNSTABLE: rho >= 1; LITTLE: bookkeeping broken; "
                     f"NOT-STEADY: L and lambda W differ by > {STEADY_RTOL:.0%})")
        row_notes = sorted({f"{r.stage}: {n}" for r in self.rows for n in r.notes})
        for note in [*self.notes, *row_notes]:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:+.1%}"


# ----------------------------------------------------------------- service moments
@dataclass(frozen=True)
class _Moments:
    """Mean, second moment and exponentiality of a service or work time."""

    mean: float
    second: float
    exponential: bool

    @property
    def scv(self) -> float:
        if self.mean <= 0:
            return 0.0
        return max(self.second / self.mean**2 - 1.0, 0.0)


def _component(parts: Sequence[DistSpec | None], extra_mean: float = 0.0,
               extra_var: float = 0.0) -> tuple[float, float, bool, float]:
    """Sum of independent parts: (mean, variance, is one exponential, its mean)."""
    specs = [p for p in parts if p is not None and (p.mean > 0 or p.variance > 0)]
    mean = sum(s.mean for s in specs) + extra_mean
    var = sum(s.variance for s in specs) + extra_var
    exp = (len(specs) == 1 and specs[0].family == "exponential"
           and extra_mean == 0 and extra_var == 0)
    return mean, var, exp, mean


def _mixture(components: Sequence[tuple[float, tuple[float, float, bool, float]]]) -> _Moments:
    total = sum(w for w, _ in components)
    if total <= 0:
        return _Moments(0.0, 0.0, False)
    m1 = sum(w * c[0] for w, c in components) / total
    m2 = sum(w * (c[1] + c[0] ** 2) for w, c in components) / total
    live = [c for w, c in components if w > 0]
    means = {round(c[3], 12) for c in live}
    exp = all(c[2] for c in live) and len(means) == 1
    return _Moments(m1, m2, exp)


def _route_weights(scenario: Scenario) -> tuple[dict[str, float], dict[str, float], float]:
    """Device-type shares of all devices, of lab-route devices, and the kiosk share."""
    ca, st, pol = scenario.cases, scenario.stages, scenario.policies
    shares = {k: v.share for k, v in ca.device_types.items()}
    kiosk_type = st.device_triage.kiosk_device_type
    lab = {k: v * (1.0 - pol.kiosk_share_of_phones) if k == kiosk_type else v
           for k, v in shares.items()}
    kiosk_share = pol.kiosk_share_of_phones * shares.get(kiosk_type, 0.0)
    if st.device_triage.kiosk is None or not st.device_triage.enabled:
        lab, kiosk_share = dict(shares), 0.0
    return shares, lab, kiosk_share


def _work_moments(scenario: Scenario, stage: str) -> _Moments:
    """Work hours per item at ``stage`` (a mixture over device types where relevant)."""
    st = scenario.stages
    if stage == "kiosk":
        kiosk = st.device_triage.kiosk
        return _mixture([(1.0, _component([kiosk.service if kiosk else None]))])
    cfg = getattr(st, stage)
    if stage not in DEVICE_STAGES:
        return _mixture([(1.0, _component([cfg.service]))])
    ca = scenario.cases
    shares, lab, _ = _route_weights(scenario)
    weights = lab if stage in ("device_triage", "lab_examination") else shares
    by_type = cfg.service_by_device_type or {}
    comps = []
    for name, w in weights.items():
        dtype = ca.device_types[name]
        extra_mean = extra_var = 0.0
        if stage == "lab_examination" and st.lab_examination.hours_per_tb > 0:
            h = st.lab_examination.hours_per_tb
            extra_mean, extra_var = h * dtype.data_tb.mean, h * h * dtype.data_tb.variance
        if stage == "image_grading" and st.image_grading.images_per_hour is not None:
            k = (1.0 - ca.known_image_share) / st.image_grading.images_per_hour
            extra_mean, extra_var = k * dtype.images.mean, k * k * dtype.images.variance
        comps.append((w, _component([cfg.service, by_type.get(name)], extra_mean, extra_var)))
    return _mixture(comps)


def _tier_factors(pool: StaffPool) -> tuple[float, float, bool]:
    """E[1/(h v)] and E[1/(h v)^2] over tiers weighted by throughput, and equal speeds."""
    counts = pool.tier_counts()
    speeds = [t.speed_multiplier for t in pool.tiers]
    h = pool.work_hours_per_calendar_day()
    capacity = sum(n * v for n, v in zip(counts, speeds, strict=True))
    if capacity <= 0:
        mean_speed = sum(t.share * t.speed_multiplier for t in pool.tiers)
        return 1.0 / (h * mean_speed), 1.0 / (h * mean_speed) ** 2, True
    f1 = sum(n * v / capacity / (h * v) for n, v in zip(counts, speeds, strict=True))
    f2 = sum(n * v / capacity / (h * v) ** 2 for n, v in zip(counts, speeds, strict=True))
    live = {v for n, v in zip(counts, speeds, strict=True) if n > 0}
    return f1, f2, len(live) <= 1


def _service_days(scenario: Scenario, stage: str, pool: str | None) -> _Moments:
    work = _work_moments(scenario, stage)
    if pool is None:
        return _Moments(work.mean / 24.0, work.second / 576.0, work.exponential)
    f1, f2, same_speed = _tier_factors(scenario.staff[pool])
    return _Moments(work.mean * f1, work.second * f2, work.exponential and same_speed)


# ----------------------------------------------------------------- classes


def _grading_matrix(scenario: Scenario) -> np.ndarray:
    """``G[true, graded]``: risk grading moves a case one level with the error rate."""
    tri = scenario.triage
    p = 1.0 - tri.grading_accuracy
    d = tri.misgrade_down_share
    n = len(RISK_LEVELS)
    g = np.zeros((n, n))
    for r in range(n):
        g[r, r] = 1.0 - p
        if r == 0:
            g[r, 1] += p
        elif r == LOWEST:
            g[r, r - 1] += p
        else:
            g[r, r + 1] += p * d
            g[r, r - 1] += p * (1.0 - d)
    return g


def _class_shares(scenario: Scenario, stage: str) -> np.ndarray:
    """Share of each priority class among the items arriving at ``stage``."""
    n = len(RISK_LEVELS)
    if stage == "intake":  # graded only when intake ends: everyone is in the last class
        out = np.zeros(n)
        out[LOWEST] = 1.0
        return out
    ca = scenario.cases
    mix = np.asarray(scenario.demand.risk_mix.values_in_order(), dtype=float)
    fg = np.asarray(ca.first_generation_probability.values_in_order(), dtype=float)
    contact = list(ca.children_in_contact.values_in_order())
    if stage == "safeguarding":
        vid_p = scenario.stages.victim_identification.identification_probability
        weight = mix * (np.asarray([c.mean for c in contact])
                        + fg * ca.depicted_children.mean * vid_p)
    elif stage == "victim_identification":
        weight = mix * fg
    else:
        weight = mix
    total = weight.sum()
    if total <= 0:
        return np.zeros(n)
    weight = weight / total
    joint = weight[:, None] * _grading_matrix(scenario)  # [true, graded]
    shares = joint.sum(axis=0)
    p_esc = scenario.triage.escalation_detect_probability
    if stage in AFTER_TRIAGE and p_esc > 0:
        if stage == "victim_identification":
            eligible = np.ones(n)
        else:
            eligible = 1.0 - (1.0 - fg) * np.asarray([c.probability_of_zero() for c in contact])
        moved = joint * (p_esc * eligible)[:, None]
        shares = shares - moved.sum(axis=0)
        shares[0] += moved.sum()
    return np.asarray(shares)


# ----------------------------------------------------------------- arrivals
#: Points at which a time-varying referral rate is sampled over the window.
GRID_POINTS = 24


def _rate_grid(scenario: Scenario, window: tuple[float, float]
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Base day, referral-rate factors at the grid's midpoints, arrival weights.

    ``offered_load(at_day=base)`` times a factor gives the stage rates at a grid point;
    the weights (proportional to the rate) average a prediction over arriving items.
    """
    lo, hi = window
    demand = scenario.demand
    base = demand.referrals_per_year_at(lo)
    if hi <= lo or base <= 0:
        return lo, np.ones(1), np.ones(1)
    edges = np.linspace(lo, hi, GRID_POINTS + 1)
    mids = (edges[1:] + edges[:-1]) / 2.0
    factors = np.asarray([demand.referrals_per_year_at(float(t)) for t in mids]) / base
    total = factors.sum()
    weights = factors / total if total > 0 else np.full(factors.size, 1.0 / factors.size)
    return lo, factors, weights


def _batch_scv(scenario: Scenario, p: float, case_scv: float) -> float:
    """SCV of a device stream: case departures (SCV ``case_scv``) in thinned batches.

    A case brings ``B`` devices and each takes this route with probability ``p``, so
    ``B'`` is a binomial thinning of ``B``. For a stream of batches whose epochs have
    SCV ``c2``, the devices' asymptotic SCV (index of dispersion) is
    ``E[B'^2] / E[B'] + (c2 - 1) E[B']`` [Whitt1983]_.
    """
    b = scenario.cases.devices_per_case
    eb, vb = b.mean, b.variance
    if eb <= 0 or p <= 0:
        return 1.0
    e1 = p * eb
    e2 = p * (1.0 - p) * eb + p * p * (vb + eb * eb)
    return max(e2 / e1 + (case_scv - 1.0) * e1, 0.0)


@dataclass
class _PoolQueue:
    """One pool as a queue: its stations' traffic merged."""

    name: str
    servers: int
    lam: float
    service: _Moments
    scv_arrival: float
    class_rates: np.ndarray
    discipline: str

    @property
    def rho(self) -> float:
        if self.servers <= 0:
            return math.inf if self.lam > 0 else 0.0
        return self.lam * self.service.mean / self.servers


@dataclass(frozen=True)
class _Prediction:
    """A staffed station's queue at one level of the referral rate."""

    rate: float
    pool: _PoolQueue
    scv_arrival_stage: float
    fifo: float
    per_class: tuple[float, ...] | None

    @property
    def exact(self) -> bool:
        return self.pool.service.exponential and math.isclose(self.pool.scv_arrival, 1.0)


def _station_discipline(scenario: Scenario, name: str) -> str:
    st = scenario.stages
    return st.device_triage.discipline if name == "kiosk" else getattr(st, name).discipline


def _build_pools(scenario: Scenario, loads: dict[str, StageLoad], rates: dict[str, float],
                 moments: dict[str, _Moments], stage_scv: dict[str, float]
                 ) -> dict[str, _PoolQueue]:
    parts: dict[str, list[str]] = {}
    for name, ld in loads.items():
        if ld.pool is not None:
            parts.setdefault(ld.pool, []).append(name)
    pools = {}
    for pool_name, names in parts.items():
        lam = sum(rates[n] for n in names)
        live = [n for n in names if rates[n] > 0] or names
        w = {n: (rates[n] / lam if lam > 0 else 1.0 / len(names)) for n in names}
        service = _Moments(
            sum(w[n] * moments[n].mean for n in names),
            sum(w[n] * moments[n].second for n in names),
            all(moments[n].exponential for n in live)
            and len({round(moments[n].mean, 12) for n in live}) == 1)
        classes = np.zeros(len(RISK_LEVELS))
        for n in names:
            classes = classes + _class_shares(scenario, n) * rates[n]
        pools[pool_name] = _PoolQueue(
            pool_name, scenario.staff[pool_name].headcount, lam, service,
            sum(w[n] * stage_scv.get(n, 1.0) for n in names), classes,
            _station_discipline(scenario, names[0]))
    return pools


def _propagate_scv(scenario: Scenario, loads: dict[str, StageLoad], rates: dict[str, float],
                   pools: dict[str, _PoolQueue]) -> dict[str, float]:
    """Arrival SCV of every station, from Poisson referrals down the device stages."""
    _, _, kiosk_share = _route_weights(scenario)

    def out(name: str, scv_in: float) -> float:
        ld = loads.get(name)
        if ld is None or ld.pool is None:  # disabled or a delay: variability passes on
            return scv_in
        pool = pools[ld.pool]
        if not pool.rho < 1.0:
            return scv_in
        return q.qna_departure_scv(pool.rho, max(pool.servers, 1), scv_in, pool.service.scv)

    scv = {"intake": 1.0, "safeguarding": 1.0, "victim_identification": 1.0}
    scv["enforcement"] = out("intake", 1.0)
    cases_out = out("enforcement", scv["enforcement"])
    scv["device_triage"] = _batch_scv(scenario, 1.0 - kiosk_share, cases_out)
    scv["kiosk"] = _batch_scv(scenario, kiosk_share, cases_out)
    scv["lab_examination"] = out("device_triage", scv["device_triage"])
    lab_out = out("lab_examination", scv["lab_examination"])
    kiosk_out = out("kiosk", scv["kiosk"])
    lam_lab = rates.get("lab_examination", rates.get("device_triage", 0.0))
    lam_kiosk = rates.get("kiosk", 0.0)
    total = lam_lab + lam_kiosk
    scv["image_grading"] = ((lam_lab * lab_out + lam_kiosk * kiosk_out) / total
                            if total > 0 else 1.0)
    scv["database_upload"] = out("image_grading", scv["image_grading"])
    return scv


def _predict(scenario: Scenario, loads: dict[str, StageLoad], moments: dict[str, _Moments],
             factor: float) -> dict[str, _Prediction]:
    """Predicted waits of every staffed station with referrals at ``factor`` x base."""
    rates = {n: ld.arrivals_per_day * factor for n, ld in loads.items()}
    stage_scv: dict[str, float] = {}
    pools = _build_pools(scenario, loads, rates, moments, stage_scv)
    for _ in range(2):  # SCVs need upstream pools' rho and cs2, which need no SCV
        stage_scv = _propagate_scv(scenario, loads, rates, pools)
        pools = _build_pools(scenario, loads, rates, moments, stage_scv)
    out = {}
    for name, ld in loads.items():
        if ld.pool is None:
            continue
        pool = pools[ld.pool]
        c, lam, es, cs2, ca2 = (pool.servers, pool.lam, pool.service.mean, pool.service.scv,
                                pool.scv_arrival)
        if not pool.rho < 1.0:
            fifo, per_class = math.inf, None
        else:
            exact = pool.service.exponential and math.isclose(ca2, 1.0)
            fifo = (q.mmc_wait(lam, es, c) if exact
                    else q.allen_cunneen_wait(lam, es, c, cs2, ca2))
            per_class = (tuple(q.mgc_priority_waits(list(pool.class_rates), es, c, cs2, ca2))
                         if pool.discipline == "priority" else None)
        out[name] = _Prediction(rates[name], pool, stage_scv.get(name, 1.0), fifo, per_class)
    return out


# ----------------------------------------------------------------- simulation side
def _visits(rec: Records, stage: str) -> dict[str, np.ndarray]:
    t = rec.tables["stage_visits"]
    mask = t["stage"] == stage
    return {k: v[mask] for k, v in t.items()}


def _little(rec: Records, stage: str) -> tuple[float, float, float]:
    """(L, lambda W of completed items, exact-identity relative error) on [0, T]."""
    end = rec.window[1]
    avg = rec.time_averages.get(stage)
    if avg is None:
        return math.nan, math.nan, math.nan
    big_l = avg["mean_in_system"]
    v = _visits(rec, stage)
    if v["arrive_day"].size == 0:
        return big_l, 0.0, (0.0 if big_l == 0 else math.inf)
    begin = np.clip(v["arrive_day"], 0.0, end)
    stop = np.where(np.isnan(v["end_day"]), end, np.minimum(v["end_day"], end))
    area = float(np.sum(stop - begin))
    exact = abs(big_l * end - area) / max(abs(area), 1e-12)
    done = ~np.isnan(v["end_day"]) & (v["arrive_day"] >= 0)
    w = float(np.mean(v["end_day"][done] - v["arrive_day"][done])) if done.any() else math.nan
    return big_l, avg["arrival_rate_per_day"] * w, exact


def _sim_waits(records: Sequence[Records], stage: str
               ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int]]:
    """Per replication: mean wait and arrival rate in the window, per class and "all".

    Also the number of items with a known wait, over all replications.
    """
    waits: dict[str, list[float]] = {"all": [], **{r: [] for r in RISK_LEVELS}}
    rates: dict[str, list[float]] = {"all": [], **{r: [] for r in RISK_LEVELS}}
    counts = dict.fromkeys(["all", *RISK_LEVELS], 0)
    for rec in records:
        lo, hi = rec.window
        v = _visits(rec, stage)
        inside = (v["arrive_day"] >= lo) & (v["arrive_day"] < hi)
        span = hi - lo if hi > lo else math.nan
        rates["all"].append(float(inside.sum()) / span)
        # Classes are those items queued in (a case's priority can rise while its
        # devices wait, but the queue keeps the order it gave them on arrival).
        queued = v["queued_priority"]
        for k, level in enumerate(RISK_LEVELS):
            rates[level].append(float((inside & (queued == k)).sum()) / span)
        started = inside & ~np.isnan(v["start_day"])
        wait = v["wait_days"][started]
        prio = queued[started]
        waits["all"].append(float(wait.mean()) if wait.size else math.nan)
        counts["all"] += int(wait.size)
        for k, level in enumerate(RISK_LEVELS):
            sel = wait[prio == k]
            waits[level].append(float(sel.mean()) if sel.size else math.nan)
            counts[level] += int(sel.size)
    return waits, rates, counts


# ----------------------------------------------------------------- the check
def _scenario_notes(scenario: Scenario, window: tuple[float, float]) -> list[str]:
    notes = []
    lo, hi = window
    demand = scenario.demand
    if demand.annual_growth_rate != 0 or demand.referrals_per_year_profile is not None:
        notes.append(f"the referral rate changes over days {lo:g}-{hi:g}: predictions are "
                     f"steady-state waits at {GRID_POINTS} points averaged over arrivals "
                     f"(pointwise stationary); rho is the largest over the window")
    if scenario.initial_backlog.blocks():
        notes.append("initial backlog: the run starts far from steady state")
    elif lo <= 0:
        notes.append("no warm-up: the run starts empty, so early waits are too short")
    if any(p.workforce is not None for p in scenario.staff.values()) or scenario.training:
        notes.append("head-counts change during the run (workforce/training): the model "
                     "uses the starting head-count")
    if scenario.outsourcing is not None:
        notes.append("outsourcing takes lab work away: lab arrivals are overstated")
    if scenario.automation is not None:
        notes.append("automation changes service times during the run: not modelled")
    return notes


def check_scenario(scenario: Scenario, records: Sequence[Records], *,
                   confidence: float = 0.95, tolerance: float = 0.25,
                   abs_tolerance_days: float = 0.05) -> CheckReport:
    """Compare each stage's simulated waits with its queueing approximation.

    Parameters
    ----------
    scenario : Scenario
        The scenario that was simulated.
    records : sequence of Records
        Its replications (at least one), e.g. from
        :func:`sim.model.replication.run_replication`.
    confidence : float, default 0.95
        Level of the t-intervals across replications.
    tolerance : float, default 0.25
        Relative difference of mean waits tolerated before flagging ``WAIT``.
    abs_tolerance_days : float, default 0.05
        Absolute difference always tolerated (about an hour), for near-zero waits.

    Returns
    -------
    CheckReport
        One row per stage and per priority class, with flags and notes.

    Raises
    ------
    ValueError
        If ``records`` is empty.
    """
    if not records:
        raise ValueError("check_scenario needs at least one replication's records")
    window = records[0].window
    base_day, factors, weights = _rate_grid(scenario, window)
    loads = {ld.stage: ld for ld in offered_load(scenario, at_day=base_day)}
    moments = {n: _service_days(scenario, n, ld.pool) for n, ld in loads.items()}
    grid = [_predict(scenario, loads, moments, float(f)) for f in factors]
    mean_factor = float(factors.mean())
    report = CheckReport(scenario.name, len(records), window, confidence, tolerance,
                         notes=_scenario_notes(scenario, window))
    for name, ld in loads.items():
        report.rows.extend(_stage_rows(
            scenario, name, ld, [g.get(name) for g in grid], weights,
            ld.arrivals_per_day * mean_factor, moments[name], records, confidence,
            tolerance, abs_tolerance_days))
    return report


def _stage_rows(scenario: Scenario, name: str, ld: StageLoad,
                grid: list[_Prediction | None], weights: np.ndarray, rate: float,
                moment: _Moments, records: Sequence[Records], confidence: float,
                tolerance: float, abs_tol: float) -> list[CheckRow]:
    sim_waits, sim_rates, sim_counts = _sim_waits(records, name)
    littles = [_little(rec, name) for rec in records]
    big_l = float(np.nanmean([x[0] for x in littles]))
    lam_w = float(np.nanmean([x[1] for x in littles]))
    exact_err = float(np.nanmax([x[2] for x in littles]))
    little_err = (big_l - lam_w) / big_l if big_l > 0 else (0.0 if lam_w == 0 else math.nan)
    little = (big_l, lam_w, little_err, exact_err)
    rate_sim = {k: float(np.nanmean(v)) for k, v in sim_rates.items()}
    base_flags: list[str] = []
    if exact_err > LITTLE_EXACT_RTOL:
        base_flags.append("LITTLE")
    if math.isfinite(little_err) and abs(little_err) > STEADY_RTOL:
        base_flags.append("NOT-STEADY")

    def judge(wait_model: float, est_mean: float, low: float, high: float, n: int) -> bool:
        if not (math.isfinite(est_mean) and math.isfinite(wait_model)):
            return False
        if n < MIN_ITEMS or n < MIN_ITEMS_PER_REPLICATION * len(records):
            return False
        inside = math.isfinite(low) and low <= wait_model <= high
        return abs(est_mean - wait_model) > tolerance * wait_model + abs_tol and not inside

    if ld.pool is None:  # infinite-server delay: nobody waits
        est = mean_ci(sim_waits["all"], confidence)
        flags = list(base_flags)
        if judge(0.0, est.mean, est.ci_low, est.ci_high, sim_counts["all"]):
            flags.append("WAIT")
        return [CheckRow(name, "all", None, "delay", 0, rate, rate_sim["all"], moment.mean,
                         moment.scv, 1.0, 0.0, 0.0, est.mean, _hw(est.half_width), est.n,
                         *little, tuple(flags), ())]

    preds = [g for g in grid if g is not None]
    first = preds[len(preds) // 2]
    pool = first.pool
    rho = max(p.pool.rho for p in preds)
    unstable = not rho < 1.0
    share = _class_shares(scenario, name)
    classes = [k for k in range(len(RISK_LEVELS)) if share[k] > 1e-12]
    per_class_ok = (pool.discipline == "priority" and len(classes) > 1 and not unstable
                    and all(p.per_class is not None for p in preds))
    if unstable:
        all_wait = math.inf
        class_waits = {k: math.inf for k in classes}
    elif per_class_ok:
        class_waits = {k: float(sum(w * p.per_class[k] for w, p in  # type: ignore[index]
                                    zip(weights, preds, strict=True))) for k in classes}
        all_wait = sum(share[k] * class_waits[k] for k in classes) / share[classes].sum()
    else:
        all_wait = float(sum(w * p.fifo for w, p in zip(weights, preds, strict=True)))
        class_waits = {}

    notes: list[str] = []
    shared = [s for s, other in _pool_stations(scenario).items()
              if other == ld.pool and s != name]
    if shared:
        notes.append(f"pool '{ld.pool}' also serves {', '.join(shared)}: one queue for all")
    ca2 = pool.scv_arrival
    if not math.isclose(ca2, 1.0):
        why = ("devices come in batches" if name in (*DEVICE_STAGES, "kiosk")
               else "they are the output of the stage before")
        notes.append(f"arrivals not Poisson (ca2 = {ca2:.2f}: {why})")
        if per_class_ok and name in (*DEVICE_STAGES, "kiosk"):
            notes.append("per-class waits with batch arrivals are rough (devices of one "
                         "case queue behind each other within their class)")
    if pool.service.scv > 4 and pool.servers > 1:
        notes.append(f"very variable service (cs2 = {pool.service.scv:.1f}): Allen-Cunneen "
                     f"tends to overstate waits with many servers")
    if pool.discipline == "deadline" and len(classes) > 1:
        notes.append("deadline discipline: no per-class formula (all-class wait as FIFO)")
    c = pool.servers
    kind = "M/M" if first.exact else ("M/G" if math.isclose(ca2, 1.0) else "G/G")
    model = f"{kind}/{c if c == 1 else 'c'}"

    def row(cls: str, wait_model: float, lam: float, flag_waits: bool,
            flags0: list[str], lit: tuple[float, float, float, float]) -> CheckRow:
        est = mean_ci(sim_waits[cls], confidence)
        flags = list(flags0)
        if unstable:
            flags.append("UNSTABLE")
        elif flag_waits and judge(wait_model, est.mean, est.ci_low, est.ci_high,
                                  sim_counts[cls]):
            flags.append("WAIT")
        return CheckRow(name, cls, ld.pool, model, c, lam, rate_sim[cls], pool.service.mean,
                        pool.service.scv, ca2, rho, wait_model, est.mean, _hw(est.half_width),
                        est.n, *lit, tuple(flags), tuple(notes))

    rows = [row("all", all_wait, rate, True, base_flags, little)]
    nan4 = (math.nan, math.nan, math.nan, math.nan)
    poisson = math.isclose(ca2, 1.0)
    for k in classes if (per_class_ok or unstable) and len(classes) > 1 else []:
        rows.append(row(RISK_LEVELS[k], class_waits[k], rate * share[k], poisson, [], nan4))
    return rows


def _hw(x: float) -> float:
    return x if math.isfinite(x) else math.nan


def _pool_stations(scenario: Scenario) -> dict[str, str]:
    """Enabled staffed stations (``kiosk`` included) and their pools."""
    st = scenario.stages
    out: dict[str, str] = {}
    for name, stage in st.items():
        if stage.enabled and stage.pool is not None:
            out[name] = stage.pool
    kiosk = st.device_triage.kiosk
    if kiosk is not None and kiosk.pool is not None and st.device_triage.enabled:
        out["kiosk"] = kiosk.pool
    return out
