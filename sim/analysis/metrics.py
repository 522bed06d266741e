"""Headline metrics of one replication, computed from its tables.

Every metric is a pure function of one replication's :class:`~sim.monitor.records.Records`
(and the scenario, for targets). Cross-replication statistics live in
:mod:`sim.analysis.stats`. Time-to-event metrics use Kaplan–Meier with censoring at the
end of the run, never by dropping children who are not yet identified.

The population of the headline child metrics is the children of cases referred during
the measured window (after any warm-up); children of today's backlog are counted in
``child_days_at_risk`` (their days at risk inside the window) but not in the time-to-
identification curve, whose origin (the referral) lies before the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.analysis.costs import replication_cost
from sim.analysis.survival import kaplan_meier, quantile, survival_at
from sim.config.schema import RISK_LEVELS, Scenario
from sim.monitor.records import Records


@dataclass(frozen=True)
class MetricInfo:
    """Unit and meaning of a metric."""

    unit: str
    description: str

    @property
    def bounds(self) -> tuple[float, float]:
        """Range of valid values: [0, 1] for shares, [0, inf) for everything else."""
        return (0.0, 1.0) if self.unit == "share" else (0.0, float("inf"))


#: Every metric reported per replication, in report order.
METRICS: dict[str, MetricInfo] = {
    "time_to_identify_median_days": MetricInfo(
        "days", "Median time from referral to identification of a child at risk (Kaplan–Meier)"),
    "time_to_identify_p90_days": MetricInfo(
        "days", "90th percentile of time to identification (NaN if < 90% are ever identified)"),
    "identified_within_7d_share": MetricInfo("share", "Children identified within 7 days of referral"),
    "identified_within_30d_share": MetricInfo("share", "Children identified within 30 days of referral"),
    "identified_within_90d_share": MetricInfo("share", "Children identified within 90 days of referral"),
    "depicted_identified_within_365d_share": MetricInfo(
        "share", "Depicted (first-generation) children identified within a year"),
    "time_to_safeguard_median_days": MetricInfo(
        "days", "Median time from referral until social care has acted (Kaplan–Meier)"),
    "child_days_at_risk": MetricInfo(
        "child-days", "Sum over children of days from referral (or run start) until safeguarded"),
    "child_days_at_risk_contact": MetricInfo(
        "child-days", "Child-days at risk of children in contact with the suspect"),
    "child_days_at_risk_depicted": MetricInfo(
        "child-days", "Child-days at risk of depicted children (never-identified ones count to the end)"),
    "children_at_risk": MetricInfo("children", "Children at risk in cases referred during the run"),
    "enforcement_within_target_share": MetricInfo(
        "share", "Cases whose warrant met the target time for their graded risk"),
    "lab_wait_median_days": MetricInfo(
        "days", "Median wait for lab examination of devices arriving in the window (Kaplan–Meier)"),
    "lab_wait_p90_days": MetricInfo("days", "90th percentile of the lab wait (Kaplan–Meier)"),
    "lab_examined_within_90d_share": MetricInfo(
        "share", "Of devices whose examination started, share that had waited <= 90 days "
                 "(the FOI definition; it ignores devices still waiting, so prefer the KM lab "
                 "wait when the lab is overloaded)"),
    "lab_examined_90_365d_share": MetricInfo(
        "share", "Of devices whose examination started, share that had waited 90-365 days"),
    "lab_examined_over_365d_share": MetricInfo(
        "share", "Of devices whose examination started, share that had waited > 365 days"),
    "backlog_devices_end": MetricInfo(
        "devices", "Devices waiting for triage or lab examination at the end of the run"),
    "backlog_devices_mean": MetricInfo(
        "devices", "Time-averaged devices waiting for triage or lab examination"),
    "devices_examined": MetricInfo("devices", "Devices examined (kiosk or lab) during the run"),
    "cases_referred": MetricInfo("cases", "Referrals during the measured window"),
    "cost_total_gbp": MetricInfo(
        "GBP", "Staff, training and outsourcing cost over the window (unit costs from the scenario)"),
    "staff_fte_years": MetricInfo("FTE-years", "Staff employed over the window, all pools"),
    "outsourced_devices": MetricInfo("devices", "Devices sent to an outsourced provider"),
}

#: Day grid (days since referral) of the time-to-identification curve.
IDENTIFY_GRID_DAYS = np.arange(0.0, 366.0, 1.0)
#: Stages whose waiting devices form the forensic backlog.
BACKLOG_STAGES = ("device_triage", "lab_examination")


@dataclass
class ReplicationSummary:
    """The small per-replication result kept in memory by the experiment runner.

    Attributes
    ----------
    replication : int
        Index.
    metrics : dict of str to float
        One value per :data:`METRICS` key (NaN where undefined).
    identified_curve : numpy.ndarray
        Share identified by each day of :data:`IDENTIFY_GRID_DAYS` (1 - KM survival).
    timeseries_days : numpy.ndarray
        Sample days of the stage time series.
    waiting : dict of str to numpy.ndarray
        Items waiting per stage on ``timeseries_days``; key ``backlog_devices`` sums
        :data:`BACKLOG_STAGES`.
    conservation : dict
        Per-stage balance counts.
    events : int
        Event count (3 per service visit).
    seconds : float
        Wall time of the replication in its worker.
    """

    replication: int
    metrics: dict[str, float]
    identified_curve: np.ndarray
    timeseries_days: np.ndarray
    waiting: dict[str, np.ndarray]
    conservation: dict[str, dict[str, int]]
    events: int
    seconds: float = 0.0


def _km(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return kaplan_meier(np.maximum(durations, 0.0), observed)


def _share(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def replication_metrics(records: Records, scenario: Scenario) -> ReplicationSummary:
    """Compute :data:`METRICS` and curves for one replication.

    Parameters
    ----------
    records : Records
        Output of :func:`sim.model.replication.run_replication`.
    scenario : Scenario
        The scenario it ran (for enforcement targets).
    """
    start, end = records.window
    t = records.tables
    m: dict[str, float] = {}

    ch = t["children"]
    new = (ch["referral_day"] >= start) & (ch["cohort"] == "new")
    dur = ch["time_to_identify_days"][new]
    obs = ch["identified"][new]
    times, surv = _km(dur, obs)
    m["time_to_identify_median_days"] = quantile(times, surv, 0.5) if dur.size else math.nan
    m["time_to_identify_p90_days"] = quantile(times, surv, 0.9) if dur.size else math.nan
    for within in (7, 30, 90):
        m[f"identified_within_{within}d_share"] = (
            float(1.0 - survival_at(times, surv, within)) if dur.size else math.nan)
    curve = (1.0 - survival_at(times, surv, IDENTIFY_GRID_DAYS) if dur.size
             else np.full(IDENTIFY_GRID_DAYS.size, np.nan))
    depicted = new & (ch["route"] == "depicted")
    if depicted.any():
        dt, ds = _km(ch["time_to_identify_days"][depicted], ch["identified"][depicted])
        m["depicted_identified_within_365d_share"] = float(1.0 - survival_at(dt, ds, 365.0))
    else:
        m["depicted_identified_within_365d_share"] = math.nan
    safe_day = ch["safeguarded_day"]
    safe_obs = ch["safeguarded"][new]
    safe_dur = np.where(np.isnan(safe_day), end, safe_day)[new] - ch["referral_day"][new]
    st, ss = _km(safe_dur, safe_obs)
    m["time_to_safeguard_median_days"] = quantile(st, ss, 0.5) if safe_dur.size else math.nan
    at_risk_from = np.maximum(ch["referral_day"], start)
    at_risk_to = np.minimum(np.where(np.isnan(safe_day), end, safe_day), end)
    days_at_risk = np.maximum(at_risk_to - at_risk_from, 0.0)
    m["child_days_at_risk"] = float(np.sum(days_at_risk))
    m["child_days_at_risk_contact"] = float(np.sum(days_at_risk[ch["route"] == "contact"]))
    m["child_days_at_risk_depicted"] = float(np.sum(days_at_risk[ch["route"] == "depicted"]))
    m["children_at_risk"] = float(new.sum())

    cases = t["cases"]
    in_window = (cases["referral_day"] >= start) & (cases["cohort"] == "new")
    targets = dict(zip(RISK_LEVELS, scenario.policies.enforcement_target_days.values_in_order(),
                       strict=True))
    target = np.asarray([targets[r] for r in cases["graded_risk"][in_window]], dtype=float)
    took = cases["warrant_day"][in_window] - cases["referral_day"][in_window]
    age = end - cases["referral_day"][in_window]
    done = ~np.isnan(took)
    decided = done | (age > target)
    met = done & (took <= target)
    m["enforcement_within_target_share"] = (float(met[decided].mean()) if decided.any()
                                            else math.nan)
    m["cases_referred"] = float(in_window.sum())

    sv = t["stage_visits"]
    lab = sv["stage"] == "lab_examination"
    arrive, begin = sv["arrive_day"][lab], sv["start_day"][lab]
    started = ~np.isnan(begin)
    window_lab = arrive >= start
    wait = np.where(started, begin, end) - arrive
    lt, ls = _km(wait[window_lab], started[window_lab])
    m["lab_wait_median_days"] = quantile(lt, ls, 0.5) if window_lab.any() else math.nan
    m["lab_wait_p90_days"] = quantile(lt, ls, 0.9) if window_lab.any() else math.nan
    examined = started & (begin >= start)
    w = wait[examined]
    m["lab_examined_within_90d_share"] = _share(w <= 90.0)
    m["lab_examined_90_365d_share"] = _share((w > 90.0) & (w <= 365.0))
    m["lab_examined_over_365d_share"] = _share(w > 365.0)

    c = records.conservation
    m["backlog_devices_end"] = float(sum(c[s]["waiting"] for s in BACKLOG_STAGES if s in c))
    ts = t["stage_timeseries"]
    days = np.unique(ts["day"])
    waiting: dict[str, np.ndarray] = {}
    for stage in np.unique(ts["stage"]):
        rows = ts["stage"] == stage
        waiting[str(stage)] = np.asarray(ts["waiting"][rows], dtype=float)
    backlog = np.zeros(days.size)
    for stage in BACKLOG_STAGES:
        if stage in waiting:
            backlog = backlog + waiting[stage]
    waiting["backlog_devices"] = backlog
    m["backlog_devices_mean"] = (
        float(sum(records.time_averages[s]["mean_waiting"] for s in BACKLOG_STAGES
                  if s in records.time_averages)))
    m["devices_examined"] = float(c.get("lab_examination", {}).get("completed", 0)
                                  + c.get("kiosk", {}).get("completed", 0))
    cost = replication_cost(scenario, records)
    m["cost_total_gbp"] = cost["total_gbp"]
    m["staff_fte_years"] = cost["fte_years"]
    m["outsourced_devices"] = cost["outsourced_devices"]
    return ReplicationSummary(records.replication, m, curve, days, waiting, records.conservation,
                              records.events)
