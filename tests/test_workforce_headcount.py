"""Head-count over time: hiring plans, recruitment lag, cuts, attrition, ramp-up."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.config.workforce import DAYS_PER_MONTH
from sim.model.replication import run_replication
from tests._workforce_scenarios import lab_only, lab_visits, scenario, staff_frame

WF = "staff.examiners.workforce"


def _mean_wait(records, after: float = 0.0) -> float:
    lab = lab_visits(records)
    lab = lab[(lab["arrive_day"] >= after) & lab["start_day"].notna()]
    return float(lab["wait_days"].mean())


def test_more_staff_means_shorter_lab_waits_on_common_random_numbers():
    base = run_replication(scenario(), 0, 3)
    more = run_replication(scenario(**{WF: {"hiring": [{"day": 0, "delta": 15,
                                                        "new_starters": False}]}}), 0, 3)
    assert _mean_wait(more) < 0.8 * _mean_wait(base)
    # Same referrals and devices: common random numbers.
    assert np.array_equal(base.tables["devices"]["data_tb"], more.tables["devices"]["data_tb"])
    ex = staff_frame(more, "examiners")
    assert ex.loc[7.0, "on_duty"] == 45 and ex.loc[7.0, "employed"] == 45


def test_recruitment_lag_delays_arrivals():
    sc = lab_only(**{WF: {"hiring": [{"day": 20, "delta": 4}],
                          "recruitment_lag": {"fixed": {"value_days": 30}}}})
    ex = staff_frame(run_replication(sc, 0, 1), "examiners")
    assert (ex.loc[:49, "on_duty"] == 10).all()
    assert (ex.loc[21:49, "recruiting"] == 4).all()
    assert (ex.loc[56:, "on_duty"] == 14).all() and (ex.loc[56:, "recruiting"] == 0).all()
    assert ex.loc[0, "recruiting"] == 0


def test_recruitment_lag_is_drawn_per_person():
    sc = lab_only(**{WF: {"hiring": [{"day": 0, "delta": 40}],
                          "recruitment_lag": {"uniform": {"low_days": 0, "high_days": 280}}}},
                  **{"run.timeseries_interval_days": 1.0})
    ex = staff_frame(run_replication(sc, 0, 1), "examiners")
    arrived = ex["on_duty"] - 10
    assert arrived.is_monotonic_increasing
    assert 0 < arrived.loc[140] < 40 and arrived.loc[281] == 40


def test_cuts_never_make_headcount_negative():
    sc = lab_only(**{WF: {"hiring": [{"day": 10, "delta": -4, "tier": "accredited"},
                                     {"day": 30, "delta": -50}]}})
    records = run_replication(sc, 0, 1)
    ex = staff_frame(records, "examiners")
    assert ex.loc[7, "on_duty"] == 10
    assert ex.loc[14, "employed"] == 6
    assert (ex.loc[35:, "employed"] == 0).all()
    # Busy staff finish the job in hand before they go.
    assert (ex["on_duty"] >= ex["employed"]).all() and (ex.loc[60:, "on_duty"] == 0).all()
    tiers = records.tables["staff_tier_timeseries"]
    assert (tiers["on_duty"] >= 0).all()
    wf = pd.DataFrame(records.tables["workforce"]).set_index("pool")
    assert wf.loc["examiners", "planned_removals"] == 10
    # Conservation still holds with nobody left to serve the queue.
    lab = records.conservation["lab_examination"]
    assert lab["arrived"] == lab["completed"] + lab["waiting"] + lab["in_service"]


def test_promotion_moves_staff_between_tiers():
    sc = scenario(**{WF: {"hiring": [{"day": 10, "delta": 4, "tier": "accredited",
                                      "from_tier": "trainee"}]}})
    records = run_replication(sc, 0, 3)
    tiers = pd.DataFrame(records.tables["staff_tier_timeseries"])
    ex = tiers[tiers["pool"] == "examiners"].pivot(index="day", columns="tier",
                                                   values="on_duty")
    assert ex.loc[7.0, "trainee"] == 6 and ex.loc[7.0, "accredited"] == 24
    assert ex.loc[14.0, "trainee"] == 2 and ex.loc[14.0, "accredited"] == 28
    assert (ex.sum(axis=1) == 30).all()


def test_attrition_matches_the_exponential_rate():
    rate, n, days = 1.0, 100, 365.25
    leavers = []
    for rep in range(3):
        sc = lab_only(servers=n, arrivals_per_day=1, horizon_days=days,
                      **{WF: {"attrition_rate_per_year": rate}})
        wf = pd.DataFrame(run_replication(sc, rep, 9).tables["workforce"]).set_index("pool")
        leavers.append(wf.loc["examiners", "leavers"])
        assert wf.loc["examiners", "employed_end"] == n - wf.loc["examiners", "leavers"]
    expected = n * (1 - math.exp(-rate * days / 365.25))
    sd = math.sqrt(n * 0.632 * 0.368 / len(leavers))
    assert abs(np.mean(leavers) - expected) < 4 * sd


def test_attrition_with_immediate_replacement_keeps_headcount():
    sc = lab_only(**{WF: {"attrition_rate_per_year": 2.0, "replace_leavers": True}})
    records = run_replication(sc, 0, 2)
    ex = staff_frame(records, "examiners")
    assert (ex["employed"] == 10).all()
    wf = pd.DataFrame(records.tables["workforce"]).set_index("pool")
    assert wf.loc["examiners", "leavers"] > 5
    assert wf.loc["examiners", "hires_arrived"] == wf.loc["examiners", "leavers"]


def test_attrition_without_replacement_lengthens_waits():
    base = run_replication(lab_only(servers=12, arrivals_per_day=9), 0, 4)
    leaving = run_replication(lab_only(servers=12, arrivals_per_day=9,
                                       **{WF: {"attrition_rate_per_year": 1.0}}), 0, 4)
    assert _mean_wait(leaving, after=100) > _mean_wait(base, after=100)


@pytest.mark.parametrize("barred", [False, True])
def test_ramp_up_speeds_and_accreditation(barred):
    months, start = 3, 0.4
    sc = lab_only(service_hours=12, fixed=True, arrivals_per_day=30, horizon_days=200,
                  **{WF: {"hiring": [{"day": 0, "delta": 5}],
                          "ramp_up": {"months": months, "start_speed_multiplier": start,
                                      "barred_stages": ["lab_examination"] if barred else []}},
                     "run.timeseries_interval_days": 1.0})
    records = run_replication(sc, 0, 1)
    lab = lab_visits(records)
    ramp = lab[lab["staff_tier"].str.contains("@ramp")]
    if barred:
        assert ramp.empty
    else:
        for k in range(1, months + 1):
            rows = ramp[ramp["staff_tier"] == f"accredited@ramp{k}"]
            speed = start + (1 - start) * (k - 1) / months
            assert not rows.empty
            assert np.allclose(rows["service_days"], 0.5 / speed)
    ex = staff_frame(records, "examiners")
    assert (ex.loc[1: months * DAYS_PER_MONTH - 1, "new_starters"] == 5).all()
    assert (ex.loc[months * DAYS_PER_MONTH + 1:, "new_starters"] == 0).all()
    assert (ex.loc[1:, "employed"] == 15).all()
    late = lab[lab["start_day"] > months * DAYS_PER_MONTH + 1]
    assert set(late["staff_tier"]) == {"accredited"}
    # Barred or not, new starters count on duty and in capacity at their own speed.
    assert ex.loc[1, "capacity_fte"] == pytest.approx(10 + 5 * start)


def test_barred_tier_of_the_scenario_never_serves_the_stage():
    # Graders serve grading and upload; trainees may only upload.
    sc = scenario(**{"staff.graders.tiers": [
        {"name": "trainee", "share": 0.5, "speed_multiplier": 0.8},
        {"name": "accredited", "share": 0.5}],
        "staff.graders.workforce": {"barred_stages_by_tier": {"trainee": ["image_grading"]}}})
    sv = pd.DataFrame(run_replication(sc, 0, 3).tables["stage_visits"])
    grading = sv[(sv["stage"] == "image_grading") & sv["start_day"].notna()]
    upload = sv[(sv["stage"] == "database_upload") & sv["start_day"].notna()]
    assert set(grading["staff_tier"]) == {"accredited"}
    assert "trainee" in set(upload["staff_tier"])
