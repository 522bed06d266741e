"""Small scenarios for the analytic side (flows, offered load, the check), built in code.

Every pool works around the clock by default (24 h, 7 days, availability 1, one tier),
so a work hour is a calendar hour of one member and the busy share of a pool is its
offered load. Each test switches on the mechanisms it is about.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from sim.config import RISK_LEVELS, Scenario, scenario_from_dict
from sim.monitor.records import Records

from .conftest import _set

LEVELS = RISK_LEVELS
ROUND_THE_CLOCK = {"hours_per_day": 24, "days_per_week": 7, "availability": 1.0}


def hours(mean: float, family: str = "fixed") -> dict[str, Any]:
    """A work time in hours: fixed, exponential or a gamma with sd = mean / 2."""
    if family == "fixed":
        return {"fixed": {"value_hours": mean}}
    if family == "exponential":
        return {"exponential": {"mean_hours": mean}}
    return {"gamma": {"mean_hours": mean, "sd_hours": mean / 2}}


def apply(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys of ``data`` in place (``None`` deletes) and return it."""
    for dotted, value in changes.items():
        _set(data, dotted, value)
    return data


BASE: dict[str, Any] = {
    "name": "flows",
    "run": {"horizon_days": 600, "warmup_days": 60, "seed": 5,
            "timeseries_interval_days": 20},
    "demand": {"referrals_per_year": 3000,
               "risk_mix": {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}},
    "cases": {
        "children_in_contact": {k: {"poisson": {"mean": m}}
                                for k, m in zip(LEVELS, (1.5, 1.0, 0.5, 0.2), strict=True)},
        "devices_per_case": {"negative_binomial": {"mean": 2.0, "sd": 2.0, "offset": 1}},
        "device_types": {
            "phone": {"share": 0.6, "data_tb": {"lognormal": {"mean": 0.2, "sd": 0.2}},
                      "images": {"lognormal": {"mean": 2000, "sd": 2000}}},
            "computer": {"share": 0.4, "data_tb": {"lognormal": {"mean": 1.0, "sd": 1.0}},
                         "images": {"lognormal": {"mean": 6000, "sd": 6000}}}},
        "known_image_share": 0.8,
        "first_generation_probability": dict(zip(LEVELS, (0.3, 0.2, 0.1, 0.05), strict=True)),
        "depicted_children": {"poisson": {"mean": 0.5, "offset": 1}},
    },
    "triage": {"grading_accuracy": 0.8, "misgrade_down_share": 0.3,
               "contact_children_found_at_research_probability": 0.4,
               "escalation_detect_probability": 0.5},
    "stages": {
        "intake": {"pool": "inv", "service": hours(2, "exponential"), "discipline": "fifo"},
        "enforcement": {"pool": "enf", "service": hours(6, "exponential")},
        "safeguarding": {"service": hours(24)},
        "device_triage": {"pool": "hub", "service": hours(1, "exponential"),
                          "kiosk": {"pool": "kiosk", "service": hours(1.5, "exponential")}},
        "lab_examination": {
            "pool": "lab", "hours_per_tb": 4,
            "service_by_device_type": {"phone": hours(3, "gamma"),
                                       "computer": hours(6, "gamma")}},
        "image_grading": {"pool": "grade", "images_per_hour": 1000,
                          "service": hours(0.2, "exponential")},
        "database_upload": {"pool": "grade", "service": hours(0.3, "exponential")},
        "victim_identification": {"pool": "vid", "service": hours(8, "exponential"),
                                  "identification_probability": 0.6},
    },
    "staff": {name: {"headcount": n, **ROUND_THE_CLOCK} for name, n in
              (("inv", 2), ("enf", 4), ("hub", 2), ("kiosk", 2), ("lab", 12), ("grade", 4),
               ("vid", 1))},
    "policies": {"kiosk_share_of_phones": 0.5},
}


def data(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE` with dotted keys set (``None`` deletes the key)."""
    return apply(copy.deepcopy(BASE), changes)


def scenario(**changes: Any) -> Scenario:
    """:data:`BASE` with dotted-key changes, validated."""
    return scenario_from_dict(data(**changes))


def busy_share(records: Records, pool: str, headcount: int) -> float:
    """Mean busy members over the window over the head-count (calendar time)."""
    t = records.tables["staff_timeseries"]
    lo, hi = records.window
    day = t["day"]
    keep = (t["pool"] == pool) & (day > lo) & (day <= hi)
    return float(np.mean(t["busy_mean"][keep])) / headcount


def mean_with_se(values: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
