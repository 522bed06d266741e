"""The causal chain, by the ladder: exact answers, then statistics, then monotonicity.

How staffing, skill and delay reach the children: children found only by examination
(skill and cold trails), enforcement decisions, voluntary attendance, verification
votes before upload, grading rework, competing work at a shared stage, expedited
cases on call, shift calendars, hash sets that grow and data that grows.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.config import scenario_from_dict
from sim.model.calendar import ShiftCalendar
from sim.model.replication import run_replication

from .conftest import HOURS_24_7, MINI

LEVELS = ("very_high", "high", "medium", "low")


def _apply(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys of ``data`` (in place) and return it."""
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def fixed_h(hours: float) -> dict[str, Any]:
    return {"fixed": {"value_hours": hours}}


def base(**changes: Any) -> dict[str, Any]:
    """Fixed times and ample 24/7 staff: every case takes the same path at the same pace."""
    pools = {name: {"headcount": 500, **HOURS_24_7} for name in
             ("inv", "enf", "hub", "lab", "grade", "vid")}
    data: dict[str, Any] = {
        "name": "chain",
        "run": {"horizon_days": 200, "seed": 3},
        "demand": {"referrals_per_year": 1000,
                   "risk_mix": {"very_high": 0.25, "high": 0.25, "medium": 0.25, "low": 0.25}},
        "cases": {
            "children_in_contact": {k: {"fixed": {"value": 1}} for k in LEVELS},
            "children_on_devices": {k: {"fixed": {"value": 1}} for k in LEVELS},
            "devices_per_case": {"fixed": {"value": 2}},
            "device_types": {"phone": {"share": 1, "data_tb": {"fixed": {"value": 0.5}},
                                       "images": {"fixed": {"value": 1000}}}},
            "known_image_share": 0.5,
            "first_generation_probability": dict.fromkeys(LEVELS, 1.0),
            "depicted_children": {"fixed": {"value": 1}},
        },
        "triage": {"contact_children_found_at_research_probability": 0.0},
        "stages": {
            "intake": {"pool": "inv", "service": fixed_h(2)},
            "enforcement": {"pool": "enf", "service": fixed_h(10)},
            "safeguarding": {"service": fixed_h(24)},
            "device_triage": {"pool": "hub", "service": fixed_h(1)},
            "lab_examination": {"pool": "lab", "service": fixed_h(4), "hours_per_tb": 2},
            "image_grading": {"pool": "grade", "images_per_hour": 250},
            "database_upload": {"pool": "grade", "service": fixed_h(1)},
            "victim_identification": {"pool": "vid", "service": fixed_h(3),
                                      "identification_probability": 1.0},
        },
        "staff": pools,
        "policies": {"safeguarding_referral": "immediate"},
    }
    return _apply(data, changes)


def run(data: dict[str, Any], rep: int = 0, seed: int = 3) -> Any:
    return run_replication(scenario_from_dict(data), rep, seed)


def children(records: Any) -> pd.DataFrame:
    return records.frame("children")


def settled(records: Any, margin_days: float = 10.0) -> pd.DataFrame:
    ch = children(records)
    return ch[ch.referral_day < records.window[1] - margin_days]


# ------------------------------------------------------------------ exact answers
def test_every_route_is_found_where_and_when_the_pipeline_says():
    # intake 2 h -> warrant 10 h -> triage 1 h -> lab 4 + 0.5 TB x 2 = 5 h -> grading
    # 500 unknown images / 250 = 2 h -> upload 1 h -> VID 3 h (both devices together).
    ch = settled(run(base()))
    by = {r: ch[ch.route == r] for r in ("research", "warrant", "examination", "depicted")}
    assert len(by["research"]) == 0  # research finds nobody here
    for route, found_at, hours in (("warrant", "enforcement", 12), ("examination",
                                                                    "lab_examination", 18),
                                   ("depicted", "victim_identification", 24)):
        rows = by[route]
        assert len(rows) > 300, route
        assert (rows.found_at == found_at).all(), route
        np.testing.assert_allclose(rows.identified_day - rows.referral_day, hours / 24,
                                   atol=1e-9, err_msg=route)


def test_a_child_missed_at_the_lab_can_still_be_found_at_grading():
    data = base(**{"staff.lab.tiers": [{"name": "untrained", "share": 1,
                                        "find_probability": 0.0}]})
    ch = settled(run(data))
    exam = ch[ch.route == "examination"]
    assert (exam.found_at == "image_grading").all()
    np.testing.assert_allclose(exam.identified_day - exam.referral_day, 20 / 24, atol=1e-9)
    data["staff"]["grade"]["tiers"] = [{"name": "untrained", "share": 1, "find_probability": 0}]
    ch = settled(run(data))
    exam = ch[ch.route == "examination"]
    assert not exam.identified.any() and (exam.found_at == "").all()


def test_a_found_device_child_escalates_the_case():
    rec = run(base(**{"policies.safeguarding_referral": "immediate"}))
    cases = rec.frame("cases")
    settled_cases = cases[cases.referral_day < rec.window[1] - 10]
    assert settled_cases.escalated.all()


def test_no_further_action_leaves_the_warrants_children_unknown_and_seizes_nothing():
    data = base(**{"triage.warrant_probability": dict.fromkeys(LEVELS, 0.0)})
    rec = run(data)
    ch = settled(rec)
    assert (rec.frame("cases").action.iloc[:-5] == "no_further_action").all()
    assert len(rec.frame("devices")) == 0
    for route in ("warrant", "examination", "depicted"):
        assert not ch[ch.route == route].identified.any(), route


def test_voluntary_attendance_finds_some_children_and_seizes_some_devices():
    data = base(**{"triage.warrant_probability": dict.fromkeys(LEVELS, 0.0),
                   "triage.voluntary_attendance_probability": dict.fromkeys(LEVELS, 1.0),
                   "triage.voluntary_attendance_finds_contact_probability": 0.3,
                   "triage.voluntary_attendance_devices_seized_share": 0.5,
                   "run.horizon_days": 400})
    rec = run(data)
    cases = rec.frame("cases")
    done = cases[cases.referral_day < rec.window[1] - 10]
    assert (done.action == "voluntary_attendance").all()
    n = len(done)
    seized = rec.frame("devices").groupby("case_id").size().reindex(done.case_id, fill_value=0)
    assert abs(seized.mean() - 1.0) < 4 * math.sqrt(0.5 / n)  # 2 devices x 0.5
    warrant_route = settled(rec)[lambda c: c.route == "warrant"]
    share = warrant_route.identified.mean()
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / len(warrant_route))


def test_the_enforcement_decision_follows_the_graded_risk():
    p_w = {"very_high": 1.0, "high": 0.6, "medium": 0.3, "low": 0.1}
    p_v = {"very_high": 0.0, "high": 0.2, "medium": 0.2, "low": 0.2}
    rec = run(base(**{"triage.warrant_probability": p_w,
                      "triage.voluntary_attendance_probability": p_v,
                      "run.horizon_days": 1000}))
    cases = rec.frame("cases")
    cases = cases[cases.action != "pending"]
    for level in LEVELS:
        rows = cases[cases.graded_risk == level]
        for action, p in (("warrant", p_w[level]), ("voluntary_attendance", p_v[level])):
            share = (rows.action == action).mean()
            assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / len(rows)) + 1e-12, (level, action)


def test_verification_votes_are_upload_work_and_yield_to_investigative_grading():
    data = base(**{"stages.database_upload": {
        "pool": "grade", "service": fixed_h(1), "images_per_hour": 250,
        "extra_votes_per_new_image": 2, "new_image_share_of_unknown": 0.5, "precedence": 1}})
    rec = run(data)
    sv = rec.frame("stage_visits")
    up = sv[(sv.stage == "database_upload") & sv.start_day.notna()]
    # 1 h + 500 unknown x 0.5 new x 2 votes / 250 per hour = 3 h
    np.testing.assert_allclose(up.service_days, 3 / 24, atol=1e-12)
    # With one grader, a device waiting for investigative grading always goes first.
    data["staff"]["grade"]["headcount"] = 1
    rec = run(data)
    sv = rec.frame("stage_visits")
    grade = sv[sv.stage == "image_grading"]
    up = sv[(sv.stage == "database_upload") & sv.start_day.notna()]
    for start in up.start_day.to_numpy()[:300]:
        waiting = grade[(grade.arrive_day < start) & ~(grade.start_day <= start)]
        assert waiting.empty


def test_grading_rework_repeats_jobs_at_the_tiers_rate():
    data = base(**{"staff.grade.tiers": [{"name": "new", "share": 1,
                                          "rework_probability": 0.5}],
                   "run.horizon_days": 400})
    rec = run(data)
    sv = rec.frame("stage_visits")
    visits = sv[(sv.stage == "image_grading") & sv.end_day.notna()].groupby("entity_id").size()
    mean = visits.mean()
    assert abs(mean - 2.0) < 4 * math.sqrt(2.0 / len(visits))  # geometric, mean 1 / (1 - 0.5)
    assert rec.conservation["image_grading"]["arrived"] == len(sv[sv.stage == "image_grading"])


def test_other_work_competes_for_the_lab_and_is_counted():
    other = {"jobs_per_year": 2000, "priority_mix": {"very_high": 0, "high": 0, "medium": 0,
                                                     "low": 1},
             "service": fixed_h(6)}
    data = base(**{"stages.lab_examination.other_work": other})
    rec = run(data)
    sv = rec.frame("stage_visits")
    jobs = sv[(sv.stage == "lab_examination") & (sv.entity == "job")]
    assert abs(len(jobs) - 2000 * 200 / 365.25) < 4 * math.sqrt(2000 * 200 / 365.25)
    assert (jobs.case_id == -1).all() and jobs.entity_id.min() == 0
    done = jobs[jobs.end_day.notna()]
    np.testing.assert_allclose(done.service_days, 6 / 24, atol=1e-12)
    bal = rec.conservation["lab_examination"]
    assert bal["arrived"] == bal["completed"] + bal["waiting"] + bal["in_service"]
    # A small lab: the IIOC devices (higher priority) still overtake the low-priority jobs.
    data["staff"]["lab"]["headcount"] = 2
    rec = run(data)
    sv = rec.frame("stage_visits")
    lab = sv[(sv.stage == "lab_examination") & sv.start_day.notna()]
    assert lab[lab.entity == "job"].wait_days.mean() > lab[lab.entity == "device"].wait_days.mean()


def test_shift_pools_start_work_on_shift_and_pause_off_shift():
    office = {"headcount": 1, "hours_per_day": 8, "days_per_week": 5, "availability": 1.0,
              "shift_start_hour": 9}
    data = base(**{"staff.lab": office, "demand.referrals_per_year": 100,
                   "run.horizon_days": 400})
    sc = scenario_from_dict(data)
    rec = run_replication(sc, 0, 3)
    cal = ShiftCalendar(8, 5, 9, sc.run.start_date.weekday())
    sv = rec.frame("stage_visits")
    lab = sv[(sv.stage == "lab_examination") & sv.end_day.notna()]
    assert len(lab) > 150
    for start, end in zip(lab.start_day, lab.end_day, strict=True):
        assert cal.on_shift(start + 1e-9)
        assert end == pytest.approx(cal.finish(start, 5.0), abs=1e-9)
    # One examiner on shift 8 h a day, 5 days a week: 40 h a week of 5-hour jobs.
    weekly = len(lab) / (400 / 7)
    assert weekly <= 8.0 + 1e-9


def test_expedited_cases_are_served_on_call_round_the_clock():
    # 20 crews, half their shift time on this work: the other cases need 20 shift-hours
    # each, about a third of capacity, so a crew is nearly always free to go on call.
    office = {"headcount": 20, "hours_per_day": 8, "days_per_week": 5, "availability": 0.5}
    data = base(**{"staff.enf": office,
                   "policies.expedite": {"risk_levels": ["very_high"], "stages": ["enforcement"]},
                   "triage.grading_accuracy": 1.0})
    rec = run(data)
    cases = rec.frame("cases")
    vh = cases[(cases.graded_risk == "very_high") & cases.warrant_day.notna()]
    other = cases[(cases.graded_risk != "very_high") & cases.warrant_day.notna()]
    took_vh = vh.warrant_day - vh.intake_done_day
    assert len(vh) > 30
    assert (took_vh >= 10 / 24 - 1e-9).all()
    assert (np.isclose(took_vh, 10 / 24)).mean() > 0.8  # on call, at full speed
    assert (other.warrant_day - other.intake_done_day).min() > 10 / 24  # 20 shift-hours


def test_hash_set_growth_and_data_growth_follow_the_calendar_year():
    data = base(**{"cases.known_image_share_growth_per_year": 0.2,
                   "cases.known_image_share_max": 0.9, "cases.data_tb_growth_per_year": 0.5,
                   "run.horizon_days": 800})
    rec = run(data)
    dev = rec.frame("devices")
    sv = rec.frame("stage_visits")
    graded = sv[(sv.stage == "image_grading") & sv.start_day.notna()].set_index("entity_id")
    dev = dev[dev.device_id.isin(graded.index)]
    start = graded.loc[dev.device_id, "start_day"].to_numpy()
    known = np.minimum(0.5 + 0.2 * start / 365.25, 0.9)
    np.testing.assert_array_equal(dev.unknown_images, np.round(1000 * (1 - known)))
    np.testing.assert_allclose(dev.data_tb, 0.5 * 1.5 ** (dev.seized_day / 365.25), rtol=1e-12)


# -------------------------------------------------------------- statistical checks
def test_cold_trails_halve_the_chance_of_finding_every_half_life():
    # Device children wait a fixed 18 h for the lab; with a half-life of 18 h they are
    # found with probability 1/2 at the lab, and a second chance of 0.5^(20/18) at
    # grading, from independent uniforms.
    data = base(**{"discovery.examination_trail_half_life_days": 0.5,
                   "run.horizon_days": 400})
    exam = settled(run(data))[lambda c: c.route == "examination"]
    lab_delay, grade_delay = 6 / 24, 8 / 24  # seizure (at the warrant) -> lab end, grading end
    p_lab = 0.5 ** (lab_delay / 0.5)
    p_grade = 0.5 ** (grade_delay / 0.5)
    n = len(exam)
    for where, p in (("lab_examination", p_lab), ("image_grading", (1 - p_lab) * p_grade)):
        share = (exam.found_at == where).mean()
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n), where


def test_depicted_identification_falls_with_the_days_since_seizure():
    data = base(**{"discovery.depicted_trail_half_life_days": 0.25,
                   "stages.victim_identification.identification_probability": 0.8,
                   "run.horizon_days": 400})
    dep = settled(run(data))[lambda c: c.route == "depicted"]
    p = 0.8 * 0.5 ** ((12 / 24) / 0.25)  # seizure -> VID end: 1 + 5 + 2 + 1 + 3 = 12 h
    assert abs(dep.identified.mean() - p) < 4 * math.sqrt(p * (1 - p) / len(dep))


def test_a_skills_course_gives_trainees_the_accredited_tiers_speed_and_skill():
    data = base(**{"staff.lab": {"headcount": 50, **HOURS_24_7, "tiers": [
        {"name": "trainee", "share": 1.0, "speed_multiplier": 0.5, "find_probability": 0.0},
        {"name": "accredited", "share": 0.0, "speed_multiplier": 1.0, "find_probability": 1.0}]},
        "training": {"audit": {"pool": "lab", "cohort_size": 50, "start_day": 0,
                               "duration_days": 20, "share_of_time_off_duty": 0.0,
                               "effects": {"to_tier": "accredited"}}}})
    rec = run(data)
    sv = rec.frame("stage_visits")
    lab = sv[(sv.stage == "lab_examination") & (sv.start_day > 25)]
    assert (lab.staff_tier == "trainee+audit").all()
    np.testing.assert_allclose(lab.service_days, 5 / 24, atol=1e-12)
    exam = settled(rec)[lambda c: (c.route == "examination") & (c.referral_day > 25)]
    assert (exam.found_at == "lab_examination").all()


# ----------------------------------------------------------------- monotonicity
def _paired(data_a: dict[str, Any], data_b: dict[str, Any], metric: str, reps: int = 6
            ) -> np.ndarray:
    from sim.analysis.metrics import replication_metrics

    a, b = scenario_from_dict(data_a), scenario_from_dict(data_b)
    out = []
    for rep in range(reps):
        ma = replication_metrics(run_replication(a, rep, 11), a).metrics[metric]
        mb = replication_metrics(run_replication(b, rep, 11), b).metrics[metric]
        out.append(mb - ma)
    return np.asarray(out)


def _mini(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINI)
    data["cases"]["children_on_devices"] = {"very_high": {"poisson": {"mean": 1.0}},
                                            "high": {"poisson": {"mean": 0.6}},
                                            "medium": {"poisson": {"mean": 0.3}},
                                            "low": {"poisson": {"mean": 0.1}}}
    data["discovery"] = {"examination_trail_half_life_days": 120.0,
                         "depicted_trail_half_life_days": 240.0}
    data["staff"]["examiners"]["headcount"] = 18
    data["staff"]["enforcement"]["headcount"] = 16   # crews loaded near capacity
    data["staff"]["examiners"]["tiers"] = [
        {"name": "trainee", "share": 0.2, "speed_multiplier": 0.6, "find_probability": 0.6},
        {"name": "accredited", "share": 0.8, "find_probability": 0.85}]
    return _apply(data, changes)


@pytest.mark.slow
@pytest.mark.parametrize(("base_changes", "change", "metric"), [
    ({}, {"staff.examiners.headcount": 30}, "identified_examination_within_90d_share"),
    ({}, {"staff.examiners.headcount": 30}, "identified_depicted_within_365d_share"),
    ({}, {"staff.examiners.tiers": [
        {"name": "trainee", "share": 0.2, "speed_multiplier": 0.6, "find_probability": 0.9},
        {"name": "accredited", "share": 0.8, "find_probability": 0.95}]},
     "identified_examination_within_90d_share"),
    ({}, {"staff.enforcement.headcount": 24}, "identified_within_30d_share"),
    # Grading and upload the constraint: more graders identify depicted children sooner.
    ({"staff.graders.headcount": 8}, {"staff.graders.headcount": 16},
     "identified_depicted_within_365d_share"),
])
def test_more_staff_or_more_skill_never_finds_fewer_children(base_changes, change, metric):
    diff = _paired(_mini(**base_changes), _mini(**{**base_changes, **change}), metric)
    ok = diff[~np.isnan(diff)]
    assert ok.size >= 4
    se = ok.std(ddof=1) / math.sqrt(ok.size) if ok.size > 1 else 0.0
    assert ok.mean() > 0 and ok.mean() > 2 * se, (metric, ok)


def test_shift_pool_utilisation_counts_work_on_shift_not_jobs_held_overnight():
    # Two examiners, 8 h a day on weekdays: 80 shift-hours a week against 7 x 365/365.25
    # jobs a week of 5 h: they work ~44% of their shift time, though they hold a job
    # over most nights and weekends.
    office = {"headcount": 2, "hours_per_day": 8, "days_per_week": 5, "availability": 1.0}
    data = base(**{"staff.lab": office, "demand.referrals_per_year": 365.25 / 2,
                   "run.horizon_days": 3000, "run.timeseries_interval_days": 28})
    rec = run(data)
    st = rec.frame("staff_timeseries")
    lab = st[(st.pool == "lab") & (st.day > 0)]
    expected = 7 * 5.0 / 80.0
    assert lab.utilisation.mean() == pytest.approx(expected, abs=0.03)
    assert (lab.utilisation <= 1.0 + 1e-9).all()


def test_children_found_at_research_are_referred_when_no_action_follows():
    # At-warrant referral holds a child found at research until the warrant; a case
    # closed with no further action has no warrant to wait for, so the child is
    # referred at the decision (the end of intake), not held for ever.
    data = base(**{"triage.warrant_probability": dict.fromkeys(LEVELS, 0.0),
                   "triage.contact_children_found_at_research_probability": 1.0,
                   "policies.safeguarding_referral": "at_warrant"})
    research = settled(run(data))[lambda c: c.route == "research"]
    assert len(research) > 300
    np.testing.assert_allclose(research.safeguarding_referral_day - research.referral_day,
                               2 / 24, atol=1e-9)


def test_restricted_mean_is_the_area_under_the_survival_curve():
    from sim.analysis.survival import kaplan_meier, restricted_mean

    t, s = kaplan_meier(np.array([10.0, 20.0, 400.0, 30.0]), np.array([True, True, True, False]))
    # S = 1 on [0,10), 3/4 on [10,20), 1/2 on [20, 400): area to 365 = 10 + 7.5 + 172.5
    assert restricted_mean(t, s, 365.0) == pytest.approx(10 + 0.75 * 10 + 0.5 * 345)
    t, s = kaplan_meier(np.array([5.0]), np.array([False]))
    assert restricted_mean(t, s, 365.0) == 365.0  # nobody safeguarded: the whole year


@pytest.mark.parametrize("p_kiosk", [0.0, 1.0])
def test_the_kiosk_finds_with_its_own_tiers_skill_once(p_kiosk):
    kiosk = {"pool": "kiosks", "service": fixed_h(1)}
    data = base(**{"stages.device_triage.kiosk": kiosk, "policies.kiosk_share_of_phones": 1.0,
                   "staff.kiosks": {"headcount": 500, **HOURS_24_7, "tiers": [
                       {"name": "kiosk", "share": 1, "find_probability": p_kiosk}]}})
    exam = settled(run(data))[lambda c: c.route == "examination"]
    assert len(exam) > 300
    found = exam.found_at.value_counts()
    if p_kiosk == 0.0:
        assert "kiosk" not in found and found.get("image_grading", 0) == len(exam)
    else:
        assert found.get("kiosk", 0) == len(exam)
