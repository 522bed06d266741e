"""The levers file, the plan pipeline and ``fbsim plan``, on the small scenario.

The mini scenario runs 120 days; examiners set its end backlog, so a target on
``backlog_devices_end`` has a known cheapest answer on a short grid.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.analysis.metrics import METRICS
from sim.cli import main
from sim.config import load_scenario, scenario_from_dict, scenario_hash
from sim.decision.evaluate import Evaluator
from sim.decision.inputfile import InputFileError
from sim.decision.levers import load_levers
from sim.decision.planning import PlanSettings, find_plan
from sim.decision.targets import TargetError, make_targets
from sim.experiment.backends import ProcessBackend

COSTED = {"examiners": 55000, "graders": 65000}


@pytest.fixture
def costed(mini_data, tmp_path):
    mini_data["run"]["horizon_days"] = 120
    for pool, cost in COSTED.items():
        mini_data["staff"][pool]["workforce"] = {"cost_per_fte_year_gbp": cost}
    path = tmp_path / "costed.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return path


def write_levers(tmp_path: Path, data, name="levers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


GRID = {"levers": {"examiners": {"path": "staff.examiners.headcount",
                                 "values": {"min": 20, "max": 40, "step": 10}},
                   "graders": {"path": "staff.graders.headcount", "values": [15, 25]}}}


def test_levers_file_builds_plans_and_costs(costed, tmp_path):
    scenario = load_scenario(costed)
    levers = load_levers(write_levers(tmp_path, GRID), scenario)
    assert levers.size == 6 and levers.names == ["examiners", "graders"]
    assert levers.levers[0].values == (20, 30, 40)
    assert levers.levers[0].cost_key == "staff.examiners.workforce.cost_per_fte_year_gbp"
    plan = (1, 0)
    built = levers.scenario_for(plan)
    assert built.staff["examiners"].headcount == 30 and built.staff["graders"].headcount == 15
    assert levers.reference == {"examiners": 30, "graders": 20}
    assert levers.reference_plan() is None  # 20 graders is not among the values
    # Half the cheapest step: 10 examiners over 120 days.
    assert levers.default_cost_tolerance_gbp() == pytest.approx(0.5 * 10 * 55000 * 120 / 365.25)


def test_switch_and_training_levers_with_define(costed, tmp_path):
    scenario = load_scenario(costed)
    data = {"levers": {
        "course": {"path": "training.tools.cohorts", "values": [0, 2]},
        "automation": {"path": "automation", "values": [False, True], "cost_gbp": 40000}},
        "define": {"training.tools": {"pool": "examiners", "cohort_size": 4, "start_day": 10,
                                      "duration_days": 5, "repeat_every_days": 30,
                                      "cost_per_place_gbp": 2000,
                                      "effects": {"speed_multiplier": 1.2}},
                   "automation": {"start_day": 0, "lab_hours_per_tb": 1.0}}}
    levers = load_levers(write_levers(tmp_path, data), scenario)
    off = levers.scenario_for((0, 0))
    on = levers.scenario_for((1, 1))
    assert off.training == {} and off.automation is None
    assert on.training["tools"].cohorts == 2 and on.automation is not None
    assert levers.fixed_cost_gbp((1, 1)) == 40000 and levers.fixed_cost_gbp((1, 0)) == 0
    assert levers.reference == {"course": 0, "automation": False}
    assert levers.reference_plan() == (0, 0)
    assert scenario_hash(off) == scenario_hash(scenario)


@pytest.mark.parametrize(("levers", "expected"), [
    ({"levers": {"x": {"path": "staff.vid.headcount", "values": [3, 4]}}},
     "levers.x.path (value: 'staff.vid.headcount'): this lever has no cost: "
     "staff.vid.workforce.cost_per_fte_year_gbp is not set"),
    ({"levers": {"x": {"path": "automation", "values": [False, True]}},
      "define": {"automation": {"lab_hours_per_tb": 1.0}}},
     "levers.x.cost_gbp: the scenario has no cost key for this switch"),
    ({"levers": {"x": {"path": "automation"}}},
     "the scenario has no 'automation' block to set; add it to the scenario or under define"),
    ({"levers": {"x": {"path": "staff.examinrs.headcount", "values": [3, 4]}}},
     "no staff pool 'examinrs' in the scenario"),
    ({"levers": {"x": {"path": "run.seed", "values": [3, 4]}}},
     "not a decision variable fbsim can cost"),
    ({"levers": {"x": {"path": "staff.examiners.headcount", "values": {"min": 5, "max": 2}}}},
     "levers.x.values: needs min <= max"),
    ({"levers": {"x": {"path": "staff.examiners.headcount", "valeus": [1]}}},
     "levers.x.valeus: unknown key; did you mean 'values'?"),
    ({"levers": {"x": {"path": "training.tools.cohorts", "values": [0, 1]}}},
     "the scenario has no 'training.tools' block"),
    ({"levers": {"x": {"path": "staff.examiners.headcount", "values": [10, 200000]}}},
     "setting 200000 gives an invalid scenario: staff.examiners.headcount"),
])
def test_bad_levers_are_refused_with_location(costed, tmp_path, levers, expected):
    path = write_levers(tmp_path, levers)
    with pytest.raises(InputFileError) as info:
        load_levers(path, load_scenario(costed))
    text = str(info.value)
    assert expected in text, text
    assert str(path) in text and "Traceback" not in text


def test_every_problem_in_a_levers_file_at_once_with_lines(costed, tmp_path):
    path = write_levers(tmp_path, "levers:\n  a:\n    path: staff.vid.headcount\n    values: [1, 2]\n"
                                  "  b:\n    path: automation\nextra: 1\n")
    with pytest.raises(InputFileError) as info:
        load_levers(path, load_scenario(costed))
    problems = info.value.problems
    assert [p.line for p in problems] == [7]  # the unknown top-level key is reported first
    path.write_text("levers:\n  a:\n    path: staff.vid.headcount\n    values: [1, 2]\n"
                    "  b:\n    path: automation\ndefine:\n  automation: {lab_hours_per_tb: 1.0}\n")
    with pytest.raises(InputFileError) as info:
        load_levers(path, load_scenario(costed))
    assert [(p.key_path, p.line) for p in info.value.problems] == [("levers.a.path", 3),
                                                                    ("levers.b.cost_gbp", 5)]


def test_targets_parse_and_refuse():
    t = make_targets(["backlog_devices_end<=900", "identified_within_90d_share>=0.8"],
                     ["backlog_devices_end=50"], METRICS)
    assert [(x.metric, x.op, x.value, x.tolerance) for x in t] == [
        ("backlog_devices_end", "<=", 900.0, 50.0),
        ("identified_within_90d_share", ">=", 0.8, pytest.approx(0.016))]
    assert t[1].bound().threshold == -0.8
    for bad, words in (("backlog<=3", "unknown metric"), ("backlog_devices_end=<3", "expected"),
                       ("backlog_devices_end<=0", "needs a tolerance")):
        with pytest.raises(TargetError, match=words):
            make_targets([bad], None, METRICS)


SMALL = {"levers": {"examiners": {"path": "staff.examiners.headcount", "values": [25, 35]}}}


def _plan(costed, tmp_path, backend=None, grid=GRID, batch=None):
    scenario = load_scenario(costed)
    levers = load_levers(write_levers(tmp_path, grid), scenario)
    targets = make_targets(["backlog_devices_end<=900"], ["backlog_devices_end=60"], METRICS)
    settings = PlanSettings(seed=7, screen_replications=3, first_stage=5, max_replications=60,
                            batch=batch)
    return find_plan(scenario, levers, targets, settings, backend=backend)


def test_plan_chooses_the_cheapest_plan_that_meets_the_target(costed, tmp_path):
    result = _plan(costed, tmp_path)
    lv = result.levers
    # Screening ran every plan on replications 0-2; the confirmation started at 3.
    assert result.log.method == "grid" and len(result.log.screens) == 6
    assert result.chosen is not None
    chosen = result.confirmed[result.chosen]
    assert lv.settings(result.chosen)["examiners"] == 30
    assert lv.settings(result.chosen)["graders"] == 15  # graders do not help this target
    assert chosen.targets[0].ci_high <= 900 and chosen.cost.mean < result.reference.cost.mean
    rows = result.replications_frame()
    confirm = rows[rows.phase == "confirm"]
    assert confirm.replication.min() == 3
    # Costs are exactly head-count x FTE cost over 120 days (no attrition in the scenario).
    days = 120 / 365.25
    expected = (30 * 55000 + 15 * 65000) * days
    assert chosen.cost.mean == pytest.approx(expected)
    frame = result.plans_frame()
    assert set(frame.outcome) >= {"chosen", "screened"}
    assert "guarantee" not in frame.columns and "97.5%" in result.guarantee()


@pytest.mark.dask
def test_plan_is_the_same_on_processes_and_dask(costed, tmp_path):
    pytest.importorskip("distributed")
    from sim.decision.evaluate import backend_for_session

    # Batches of 4: fewer round trips; results must not depend on the backend.
    serial = _plan(costed, tmp_path, grid=SMALL, batch=4)
    procs = _plan(costed, tmp_path, ProcessBackend(2), grid=SMALL, batch=4)
    with backend_for_session("dask", 2) as backend:
        dask = _plan(costed, tmp_path, backend, grid=SMALL, batch=4)
    assert serial.chosen is not None
    for other in (procs, dask):
        assert other.chosen == serial.chosen
        assert other.replications_frame().equals(serial.replications_frame())


def test_evaluator_runs_each_replication_once(make_mini):
    scenario = make_mini(**{"run.horizon_days": 60})
    ev = Evaluator(seed=3)
    ev.ensure([scenario, scenario], 0, 2)
    ev.ensure([scenario], 1, 3)
    assert ev.replications_run == 3
    again = scenario_from_dict(scenario.model_dump(mode="json"))
    assert ev.values(again, ["backlog_devices_end"], [0, 1, 2]).shape == (3, 1)
    assert np.isfinite(ev.values(scenario, ["cost_total_gbp"], range(3))).all()


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_fbsim_plan_writes_a_results_folder(costed, tmp_path):
    levers = write_levers(tmp_path, GRID)
    out_dir = tmp_path / "plan"
    code, out, err = run_cli("plan", str(costed), "--levers", str(levers),
                             "--target", "backlog_devices_end<=900",
                             "--tolerance", "backlog_devices_end=60", "--screen-reps", "3",
                             "--first-stage", "5", "--max-reps", "60", "--workers", "1",
                             "--out", str(out_dir), "--quiet")
    assert code == 0, err
    assert "chosen plan: examiners=30, graders=15" in out and "guarantee:" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["chosen"]["settings"] == {"examiners": 30, "graders": 15}
    assert summary["chosen"]["targets"]["backlog_devices_end"]["ci95_high"] <= 900
    plans = (out_dir / "plans.csv").read_text().splitlines()
    assert len(plans) == 7 and plans[0].startswith("plan,examiners,graders,")
    assert (out_dir / "cost_vs_target.png").stat().st_size > 10_000
    chosen = load_scenario(out_dir / "chosen_plan.yaml")
    assert chosen.staff["examiners"].headcount == 30
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["written_by"] == "fbsim" and "plans.csv" in manifest["files"]
    # Full precision: the CSV holds the JSON's number exactly.
    rows = (out_dir / "targets.csv").read_text().splitlines()
    assert repr(summary["chosen"]["targets"]["backlog_devices_end"]["mean"]) in rows[1]


def test_fbsim_plan_refuses_bad_input_without_traceback(costed, tmp_path):
    bad = write_levers(tmp_path, {"levers": {"x": {"path": "staff.vid.headcount",
                                                   "values": [1, 2]}}})
    code, _, err = run_cli("plan", str(costed), "--levers", str(bad), "--target",
                           "backlog_devices_end<=900", "--out", str(tmp_path / "never"))
    assert code == 2 and "a lever without a cost is refused" in err and "Traceback" not in err
    code, _, err = run_cli("plan", str(costed), "--levers", str(write_levers(tmp_path, GRID)),
                           "--target", "backlog<=900", "--out", str(tmp_path / "never"))
    assert code == 2 and "unknown metric" in err
    code, _, err = run_cli("plan", str(costed), "--levers", str(tmp_path / "nope.yaml"),
                           "--target", "backlog_devices_end<=900")
    assert code == 2 and "file not found" in err
    assert not (tmp_path / "never").exists()


def test_api_twin_gives_the_cli_s_numbers(costed, tmp_path):
    import sim

    levers = write_levers(tmp_path, SMALL)
    result = sim.plan(costed, levers, ["backlog_devices_end<=900"],
                      tolerances=["backlog_devices_end=60"], screen_replications=3, first_stage=5,
                      max_replications=60, seed=7)
    out_dir = tmp_path / "cli"
    code, _, err = run_cli("plan", str(costed), "--levers", str(levers),
                           "--target", "backlog_devices_end<=900",
                           "--tolerance", "backlog_devices_end=60", "--screen-reps", "3",
                           "--first-stage", "5", "--max-reps", "60", "--workers", "1",
                           "--seed", "7", "--out", str(out_dir), "--quiet", "--no-plots")
    assert code == 0, err
    import pandas as pd

    frame = result.to_frame()
    cli = pd.read_csv(out_dir / "plans.csv")
    assert list(frame.plan) == list(cli.plan)
    assert np.array_equal(frame["screen_cost_gbp_mean"].to_numpy(), cli["screen_cost_gbp_mean"])
    assert list(frame.outcome) == list(cli.outcome)
