"""Automation, welfare limits, demand profiles and costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.costs import replication_cost
from sim.config.schema import Demand
from sim.model.population import arrival_days
from sim.model.replication import run_replication
from sim.streams import Streams
from tests._workforce_scenarios import lab_only, scenario

TOOLS = {
    "cases.device_types": {"phone": {"share": 1, "data_tb": {"fixed": {"value": 2}},
                                     "images": {"fixed": {"value": 1000}}}},
    "cases.known_image_share": 0.5,
    "stages.lab_examination.hours_per_tb": 10,
    "stages.image_grading": {"pool": "graders", "images_per_hour": 100},
    "staff.graders": {"headcount": 20, "hours_per_day": 24, "days_per_week": 7},
}


def _visits(records, stage):
    sv = pd.DataFrame(records.tables["stage_visits"])
    return sv[(sv["stage"] == stage) & sv["start_day"].notna()]


def test_automation_changes_grading_and_scan_work_from_its_start():
    auto = {"start_day": 50, "known_image_share": 0.9, "assisted_images_per_hour": 1000,
            "assisted_grader_share": 0.5, "lab_hours_per_tb": 1}
    records = run_replication(lab_only(service_hours=4, fixed=True, arrivals_per_day=5,
                                       horizon_days=100, automation=auto, **TOOLS), 0, 1)
    grading = _visits(records, "image_grading")
    before, after = grading[grading["start_day"] < 50], grading[grading["start_day"] >= 50]
    assert np.allclose(before["service_days"], 500 / 100 / 24)
    assert np.allclose(after["service_days"], 100 * (0.5 / 1000 + 0.5 / 100) / 24)
    lab = _visits(records, "lab_examination")
    assert np.allclose(lab.loc[lab["start_day"] < 50, "service_days"], (4 + 2 * 10) / 24)
    assert np.allclose(lab.loc[lab["start_day"] >= 50, "service_days"], (4 + 2 * 1) / 24)
    dev = pd.DataFrame(records.tables["devices"])
    graded_late = dev["device_id"].isin(after["entity_id"])
    assert (dev.loc[graded_late, "unknown_images"] == 100).all()
    assert (dev.loc[~graded_late, "unknown_images"] == 500).all()


def test_hash_matching_shortens_grading_waits_on_common_random_numbers():
    base = run_replication(scenario(), 0, 3)
    auto = run_replication(scenario(automation={"known_image_share": 0.97}), 0, 3)
    assert (_visits(auto, "image_grading")["wait_days"].mean()
            < _visits(base, "image_grading")["wait_days"].mean())
    assert np.array_equal(base.tables["devices"]["images"], auto.tables["devices"]["images"])


@pytest.mark.parametrize(("cap", "hours"), [(None, 8.0), (4.0, 4.0), (10.0, 8.0)])
def test_welfare_limit_caps_work_hours_of_the_pool_smoothly(cap, hours):
    graders = {"headcount": 20, "hours_per_day": 8, "days_per_week": 5, "availability": 1.0,
               "working_time": "smooth"}
    if cap is not None:
        graders["max_imagery_hours_per_day"] = cap
    tools = {**TOOLS, "staff.graders": graders}
    records = run_replication(lab_only(service_hours=4, fixed=True, arrivals_per_day=5,
                                       horizon_days=60, **tools), 0, 1)
    grading = _visits(records, "image_grading")
    assert np.allclose(grading["service_days"], 5.0 / (hours * 5 / 7))


@pytest.mark.parametrize(("cap", "hours"), [(None, 8.0), (4.0, 4.0), (10.0, 8.0)])
def test_welfare_limit_shortens_the_shift_of_the_pool(cap, hours):
    # On a shift calendar the cap is the length of the imagery shift: a 5-hour grading
    # job fits one 8-hour shift but needs two 4-hour ones, pausing overnight (and over
    # the weekend). Every job starts on shift and ends exactly where the calendar says.
    from sim.model.calendar import ShiftCalendar

    graders = {"headcount": 20, "hours_per_day": 8, "days_per_week": 5, "availability": 1.0}
    if cap is not None:
        graders["max_imagery_hours_per_day"] = cap
    tools = {**TOOLS, "staff.graders": graders}
    sc = lab_only(service_hours=4, fixed=True, arrivals_per_day=5, horizon_days=60, **tools)
    records = run_replication(sc, 0, 1)
    grading = _visits(records, "image_grading")
    cal = ShiftCalendar(hours, 5, 8.0, sc.run.start_date.weekday())
    assert len(grading) > 200
    for start, end in zip(grading["start_day"], grading["end_day"], strict=True):
        assert cal.on_shift(start + 1e-9)  # at or after a shift start
        if not np.isnan(end):  # in service when the run ended
            assert end == pytest.approx(cal.finish(start, 5.0), abs=1e-9)
    if hours < 5:
        assert (grading["service_days"] > 12 / 24).all()  # none within one shift
    else:
        assert np.isclose(grading["service_days"], 5 / 24).mean() > 0.5  # most within a shift


def test_welfare_limit_lengthens_grading_waits():
    free = run_replication(scenario(**{"staff.graders.max_imagery_hours_per_day": None}), 0, 3)
    capped = run_replication(scenario(**{"staff.graders.max_imagery_hours_per_day": 3}), 0, 3)
    assert (_visits(capped, "image_grading")["wait_days"].mean()
            > _visits(free, "image_grading")["wait_days"].mean())


def _demand(**kw) -> Demand:
    mix = {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}
    return Demand.model_validate({"risk_mix": mix, **kw})


def test_flat_profile_equals_constant_rate():
    rng = lambda: Streams(4, 0).get("arrivals")  # noqa: E731
    flat = arrival_days(_demand(referrals_per_year=2000), 900, rng())
    profile = arrival_days(_demand(referrals_per_year_profile=[2000]), 900, rng())
    assert np.allclose(flat, profile, rtol=0, atol=1e-9)


def test_profile_rates_by_year_and_common_random_numbers():
    rng = lambda: Streams(4, 0).get("arrivals")  # noqa: E731
    days = arrival_days(_demand(referrals_per_year_profile=[1000, 3000]), 3 * 365.25, rng())
    counts = np.histogram(days, bins=[0, 365.25, 730.5, 1095.75])[0]
    for n, mean in zip(counts, (1000, 3000, 3000), strict=True):
        assert abs(n - mean) < 5 * np.sqrt(mean)
    assert np.all(np.diff(days) >= 0)
    other = arrival_days(_demand(referrals_per_year_profile=[1000, 500]), 3 * 365.25, rng())
    first_year = days[days < 365.25]
    assert np.array_equal(first_year, other[: first_year.size])
    empty_first = arrival_days(_demand(referrals_per_year_profile=[0, 1000]), 730.5, rng())
    assert empty_first.min() >= 365.25 and abs(empty_first.size - 1000) < 5 * np.sqrt(1000)


def test_profile_scenario_runs():
    sc = scenario(**{"demand.annual_growth_rate": 0, "demand.referrals_per_year": None,
                     "demand.referrals_per_year_profile": [500, 3000]})
    cases = pd.DataFrame(run_replication(sc, 0, 3).tables["cases"])
    new = cases[cases["cohort"] == "new"]
    assert len(new) == pytest.approx(500 * 200 / 365.25, rel=0.25)


def test_costs_of_staff_training_and_outsourcing():
    kw = {"servers": 10, "arrivals_per_day": 12, "horizon_days": 200,
          "run.warmup_days": 50,
          "staff.examiners.workforce": {"cost_per_fte_year_gbp": 36525,
                                        "hiring": [{"day": 150, "delta": 5,
                                                    "new_starters": False}]},
          "training": {"course": {"pool": "examiners", "cohort_size": 2, "start_day": 10,
                                  "duration_days": 10, "repeat_every_days": 100,
                                  "cost_per_place_gbp": 1000}},
          "outsourcing": {"queue_length_over": 20, "capacity_devices": 10,
                          "turnaround": {"fixed": {"value_days": 10}},
                          "cost_per_device_gbp": 400}}
    sc = lab_only(**kw)
    records = run_replication(sc, 0, 1)
    cost = replication_cost(sc, records)
    # Window [50, 250): 10 people for 100 days, 15 for 100 days = 2500 person-days.
    assert cost["fte_years"] == pytest.approx(2500 / 365.25)
    assert cost["staff_gbp"] == pytest.approx(2500 * 100)
    # Cohorts start on days 10 (before the window), 110 and 210.
    assert cost["training_places"] == 4 and cost["training_gbp"] == 4000
    dev = records.tables["devices"]
    sent = np.count_nonzero(dev["outsourced_day"] >= 50)
    assert cost["outsourced_devices"] == sent and cost["outsourcing_gbp"] == 400 * sent
    assert cost["total_gbp"] == pytest.approx(cost["staff_gbp"] + 4000 + 400 * sent)
    assert cost["staff_gbp.examiners"] == cost["staff_gbp"]


def test_costs_are_zero_without_unit_costs():
    records = run_replication(scenario(), 0, 3)
    cost = replication_cost(scenario(), records)
    assert cost["total_gbp"] == 0
    assert cost["fte_years"] == pytest.approx(
        sum(p["headcount"] for p in scenario().model_dump()["staff"].values()) * 200 / 365.25)
