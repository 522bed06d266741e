"""Without the new blocks (or with neutral ones) results are exactly as before.

The fingerprints were recorded from the code before the workforce levers existed, on
the same inline scenario; they cover every table, column and conservation count that
existed then.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.replication import run_replication
from sim.model.staff_sampler import WORKFORCE_COLUMNS
from tests._workforce_scenarios import data, legacy_fingerprint, scenario

#: Recorded before the change (seed, scenario changes, fingerprint).
BEFORE = [
    (3, {}, "4a9f53e7c735915acbfcdb2ada40778b8b0cdf83512ede49db307236a14b06eb"),
    (11, {"policies.safeguarding_referral": "immediate"},
     "7d00ed0338aecbc5116f309fe6c9b4e54bd785fd0c78afcb4db0a786d3736514"),
]

#: Blocks that are present but change nothing during the 200-day run.
NEUTRAL = {
    "staff.examiners.workforce": {"hiring": [{"day": 5000, "delta": 5}],
                                  "attrition_rate_per_year": 0.0,
                                  "recruitment_lag": {"fixed": {"value_days": 30}},
                                  "cost_per_fte_year_gbp": 50000},
    "staff.graders.workforce": {"cost_per_fte_year_gbp": 40000},
    "training": {"later": {"pool": "investigators", "cohort_size": 4, "start_day": 4000,
                           "duration_days": 10,
                           "effects": {"speed_multiplier": 1.5, "grading_accuracy": 1.0,
                                       "contact_children_found_at_research_probability": 1.0}}},
    "outsourcing": {"queue_length_over": 10, "capacity_devices": 5, "start_day": 3000,
                    "turnaround": {"fixed": {"value_days": 20}}},
    "automation": {"start_day": 0},
}


@pytest.mark.parametrize(("seed", "changes", "expected"), BEFORE)
def test_scenario_without_new_blocks_reproduces_old_results(seed, changes, expected):
    records = run_replication(scenario(**changes), 0, seed)
    assert legacy_fingerprint(records) == expected


@pytest.mark.parametrize(("seed", "changes", "expected"), BEFORE)
def test_neutral_blocks_change_nothing(seed, changes, expected):
    records = run_replication(scenario(**changes, **NEUTRAL), 0, seed)
    assert legacy_fingerprint(records) == expected


def test_neutral_blocks_use_the_workforce_machinery():
    # The neutral scenario really goes through the new code paths.
    from sim.model.engine import Engine
    from sim.model.levers import build_levers
    from sim.model.pipeline import Pipeline
    from sim.model.staffing import WorkforcePool
    from sim.streams import Streams

    sc = scenario(**NEUTRAL)
    levers = build_levers(sc)
    pipe = Pipeline(sc, Streams(1, 0), Engine(), levers.all())
    assert isinstance(pipe.pools["examiners"], WorkforcePool)
    assert isinstance(pipe.pools["investigators"], WorkforcePool)
    assert "accredited+later" in pipe.pools["investigators"].tier_names
    assert levers.outsourcing is not None and pipe.to_lab == levers.outsourcing.arrive


def test_new_result_columns_are_present_and_quiet():
    records = run_replication(scenario(), 0, 3)
    st = records.tables["staff_timeseries"]
    for col in WORKFORCE_COLUMNS:
        assert len(st[col]) == len(st["day"])
    for col in ("in_training", "off_duty_training", "new_starters", "trained", "recruiting"):
        assert not np.any(st[col])
    assert np.array_equal(st["employed"], st["on_duty"])
    dev = records.tables["devices"]
    assert not dev["outsourced"].any() and np.isnan(dev["outsourced_day"]).all()
    assert records.conservation["lab_examination"]["outsourced"] == 0
    assert "outsourcing" not in records.conservation
    wf = records.tables["workforce"]
    assert sorted(wf["pool"].tolist()) == sorted(data()["staff"])
    assert len(records.tables["training_cohorts"]["programme"]) == 0
    tiers = records.tables["staff_tier_timeseries"]
    first = tiers["day"] == 0
    assert tiers["on_duty"][first].sum() == sum(p["headcount"] for p in data()["staff"].values())
