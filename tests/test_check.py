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


# ------------------------------------------------------------------ the new model's parts
def _lab_only(servers: int, devices_per_day: float, **changes) -> Scenario:
    """The lab alone (every other stage off), one device per case, as a dict tweak."""
    sc = queue_scenario({"lab_examination": QueueSpec(servers, exp_days(0.5), "priority")},
                        arrivals_per_day=devices_per_day, horizon_days=3000, warmup_days=100,
                        risk_mix={"very_high": 1.0, "high": 0.0, "medium": 0.0, "low": 0.0})
    return with_overrides(sc, changes) if changes else sc


def test_other_work_is_a_class_of_its_own_and_cobham_holds():
    """Devices (all very high) and low-priority jobs, both Poisson, same exponential
    service: M/M/c with two priority classes."""
    other = {"jobs_per_year": 1.0 * 365.25, "service": exp_days(0.5),
             "priority_mix": {"very_high": 0.0, "high": 0.0, "medium": 0.0, "low": 1.0}}
    sc = _lab_only(2, 1.6, **{"stages.lab_examination.other_work": other})
    report = check_scenario(sc, _runs(sc))
    expected = q.cobham_priority_waits([1.6, 0.0, 0.0, 1.0], 0.5, 2)
    assert _row(report, "lab_examination").model == "M/M/c"
    assert _row(report, "lab_examination").rho == pytest.approx(2.6 * 0.5 / 2)
    assert _row(report, "lab_examination", "iioc").wait_model == pytest.approx(expected[0])
    assert _row(report, "lab_examination", "other_work").wait_model == pytest.approx(expected[3])
    assert _row(report, "lab_examination", "very_high").wait_model == pytest.approx(expected[0])
    assert _row(report, "lab_examination").wait_model == pytest.approx(q.mmc_wait(2.6, 0.5, 2))
    assert _row(report, "lab_examination", "other_work").arrivals_per_day_sim == pytest.approx(
        1.0, rel=0.05)
    assert report.ok, report.to_text()
    assert "other work: 1 jobs/day" in report.to_text()


def test_expedited_cases_form_the_top_class_of_a_fifo_queue():
    sc = queue_scenario({"enforcement": QueueSpec(2, exp_days(1.0), "fifo")},
                        arrivals_per_day=1.4, risk_mix=TWO_CLASS_MIX, horizon_days=3000,
                        warmup_days=100)
    sc = with_overrides(sc, {"policies.expedite": {"risk_levels": ["very_high"],
                                                   "stages": ["enforcement"]}})
    report = check_scenario(sc, _runs(sc))
    expected = q.cobham_priority_waits([0.42, 0.98], 1.0, 2)
    assert _row(report, "enforcement", "very_high").wait_model == pytest.approx(expected[0])
    assert _row(report, "enforcement", "low").wait_model == pytest.approx(expected[1])
    assert report.ok, report.to_text()


def test_precedence_orders_the_stages_of_a_shared_pool():
    sc = queue_scenario({"image_grading": QueueSpec(2, exp_days(0.5)),
                         "database_upload": QueueSpec(2, exp_days(0.5))},
                        arrivals_per_day=1.4, horizon_days=3000, warmup_days=100)
    raw = sc.model_dump(mode="json")
    raw["stages"]["database_upload"].update(pool="pool_image_grading", precedence=1)
    del raw["staff"]["pool_database_upload"]
    sc = scenario_from_dict(raw)
    report = check_scenario(sc, _runs(sc))
    from sim.analysis.check.reduce import priority_waits

    fifo = q.mmc_wait(2.8, 0.5, 2)
    first, second = priority_waits([1.4, 1.4], [0.7, 0.7], fifo, 0.7, 2)
    grading, upload = _row(report, "image_grading"), _row(report, "database_upload")
    assert grading.wait_model == pytest.approx(first)
    assert upload.wait_model == pytest.approx(second)
    assert grading.rho == upload.rho == pytest.approx(0.7)
    # The first stage meets the formula; the second is fed by the first (no textbook
    # queue), but its simulated wait is still the longer one.
    assert "WAIT" not in grading.flags
    assert abs(grading.relative_difference) < 0.1
    assert upload.wait_sim > grading.wait_sim
    assert "serves by precedence: image_grading before database_upload" in report.to_text()


def test_lab_service_is_that_of_the_devices_the_lab_sees():
    """The issue's example: device triage disabled and 70 % of phones at the kiosk. The
    check used to mix every phone into the lab's service (2.36 days against 3.02
    simulated in the issue); it now takes the lab's own mix, as the pipeline does."""
    from ._flow_scenarios import scenario as flow_scenario

    sc = flow_scenario(**{"stages.device_triage.enabled": False,
                          "policies.kiosk_share_of_phones": 0.7, "run.horizon_days": 800})
    records = _runs(sc, reps=2)
    row = _row(check_scenario(sc, records), "lab_examination")
    lab = np.concatenate([rec.tables["stage_visits"]["service_days"][
        (rec.tables["stage_visits"]["stage"] == "lab_examination")
        & ~np.isnan(rec.tables["stage_visits"]["end_day"])] for rec in records])
    assert row.mean_service_days == pytest.approx(lab.mean(), rel=4 * lab.std() / lab.mean()
                                                  / math.sqrt(lab.size))


def test_rework_and_votes_are_in_the_arrivals_and_the_work():
    from ._flow_scenarios import scenario as flow_scenario

    sc = flow_scenario(**{
        "run.horizon_days": 1000,
        "staff.grade.tiers": [{"name": "a", "share": 1, "rework_probability": 0.3}],
        "staff.grade.headcount": 6,
        "stages.database_upload.images_per_hour": 800,
        "stages.database_upload.extra_votes_per_new_image": 2})
    records = _runs(sc, reps=2)
    report = check_scenario(sc, records)
    grading = _row(report, "image_grading")
    from sim.analysis import flows

    devices = flows.items_per_day(sc, "database_upload", 0.0)
    assert grading.arrivals_per_day == pytest.approx(devices / 0.7)
    assert grading.arrivals_per_day_sim == pytest.approx(grading.arrivals_per_day, rel=0.05)
    assert "rework: 1.43 visits per device (in the arrivals)" in report.to_text()
    work = (grading.arrivals_per_day * flows.work_mix(sc, "image_grading").mean_hours
            + devices * flows.work_mix(sc, "database_upload").mean_hours)
    assert grading.rho == pytest.approx(work / (24 * 6))


def test_shift_pools_are_approximate_never_wait_flagged_but_can_be_unstable():
    office = {"hours_per_day": 8, "days_per_week": 5, "availability": 1.0}
    sim = queue_scenario({"intake": QueueSpec(6, exp_days(0.5))}, arrivals_per_day=3.0,
                         horizon_days=1500, warmup_days=100)
    sim = with_overrides(sim, {"staff.pool_intake": {"headcount": 6, **office}})
    claimed = with_overrides(sim, {"staff.pool_intake.headcount": 12})
    report = check_scenario(claimed, _runs(sim, reps=2))
    row = _row(report, "intake")
    assert row.approximate and row.model == "M/M/c"
    # 12 h of work per day per person on 8 x 5 / 7 h of shift: rho on the weekly mean.
    assert row.rho == pytest.approx(3.0 * 12 / (12 * 8 * 5 / 7))
    assert row.flags == () and report.ok  # far apart, yet not judged
    assert abs(row.relative_difference) > 0.5
    text = report.to_text()
    assert "~M/M/c" in text and "~: a pool on a shift calendar" in text
    assert "pools on shift calendars (pool_intake)" in text
    # Round the clock, 6 people would be plenty (rho 0.25); on office hours they are not
    # (36 h of work a day against 6 x 8 x 5 / 7 = 34.3 h of shift).
    unstable = check_scenario(sim, _runs(sim, reps=1))
    assert "UNSTABLE" in _row(unstable, "intake").flags


def test_simulated_waits_split_pipeline_items_from_other_work():
    from sim.analysis.check import _sim_waits

    visits = {
        "stage": np.array(["lab_examination"] * 3, dtype=object),
        "entity": np.array(["device", "job", "job"], dtype=object),
        "arrive_day": np.array([1.0, 2.0, 3.0]),
        "start_day": np.array([2.0, 6.0, np.nan]),
        "wait_days": np.array([1.0, 4.0, np.nan]),
        "priority": np.array([0, 3, 3]),
        "queued_priority": np.array([0, 3, 3]),
    }
    rec = Records(replication=0, seed=1, tables={"stage_visits": visits}, conservation={},
                  time_averages={}, events=0, window=(0.0, 10.0))
    waits, rates, counts = _sim_waits([rec], "lab_examination")
    assert waits["iioc"] == [1.0] and waits["other_work"] == [4.0] and waits["all"] == [2.5]
    assert rates["other_work"] == [0.2] and counts["other_work"] == 1


def test_the_checks_rho_is_the_offered_load_of_every_pool():
    """One source: the reduction's utilisation is ``offered_load``'s, for every pool,
    whatever the mechanisms (here all of them, with two pools on shifts and expedited
    cases among them), taken at its largest over the window."""
    from sim.analysis.check.judge import grid_days

    from ._flow_scenarios import scenario as flow_scenario
    from .test_load import EVERYTHING, OFFICE

    sc = flow_scenario(**{**EVERYTHING, "run.horizon_days": 200,
                          "staff.enf": {"headcount": 18, **OFFICE},
                          "staff.lab": {"headcount": 45, **OFFICE}})
    assert sc.staff["enf"].uses_shifts and sc.staff["lab"].uses_shifts
    report = check_scenario(sc, _runs(sc, reps=1))
    days = grid_days(sc, report.window)
    assert len(days) > 1  # growth: the check samples the window
    for row in report.rows:
        if row.cls != "all" or row.pool is None:
            continue
        expected = max(next(ld.rho_pool for ld in offered_load(sc, d) if ld.stage == row.stage)
                       for d in days)
        assert row.rho == pytest.approx(expected, rel=1e-12), row.stage
        assert row.approximate == sc.staff[row.pool].uses_shifts
