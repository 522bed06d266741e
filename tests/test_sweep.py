"""Sweeps: designs parsed and checked before running, points on common random numbers,
identical on every backend, the same from the API and the command line."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.config import with_overrides
from sim.experiment import ProcessBackend, SerialBackend, run_experiment
from sim.experiment.autoreps import STOPPED_CAP, STOPPED_PRECISION, PrecisionRule
from sim.experiment.design import (
    DesignError,
    design_points,
    grid_points,
    lhs_points,
    parse_levers,
    parse_vary,
    point_scenarios,
)
from sim.experiment.sweep import run_sweep, run_sweep_auto
from sim.results.tables import read_run_table

HEADCOUNT = "staff.examiners.headcount"


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


@pytest.fixture
def short(make_mini):
    return make_mini(**{"run.horizon_days": 80})


# --- designs -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "values"), [
    ("a.b=20:60:10", (20, 30, 40, 50, 60)),
    ("a.b=20:58:10", (20, 30, 40, 50)),
    ("a.b=20,45,30", (20, 45, 30)),
    ("a.b=7", (7,)),
    ("a.b=0.1:0.3:0.1", (0.1, 0.2, 0.3)),
    ("a.b=0:1:0.25", (0.0, 0.25, 0.5, 0.75, 1.0)),
    ("a.b=1,2.5", (1.0, 2.5)),
    (" a.b = 1e-2,2e-2", (0.01, 0.02)),
])
def test_specs_expand_to_values(text, values):
    lever = parse_vary(text)
    assert lever.values == values
    assert all(type(v) is type(values[0]) for v in lever.values)
    assert lever.integer == isinstance(values[0], int)


@pytest.mark.parametrize(("text", "design", "message"), [
    ("a.b", "grid", "expected PATH=SPEC"),
    ("=1,2", "grid", "expected PATH=SPEC"),
    ("a.b=", "grid", "expected PATH=SPEC"),
    ("a.b=20:60", "grid", "needs a step"),
    ("a.b=60:20:5", "grid", "below its start"),
    ("a.b=20:60:0", "grid", "step must be positive"),
    ("a.b=20:60:-5", "grid", "step must be positive"),
    ("a.b=1:2:3:4", "grid", "start:stop:step"),
    ("a.b=ten,20", "grid", "'ten' is not a number"),
    ("a.b=nan,1", "grid", "not a finite number"),
    ("a.b=1,2,1", "grid", "appears twice"),
    ("a.b=0:1000000:1", "grid", "at most"),
    ("a.b=20,30", "lhs", "needs a range lo:hi"),
    ("a.b=20:60:5", "lhs", "leave out the step"),
    ("a.b=20:20", "lhs", "lo < hi"),
])
def test_bad_specs_name_the_option_and_value(text, design, message):
    with pytest.raises(DesignError, match=message) as info:
        parse_vary(text, design)
    assert "--vary" in str(info.value) and text.strip() in str(info.value)


def test_grid_is_the_product_first_lever_slowest():
    levers = parse_levers(["x=1:2:1", "y=0.5,1.5,2.5"])
    points = grid_points(levers)
    assert points == [{"x": 1, "y": 0.5}, {"x": 1, "y": 1.5}, {"x": 1, "y": 2.5},
                      {"x": 2, "y": 0.5}, {"x": 2, "y": 1.5}, {"x": 2, "y": 2.5}]
    with pytest.raises(DesignError, match="more than once"):
        parse_levers(["x=1,2", "x=3"])
    with pytest.raises(DesignError, match="at most"):
        grid_points(parse_levers([f"v{i}=1:10:1" for i in range(5)]))
    with pytest.raises(DesignError, match="--samples is for --design lhs"):
        design_points(levers, "grid", samples=4)
    with pytest.raises(DesignError, match="needs --samples"):
        design_points(parse_levers(["x=1:2"], "lhs"), "lhs")


def test_lhs_is_stratified_seeded_and_rounds_whole_levers(short):
    levers = parse_levers([f"{HEADCOUNT}=10.0:50.0", "demand.annual_growth_rate=0:0.2",
                           "a.c=0:8"], "lhs")
    points = lhs_points(levers, 8, seed=3, base=short)
    assert points == lhs_points(levers, 8, seed=3, base=short)
    assert points != lhs_points(levers, 8, seed=4, base=short)
    growth = np.array([p["demand.annual_growth_rate"] for p in points])
    # one draw in each eighth of the range: the Latin hypercube property
    assert sorted(np.floor(growth / 0.2 * 8).astype(int).tolist()) == list(range(8))
    # a headcount is a whole number in the scenario: rounded though written 10.0:50.0
    assert all(type(p[HEADCOUNT]) is int and 10 <= p[HEADCOUNT] <= 50 for p in points)
    assert all(type(p["a.c"]) is int for p in points)  # bounds written as whole numbers
    assert all(isinstance(p["demand.annual_growth_rate"], float) for p in points)


def test_points_are_checked_before_anything_runs(short):
    with pytest.raises(DesignError, match="did you mean 'headcount'"):
        point_scenarios(short, [{"staff.examiners.headcont": 3}])
    with pytest.raises(DesignError, match=r"staff.examiners.headcount=-1 is not a valid"):
        run_sweep(short, [{HEADCOUNT: 5}, {HEADCOUNT: -1}], 1, 1,
                  backend=_Exploding())


class _Exploding(SerialBackend):
    def map_unordered(self, fn, tasks):  # pragma: no cover - must not be reached
        raise AssertionError("ran before the points were checked")


# --- common random numbers ---------------------------------------------------------

def test_each_point_equals_a_run_of_its_scenario_with_the_same_seed(short):
    points = [{HEADCOUNT: 8}, {HEADCOUNT: 40}]
    result = run_sweep(short, points, 2, seed=11)
    assert result.replications == 2 and len(result.runs) == 2
    for point, reps in zip(points, result.runs, strict=True):
        alone = run_experiment(with_overrides(short, point), 2, 11)
        assert [r.replication for r in reps] == [0, 1]
        for mine, theirs in zip(reps, alone.replications, strict=True):
            assert _same(mine.metrics, theirs.metrics)
    # the lever matters, so the check above could fail
    a, b = (r[0].metrics["backlog_devices_end"] for r in result.runs)
    assert a > b
    # common random numbers: the referrals are the same at every point
    assert [r.metrics["cases_referred"] for r in result.runs[0]] == \
           [r.metrics["cases_referred"] for r in result.runs[1]]


def test_replications_are_indexed_as_in_a_longer_sweep(short):
    points = [{HEADCOUNT: 10}, {HEADCOUNT: 30}]
    both = run_sweep(short, points, 2, seed=5)
    second = run_sweep(short, points, 1, seed=5, first_replication=1)
    for i in range(2):
        assert second.runs[i][0].replication == 1
        assert _same(second.runs[i][0].metrics, both.runs[i][1].metrics)


def test_frames_are_tidy_and_full_precision(short):
    result = run_sweep(short, [{HEADCOUNT: 10}, {HEADCOUNT: 30}], 3, seed=2)
    tidy = result.to_frame()
    names = result.metric_names()
    assert len(tidy) == 2 * len(names)
    assert list(tidy.columns[:3]) == ["point", HEADCOUNT, "metric"]
    row = tidy[(tidy.point == 1) & (tidy.metric == "backlog_devices_end")].iloc[0]
    values = np.array(result.values(1, "backlog_devices_end"))
    assert row["mean"] == values.mean() and row["replications"] == 3
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert row["half_width"] == pytest.approx(half, rel=1e-12)
    assert row["ci_low"] == pytest.approx(max(0.0, values.mean() - half), rel=1e-12)
    reps = result.replications_frame()
    assert len(reps) == 6 and {"point", HEADCOUNT, "replication", *names} <= set(reps.columns)
    assert reps[reps.point == 1]["backlog_devices_end"].tolist() == values.tolist()


# --- replication control in a sweep ------------------------------------------------

def test_auto_sweep_equals_a_fixed_sweep_of_its_final_count(short):
    points = [{HEADCOUNT: 10}, {HEADCOUNT: 30}]
    rule = PrecisionRule(precision=0.001, initial=2, max_reps=4, batch=1)
    auto = run_sweep_auto(short, points, 9, ["backlog_devices_end"], rule)
    assert auto.auto is not None and auto.auto.stopped == STOPPED_CAP
    assert auto.replications == 4 and auto.auto.checks == [2, 3, 4]
    fixed = run_sweep(short, points, 4, 9)
    pd.testing.assert_frame_equal(auto.to_frame(), fixed.to_frame())
    keys = set(auto.auto.quantities)
    assert keys == {"point 0: backlog_devices_end", "point 1: backlog_devices_end"}


def test_auto_sweep_stops_when_every_point_is_precise(short):
    rule = PrecisionRule(precision=0.5, initial=2, max_reps=6, batch=1)
    auto = run_sweep_auto(short, [{HEADCOUNT: 10}, {HEADCOUNT: 30}], 9, ["cases_referred"], rule)
    assert auto.auto.stopped == STOPPED_PRECISION
    for i in range(2):
        v = np.array(auto.values(i, "cases_referred"))
        from scipy import stats

        half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
        assert half <= 0.5 * v.mean()


# --- backends ----------------------------------------------------------------------

def test_serial_equals_processes(short):
    points = [{HEADCOUNT: 10}, {HEADCOUNT: 30}]
    serial = run_sweep(short, points, 2, seed=4)
    parallel = run_sweep(short, points, 2, seed=4, backend=ProcessBackend(2))
    pd.testing.assert_frame_equal(serial.replications_frame().drop(columns="seconds"),
                                  parallel.replications_frame().drop(columns="seconds"))
    pd.testing.assert_frame_equal(serial.to_frame(), parallel.to_frame())


@pytest.mark.dask
def test_dask_local_cluster_equals_serial(short):
    pytest.importorskip("distributed")
    from sim.experiment import DaskBackend

    points = [{HEADCOUNT: 10}, {HEADCOUNT: 30}]
    serial = run_sweep(short, points, 2, seed=4)
    dask = run_sweep(short, points, 2, seed=4, backend=DaskBackend(None, workers=2))
    pd.testing.assert_frame_equal(serial.to_frame(), dask.to_frame())


# --- API and command line ----------------------------------------------------------

def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_api_and_cli_give_the_same_numbers(mini_file, tmp_path):
    api = sim.sweep(mini_file, {HEADCOUNT: [10, 30]}, reps=2, seed=3, backend="serial")
    assert api.specs == [f"{HEADCOUNT}=10,30"]
    out = tmp_path / "swept"
    code, stdout, stderr = _cli("sweep", str(mini_file), "--vary", f"{HEADCOUNT}=10:30:20",
                                "--reps", "2", "--seed", "3", "--workers", "2", "--out", str(out),
                                "--target", "lab_wait_median_days=20", "--quiet")
    assert code == 0, stderr
    assert "2 points x 2 replications" in stdout and HEADCOUNT in stdout
    written = read_run_table(out, "sweep_points")
    pd.testing.assert_frame_equal(written, api.to_frame(), check_dtype=False)
    reps = read_run_table(out, "sweep_replications")
    mine = api.replications_frame()
    pd.testing.assert_frame_equal(reps.drop(columns="seconds"), mine.drop(columns="seconds"),
                                  check_dtype=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 2 and len(summary["points"]) == 2
    assert summary["points"][1]["levers"] == {HEADCOUNT: 30}
    assert "lab_wait_median_days" in summary["points"][0]["metrics"]  # added by --target
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["vary"] == [f"{HEADCOUNT}=10:30:20"] and manifest["written_by"] == "fbsim"
    assert manifest["points"] == 2 and manifest["scenario_sha256"]
    from matplotlib.image import imread

    image = imread(out / "sweep_curves.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400


def test_cli_auto_records_the_precision(mini_file, tmp_path):
    out = tmp_path / "auto"
    code, stdout, stderr = _cli("sweep", str(mini_file), "--vary", f"{HEADCOUNT}=10,30",
                                "--reps", "auto", "--initial-reps", "2", "--max-reps", "3",
                                "--precision", "0.001", "--workers", "1", "--out", str(out),
                                "--metrics", "backlog_devices_end", "--no-plots")
    assert code == 0, stderr
    assert "stopped at the cap of 3" in stdout
    summary = json.loads((out / "summary.json").read_text())
    control = summary["replication_control"]
    assert control["stopped_at"] == "cap" and control["replications"] == 3
    assert set(control["quantities"]) == {"point 0: backlog_devices_end",
                                          "point 1: backlog_devices_end"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replication_control"] == control and manifest["replications"] == 3
    assert not (out / "sweep_curves.png").exists()


def test_cli_refuses_a_folder_it_did_not_write(mini_file, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, stderr = _cli("sweep", str(mini_file), "--vary", f"{HEADCOUNT}=10,30",
                           "--reps", "1", "--out", str(mine))
    assert code == 2 and "was not written by fbsim" in stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--vary", "staff.examiners.headcont=1,2"], "did you mean 'headcount'"),
    (["--vary", f"{HEADCOUNT}=20:60"], "needs a step"),
    (["--vary", f"{HEADCOUNT}=1,2", "--metrics", "lab_wait_p99_days"], "unknown metric"),
    (["--vary", f"{HEADCOUNT}=1,2", "--target", "lab_wait_p90_days"], "METRIC=VALUE"),
    (["--vary", f"{HEADCOUNT}=1,2", "--precision", "0.1"], "only apply with --reps auto"),
    (["--vary", f"{HEADCOUNT}=1,2", "--design", "lhs", "--samples", "3"], "needs a range"),
    (["--vary", f"{HEADCOUNT}=1,2", "--reps", "many"], "or 'auto'"),
])
def test_cli_bad_input_is_a_message_not_a_traceback(mini_file, tmp_path, argv, message):
    code, out, err = _cli("sweep", str(mini_file), *argv, "--out", str(tmp_path / "x"))
    assert code == 2 and message in out + err and "Traceback" not in out + err
    assert not (tmp_path / "x").exists()


def test_run_reps_auto_equals_a_fixed_run(mini_file, tmp_path):
    auto, fixed = tmp_path / "auto", tmp_path / "fixed"
    code, stdout, stderr = _cli("run", str(mini_file), "--reps", "auto", "--initial-reps", "2",
                                "--max-reps", "3", "--precision", "0.001", "--workers", "1",
                                "--precision-metrics", "backlog_devices_end",
                                "--tables", "none", "--no-plots", "--out", str(auto))
    assert code == 0, stderr
    assert "stopped at the cap of 3" in stdout
    summary = json.loads((auto / "summary.json").read_text())
    assert summary["replications"] == 3
    assert summary["replication_control"]["stopped_at"] == "cap"
    manifest = json.loads((auto / "manifest.json").read_text())
    assert manifest["replication_control"] == summary["replication_control"]
    code, _, stderr = _cli("run", str(mini_file), "--reps", "3", "--workers", "1",
                           "--tables", "none", "--no-plots", "--out", str(fixed))
    assert code == 0, stderr
    assert json.loads((fixed / "summary.json").read_text())["metrics"] == summary["metrics"]
    assert (auto / "replication_metrics.parquet").exists() or \
        (auto / "replication_metrics.csv").exists()
    a, b = read_run_table(auto, "replication_metrics"), read_run_table(fixed, "replication_metrics")
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))


def test_lhs_from_the_api(mini_file):
    result = sim.sweep(mini_file, {HEADCOUNT: (10, 40)}, reps=1, design="lhs", samples=3,
                       seed=2, backend="serial")
    assert result.design == "lhs" and result.specs == [f"{HEADCOUNT}=10:40"]
    base = sim.load_scenario(mini_file)
    assert result.points == lhs_points(parse_levers([f"{HEADCOUNT}=10:40"], "lhs"), 3, 2, base)
    assert len({p[HEADCOUNT] for p in result.points}) == 3
    with pytest.raises(DesignError, match="reps='lots'"):
        sim.sweep(mini_file, {HEADCOUNT: [10]}, reps="lots", backend="serial")
    with pytest.raises(DesignError, match="an LHS lever is a"):
        sim.sweep(mini_file, {HEADCOUNT: [10, 20, 30]}, design="lhs", samples=2)


def test_sweep_is_public():
    assert "sweep" in sim.__all__ and callable(sim.sweep)
    assert Path(sim.sweep.__code__.co_filename).name == "sweep_api.py"
