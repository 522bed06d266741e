"""Predictions against observations, row by row, with the flags of ``fbsim check``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis import flows
from sim.analysis.check import reduce
from sim.analysis.check.observed import STREAMS, little, sim_waits
from sim.analysis.check.report import STEADY_RTOL, CheckReport, CheckRow
from sim.analysis.load import StageLoad, offered_load
from sim.analysis.stats import Estimate, mean_ci
from sim.config.schema import RISK_LEVELS, Scenario
from sim.monitor.records import Records

#: Relative error above which the exact Little identity counts as broken.
LITTLE_EXACT_RTOL = 1e-6
#: Fewest items (over all replications) for a mean wait to be judged ...
MIN_ITEMS = 200
#: ... and fewest per replication on average (a replication's mean of a handful of
#: skewed waits is far from normal, and the t-interval then under-covers).
MIN_ITEMS_PER_REPLICATION = 50
#: Points at which a time-varying scenario is sampled over the window.
GRID_POINTS = 24


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
        One row per stage, per priority class and per stream, with flags and notes.

    Raises
    ------
    ValueError
        If ``records`` is empty.
    """
    if not records:
        raise ValueError("check_scenario needs at least one replication's records")
    window = records[0].window
    days = grid_days(scenario, window)
    grid = [reduce.predict(scenario, day) for day in days]
    report = CheckReport(scenario.name, len(records), window, confidence, tolerance,
                         notes=scenario_notes(scenario, window, len(days) > 1))
    judge = _Judge(len(records), confidence, tolerance, abs_tolerance_days)
    for ld in offered_load(scenario, at_day=days[0]):
        seen = _observe(records, ld.stage)
        if ld.pool is None:
            report.rows.append(_delay_row(scenario, ld, days, seen, judge))
        else:
            report.rows.extend(_stage_rows(scenario, ld, [g[ld.stage] for g in grid], seen,
                                           judge))
    return report


def varies_in_time(scenario: Scenario) -> bool:
    """True when rates or work change over the run (growth, a profile, data, hash set)."""
    ca = scenario.cases
    demand = scenario.demand
    other = [getattr(scenario.stages, s).other_work for s in ("enforcement", "lab_examination")]
    return bool(demand.annual_growth_rate != 0 or demand.referrals_per_year_profile is not None
                or ca.data_tb_growth_per_year != 0 or ca.known_image_share_growth_per_year > 0
                or any(o is not None and o.annual_growth_rate != 0 for o in other))


def grid_days(scenario: Scenario, window: tuple[float, float]) -> list[float]:
    """Days at which the queues are evaluated.

    The window's start, or the midpoints of :data:`GRID_POINTS` equal parts of it
    when the scenario changes in time.
    """
    lo, hi = window
    if hi <= lo or not varies_in_time(scenario):
        return [lo]
    step = (hi - lo) / GRID_POINTS
    return [lo + (i + 0.5) * step for i in range(GRID_POINTS)]


@dataclass(frozen=True)
class _Observed:
    """The simulated side of one station: waits, rates and Little's law."""

    waits: dict[str, list[float]]
    rates: dict[str, float]
    counts: dict[str, int]
    little: tuple[float, float, float, float]
    flags: tuple[str, ...]


def _observe(records: Sequence[Records], stage: str) -> _Observed:
    waits, rates, counts = sim_waits(records, stage)
    littles = [little(rec, stage) for rec in records]
    big_l = float(np.nanmean([x[0] for x in littles]))
    lam_w = float(np.nanmean([x[1] for x in littles]))
    exact_err = float(np.nanmax([x[2] for x in littles]))
    err = (big_l - lam_w) / big_l if big_l > 0 else (0.0 if lam_w == 0 else math.nan)
    flags = []
    if exact_err > LITTLE_EXACT_RTOL:
        flags.append("LITTLE")
    if math.isfinite(err) and abs(err) > STEADY_RTOL:
        flags.append("NOT-STEADY")
    return _Observed(waits, {k: float(np.nanmean(v)) for k, v in rates.items()}, counts,
                     (big_l, lam_w, err, exact_err), tuple(flags))


@dataclass(frozen=True)
class _Judge:
    """The rule for ``WAIT``: settings of the check and the number of replications."""

    replications: int
    confidence: float
    tolerance: float
    abs_tol: float

    def wait(self, seen: _Observed, group: str, wait_model: float) -> tuple[bool, Estimate]:
        """(``WAIT`` raised?, the simulated estimate) for ``group`` against ``wait_model``."""
        est = mean_ci(seen.waits[group], self.confidence)
        n = seen.counts[group]
        if not (math.isfinite(est.mean) and math.isfinite(wait_model)):
            return False, est
        if n < MIN_ITEMS or n < MIN_ITEMS_PER_REPLICATION * self.replications:
            return False, est
        inside = math.isfinite(est.ci_low) and est.ci_low <= wait_model <= est.ci_high
        far = abs(est.mean - wait_model) > self.tolerance * wait_model + self.abs_tol
        return far and not inside, est


def _hw(x: float) -> float:
    return x if math.isfinite(x) else math.nan


def _delay_row(scenario: Scenario, ld: StageLoad, days: list[float], seen: _Observed,
               judge: _Judge) -> CheckRow:
    """An infinite-server delay: nobody waits."""
    rate = float(np.mean([flows.items_per_day(scenario, ld.stage, d) for d in days]))
    service = reduce.service_days(reduce.work_moments(flows.work_mix(scenario, ld.stage,
                                                                     days[0])), None)
    raised, est = judge.wait(seen, "all", 0.0)
    flags = [*seen.flags, *(["WAIT"] if raised else [])]
    notes = []
    if ld.stage == "safeguarding" and _decays(scenario):
        notes.append("trails go cold (discovery): the predicted arrivals are an upper bound")
    return CheckRow(ld.stage, "all", None, "delay", 0, rate, seen.rates["all"], service.mean,
                    service.scv, 1.0, 0.0, 0.0, est.mean, _hw(est.half_width), est.n,
                    *seen.little, tuple(flags), tuple(notes))


def _stage_rows(scenario: Scenario, ld: StageLoad, preds: list[reduce.Prediction],
                seen: _Observed, judge: _Judge) -> list[CheckRow]:
    name = ld.stage
    total = sum(p.rate for p in preds)
    weights = ([p.rate / total for p in preds] if total > 0
               else [1.0 / len(preds)] * len(preds))
    first = preds[len(preds) // 2]
    pool = first.pool
    rho = max(p.pool.rho for p in preds)
    unstable = not rho < 1.0
    rate = float(np.mean([p.rate for p in preds]))
    level_rates = [float(np.mean([p.level_rates[k] for p in preds]))
                   for k in range(len(RISK_LEVELS))]
    classes = [k for k, r in enumerate(level_rates) if rate > 0 and r / rate > 1e-12]
    discipline = pool.discipline
    per_class = ((discipline == "priority" or (discipline == "fifo" and first.split))
                 and len(classes) > 1 and not unstable)

    def average(values: Sequence[float]) -> float:
        if unstable:
            return math.inf
        return float(sum(w * v for w, v in zip(weights, values, strict=True)))

    notes = _station_notes(scenario, name, ld, pool, per_class, classes)
    c = pool.servers
    ca2 = pool.scv_arrival
    kind = "M/M" if pool.exact else ("M/G" if math.isclose(ca2, 1.0) else "G/G")
    model = f"{kind}/{c if c == 1 else 'c'}"
    approximate = pool.shifts

    def row(cls: str, wait_model: float, lam: float, judged: bool, flags0: Sequence[str],
            lit: tuple[float, float, float, float]) -> CheckRow:
        raised, est = judge.wait(seen, cls, wait_model)
        flags = list(flags0)
        if unstable:
            flags.append("UNSTABLE")
        elif judged and not approximate and raised:
            flags.append("WAIT")
        return CheckRow(name, cls, ld.pool, model, c, lam, seen.rates[cls], pool.service.mean,
                        pool.service.scv, ca2, rho, wait_model, est.mean, _hw(est.half_width),
                        est.n, *lit, tuple(flags), tuple(notes), approximate)

    rows = [row("all", average([p.wait_all for p in preds]), rate, True, seen.flags,
                seen.little)]
    nan4 = (math.nan, math.nan, math.nan, math.nan)
    poisson = math.isclose(ca2, 1.0)
    if (per_class or unstable) and len(classes) > 1:
        for k in classes:
            rows.append(row(RISK_LEVELS[k], average([p.level_waits[k] for p in preds]),
                            level_rates[k], poisson, [], nan4))
    if any(p.stream_rates[1] > 0 for p in preds):
        for i, group in enumerate(STREAMS):
            rows.append(row(group, average([p.stream_waits[i] for p in preds]),
                            float(np.mean([p.stream_rates[i] for p in preds])), poisson, [],
                            nan4))
    return rows


def _station_notes(scenario: Scenario, name: str, ld: StageLoad, pool: reduce.PoolQueue,
                   per_class: bool, classes: list[int]) -> list[str]:
    notes: list[str] = []
    stations = _pool_stations(scenario)
    shared = [s for s, other in stations.items() if other == ld.pool and s != name]
    if shared:
        notes.append(f"pool '{ld.pool}' also serves {', '.join(shared)}: one queue for all")
        levels: dict[int, list[str]] = {}
        for s, other in stations.items():
            if other == ld.pool:
                levels.setdefault(flows.stage_settings(scenario, s).precedence, []).append(s)
        if len(levels) > 1:
            notes.append(f"pool '{ld.pool}' serves by precedence: " + " before ".join(
                ", ".join(levels[p]) for p in sorted(levels)))
    fast = [RISK_LEVELS[k] for k, on in enumerate(flows.expedited_levels(scenario, name)) if on]
    if fast:
        how = (" (counted as if done on shift)" if pool.shifts else "")
        notes.append(f"{', '.join(fast)} expedited: ahead of every other item{how}")
    if ld.other_work_per_day > 0:
        notes.append(f"other work: {ld.other_work_per_day:.3g} jobs/day at the start "
                     f"(rows iioc and other_work)")
    if name == "image_grading":
        visits = flows.grading_visits_per_device(scenario)
        if visits > 1:
            notes.append(f"rework: {visits:.3g} visits per device (in the arrivals)")
    ca2 = pool.scv_arrival
    if not math.isclose(ca2, 1.0):
        why = ("devices come in batches" if name in flows.DEVICE_STATIONS
               else "they are the output of the stage before")
        notes.append(f"arrivals not Poisson (ca2 = {ca2:.2f}: {why})")
        if per_class and name in flows.DEVICE_STATIONS:
            notes.append("per-class waits with batch arrivals are rough (devices of one "
                         "case queue behind each other within their class)")
    if pool.service.scv > 4 and pool.servers > 1:
        notes.append(f"very variable service (cs2 = {pool.service.scv:.1f}): Allen-Cunneen "
                     f"tends to overstate waits with many servers")
    if pool.discipline == "deadline" and len(classes) > 1:
        notes.append("deadline discipline: no per-class formula (all-class wait as FIFO)")
    return notes


def _decays(scenario: Scenario) -> bool:
    d = scenario.discovery
    return (d.examination_trail_half_life_days is not None
            or d.depicted_trail_half_life_days is not None)


def _pool_stations(scenario: Scenario) -> dict[str, str]:
    """Running staffed stations (``kiosk`` included) and their pools."""
    out = {}
    for name in flows.STATIONS:
        enabled, pool = flows.station_pool(scenario, name)
        if enabled and pool is not None:
            out[name] = pool
    return out


def scenario_notes(scenario: Scenario, window: tuple[float, float], gridded: bool) -> list[str]:
    """Caveats that concern the whole scenario."""
    notes = []
    lo, hi = window
    if gridded:
        what = []
        demand = scenario.demand
        if demand.annual_growth_rate != 0 or demand.referrals_per_year_profile is not None:
            what.append("the referral rate")
        if any(getattr(scenario.stages, s).other_work is not None
               and getattr(scenario.stages, s).other_work.annual_growth_rate != 0
               for s in ("enforcement", "lab_examination")):
            what.append("other work")
        if scenario.cases.data_tb_growth_per_year != 0:
            what.append("data per device")
        if scenario.cases.known_image_share_growth_per_year > 0:
            what.append("the hash-matched share")
        verb = "changes" if len(what) <= 1 else "change"
        named = (", ".join(what[:-1]) + " and " + what[-1]) if len(what) > 1 else (
            what[0] if what else "the load")
        notes.append(f"{named} {verb} over days {lo:g}-{hi:g}: "
                     f"predictions are steady-state waits at {GRID_POINTS} points averaged over "
                     f"arrivals (pointwise stationary); rho is the largest over the window")
    if scenario.initial_backlog.blocks():
        notes.append("initial backlog: the run starts far from steady state")
    elif lo <= 0:
        notes.append("no warm-up: the run starts empty, so early waits are too short")
    shifts = sorted(name for name, pool in scenario.staff.items() if pool.uses_shifts)
    if shifts:
        notes.append(f"pools on shift calendars ({', '.join(shifts)}): a job in hand pauses off "
                     f"shift, which no textbook queue has; their capacity is averaged over the "
                     f"week (rho is the on-shift busy share) and their waits are not judged")
    if any(p.workforce is not None for p in scenario.staff.values()) or scenario.training:
        notes.append("head-counts change during the run (workforce/training): the model "
                     "uses the starting head-count")
    if scenario.outsourcing is not None:
        notes.append("outsourcing takes lab work away: lab arrivals are overstated")
    if scenario.automation is not None:
        notes.append("automation changes service times during the run: not modelled")
    return notes
