"""``sim.analysis.check``: the per-stage queueing check behind ``fbsim check``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sim.analysis import queueing as q
from sim.analysis.check import CheckReport, CheckRow, check_scenario
from sim.analysis.load import offered_load
from sim.config import Scenario, scenario_from_dict, with_overrides
from sim.model.replication import run_replication
from sim.monitor.records import Records

from .validation.builders import (
    TWO_CLASS_MIX,
    QueueSpec,
    exp_days,
    lognormal_days,
    mini_pipeline,
    queue_scenario,
)


def _runs(sc: Scenario, reps: int = 3, seed: int = 11) -> list[Records]:
    return [run_replication(sc, r, seed) for r in range(reps)]


def _row(report: CheckReport, stage: str, cls: str = "all") -> CheckRow:
    return next(r for r in report.rows if r.stage == stage and r.cls == cls)


def test_mmc_reduces_to_erlang_c_and_agrees() -> None:
    sc = queue_scenario({"intake": QueueSpec(3, exp_days(1.0))}, arrivals_per_day=2.0,
                        horizon_days=3000, warmup_days=100)
    report = check_scenario(sc, _runs(sc))
    row = _row(report, "intake")
    assert row.model == "M/M/c"
    assert row.servers == 3
    assert row.wait_model == pytest.approx(q.mmc_wait(2.0, 1.0, 3), rel=1e-12)
    assert row.mean_service_days == pytest.approx(1.0)
    assert row.scv_service == pytest.approx(1.0)
    assert row.rho == pytest.approx(2.0 / 3.0)
    assert row.replications == 3
    assert report.ok, report.to_text()
    assert abs(row.relative_difference) < 0.15
    assert row.little_exact_error < 1e-9
    assert row.arrivals_per_day_sim == pytest.approx(2.0, rel=0.05)


def test_mg1_is_pollaczek_khinchine() -> None:
    sc = queue_scenario({"intake": QueueSpec(1, lognormal_days(1.0, 1.5))},
                        arrivals_per_day=0.5, horizon_days=4000, warmup_days=100)
    row = _row(check_scenario(sc, _runs(sc, reps=2)), "intake")
    assert row.model == "M/G/1"
    assert row.scv_service == pytest.approx(2.25)
    assert row.wait_model == pytest.approx(q.mg1_wait(0.5, 1.0, 2.25), rel=1e-12)


def test_priority_classes_follow_cobham() -> None:
    sc = queue_scenario({"enforcement": QueueSpec(2, exp_days(1.0), "priority")},
                        arrivals_per_day=1.4, risk_mix=TWO_CLASS_MIX, horizon_days=3000,
                        warmup_days=100)
    report = check_scenario(sc, _runs(sc))
    expected = q.cobham_priority_waits([0.42, 0.0, 0.0, 0.98], 1.0, 2)
    assert _row(report, "enforcement", "very_high").wait_model == pytest.approx(expected[0])
    assert _row(report, "enforcement", "low").wait_model == pytest.approx(expected[3])
    assert {r.cls for r in report.rows} == {"all", "very_high", "low"}
    # Conservation: the all-class prediction is the FIFO (Erlang C) wait.
    assert _row(report, "enforcement").wait_model == pytest.approx(q.mmc_wait(1.4, 1.0, 2))
    assert report.ok, report.to_text()


def test_device_type_mixture_moments() -> None:
    """Two exponential types with different means: a hyperexponential, so M/G/c."""
    sc = queue_scenario({"lab_examination": QueueSpec(2, exp_days(1.0))},
                        arrivals_per_day=1.0, horizon_days=200, warmup_days=10)
    raw = sc.model_dump(mode="json")
    raw["cases"]["device_types"] = {
        "phone": {"share": 0.75, "data_tb": {"fixed": {"value": 0}},
                  "images": {"fixed": {"value": 0}}},
        "computer": {"share": 0.25, "data_tb": {"fixed": {"value": 0}},
                     "images": {"fixed": {"value": 0}}}}
    raw["stages"]["lab_examination"] = {
        "pool": "pool_lab_examination",
        "service_by_device_type": {"phone": exp_days(0.5), "computer": exp_days(2.0)}}
    sc = scenario_from_dict(raw)
    row = _row(check_scenario(sc, _runs(sc, reps=1)), "lab_examination")
    mean = 0.75 * 0.5 + 0.25 * 2.0
    second = 0.75 * 2 * 0.5**2 + 0.25 * 2 * 2.0**2
    assert row.model == "M/G/c"
    assert row.mean_service_days == pytest.approx(mean)
    assert row.scv_service == pytest.approx(second / mean**2 - 1.0)
    assert row.wait_model == pytest.approx(
        q.allen_cunneen_wait(1.0, mean, 2, second / mean**2 - 1.0))


def test_tier_speeds_match_offered_load() -> None:
    sc = queue_scenario({"intake": QueueSpec(4, exp_days(1.0))}, arrivals_per_day=2.0,
                        horizon_days=300, warmup_days=10)
    sc = with_overrides(sc, {"staff.pool_intake.tiers": [
        {"name": "trainee", "share": 0.5, "speed_multiplier": 0.5},
        {"name": "accredited", "share": 0.5}]})
    row = _row(check_scenario(sc, _runs(sc, reps=1)), "intake")
    load = next(ld for ld in offered_load(sc) if ld.stage == "intake")
    assert row.mean_service_days == pytest.approx(load.mean_service_days)
    assert row.rho == pytest.approx(load.rho_pool)
    assert row.model == "M/G/c"  # speeds differ: the service time is a mixture


def test_unstable_stage_is_flagged() -> None:
    sc = queue_scenario({"intake": QueueSpec(1, exp_days(1.0))}, arrivals_per_day=1.2,
                        horizon_days=300, warmup_days=0)
    report = check_scenario(sc, _runs(sc, reps=2))
    row = _row(report, "intake")
    assert "UNSTABLE" in row.flags
    assert math.isinf(row.wait_model)
    assert not report.ok
    assert "UNSTABLE" in report.to_text()


def test_wrong_records_are_flagged() -> None:
    """Records of a 2-server run checked against a 3-server scenario disagree."""
    sim = queue_scenario({"intake": QueueSpec(2, exp_days(1.0))}, arrivals_per_day=1.6,
                         horizon_days=2000, warmup_days=100)
    claimed = queue_scenario({"intake": QueueSpec(3, exp_days(1.0))}, arrivals_per_day=1.6,
                             horizon_days=2000, warmup_days=100)
    report = check_scenario(claimed, _runs(sim))
    assert _row(report, "intake").flags == ("WAIT",)
    assert report.flagged == [_row(report, "intake")]


def test_broken_bookkeeping_is_flagged() -> None:
    sc = queue_scenario({"intake": QueueSpec(2, exp_days(1.0))}, arrivals_per_day=1.0,
                        horizon_days=500, warmup_days=10)
    records = _runs(sc, reps=2)
    bad = records[1]
    averages = {k: dict(v) for k, v in bad.time_averages.items()}
    averages["intake"]["mean_in_system"] *= 1.001
    records[1] = dataclasses.replace(bad, time_averages=averages)
    row = _row(check_scenario(sc, records), "intake")
    assert "LITTLE" in row.flags
    assert row.little_exact_error == pytest.approx(0.001, rel=0.01)


def test_full_pipeline_rows_and_text() -> None:
    sc = scenario_from_dict(mini_pipeline(stable=True, horizon_days=300))
    report = check_scenario(sc, _runs(sc, reps=2))
    stages = [r.stage for r in report.rows if r.cls == "all"]
    assert stages == ["intake", "enforcement", "safeguarding", "device_triage", "kiosk",
                      "lab_examination", "image_grading", "database_upload",
                      "victim_identification"]
    for row in report.rows:
        assert "LITTLE" not in row.flags and "UNSTABLE" not in row.flags
        if row.cls == "all":
            assert row.little_exact_error < 1e-9
    assert _row(report, "safeguarding").model == "delay"
    assert _row(report, "safeguarding").wait_sim == 0.0
    # Devices come in batches: not Poisson at device triage.
    assert _row(report, "device_triage").scv_arrival > 1.5
    # The graders pool serves two stages: one queue, the same prediction for both.
    assert (_row(report, "image_grading").wait_model
            == _row(report, "database_upload").wait_model)
    text = report.to_text()
    lines = text.splitlines()
    header, rule = lines[1], lines[2]
    assert header.startswith("stage") and set(rule) <= {"-", " "}
    assert len(rule) >= len(header.rstrip()) - 10
    cols = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(cols) == 17
    for line in lines[3:3 + len(report.rows)]:
        assert line[:cols[1]].strip() in {"", *stages}
    assert "note: the referral rate changes" in text
    assert "pool 'graders' also serves" in text


def test_needs_records() -> None:
    sc = queue_scenario({"intake": QueueSpec(1, exp_days(1.0))}, arrivals_per_day=0.5,
                        horizon_days=10, warmup_days=0)
    with pytest.raises(ValueError, match="at least one"):
        check_scenario(sc, [])


def test_per_class_rates_from_grading_errors() -> None:
    """Misgrading moves cases one level: the class rates at enforcement say so."""
    sc = queue_scenario({"enforcement": QueueSpec(4, exp_days(1.0), "priority")},
                        arrivals_per_day=2.0, risk_mix=TWO_CLASS_MIX, horizon_days=1500,
                        warmup_days=50)
    sc = with_overrides(sc, {"triage.grading_accuracy": 0.8})
    report = check_scenario(sc, _runs(sc, reps=2))
    rates = {r.cls: r.arrivals_per_day for r in report.rows if r.cls != "all"}
    # very_high: 0.6/d, 20 % go down to high; low: 1.4/d, 20 % go up to medium.
    assert rates == pytest.approx({"very_high": 0.48, "high": 0.12, "medium": 0.28,
                                   "low": 1.12})
    sims = {r.cls: r.arrivals_per_day_sim for r in report.rows if r.cls != "all"}
    for cls, rate in rates.items():
        assert sims[cls] == pytest.approx(rate, rel=0.15)
    assert np.isfinite([r.wait_model for r in report.rows]).all()


def test_per_class_waits_group_items_by_the_class_they_queued_in():
    from sim.analysis.check import _sim_waits

    # Two items queued as 'low' (3); the case of the second was escalated to very_high
    # (0) while it waited, so it is *recorded* at priority 0 when its service starts.
    visits = {
        "stage": np.array(["lab_examination"] * 3, dtype=object),
        "arrive_day": np.array([1.0, 2.0, 3.0]),
        "start_day": np.array([2.0, 6.0, 3.0]),
        "wait_days": np.array([1.0, 4.0, 0.0]),
        "priority": np.array([3, 0, 0]),
        "queued_priority": np.array([3, 3, 0]),
    }
    rec = Records(replication=0, seed=1, tables={"stage_visits": visits}, conservation={},
                  time_averages={}, events=0, window=(0.0, 10.0))
    waits, rates, counts = _sim_waits([rec], "lab_examination")
    assert waits["low"] == [2.5] and waits["very_high"] == [0.0]
    assert counts["low"] == 2 and counts["very_high"] == 1
    assert rates["low"] == [0.2] and rates["very_high"] == [0.1]
