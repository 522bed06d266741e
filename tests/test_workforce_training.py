"""Training programmes: capacity lost during a course, speed and quality gained after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.model.engine import Engine
from sim.model.levers import build_levers
from sim.model.pipeline import Pipeline
from sim.model.replication import run_replication
from sim.streams import Streams
from tests._workforce_scenarios import lab_only, lab_visits, scenario, staff_frame


def _course(**kw):
    return {"pool": "examiners", "cohort_size": 4, "start_day": 50, "duration_days": 40,
            "effects": {"speed_multiplier": 1.5}, **kw}


def _wait(records, lo, hi):
    lab = lab_visits(records)
    lab = lab[(lab["arrive_day"] >= lo) & (lab["arrive_day"] < hi)]
    # Devices still waiting at the end count with their wait so far.
    end = records.window[1]
    return float(np.where(lab["start_day"].isna(), end, lab["start_day"]).mean()
                 - lab["arrive_day"].mean())


def test_cohort_costs_capacity_during_the_course_and_adds_speed_after():
    kw = {"servers": 12, "arrivals_per_day": 10, "horizon_days": 300}
    base = run_replication(lab_only(**kw), 0, 2)
    trained = run_replication(lab_only(**kw, training={"course": _course()}), 0, 2)
    ex = staff_frame(trained, "examiners")
    during = ex.loc[56:84]
    assert (during["on_duty"] == 8).all() and (during["in_training"] == 4).all()
    assert (during["off_duty_training"] == 4).all() and (during["employed"] == 12).all()
    assert (during["capacity_fte"] == 8).all()
    after = ex.loc[91:]
    assert (after["trained"] == 4).all() and (after["in_training"] == 0).all()
    assert np.allclose(after["capacity_fte"], 14.0)
    assert (ex.loc[:49, "capacity_fte"] == 12).all()
    # The short-term loss and the later gain both show in the waits (same random numbers).
    assert _wait(trained, 60, 90) > 1.5 * _wait(base, 60, 90)
    assert _wait(trained, 200, 300) < _wait(base, 200, 300)
    cohorts = pd.DataFrame(trained.tables["training_cohorts"])
    assert cohorts[["start_day", "end_day", "places"]].values.tolist() == [[50, 90, 4]]
    tiers = set(lab_visits(trained)["staff_tier"].dropna())
    assert "accredited+course" in tiers


def test_part_time_course_keeps_staff_on_duty_at_reduced_speed():
    sc = lab_only(servers=12, arrivals_per_day=10,
                  training={"course": _course(share_of_time_off_duty=0.5)})
    records = run_replication(sc, 0, 2)
    during = staff_frame(records, "examiners").loc[56:84]
    assert (during["on_duty"] == 12).all() and (during["in_training"] == 4).all()
    assert (during["off_duty_training"] == 0).all()
    assert np.allclose(during["capacity_fte"], 12 - 4 * 0.5)
    lab = lab_visits(records)
    on_course = lab[lab["staff_tier"] == "accredited~course"]
    assert not on_course.empty
    assert (on_course["start_day"] >= 50).all() and (on_course["start_day"] < 90).all()


def test_repeated_cohorts_enrol_only_untrained_staff():
    sc = lab_only(servers=5, training={"course": _course(cohort_size=3, start_day=10,
                                                         duration_days=5,
                                                         repeat_every_days=30, cohorts=4,
                                                         cost_per_place_gbp=1000)})
    cohorts = pd.DataFrame(run_replication(sc, 0, 1).tables["training_cohorts"])
    assert cohorts["start_day"].tolist() == [10, 40, 70, 100]
    assert cohorts["places"].tolist() == [3, 2, 0, 0]


def test_trained_share_of_intake_sets_grading_error():
    sc = scenario(training={"kirat": {
        "pool": "investigators", "cohort_size": 5, "start_day": 1, "duration_days": 5,
        "effects": {"grading_accuracy": 1.0,
                    "contact_children_found_at_research_probability": 0.9}}})
    env = Engine()
    levers = build_levers(sc)
    pipe = Pipeline(sc, Streams(1, 0), env, levers.all())
    assert pipe.p_misgrade == pytest.approx(1 - 0.84)
    env.run(until=3)
    assert pipe.p_misgrade == pytest.approx(1 - 0.84)   # on the course: not yet trained
    env.run(until=10)
    assert pipe.p_misgrade == pytest.approx(1 - (0.5 * 0.84 + 0.5 * 1.0))
    assert levers.workforce.found_now == pytest.approx(0.5 * 0.5 + 0.5 * 0.9)


def test_training_intake_staff_improves_grading_and_research():
    course = {"pool": "investigators", "cohort_size": 10, "start_day": 0, "duration_days": 5,
              "share_of_time_off_duty": 0.0,
              "effects": {"grading_accuracy": 1.0,
                          "contact_children_found_at_research_probability": 1.0}}
    base = run_replication(scenario(), 0, 3)
    trained = run_replication(scenario(training={"kirat": course}), 0, 3)

    def cases(records):
        c = pd.DataFrame(records.tables["cases"])
        return c[c["intake_done_day"] > 6]

    cb, ct = cases(base), cases(trained)
    assert (ct["graded_risk"] == ct["true_risk"]).all()
    assert (cb["graded_risk"] != cb["true_risk"]).mean() > 0.05

    def found_at_research(records):
        ch = pd.DataFrame(records.tables["children"])
        c = cases(records).set_index("case_id")["intake_done_day"]
        contact = ch[(ch["kind"] == "contact") & ch["case_id"].isin(c.index)]
        return (contact["identified_day"] == contact["case_id"].map(c)).mean()

    assert found_at_research(trained) == 1.0
    assert found_at_research(base) < 0.8


def test_research_effect_equal_to_the_base_rate_changes_nothing():
    course = {"pool": "investigators", "cohort_size": 10, "start_day": 0, "duration_days": 5,
              "share_of_time_off_duty": 0.0,
              "effects": {"contact_children_found_at_research_probability": 0.5}}
    base = run_replication(scenario(), 0, 3)
    same = run_replication(scenario(training={"kirat": course}), 0, 3)
    for table in ("cases", "children"):
        for col, values in base.tables[table].items():
            assert np.array_equal(values, same.tables[table][col], equal_nan=values.dtype != object), col
