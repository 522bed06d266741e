"""Scenario keys of the workforce levers: defaults, checks and error messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim.config import ScenarioError, load_scenario, scenario_from_dict
from sim.config.workforce import day_of
from tests._workforce_scenarios import data, scenario

DOC = Path(__file__).resolve().parents[1] / "docs" / "workforce.md"


def _errors(d: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    return str(info.value)


def test_defaults_leave_the_scenario_as_it_was():
    sc = scenario()
    assert sc.training == {}
    assert sc.outsourcing is None and sc.automation is None
    assert all(p.workforce is None for p in sc.staff.values())
    assert sc.demand.referrals_per_year_profile is None


def test_workforce_block_parses_durations_and_dates():
    d = data()
    d["staff"]["examiners"]["workforce"] = {
        "hiring": [{"date": "2026-03-02", "delta": 4}, {"day": 10, "delta": -1}],
        "recruitment_lag": {"fixed": {"value_weeks": 8}},
        "attrition_rate_per_year": 0.1, "replace_leavers": True,
        "ramp_up": {"months": 6, "barred_stages": ["lab_examination"]},
        "cost_per_fte_year_gbp": 55000}
    wf = scenario_from_dict(d).staff["examiners"].workforce
    assert wf is not None and wf.dynamic
    assert wf.hiring[0].on_day(scenario_from_dict(d).run.start_date) == 60.0
    assert wf.recruitment_lag is not None and wf.recruitment_lag.mean == 8 * 7 * 24


def test_typo_in_workforce_key_names_the_nearest_key():
    d = data()
    d["staff"]["examiners"]["workforce"] = {"attrition_rate_per_yr": 0.1}
    text = _errors(d)
    assert "staff.examiners.workforce.attrition_rate_per_yr" in text
    assert "attrition_rate_per_year" in text


@pytest.mark.parametrize(("step", "needle"), [
    ({"delta": 3}, "as a day"),
    ({"day": 1, "date": "2026-02-01", "delta": 3}, "not both"),
    ({"day": 1, "delta": 0}, "must not be 0"),
    ({"day": 1, "delta": 2, "tier": "senior"}, "no tier named 'senior'"),
    ({"day": 1, "delta": 2, "from_tier": "trainee"}, "target tier"),
    ({"date": "2025-01-01", "delta": 2}, "before run.start_date"),
])
def test_bad_hiring_steps_are_rejected(step, needle):
    d = data()
    d["staff"]["examiners"]["workforce"] = {"hiring": [step]}
    assert needle in _errors(d)


def test_barred_stage_must_be_served_by_the_pool():
    d = data()
    d["staff"]["examiners"]["workforce"] = {"ramp_up": {"months": 2,
                                                        "barred_stages": ["image_grading"]}}
    text = _errors(d)
    assert "staff.examiners.workforce.ramp_up.barred_stages" in text
    assert "does not serve stage 'image_grading'" in text
    d["staff"]["examiners"]["workforce"] = {"barred_stages_by_tier": {"trainee": ["lab"]}}
    assert "unknown stage 'lab'" in _errors(d)


def test_training_checks():
    d = data(training={"kirat": {"pool": "examiners", "cohort_size": 3, "start_day": 0,
                                 "duration_days": 5,
                                 "effects": {"grading_accuracy": 0.95}}})
    assert "not the intake pool" in _errors(d)
    d = data(training={"x": {"pool": "nobody", "cohort_size": 3, "start_day": 0,
                             "duration_days": 5}})
    assert "no staff pool named 'nobody'" in _errors(d)
    d = data(training={"x": {"pool": "examiners", "cohort_size": 3, "start_day": 0,
                             "duration_days": 5, "cohorts": 3}})
    assert "repeat_every_days" in _errors(d)


def test_cohort_days():
    sc = scenario(training={"x": {"pool": "examiners", "cohort_size": 3, "start_day": 10,
                                  "duration_days": 5, "repeat_every_days": 50}})
    assert sc.training["x"].cohort_days(sc.run.start_date, 200) == [10, 60, 110, 160]
    sc = scenario(training={"x": {"pool": "examiners", "cohort_size": 3, "start_day": 10,
                                  "duration_days": 5, "repeat_every_days": 50, "cohorts": 2}})
    assert sc.training["x"].cohort_days(sc.run.start_date, 200) == [10, 60]


def test_outsourcing_needs_exactly_one_rule():
    base = {"capacity_devices": 5, "turnaround": {"fixed": {"value_days": 30}}}
    assert "exactly one overflow rule" in _errors(data(outsourcing=base))
    both = {**base, "queue_length_over": 5, "expected_wait_days_over": 9}
    assert "exactly one overflow rule" in _errors(data(outsourcing=both))
    bad_type = {**base, "queue_length_over": 5, "device_types": ["tablet"]}
    assert "unknown device type" in _errors(data(outsourcing=bad_type))
    assert scenario(outsourcing={**base, "queue_length_over": 5}).outsourcing is not None


def test_automation_assisted_rate_needs_a_manual_rate():
    d = data(automation={"assisted_images_per_hour": 2000})
    d["stages"]["image_grading"].pop("images_per_hour")
    assert "needs stages.image_grading.images_per_hour" in _errors(d)


def test_demand_profile():
    sc = scenario(**{"demand.annual_growth_rate": 0, "demand.referrals_per_year": None,
                     "demand.referrals_per_year_profile": [1000, 3000]})
    assert sc.demand.referrals_per_year == 1000
    assert sc.demand.referrals_per_year_at(10) == 1000
    assert sc.demand.referrals_per_year_at(400) == 3000
    assert sc.demand.referrals_per_year_at(4000) == 3000
    assert "not both" in _errors(data(**{"demand.referrals_per_year_profile": [1, 2]}))
    assert "differs from the profile" in _errors(data(**{
        "demand.annual_growth_rate": 0, "demand.referrals_per_year_profile": [1, 2]}))
    # Dumping and loading again keeps the scenario valid.
    assert scenario_from_dict(sc.model_dump(mode="json")) == sc


def test_day_of():
    import datetime as dt

    start = dt.date(2026, 1, 1)
    assert day_of(5.0, None, start) == 5.0
    assert day_of(None, dt.date(2026, 2, 1), start) == 31.0
    assert day_of(None, None, start, default=7.0) == 7.0


def test_every_example_in_the_docs_validates():
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/workforce.md has no yaml examples"
    # Against the default scenario: an example must name pools and tiers it has.
    baseline = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "met-baseline.yaml")
    for block in blocks:
        extra = yaml.safe_load(block)
        d = baseline.model_dump(mode="json")
        for key, value in extra.items():
            if key == "staff":
                for pool, settings in value.items():
                    d["staff"][pool].update(settings)
            elif key == "demand":
                d["demand"].update(value)
                if "referrals_per_year_profile" in value:
                    d["demand"].pop("referrals_per_year", None)
                    d["demand"]["annual_growth_rate"] = 0
            else:
                d[key] = value
        scenario_from_dict(d)
