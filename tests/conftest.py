"""Shared fixtures: small scenarios built in code, so tests depend on no file in /tmp."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from sim.config import Scenario, scenario_from_dict

# Hypothesis profiles. "ci" (the default) is deterministic: the same examples on every
# run, none saved between runs, so a CI result never depends on luck. "thorough" draws
# many more, new ones each time, for a search by hand:
#     FBSIM_HYPOTHESIS=thorough .venv/bin/python -m pytest tests/test_hostile_properties.py
# (see docs/robustness.md). Tests set no max_examples of their own unless they must
# stay small, so the profile decides.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          max_examples=40, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", derandomize=False, deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FBSIM_HYPOTHESIS", "ci"))

HOURS_24_7 = {"hours_per_day": 24, "days_per_week": 7, "availability": 1.0}
OFFICE = {"hours_per_day": 7.5, "days_per_week": 5, "availability": 0.8}

MINI: dict[str, Any] = {
    "name": "mini",
    "run": {"horizon_days": 300, "seed": 7, "replications": 2},
    "demand": {"referrals_per_year": 1500, "annual_growth_rate": 0.1,
               "risk_mix": {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}},
    "cases": {
        "children_in_contact": {"very_high": {"poisson": {"mean": 1.5}},
                                "high": {"poisson": {"mean": 0.8}},
                                "medium": {"poisson": {"mean": 0.3}},
                                "low": {"poisson": {"mean": 0.1}}},
        "devices_per_case": {"poisson": {"mean": 4, "offset": 1}},
        "device_types": {
            "phone": {"share": 0.6, "data_tb": {"lognormal": {"mean": 0.1, "sd": 0.1}},
                      "images": {"lognormal": {"mean": 3000, "sd": 3000}}},
            "computer": {"share": 0.4, "data_tb": {"lognormal": {"mean": 1.0, "sd": 1.0}},
                         "images": {"lognormal": {"mean": 10000, "sd": 10000}}},
        },
        "first_generation_probability": {"very_high": 0.3, "high": 0.15, "medium": 0.05,
                                         "low": 0.02},
        "depicted_children": {"poisson": {"mean": 1, "offset": 1}},
    },
    "triage": {"grading_accuracy": 0.84, "escalation_detect_probability": 0.7,
               "contact_children_found_at_research_probability": 0.5},
    "stages": {
        "intake": {"pool": "investigators", "discipline": "fifo",
                   "service": {"lognormal": {"mean_hours": 6, "sd_hours": 3}}},
        "enforcement": {"pool": "enforcement", "discipline": "deadline",
                        "service": {"lognormal": {"mean_hours": 16, "sd_hours": 8}}},
        "safeguarding": {"service": {"lognormal": {"mean_hours": 24, "sd_hours": 12}}},
        "device_triage": {"pool": "hub", "service": {"exponential": {"mean_hours": 1}},
                          "kiosk": {"pool": "kiosks",
                                    "service": {"exponential": {"mean_hours": 1.5}}}},
        "lab_examination": {
            "pool": "examiners", "hours_per_tb": 2,
            "service_by_device_type": {"phone": {"gamma": {"mean_hours": 6, "sd_hours": 4}},
                                       "computer": {"gamma": {"mean_hours": 14, "sd_hours": 8}}}},
        "image_grading": {"pool": "graders", "images_per_hour": 400},
        "database_upload": {"pool": "graders", "service": {"fixed": {"value_hours": 0.25}}},
        "victim_identification": {
            "pool": "vid", "service": {"lognormal": {"mean_hours": 20, "sd_hours": 10}},
            "identification_probability": 0.6,
            "identification_delay": {"exponential": {"mean_days": 20}}},
    },
    "staff": {
        "investigators": {"headcount": 12, **OFFICE},
        "enforcement": {"headcount": 20, **OFFICE},
        "hub": {"headcount": 6, **OFFICE},
        "kiosks": {"headcount": 6, **OFFICE},
        "examiners": {"headcount": 30, **OFFICE,
                      "tiers": [{"name": "trainee", "share": 0.2, "speed_multiplier": 0.6},
                                {"name": "accredited", "share": 0.8}]},
        "graders": {"headcount": 20, **OFFICE, "max_imagery_hours_per_day": 4},
        "vid": {"headcount": 3, **OFFICE},
    },
    "policies": {"safeguarding_referral": "at_warrant", "kiosk_share_of_phones": 0.7},
    "initial_backlog": {
        "lab_examination": {"count": 400, "age_days": {"uniform": {"low": 0, "high": 300}}},
        "enforcement": {"count": 40, "age_days": {"uniform": {"low": 0, "high": 60}}},
    },
}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    if value is None and last in node:
        del node[last]
    else:
        node[last] = value


@pytest.fixture
def mini_data() -> dict[str, Any]:
    """A fresh copy of the small full-pipeline scenario as a dict."""
    return copy.deepcopy(MINI)


@pytest.fixture
def make_mini() -> Callable[..., Scenario]:
    """Build the small scenario with dotted-key overrides (None deletes a key)."""

    def build(**overrides: Any) -> Scenario:
        data = copy.deepcopy(MINI)
        for key, value in overrides.items():
            _set(data, key.replace("__", "."), value)
        return scenario_from_dict(data)

    return build



@pytest.fixture
def mini_file(mini_data: dict[str, Any], tmp_path: Path) -> Path:
    """The mini scenario, 120 days long, as a YAML file (for the command line)."""
    mini_data["run"]["horizon_days"] = 120
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return path
