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
from dataclasses import dataclass, field

import numpy as np

from sim.analysis.costs import replication_cost
from sim.analysis.stage_waits import stage_waits
from sim.analysis.survival import kaplan_meier, quantile, restricted_mean, survival_at
from sim.config.schema import RISK_LEVELS, Scenario
from sim.monitor.records import Records
from sim.monitor.tables import ROUTES_CHILD


@dataclass(frozen=True)
class MetricInfo:
    """Unit and meaning of a metric."""

    unit: str
    description: str

    @property
    def bounds(self) -> tuple[float, float]:
        """Range of valid values: [0, 1] for shares, [0, inf) for everything else."""
        return (0.0, 1.0) if self.unit == "share" else (0.0, float("inf"))


#: Child routes (the one source is the monitor's table vocabulary).
ROUTES = ROUTES_CHILD
_ROUTE_WORDS = {
    "research": "in contact with the suspect, found by research at intake",
    "warrant": "in contact, not found by research: the warrant's (or an interview's) to find",
    "examination": "known only from device content: found at kiosk, lab or grading",
    "depicted": "depicted in first-generation material: found by victim identification",
}


def _route_metrics() -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}
    for r in ROUTES:
        words = _ROUTE_WORDS[r]
        out[f"time_to_identify_{r}_median_days"] = MetricInfo(
            "days", f"Median time from referral to identification, children {words} "
                    f"(Kaplan–Meier; NaN if fewer than half are ever identified)")
        out[f"identified_{r}_within_90d_share"] = MetricInfo(
            "share", f"Children {words}, identified within 90 days of referral (Kaplan–Meier)")
        out[f"identified_{r}_within_365d_share"] = MetricInfo(
            "share", f"Children {words}, identified within a year of referral (Kaplan–Meier)")
        out[f"child_days_at_risk_{r}"] = MetricInfo(
            "child-days", f"Days at risk inside the window of identified children {words} "
                          f"(until social care acted, or the end)")
        out[f"children_{r}"] = MetricInfo(
            "children", f"Children {words}, in cases referred during the window")
        out[f"children_not_identified_end_{r}"] = MetricInfo(
            "children", f"Children {words}, not identified by the end of the run (any cohort)")
        out[f"days_at_risk_first_year_{r}_mean"] = MetricInfo(
            "days", f"Mean days at risk in the first year after referral, children {words}: "
                    f"until social care acted, 365 for a child not safeguarded within the year "
                    f"(restricted mean, Kaplan–Meier: counts every child, found or not)")
    return out


#: Every metric reported per replication, in report order.
METRICS: dict[str, MetricInfo] = {
    "time_to_identify_median_days": MetricInfo(
        "days", "Median time from referral to identification of a child at risk, all routes "
                "pooled (Kaplan–Meier)"),
    "time_to_identify_p90_days": MetricInfo(
        "days", "90th percentile of time to identification, all routes (NaN if < 90% are ever "
                "identified)"),
    "identified_within_7d_share": MetricInfo("share", "Children identified within 7 days of referral"),
    "identified_within_30d_share": MetricInfo("share", "Children identified within 30 days of referral"),
    "identified_within_90d_share": MetricInfo("share", "Children identified within 90 days of referral"),
    "identified_within_365d_share": MetricInfo(
        "share", "Children identified within a year of referral, all routes"),
    **_route_metrics(),
    "identified_contact_within_90d_share": MetricInfo(
        "share", "Children in contact with the suspect (research and warrant routes together), "
                 "identified within 90 days of referral: comparable across scenarios that change "
                 "what research finds"),
    "days_at_risk_first_year_contact_mean": MetricInfo(
        "days", "As days_at_risk_first_year_mean, children in contact (research and warrant "
                "routes together)"),
    "depicted_identified_within_365d_share": MetricInfo(
        "share", "Depicted (first-generation) children identified within a year (as "
                 "identified_depicted_within_365d_share)"),
    "depicted_identified_per_year": MetricInfo(
        "children/year", "Depicted children identified by victim identification per year of the "
                         "window"),
    "children_not_identified_end": MetricInfo(
        "children", "Children at risk not identified by the end of the run (all routes, any "
                    "cohort): counted here, not summed into child-days at risk"),
    "time_to_safeguard_median_days": MetricInfo(
        "days", "Median time from referral until social care has acted (Kaplan–Meier; children "
                "never identified count as not yet safeguarded)"),
    "days_at_risk_first_year_mean": MetricInfo(
        "days", "Mean days at risk in the first year after referral, all children (restricted "
                "mean of time to safeguarding, capped at 365 days: a child never found counts 365)"),
    "child_days_at_risk": MetricInfo(
        "child-days", "Days at risk inside the window of children identified by the end, from "
                      "referral (or run start) until social care acted (or the end)"),
    "child_days_at_risk_contact": MetricInfo(
        "child-days", "Child-days at risk of identified children in contact (research + "
                      "warrant routes)"),
    "children_at_risk": MetricInfo("children", "Children at risk in cases referred during the run"),
    "warrants_per_referral": MetricInfo(
        "share", "Referrals in the window decided for a warrant"),
    "voluntary_attendance_per_referral": MetricInfo(
        "share", "Referrals in the window decided for a voluntary-attendance interview"),
    "no_further_action_share": MetricInfo(
        "share", "Referrals in the window closed with no further action after research"),
    "enforcement_within_target_share": MetricInfo(
        "share", "Enforcement actions (warrant or interview) within the target for the graded risk, "
                 "counted from the risk assessment (intake), among cases decided for action "
                 "whose target has passed or that were actioned"),
    **{f"enforcement_within_target_{level}_share": MetricInfo(
        "share", f"As enforcement_within_target_share, cases graded {level.replace('_', ' ')}")
       for level in RISK_LEVELS},
    "lab_wait_median_days": MetricInfo(
        "days", "Median wait for lab examination of IIOC devices arriving in the window "
                "(Kaplan–Meier)"),
    "lab_wait_p90_days": MetricInfo(
        "days", "90th percentile of the IIOC lab wait (Kaplan–Meier; NaN if fewer than 90% "
                "started by the end)"),
    "lab_examined_within_90d_share": MetricInfo(
        "share", "Of IIOC devices whose examination started, share that had waited <= 90 days "
                 "(the FOI definition; it ignores devices still waiting, so prefer the KM lab "
                 "wait when the lab is overloaded)"),
    "lab_examined_90_365d_share": MetricInfo(
        "share", "Of IIOC devices whose examination started, share that had waited 90-365 days"),
    "lab_examined_over_365d_share": MetricInfo(
        "share", "Of IIOC devices whose examination started, share that had waited > 365 days"),
    "lab_all_examined_within_90d_share": MetricInfo(
        "share", "As lab_examined_within_90d_share, all lab exhibits (IIOC and other work): the "
                 "Met FOI's population"),
    "lab_all_examined_90_365d_share": MetricInfo(
        "share", "As lab_examined_90_365d_share, all lab exhibits"),
    "lab_all_examined_over_365d_share": MetricInfo(
        "share", "As lab_examined_over_365d_share, all lab exhibits"),
    "upload_wait_median_days": MetricInfo(
        "days", "Median wait for verification and upload to the image database, devices graded "
                "in the window (Kaplan–Meier)"),
    "upload_wait_p90_days": MetricInfo(
        "days", "90th percentile of the wait for verification and upload (Kaplan–Meier)"),
    "backlog_devices_end": MetricInfo(
        "devices", "Devices waiting for triage or lab examination at the end of the run"),
    "backlog_devices_mean": MetricInfo(
        "devices", "Time-averaged devices waiting for triage or lab examination"),
    "backlog_grading_end": MetricInfo("devices", "Devices waiting for investigative grading at the end"),
    "backlog_upload_end": MetricInfo(
        "devices", "Devices waiting for verification and upload to the image database at the end"),
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
        Share identified by each day of :data:`IDENTIFY_GRID_DAYS` (1 - KM survival),
        all routes pooled.
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
    wait_curves : dict of str to numpy.ndarray
        Share started by day of waiting, per stage and group
        (:class:`sim.analysis.stage_waits.StageWaits`).
    """

    replication: int
    metrics: dict[str, float]
    identified_curve: np.ndarray
    timeseries_days: np.ndarray
    waiting: dict[str, np.ndarray]
    conservation: dict[str, dict[str, int]]
    events: int
    seconds: float = 0.0
    identified_curves: dict[str, np.ndarray] = field(default_factory=dict)
    """Like ``identified_curve``, per route (:data:`ROUTES`) and ``all``."""
    wait_curves: dict[str, np.ndarray] = field(default_factory=dict)
    """Share started by day waited, per stage and group (:mod:`sim.analysis.stage_waits`)."""


def _km(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return kaplan_meier(np.maximum(durations, 0.0), observed)


def _curve(times: np.ndarray, surv: np.ndarray, n: int) -> np.ndarray:
    """Share identified on :data:`IDENTIFY_GRID_DAYS` (NaN where nobody is in the route)."""
    if not n:
        return np.full(IDENTIFY_GRID_DAYS.size, np.nan)
    return np.asarray(1.0 - survival_at(times, surv, IDENTIFY_GRID_DAYS))


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
    ttid = ch["time_to_identify_days"]
    identified = ch["identified"]
    dur = ttid[new]
    obs = identified[new]
    times, surv = _km(dur, obs)
    m["time_to_identify_median_days"] = quantile(times, surv, 0.5) if dur.size else math.nan
    m["time_to_identify_p90_days"] = quantile(times, surv, 0.9) if dur.size else math.nan
    for within in (7, 30, 90, 365):
        m[f"identified_within_{within}d_share"] = (
            float(1.0 - survival_at(times, surv, within)) if dur.size else math.nan)
    curves = {"all": _curve(times, surv, dur.size)}
    safe_day = ch["safeguarded_day"]
    at_risk_from = np.maximum(ch["referral_day"], start)
    at_risk_to = np.minimum(np.where(np.isnan(safe_day), end, safe_day), end)
    days_at_risk = np.where(identified, np.maximum(at_risk_to - at_risk_from, 0.0), 0.0)
    route = ch["route"]
    safe_obs_all = ch["safeguarded"]
    safe_all = np.where(np.isnan(safe_day), end, safe_day) - ch["referral_day"]
    window_years = max(end - start, 1e-9) / 365.25
    for r in ROUTES:
        in_route = route == r
        here = new & in_route
        rt, rs = _km(ttid[here], identified[here])
        n_here = int(here.sum())
        m[f"time_to_identify_{r}_median_days"] = quantile(rt, rs, 0.5) if n_here else math.nan
        for within in (90, 365):
            m[f"identified_{r}_within_{within}d_share"] = (
                float(1.0 - survival_at(rt, rs, within)) if n_here else math.nan)
        curves[r] = _curve(rt, rs, n_here)
        m[f"child_days_at_risk_{r}"] = float(np.sum(days_at_risk[in_route]))
        m[f"children_{r}"] = float(n_here)
        m[f"children_not_identified_end_{r}"] = float(np.count_nonzero(in_route & ~identified))
        at, asv = _km(safe_all[here], safe_obs_all[here])
        m[f"days_at_risk_first_year_{r}_mean"] = (restricted_mean(at, asv, 365.0) if n_here
                                                  else math.nan)
    # Children in contact as one population: which of the two routes a child is on
    # depends on research, so a lever that changes research moves children between them.
    contact = new & np.isin(route, ("research", "warrant"))
    ct, cs = _km(ttid[contact], identified[contact])
    m["identified_contact_within_90d_share"] = (float(1.0 - survival_at(ct, cs, 90.0))
                                                if contact.any() else math.nan)
    at, asv = _km(safe_all[contact], safe_obs_all[contact])
    m["days_at_risk_first_year_contact_mean"] = (restricted_mean(at, asv, 365.0)
                                                 if contact.any() else math.nan)
    m["depicted_identified_within_365d_share"] = m["identified_depicted_within_365d_share"]
    vid_found = (ch["found_at"] == "victim_identification") & (ch["identified_day"] >= start)
    m["depicted_identified_per_year"] = float(np.count_nonzero(vid_found)) / window_years
    m["children_not_identified_end"] = float(np.count_nonzero(~identified))
    safe_obs = ch["safeguarded"][new]
    safe_dur = np.where(np.isnan(safe_day), end, safe_day)[new] - ch["referral_day"][new]
    st, ss = _km(safe_dur, safe_obs)
    m["time_to_safeguard_median_days"] = quantile(st, ss, 0.5) if safe_dur.size else math.nan
    m["days_at_risk_first_year_mean"] = (restricted_mean(st, ss, 365.0) if safe_dur.size
                                         else math.nan)
    m["child_days_at_risk"] = float(np.sum(days_at_risk))
    m["child_days_at_risk_contact"] = (m["child_days_at_risk_research"]
                                       + m["child_days_at_risk_warrant"])
    m["children_at_risk"] = float(new.sum())

    cases = t["cases"]
    in_window = (cases["referral_day"] >= start) & (cases["cohort"] == "new")
    n_window = int(in_window.sum())
    action = cases["action"][in_window]
    for key, name in (("warrants_per_referral", "warrant"),
                      ("voluntary_attendance_per_referral", "voluntary_attendance"),
                      ("no_further_action_share", "no_further_action")):
        m[key] = float(np.count_nonzero(action == name)) / n_window if n_window else math.nan
    targets = dict(zip(RISK_LEVELS, scenario.policies.enforcement_target_days.values_in_order(),
                       strict=True))
    acted = in_window & np.isin(cases["action"], ("warrant", "voluntary_attendance"))
    graded = cases["graded_risk"][acted]
    target = np.asarray([targets[r] for r in graded], dtype=float)
    assessed = cases["intake_done_day"][acted]
    took = cases["warrant_day"][acted] - assessed
    age = end - assessed
    done = ~np.isnan(took)
    decided = done | (age > target)
    met = done & (took <= target)
    m["enforcement_within_target_share"] = (float(met[decided].mean()) if decided.any()
                                            else math.nan)
    for level in RISK_LEVELS:
        sel = decided & (graded == level)
        m[f"enforcement_within_target_{level}_share"] = (float(met[sel].mean()) if sel.any()
                                                          else math.nan)
    m["cases_referred"] = float(n_window)

    sv = t["stage_visits"]
    lab = sv["stage"] == "lab_examination"
    iioc = lab & (sv["entity"] == "device")
    for prefix, rows in (("lab", iioc), ("lab_all", lab)):
        arrive, begin = sv["arrive_day"][rows], sv["start_day"][rows]
        started = ~np.isnan(begin)
        wait = np.where(started, begin, end) - arrive
        if prefix == "lab":
            window_lab = arrive >= start
            lt, ls = _km(wait[window_lab], started[window_lab])
            m["lab_wait_median_days"] = quantile(lt, ls, 0.5) if window_lab.any() else math.nan
            m["lab_wait_p90_days"] = quantile(lt, ls, 0.9) if window_lab.any() else math.nan
        examined = started & (begin >= start)
        w = wait[examined]
        m[f"{prefix}_examined_within_90d_share"] = _share(w <= 90.0)
        m[f"{prefix}_examined_90_365d_share"] = _share((w > 90.0) & (w <= 365.0))
        m[f"{prefix}_examined_over_365d_share"] = _share(w > 365.0)
    up = sv["stage"] == "database_upload"
    arrive, begin = sv["arrive_day"][up], sv["start_day"][up]
    started = ~np.isnan(begin)
    window_up = arrive >= start
    ut, us = _km((np.where(started, begin, end) - arrive)[window_up], started[window_up])
    m["upload_wait_median_days"] = quantile(ut, us, 0.5) if window_up.any() else math.nan
    m["upload_wait_p90_days"] = quantile(ut, us, 0.9) if window_up.any() else math.nan

    c = records.conservation
    m["backlog_devices_end"] = float(sum(c[s]["waiting"] for s in BACKLOG_STAGES if s in c))
    m["backlog_grading_end"] = float(c.get("image_grading", {}).get("waiting", 0))
    m["backlog_upload_end"] = float(c.get("database_upload", {}).get("waiting", 0))
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
    waits = stage_waits(records, scenario)  # per-stage waits (sim.analysis.stage_waits)
    return ReplicationSummary(records.replication, {**{k: m[k] for k in METRICS}, **waits.metrics},
                              curves["all"], days, waiting, records.conservation, records.events,
                              identified_curves=curves, wait_curves=waits.curves)
