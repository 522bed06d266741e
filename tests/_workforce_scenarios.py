"""Small scenarios and helpers shared by the ``test_workforce*`` tests.

Built in code (no files), so the tests depend on nothing outside the repository.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import numpy as np

from sim.config import Scenario, scenario_from_dict
from sim.monitor.records import Records

from .conftest import MINI

OFFICE = {"hours_per_day": 7.5, "days_per_week": 5, "availability": 0.8}
RISKS = ("very_high", "high", "medium", "low")

def _base() -> dict[str, Any]:
    """The team's ``mini`` scenario (tests/conftest.py), shorter and lighter."""
    data = copy.deepcopy(MINI)
    data["name"] = "wf-base"
    data["run"] = {"horizon_days": 200, "seed": 3, "replications": 1}
    data["demand"]["referrals_per_year"] = 1300
    types = data["cases"]["device_types"]
    types["phone"]["images"] = {"lognormal": {"mean": 5000, "sd": 8000}}
    types["computer"]["images"] = {"lognormal": {"mean": 30000, "sd": 50000}}
    del data["triage"]["contact_children_found_at_research_probability"]  # the default, 0.5
    stages = data["stages"]
    stages["device_triage"]["service"] = {"exponential": {"mean_hours": 2}}
    stages["device_triage"]["kiosk"]["pool"] = "kiosk_officers"
    stages["image_grading"]["images_per_hour"] = 200
    stages["database_upload"]["service"] = {"fixed": {"value_hours": 0.5}}
    stages["victim_identification"]["identification_delay"] = {"exponential": {"mean_days": 30}}
    heads = {"investigators": 10, "enforcement": 15, "hub": 4, "kiosk_officers": 8,
             "examiners": 30, "graders": 20, "vid": 2}
    data["staff"] = {("kiosk_officers" if name == "kiosks" else name): {**pool}
                     for name, pool in data["staff"].items()}
    for name, n in heads.items():
        data["staff"][name]["headcount"] = n
        # Work spread evenly over calendar time, as before shift calendars existed: the
        # legacy fingerprints below were recorded that way.
        data["staff"][name]["working_time"] = "smooth"
    data["policies"]["safeguarding_referral"] = "after_examination"
    data["initial_backlog"]["enforcement"]["count"] = 50
    return data


#: A small full pipeline (the shape of the team's ``mini`` scenario, shorter and lighter).
BASE: dict[str, Any] = _base()

#: Tables and columns that existed before the workforce levers: a scenario without the
#: new blocks must reproduce them bit for bit.
LEGACY_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("case_id", "cohort", "escalated", "examined_day", "first_generation",
              "graded_risk", "intake_done_day", "n_children", "n_devices", "referral_day",
              "true_risk", "uploaded_day", "vid_done_day", "warrant_day"),
    "children": ("case_id", "child_id", "cohort", "identified", "identified_day",
                 "referral_day", "route", "safeguarded", "safeguarded_day",
                 "safeguarding_referral_day", "time_to_identify_days", "true_risk"),
    "devices": ("case_id", "data_tb", "device_id", "device_type", "examined_day",
                "graded_day", "images", "route", "seized_day", "unknown_images",
                "uploaded_day"),
    "staff_timeseries": ("busy_mean", "day", "on_duty", "pool", "utilisation"),
    "stage_timeseries": ("day", "in_service", "stage", "waiting", "waiting_over_365d",
                         "waiting_over_90d"),
    "stage_visits": ("arrive_day", "case_id", "end_day", "entity", "entity_id", "priority",
                     "service_days", "staff_tier", "stage", "start_day", "wait_days"),
}
LEGACY_BALANCE = ("arrived", "completed", "waiting", "in_service")
LEGACY_STAGES = ("intake", "enforcement", "safeguarding", "device_triage", "kiosk",
                 "lab_examination", "image_grading", "database_upload", "victim_identification")


def data(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE` with dotted keys set (``None`` deletes the key)."""
    out = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def scenario(**changes: Any) -> Scenario:
    """:data:`BASE` with dotted-key changes, validated."""
    return scenario_from_dict(data(**changes))


def legacy_fingerprint(records: Records) -> str:
    """SHA-256 of the pre-existing tables, columns and conservation counts."""
    h = hashlib.sha256()
    for table, columns in LEGACY_COLUMNS.items():
        for column in columns:
            # A child's route was 'contact' or 'depicted'; its kind says that now.
            source = "kind" if (table, column) == ("children", "route") else column
            values = np.asarray(records.tables[table][source])
            h.update(f"{table}.{column}".encode())
            if values.dtype.kind in "OUS":
                h.update("|".join(map(str, values.tolist())).encode())
            else:
                h.update(np.ascontiguousarray(np.round(values.astype(float), 9)).tobytes())
    for stage in sorted(LEGACY_STAGES):
        counts = records.conservation[stage]
        h.update(f"{stage}:{[counts[k] for k in LEGACY_BALANCE]}".encode())
    return h.hexdigest()


def lab_only(servers: int = 10, arrivals_per_day: float = 8.0, service_hours: float = 24.0,
             horizon_days: float = 300.0, fixed: bool = False, **changes: Any) -> Scenario:
    """The pipeline reduced to one lab queue (24/7 staff, one device per case).

    ``service_hours`` is the mean (exponential, or fixed with ``fixed=True``) work per
    device; the offered load is ``arrivals_per_day * service_hours / 24 / servers``.
    """
    off = {"enabled": False}
    service = ({"fixed": {"value_hours": service_hours}} if fixed
               else {"exponential": {"mean_hours": service_hours}})
    out: dict[str, Any] = {
        "name": "wf-lab",
        "run": {"horizon_days": horizon_days, "seed": 5},
        "demand": {"referrals_per_year": arrivals_per_day * 365.25,
                   "risk_mix": {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}},
        "cases": {
            "children_in_contact": {k: {"fixed": {"value": 0}} for k in RISKS},
            "devices_per_case": {"fixed": {"value": 1}},
            "device_types": {"phone": {"share": 1, "data_tb": {"fixed": {"value": 0}},
                                       "images": {"fixed": {"value": 0}}}},
            "first_generation_probability": {k: 0 for k in RISKS},
            "depicted_children": {"fixed": {"value": 0}},
        },
        "stages": {
            "intake": off, "enforcement": off, "safeguarding": off, "device_triage": off,
            "lab_examination": {"pool": "examiners", "service": service, "discipline": "fifo"},
            "image_grading": off, "database_upload": off, "victim_identification": off,
        },
        "staff": {"examiners": {"headcount": servers, "hours_per_day": 24,
                                "days_per_week": 7, "availability": 1.0}},
    }
    for dotted, value in changes.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return scenario_from_dict(out)


def lab_visits(records: Records) -> Any:
    """Lab rows of ``stage_visits`` as a DataFrame."""
    import pandas as pd

    sv = pd.DataFrame(records.tables["stage_visits"])
    return sv[sv["stage"] == "lab_examination"]


def staff_frame(records: Records, pool: str) -> Any:
    """``staff_timeseries`` rows of ``pool`` as a DataFrame indexed by day."""
    import pandas as pd

    st = pd.DataFrame(records.tables["staff_timeseries"])
    return st[st["pool"] == pool].set_index("day")
