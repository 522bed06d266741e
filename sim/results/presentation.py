"""How each metric and stage is shown to people: a plain label, its group, which way is better.

The metric definitions (unit, meaning) are in :mod:`sim.analysis.metrics`; this module
adds what a reader needs to take a number in at a glance, keyed by metric name:

- ``label``: plain words, no snake_case;
- ``group``: the question it answers (:data:`GROUPS`: children, lab, grading and upload,
  workforce, cost);
- ``direction``: ``lower`` or ``higher`` is better, or ``""`` for context figures
  (children at risk, cases referred) that no option should be judged by.

Every metric of :data:`sim.analysis.metrics.METRICS` has an entry in :data:`PRESENTATION`
(``tests/test_presentation.py`` checks it, so a new metric must get one). Families of
metrics named by a pattern (per route, per stage) are covered by :func:`presentation`
rules. An unknown name still gets a readable fallback, so nothing breaks when the model
reports a metric before this table knows it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from sim.analysis.stage_waits import STATISTICS, parse_metric_name
from sim.config.common import RISK_LEVELS

#: The questions a summary is grouped by, in the order they are shown, with their titles.
GROUPS: dict[str, str] = {
    "children": "Children at risk",
    "lab": "Devices and the lab",
    "grading and upload": "Image grading, upload and identification",
    "other stages": "Other stages",
    "workforce": "Workforce",
    "cost": "Cost",
    "other": "Other",
}
LOWER, HIGHER, CONTEXT = "lower", "higher", ""


@dataclass(frozen=True)
class Presentation:
    """How one metric is shown.

    Attributes
    ----------
    label : str
        Plain words.
    group : str
        A key of :data:`GROUPS`.
    direction : str
        ``lower`` or ``higher`` (is better), or ``""`` for context.
    printed : bool
        Shown in the printed headline table (all metrics go to ``summary.json``).
    known : bool
        False for the fallback of a name this module does not know.
    """

    label: str
    group: str
    direction: str = LOWER
    printed: bool = True
    known: bool = True


def _p(label: str, group: str, direction: str = LOWER) -> Presentation:
    return Presentation(label, group, direction)


#: Every metric of :data:`sim.analysis.metrics.METRICS`.
PRESENTATION: dict[str, Presentation] = {
    "time_to_identify_median_days": _p("Time to identify a child, median", "children"),
    "time_to_identify_p90_days": _p("Time to identify a child, 90th percentile", "children"),
    "identified_within_7d_share": _p("Children identified within 7 days", "children", HIGHER),
    "identified_within_30d_share": _p("Children identified within 30 days", "children", HIGHER),
    "identified_within_90d_share": _p("Children identified within 90 days", "children", HIGHER),
    "depicted_identified_within_365d_share": _p(
        "Depicted children identified within a year", "children", HIGHER),
    "time_to_safeguard_median_days": _p("Time until social care acts, median", "children"),
    "child_days_at_risk": _p("Child-days at risk, all children", "children"),
    "child_days_at_risk_contact": _p("Child-days at risk, children in contact", "children"),
    "child_days_at_risk_depicted": _p("Child-days at risk, depicted children", "children"),
    "children_at_risk": _p("Children at risk referred", "children", CONTEXT),
    "children_not_identified_end": _p("Children not identified by the end", "children"),
    "enforcement_within_target_share": _p("Warrants within their target time", "children",
                                          HIGHER),
    "lab_wait_median_days": _p("Wait for lab examination, median", "lab"),
    "lab_wait_p90_days": _p("Wait for lab examination, 90th percentile", "lab"),
    "lab_examined_within_90d_share": _p("Examined devices that waited up to 90 days", "lab",
                                        HIGHER),
    "lab_examined_90_365d_share": _p("Examined devices that waited 90 days to a year", "lab"),
    "lab_examined_over_365d_share": _p("Examined devices that waited over a year", "lab"),
    "backlog_devices_end": _p("Devices waiting at the end (triage and lab)", "lab"),
    "backlog_devices_mean": _p("Devices waiting, time average (triage and lab)", "lab"),
    "devices_examined": _p("Devices examined (kiosk or lab)", "lab", CONTEXT),
    "cases_referred": _p("Referrals in the window", "children", CONTEXT),
    "cost_total_gbp": _p("Total cost: staff, training, outsourcing", "cost"),
    "staff_fte_years": _p("Staff employed, all pools", "workforce", CONTEXT),
    "outsourced_devices": _p("Devices sent to an outsourced provider", "lab", CONTEXT),
    "identified_within_365d_share": _p("Children identified within a year", "children", HIGHER),
    "depicted_identified_per_year": _p("Depicted children identified per year", "children",
                                       HIGHER),
    "warrants_per_referral": _p("Referrals decided for a warrant", "children", CONTEXT),
    "voluntary_attendance_per_referral": _p("Referrals decided for a voluntary attendance",
                                            "children", CONTEXT),
    "no_further_action_share": _p("Referrals closed with no further action", "children",
                                  CONTEXT),
    "upload_wait_median_days": _p("Wait for verification and upload, median",
                                  "grading and upload"),
    "upload_wait_p90_days": _p("Wait for verification and upload, 90th percentile",
                               "grading and upload"),
    "backlog_grading_end": _p("Devices waiting for grading at the end", "grading and upload"),
    "backlog_upload_end": _p("Devices waiting for upload at the end", "grading and upload"),
}
#: The routes by which the model finds children, for the per-route metric families.
MODEL_ROUTES = ("research", "warrant", "examination", "depicted")
_RISK_WORDS = {"very_high": "very high", "high": "high", "medium": "medium", "low": "low"}

#: Plain names of stages and what waits there (the noun of its units), for labels and axes.
STAGES: dict[str, tuple[str, str]] = {
    "intake": ("intake and research", "cases"),
    "enforcement": ("enforcement (warrant)", "cases"),
    "safeguarding": ("safeguarding (social care)", "children"),
    "device_triage": ("device triage (hub)", "devices"),
    "kiosk": ("kiosk", "devices"),
    "lab_examination": ("lab examination", "devices"),
    "image_grading": ("image grading", "devices"),
    "investigative_grading": ("investigative grading", "devices"),
    "caid_verification": ("CAID verification", "devices"),
    "database_upload": ("database upload", "devices"),
    "victim_identification": ("victim identification", "cases"),
    "qa_rework": ("grading quality assurance", "devices"),
}
#: Which group a stage's waits belong to.
_STAGE_GROUPS = {"lab_examination": "lab", "image_grading": "grading and upload",
                 "investigative_grading": "grading and upload",
                 "caid_verification": "grading and upload",
                 "database_upload": "grading and upload",
                 "victim_identification": "grading and upload"}
#: Stage-wait statistics shown in the printed table (all go to summary.json).
_PRINTED_WAIT_STATS = ("p90_days",)
_WAIT_STAT_LABELS = {"mean_days": "mean", "median_days": "median", "p90_days": "90th percentile",
                     "started_share": "share started by the end", "arrivals": "arrivals"}
ROUTES: dict[str, str] = {
    "research": "in contact, found by research", "warrant": "in contact, not found by research",
    "examination": "found by examination", "depicted": "depicted", "contact": "in contact",
    "all": "all children",
}


def _family_entries() -> dict[str, Presentation]:
    """Entries of the metric families the model reports per route, risk level or exhibit."""
    out: dict[str, Presentation] = {}
    for r in MODEL_ROUTES:
        words = ROUTES[r]
        out[f"time_to_identify_{r}_median_days"] = _p(f"Time to identify, {words}, median",
                                                      "children")
        out[f"identified_{r}_within_90d_share"] = _p(f"Identified within 90 days, {words}",
                                                     "children", HIGHER)
        out[f"identified_{r}_within_365d_share"] = _p(f"Identified within a year, {words}",
                                                      "children", HIGHER)
        out[f"child_days_at_risk_{r}"] = Presentation(f"Child-days at risk, {words}",
                                                      "children", LOWER, printed=False)
        out[f"children_{r}"] = Presentation(f"Children at risk, {words}", "children", CONTEXT,
                                            printed=False)
        out[f"children_not_identified_end_{r}"] = _p(f"Not identified by the end, {words}",
                                                     "children")
        out[f"days_at_risk_first_year_{r}_mean"] = Presentation(
            f"Days at risk in the first year, {words}", "children", LOWER,
            printed=r in ("examination", "depicted"))
    out["days_at_risk_first_year_mean"] = _p("Days at risk in the first year, per child",
                                             "children")
    out["days_at_risk_first_year_contact_mean"] = _p(
        "Days at risk in the first year, in contact", "children")
    out["identified_contact_within_90d_share"] = _p("Identified within 90 days, in contact",
                                                    "children", HIGHER)
    for risk, words in _RISK_WORDS.items():
        out[f"enforcement_within_target_{risk}_share"] = _p(
            f"Warrants within target, {words} risk", "children", HIGHER)
    for key, words in (("within_90d", "up to 90 days"), ("90_365d", "90 days to a year"),
                       ("over_365d", "over a year")):
        out[f"lab_all_examined_{key}_share"] = Presentation(
            f"All lab exhibits (IIOC and other work) that waited {words}", "lab",
            HIGHER if key == "within_90d" else LOWER, printed=False)
    return out


PRESENTATION.update({k: v for k, v in _family_entries().items() if k not in PRESENTATION})

#: The rows of the printed headline table (``fbsim run``, ``fbsim report``): a planner's
#: questions, one or two rows each, about twenty in all. Every other metric is in
#: ``summary.json`` with its label (``headline(..., printed_only=False)`` shows them all).
#: The pooled time to identify is left out on purpose: it mixes children found at research
#: within days with children found only on devices months later, and hides the latter.
PRINTED: frozenset[str] = frozenset({
    "identified_contact_within_90d_share", "days_at_risk_first_year_contact_mean",
    "identified_examination_within_365d_share", "days_at_risk_first_year_examination_mean",
    "identified_depicted_within_365d_share", "days_at_risk_first_year_depicted_mean",
    "days_at_risk_first_year_mean", "children_not_identified_end",
    "time_to_safeguard_median_days", "enforcement_within_target_very_high_share",
    "enforcement_within_target_low_share", "warrants_per_referral", "children_at_risk",
    "lab_wait_median_days", "lab_wait_p90_days", "lab_examined_over_365d_share",
    "backlog_devices_end", "upload_wait_median_days",
    "upload_wait_p90_days", "staff_fte_years", "cost_total_gbp",
})
for _name, _entry in PRESENTATION.items():
    PRESENTATION[_name] = dataclasses.replace(_entry, printed=_name in PRINTED)


def stage_label(stage: str) -> str:
    """Plain name of a stage (its name with spaces when unknown)."""
    return STAGES.get(stage, (stage.replace("_", " "), "items"))[0]


def stage_unit(stage: str) -> str:
    """What waits at a stage: ``devices``, ``cases``, ``children`` or ``items``."""
    return STAGES.get(stage, ("", "items"))[1]


def route_label(route: str) -> str:
    """Plain name of a child's route (``research`` … ``depicted``, or ``all``)."""
    return ROUTES.get(route, route.replace("_", " "))


def _group_label(group: str) -> str:
    if group == "all":
        return ""
    return f", {group.replace('_', ' ')}" + (" risk" if group in RISK_LEVELS else "")


#: Per-route metrics of the model (``<...>_<route>_<...>``): pattern, label, group, direction.
_ROUTE_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"time_to_identify_(?P<r>[a-z]+)_median_days"),
     "Time to identify, {route}, median", LOWER),
    (re.compile(r"time_to_identify_(?P<r>[a-z]+)_p90_days"),
     "Time to identify, {route}, 90th percentile", LOWER),
    (re.compile(r"identified_(?P<r>[a-z]+)_within_(?P<d>\d+)d_share"),
     "Identified within {days} days, {route}", HIGHER),
    (re.compile(r"child_days_at_risk_(?P<r>[a-z]+)"), "Child-days at risk, {route}", LOWER),
    (re.compile(r"children_not_identified_end_(?P<r>[a-z]+)"),
     "Not identified by the end, {route}", LOWER),
    (re.compile(r"children_(?P<r>[a-z]+)"), "Children at risk, {route}", CONTEXT),
)


def presentation(name: str) -> Presentation:
    """How metric ``name`` is shown: its :data:`PRESENTATION` entry, a rule, or a fallback."""
    if name in PRESENTATION:
        return PRESENTATION[name]
    parsed = parse_metric_name(name)
    if parsed is not None:
        stage, group, stat = parsed
        label = (f"Wait for {stage_label(stage)}{_group_label(group)}, "
                 f"{_WAIT_STAT_LABELS.get(stat, stat)}")
        direction = {"started_share": HIGHER, "arrivals": CONTEXT}.get(stat, LOWER)
        # The lab and upload have headline waits of their own (lab_wait_*, upload_wait_*).
        printed = (group == "all" and stat in _PRINTED_WAIT_STATS and stage in _STAGE_GROUPS
                   and stage not in ("lab_examination", "database_upload"))
        return Presentation(label, _STAGE_GROUPS.get(stage, "other stages"), direction, printed)
    for pattern, template, direction in _ROUTE_RULES:
        match = pattern.fullmatch(name)
        # A route added later gets a label from its name (``children_*`` only for known
        # routes, which would otherwise swallow unrelated names).
        if match is not None and (match["r"] in ROUTES or not pattern.pattern.startswith(
                "children_(")):
            return Presentation(template.format(route=route_label(match["r"]),
                                                days=match.groupdict().get("d", "")),
                                "children", direction, printed=False)
    return Presentation(name.replace("_", " ").capitalize(), "other", CONTEXT, True, False)


def metric_unit(name: str, unit: str | None = None) -> str:
    """Unit of a metric: ``unit`` if given, else from its stage-wait statistic."""
    if unit:
        return unit
    parsed = parse_metric_name(name)
    return STATISTICS[parsed[2]][0] if parsed is not None else ""


def display_unit(unit: str) -> str:
    """The unit as shown: shares as %, pounds as £m."""
    return {"share": "%", "GBP": "£m"}.get(unit, unit)


def format_value(x: float, unit: str) -> str:
    """A value in its display unit: shares as percentages, pounds in millions, counts whole."""
    if x is None or math.isnan(x):
        return "n/a"
    if unit == "share":
        return f"{100 * x:.1f}"
    if unit == "GBP":
        return f"{x / 1e6:,.2f}"
    ax = abs(x)
    if unit in ("days", "FTE-years") or ax < 100:
        if ax < 10:
            return f"{x:,.2f}"
        return f"{x:,.1f}" if ax < 100 else f"{x:,.0f}"
    return f"{x:,.0f}"


def direction_text(direction: str, arrows: bool = True) -> str:
    """``↓ better`` / ``↑ better`` (``lower better`` / ``higher better`` without arrows)."""
    if direction == LOWER:
        return "↓ better" if arrows else "lower better"
    if direction == HIGHER:
        return "↑ better" if arrows else "higher better"
    return ""


def nan_reason(name: str, defined: int, total: int) -> str | None:
    """Why metric ``name`` is undefined (NaN) in ``total - defined`` of ``total`` replications.

    None when it is defined everywhere.
    """
    if defined >= total:
        return None
    where = ("in every replication" if defined == 0
             else f"in {total - defined} of {total} replications")
    parsed = parse_metric_name(name)
    what = "items had started service" if parsed else (
        "devices had started examination" if name.startswith("lab_wait")
        else "children had been identified" if "identif" in name
        else "children had been safeguarded" if "safeguard" in name else "items had got there")
    if name.endswith("p90_days"):
        return f"90th percentile not reached {where}: fewer than 90% of {what} by the end of the run"
    if name.endswith("median_days"):
        return f"median not reached {where}: fewer than half of {what} by the end of the run"
    if name.endswith("mean_days"):
        return f"no items joined this queue in the window {where}"
    if name.endswith("_share"):
        return f"no items to take a share of {where}"
    return f"undefined {where}"
