"""``sim.analysis.flows``: every expected flow against what the pipeline does.

Each rule of :mod:`sim.analysis.flows` restates one of :mod:`sim.model.pipeline`'s in
expectation; a simulation of a scenario that exercises it must agree within four
standard errors (about one false alarm in 16,000 per comparison). The runs are short
(ample round-the-clock staff, so nearly every referral is through by the end).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim.analysis import flows
from sim.config import RISK_LEVELS, Scenario
from sim.model.replication import run_replication
from sim.monitor.records import Records
from sim.monitor.tables import ROUTES_CHILD

from ._flow_scenarios import LEVELS, hours, mean_with_se, scenario

#: Standard errors an estimate may be from its expected value.
Z = 4.0
AMPLE = {f"staff.{pool}.headcount": 40 for pool in ("inv", "enf", "hub", "kiosk", "lab",
                                                    "grade", "vid")}
DECISION = {"triage.warrant_probability": dict(zip(LEVELS, (1.0, 0.7, 0.4, 0.2), strict=True)),
            "triage.voluntary_attendance_probability": dict(zip(LEVELS, (0.0, 0.2, 0.3, 0.3),
                                                                strict=True)),
            "triage.voluntary_attendance_devices_seized_share": 0.5,
            "triage.voluntary_attendance_finds_contact_probability": 0.4}


def _run(sc: Scenario, rep: int = 0) -> Records:
    return run_replication(sc, rep, 17)


def _settled_cases(rec: Records, margin_days: float = 30.0) -> Any:
    cases = rec.frame("cases")
    return cases[(cases.cohort == "new") & (cases.referral_day < rec.window[1] - margin_days)]


def _close(observed: float, se: float, expected: float, what: str) -> None:
    assert abs(observed - expected) <= Z * se + 1e-12, (
        f"{what}: observed {observed:.6g} ± {se:.2g}, expected {expected:.6g}")


def _share(mask: np.ndarray, expected: float, what: str) -> None:
    n = mask.size
    p = float(mask.mean())
    _close(p, math.sqrt(max(expected * (1 - expected), 1e-12) / n), expected, what)


# ------------------------------------------------------------------ grading and decision
def test_grading_matrix_rows_sum_to_one_and_move_one_level():
    g = flows.grading_matrix(0.8, 0.3)
    assert all(sum(row) == pytest.approx(1.0) for row in g)
    assert g[0] == pytest.approx((0.8, 0.2, 0.0, 0.0))  # very high can only go down
    assert g[3] == pytest.approx((0.0, 0.0, 0.2, 0.8))  # low can only go up
    assert g[1] == pytest.approx((0.14, 0.8, 0.06, 0.0))  # 70 % of errors up, 30 % down


def test_graded_risk_and_the_enforcement_decision_agree_with_the_pipeline():
    sc = scenario(**AMPLE, **DECISION, **{"run.horizon_days": 1500})
    cases = _settled_cases(_run(sc))
    n = len(cases)
    assert n > 10_000
    joint = flows.joint_risk(sc)
    for r, true in enumerate(RISK_LEVELS):
        for k, graded in enumerate(RISK_LEVELS):
            mask = ((cases.true_risk == true) & (cases.graded_risk == graded)).to_numpy()
            _share(mask, joint[r][k], f"true {true}, graded {graded}")
    act = flows.actions(sc)
    for k, graded in enumerate(RISK_LEVELS):
        rows = cases[cases.graded_risk == graded]
        for name, p in (("warrant", act.warrant[k]), ("voluntary_attendance", act.voluntary[k]),
                        ("no_further_action", act.no_further_action[k])):
            _share((rows.action == name).to_numpy(), p, f"{name} at {graded}")
    for name, share in flows.action_shares(sc).items():
        _share((cases.action == name).to_numpy(), share, f"{name} per referral")


# ------------------------------------------------------------------ devices
KIOSK_NO_TRIAGE = {"stages.device_triage.enabled": False, "policies.kiosk_share_of_phones": 0.7}


def test_devices_reach_each_stage_as_the_routes_say_with_device_triage_disabled():
    """The issue's case: device triage (and so the kiosk station) off, 70 % of phones to
    the kiosk route. Those phones still skip the lab; voluntary attendance seizes half."""
    sc = scenario(**AMPLE, **DECISION, **KIOSK_NO_TRIAGE, **{
        "run.horizon_days": 1200,
        "staff.grade.tiers": [{"name": "new", "share": 1, "rework_probability": 0.25}]})
    rec = _run(sc)
    cases = _settled_cases(rec)
    devices = rec.frame("devices")
    devices = devices[devices.case_id.isin(cases.case_id)]
    seized = devices.groupby("case_id").size().reindex(cases.case_id, fill_value=0).to_numpy()
    _close(*mean_with_se(seized), flows.devices_per_referral(sc), "devices per referral")
    routes = flows.device_routes(sc)
    _share((devices.route == "kiosk").to_numpy(), routes.kiosk_share, "kiosk route share")
    visits = rec.frame("stage_visits")
    visits = visits[visits.entity == "device"]
    for station in ("lab_examination", "image_grading", "database_upload"):
        per_device = (visits[visits.stage == station].groupby("entity_id").size()
                      .reindex(devices.device_id, fill_value=0).to_numpy())
        expected = flows.items_per_referral(sc, station) / flows.devices_per_referral(sc)
        _close(*mean_with_se(per_device), expected, f"{station} visits per device")
    assert flows.grading_visits_per_device(sc) == pytest.approx(1 / 0.75)
    for station in ("device_triage", "kiosk"):  # disabled: arrivals are counted only
        expected = flows.items_per_referral(sc, station) * len(rec.frame("cases").query(
            "cohort == 'new' and action != 'pending'"))
        assert rec.conservation[station]["arrived"] == pytest.approx(expected, rel=0.03)


def test_lab_work_is_that_of_the_devices_the_lab_sees():
    """Phones on the kiosk route never reach the lab, so the lab's mix has more
    computers than the seized devices: with device triage disabled and 70 % of phones
    at the kiosk, ``fbsim check`` used to mix in every phone (the issue's 2.36 days
    against 3.02 simulated)."""
    sc = scenario(**AMPLE, **KIOSK_NO_TRIAGE, **{"run.horizon_days": 800})
    rec = _run(sc)
    visits = rec.frame("stage_visits")
    lab = visits[(visits.stage == "lab_examination") & visits.end_day.notna()]
    work = lab.service_days.to_numpy() * 24  # one tier at speed 1, round the clock
    expected = flows.work_mix(sc, "lab_examination").mean_hours
    _close(*mean_with_se(work), expected, "lab work per device")
    every_device = flows.WorkMix(tuple(
        (dtype.share, terms) for dtype, (_w, terms) in zip(
            sc.cases.device_types.values(),
            flows.work_mix(sc, "lab_examination").components, strict=True))).mean_hours
    mean, se = mean_with_se(work)
    assert abs(mean - every_device) > 10 * se  # the old rule is far outside


def test_work_at_a_day_follows_data_growth_the_hash_set_and_votes():
    sc = scenario(**AMPLE, **KIOSK_NO_TRIAGE, **{
        "run.horizon_days": 1500, "cases.data_tb_growth_per_year": 0.3,
        "cases.known_image_share_growth_per_year": 0.05, "cases.known_image_share_max": 0.95,
        "stages.database_upload.images_per_hour": 500,
        "stages.database_upload.extra_votes_per_new_image": 2,
        "stages.database_upload.new_image_share_of_unknown": 0.4})
    rec = _run(sc)
    visits = rec.frame("stage_visits")
    for station, when in (("lab_examination", "arrive_day"), ("image_grading", "start_day"),
                          ("database_upload", "start_day")):
        rows = visits[(visits.stage == station) & visits.end_day.notna()
                      & (visits.entity == "device")]
        expected = np.asarray([flows.work_mix(sc, station, d).mean_hours
                               for d in rows[when].to_numpy()[::25]])
        work = rows.service_days.to_numpy()[::25] * 24
        # The expected work changes by more than its noise over the run ...
        assert expected.max() - expected.min() > 0.1 * expected.mean(), station
        # ... and the simulated work follows it.
        _close(*mean_with_se(work - expected), 0.0, f"{station} work minus expected")


def test_upload_work_counts_the_votes_of_new_images():
    sc = scenario(**{"stages.database_upload.images_per_hour": 500,
                     "stages.database_upload.extra_votes_per_new_image": 2,
                     "stages.database_upload.new_image_share_of_unknown": 0.4})
    mix = flows.work_mix(sc, "database_upload")
    images = sum(w * d.images.mean for w, d in zip(
        flows.device_routes(sc).weights("database_upload").values(),
        sc.cases.device_types.values(), strict=True))
    assert mix.mean_hours == pytest.approx(0.3 + images * 0.2 * 2 * 0.4 / 500)


# ------------------------------------------------------------------ other work
def test_other_work_arrives_with_its_own_growth_classes_and_service():
    other = {"jobs_per_year": 2000, "annual_growth_rate": 0.5,
             "priority_mix": {"very_high": 0.1, "high": 0.2, "medium": 0.0, "low": 0.7},
             "service": hours(5, "gamma")}
    sc = scenario(**AMPLE, **{"stages.lab_examination.other_work": other,
                              "run.horizon_days": 1000})
    rec = _run(sc)
    visits = rec.frame("stage_visits")
    jobs = visits[(visits.stage == "lab_examination") & (visits.entity == "job")]
    end = rec.window[1]
    steps = 2000
    expected = sum(flows.other_work_per_day(sc, "lab_examination", (i + 0.5) * end / steps)
                   for i in range(steps)) * end / steps
    _close(len(jobs), math.sqrt(expected), expected, "jobs over the run")
    late = jobs[jobs.arrive_day >= end - 100]
    rate_late = flows.other_work_per_day(sc, "lab_examination", end - 50) * 100
    _close(len(late), math.sqrt(rate_late), rate_late, "jobs over the last 100 days")
    classes = flows.other_work_classes(sc, "lab_examination")
    for k, level in enumerate(RISK_LEVELS):
        _share((jobs.queued_priority == k).to_numpy(), classes[k], f"jobs in class {level}")
    done = jobs[jobs.end_day.notna()]
    _close(*mean_with_se(done.service_days.to_numpy() * 24),
           flows.other_work_mix(sc, "lab_examination").mean_hours, "job work")
    assert flows.other_work_per_day(sc, "enforcement", 0.0) == 0.0
    off = scenario(**{"stages.lab_examination.other_work": other,
                      "stages.lab_examination.enabled": False})
    assert flows.other_work_per_day(off, "lab_examination", 0.0) == 0.0  # never started


# ------------------------------------------------------------------ classes
@pytest.fixture(scope="module")
def decided() -> tuple[Scenario, Records]:
    sc = scenario(**AMPLE, **DECISION, **{"run.horizon_days": 1200})
    return sc, _run(sc)


@pytest.mark.parametrize("station", ["enforcement", "device_triage", "kiosk",
                                     "lab_examination"])
def test_queue_classes_follow_grading_the_decision_and_escalation(decided, station):
    sc, rec = decided
    visits = rec.frame("stage_visits")
    rows = visits[(visits.stage == station) & (visits.arrive_day > 0)
                  & (visits.arrive_day < rec.window[1] - 30)]
    expected = flows.class_shares(sc, station)
    for k, level in enumerate(RISK_LEVELS):
        _share((rows.queued_priority == k).to_numpy(), expected[k], f"{station} {level}")


def test_intake_is_one_class_and_other_work_keeps_its_mix():
    sc = scenario()
    assert flows.class_shares(sc, "intake") == (0.0, 0.0, 0.0, 1.0)
    assert flows.other_work_classes(sc, "lab_examination") == (0.0,) * 4


# ------------------------------------------------------------------ children and VID
def test_children_found_per_referral_and_cases_at_victim_identification():
    sc = scenario(**AMPLE, **DECISION, **{
        "run.horizon_days": 1500,
        "cases.children_on_devices": {k: {"poisson": {"mean": m}}
                                      for k, m in zip(LEVELS, (1.0, 0.6, 0.3, 0.1),
                                                      strict=True)},
        "staff.lab.tiers": [{"name": "a", "share": 1, "find_probability": 0.7}],
        "staff.grade.tiers": [{"name": "a", "share": 1, "find_probability": 0.5}],
        "staff.vid.tiers": [{"name": "a", "share": 1, "find_probability": 0.8}],
        "policies.safeguarding_referral": "immediate"})
    rec = _run(sc)
    cases = _settled_cases(rec, margin_days=60)
    children = rec.frame("children")
    children = children[children.identified]
    expected = flows.children_found_per_referral(sc)
    assert set(expected) == set(ROUTES_CHILD)
    for route, per_referral in expected.items():
        found = (children[children.route == route].groupby("case_id").size()
                 .reindex(cases.case_id, fill_value=0).to_numpy())
        _close(*mean_with_se(found), per_referral, f"children found per referral, {route}")
    assert flows.items_per_referral(sc, "safeguarding") == pytest.approx(sum(expected.values()))
    visits = rec.frame("stage_visits")
    vid = visits[visits.stage == "victim_identification"]
    at_vid = cases.case_id.isin(vid.case_id).to_numpy()
    _share(at_vid, flows.items_per_referral(sc, "victim_identification"),
           "cases at victim identification")


@pytest.mark.parametrize("policy", ["immediate", "at_warrant", "after_examination"])
def test_children_referred_to_safeguarding_by_policy(policy):
    """Every identified child is referred whatever the gate: a case with no further
    action has no warrant or examination to wait for, so its children are not held."""
    sc = scenario(**AMPLE, **DECISION, **{"run.horizon_days": 1000,
                                          "policies.safeguarding_referral": policy})
    rec = _run(sc)
    cases = _settled_cases(rec, margin_days=60)
    children = rec.frame("children")
    visits = rec.frame("stage_visits")
    referred = visits[visits.stage == "safeguarding"].merge(
        children[["child_id", "case_id"]], left_on="entity_id", right_on="child_id",
        suffixes=("_visit", ""))
    per_case = (referred.groupby("case_id").size().reindex(cases.case_id, fill_value=0)
                .to_numpy())
    _close(*mean_with_se(per_case), flows.items_per_referral(sc, "safeguarding"),
           f"children referred per referral ({policy})")
    found = sum(flows.children_found_per_referral(sc).values())
    assert flows.items_per_referral(sc, "safeguarding") == pytest.approx(found)


def test_count_pgf_of_each_family():
    from sim.config.distspec import DistSpec

    def count(raw: dict[str, Any]) -> DistSpec:
        sc = scenario(**{"cases.devices_per_case": raw})
        return sc.cases.devices_per_case

    z = 0.3
    assert flows.count_pgf(count({"fixed": {"value": 2}}), z) == pytest.approx(z**2)
    assert flows.count_pgf(count({"poisson": {"mean": 2, "offset": 1}}), z) == pytest.approx(
        z * math.exp(2 * (z - 1)))
    nb = count({"negative_binomial": {"mean": 2.0, "sd": 2.0}})
    r = 4 / (4 - 2)
    assert flows.count_pgf(nb, z) == pytest.approx((r / (r + 2 * (1 - z))) ** r)
    assert flows.count_pgf(nb, 0.0) == pytest.approx(nb.probability_of_zero())
    cat = count({"categorical": {"values": [0, 1, 3], "weights": [1, 1, 2]}})
    assert flows.count_pgf(cat, z) == pytest.approx(0.25 + 0.25 * z + 0.5 * z**3)
