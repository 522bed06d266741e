"""What users see of a run: the printed table, the results folder, the plots, the CLI's
manners (--version, bare fbsim, --help). The HTML report is in test_report.py."""

from __future__ import annotations

import copy
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis.metrics import METRICS
from sim.cli import COMMANDS, main
from sim.results import read_table
from sim.results.folder import foreign_files
from sim.results.headline import headline, render_text
from sim.results.presentation import PRESENTATION, presentation
from sim.results.tables import read_run_table
from tests.conftest import MINI

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def mini_path(tmp_path_factory) -> Path:
    data = copy.deepcopy(MINI)
    data["run"]["horizon_days"] = 150
    path = tmp_path_factory.mktemp("scenario") / "mini.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def run_dir(mini_path, tmp_path_factory) -> tuple[Path, str]:
    """A default run (standard tables, Parquet, plots) of the mini scenario."""
    out_dir = tmp_path_factory.mktemp("runs") / "res"
    code, out, err = run_cli("run", str(mini_path), "--reps", "3", "--workers", "1",
                             "--out", str(out_dir), "--quiet")
    assert code == 0, err
    return out_dir, out


# --- presentation -----------------------------------------------------------------------

def test_every_metric_has_a_presentation_entry():
    missing = [name for name in METRICS if name not in PRESENTATION]
    assert not missing, f"add these metrics to sim/results/presentation.py: {missing}"
    for name in METRICS:
        shown = presentation(name)
        assert shown.known and shown.label and "_" not in shown.label


def test_metric_families_and_unknown_names_get_readable_labels():
    route = presentation("time_to_identify_examination_median_days")
    assert route.known and route.label == "Time to identify, found by examination, median"
    assert presentation("identified_depicted_within_365d_share").direction == "higher"
    later = presentation("time_to_identify_kiosk_median_days")  # a route added later: a rule
    assert later.known and later.label == "Time to identify, kiosk, median"
    wait = presentation("stage_wait.lab_examination.low.p90_days")
    assert wait.label == "Wait for lab examination, low risk, 90th percentile"
    unknown = presentation("brand_new_metric_days")
    assert not unknown.known and unknown.label == "Brand new metric days"


# --- the printed table --------------------------------------------------------------------

def test_printed_table_is_grouped_labelled_and_footnoted(run_dir):
    _, out = run_dir
    for group in ("Children at risk", "Devices and the lab", "Workforce", "Cost"):
        assert f"\n{group}\n" in out
    assert "time_to_identify_median_days" not in out  # labels, not snake_case
    assert "Days at risk in the first year, per child" in out and "↓ better" in out
    # The pooled time to identify hides the children found only on devices: not printed.
    assert "Time to identify a child, median" not in out
    assert "metrics shown; every one is in summary.json" in out
    assert "↑ better" in out and "£m" in out and "%" in out
    # The mini lab is overloaded: its P90 wait is undefined, and the footnote says why.
    flat = " ".join(out.split())  # footnotes are wrapped to the terminal's width
    assert "90th percentile not reached" in flat and "fewer than 90% of devices" in flat
    footnotes = [line for line in out.splitlines() if line[:1] in "¹²³⁴⁵⁶⁷⁸⁹"]
    assert footnotes and all(len(line) <= 100 for line in footnotes)


def test_tail_footnote_explains_median_against_p90_by_class():
    def m(mean):
        return {"mean": mean, "ci95_low": mean, "ci95_high": mean, "unit": "days",
                "replications_defined": 10}

    metrics = {"lab_wait_median_days": m(0.2), "lab_wait_p90_days": m(229.0)}
    for risk, median in (("very_high", 0.03), ("high", 0.04), ("medium", 0.1), ("low", 150.0)):
        metrics[f"stage_wait.lab_examination.{risk}.median_days"] = m(median)
    table = headline(metrics, 10)
    assert len(table.footnotes) == 1
    note = table.footnotes[0]
    assert "median wait is 0.20 days but the 90th percentile is 229 days" in note
    assert "low 150" in note and "long waits fall on low-risk work" in note
    text = render_text(table)
    assert "¹" in text and "Wait for lab examination, 90th percentile ¹" in text
    # A median and P90 that tell the same story get no footnote.
    metrics["lab_wait_p90_days"] = m(0.5)
    assert headline(metrics, 10).footnotes == []


def test_plain_ascii_output_when_the_terminal_cannot_show_arrows():
    text = render_text(headline({"lab_wait_median_days": {
        "mean": 1.0, "ci95_low": 0.5, "ci95_high": 1.5, "unit": "days",
        "replications_defined": 2}}, 2, arrows=False), superscripts=False)
    text.encode("ascii")
    assert "lower better" in text


# --- the results folder --------------------------------------------------------------------

def test_default_folder_has_no_visit_log_and_reads_back(run_dir):
    out_dir, _ = run_dir
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["tables"] == "standard" and manifest["table_format"] == "parquet"
    assert not (out_dir / "tables" / "stage_visits").exists()
    with pytest.raises(FileNotFoundError, match="--tables full"):
        read_table(out_dir, "stage_visits")
    devices = read_table(out_dir, "devices")
    assert sorted(devices["replication"].unique()) == [0, 1, 2]
    assert devices["examined_day"].dtype == np.float64
    for name in ("replication_metrics", "identify_curve", "wait_curves", "waiting_timeseries"):
        assert (out_dir / f"{name}.parquet").is_file()
    assert foreign_files(out_dir) == []


def test_summary_has_stage_waits_and_says_why_a_metric_is_undefined(run_dir):
    out_dir, _ = run_dir
    metrics = json.loads((out_dir / "summary.json").read_text())["metrics"]
    for stage in ("intake", "enforcement", "lab_examination", "image_grading", "database_upload"):
        for stat in ("mean_days", "p90_days"):
            assert f"stage_wait.{stage}.all.{stat}" in metrics
    for risk in ("very_high", "high", "medium", "low"):
        assert f"stage_wait.lab_examination.{risk}.p90_days" in metrics
    assert "stage_wait.safeguarding.all.mean_days" not in metrics  # a delay, no queue
    p90 = metrics["lab_wait_p90_days"]
    assert p90["mean"] is None and "fewer than 90%" in p90["note"]
    assert "note" not in metrics["cases_referred"]
    # The stage wait of the lab is the same estimate as the lab's own metric.
    assert (metrics["stage_wait.lab_examination.all.median_days"]["mean"]
            == pytest.approx(metrics["lab_wait_median_days"]["mean"], rel=1e-12))


@pytest.mark.parametrize("tables,fmt", [("full", "csv"), ("none", "parquet")])
def test_full_tables_and_csv_and_none(mini_path, tmp_path, tables, fmt):
    out_dir = tmp_path / "res"
    code, _, err = run_cli("run", str(mini_path), "--reps", "2", "--workers", "1", "--quiet",
                           "--no-plots", "--tables", tables, "--format", fmt,
                           "--out", str(out_dir))
    assert code == 0, err
    if tables == "full":
        visits = read_table(out_dir, "stage_visits")
        assert set(visits["replication"]) == {0, 1}
        assert (out_dir / "tables" / "devices" / "rep-00000.csv").is_file()
        assert (out_dir / "identify_curve.csv").is_file()
    else:
        assert not (out_dir / "tables").exists()
        routes = set(read_run_table(out_dir, "identify_curve")["route"])
        assert "all" in routes and len(routes) >= 2  # one curve per route, and all


def test_parquet_and_csv_hold_the_same_values(mini_path, tmp_path):
    frames = {}
    for fmt in ("parquet", "csv"):
        out_dir = tmp_path / fmt
        code, _, err = run_cli("run", str(mini_path), "--reps", "1", "--workers", "1",
                               "--quiet", "--no-plots", "--format", fmt, "--out", str(out_dir))
        assert code == 0, err
        frames[fmt] = read_table(out_dir, "children")
    a, b = frames["parquet"], frames["csv"]
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        if a[column].dtype.kind == "f":
            # Both keep floats exactly: Parquet the float64 itself, CSV its shortest repr.
            assert np.array_equal(a[column].to_numpy(float), b[column].to_numpy(float),
                                  equal_nan=True), column
        else:
            # An empty text cell reads back from CSV as missing; Parquet keeps "".
            same = a[column].fillna("").astype(str) == b[column].fillna("").astype(str)
            assert same.all(), column


# --- plots ------------------------------------------------------------------------------------

def test_run_draws_the_house_figures(run_dir):
    out_dir, _ = run_dir
    for png in ("time_to_identification.png", "backlog_devices.png", "backlog_by_stage.png",
                "wait_ecdf.png", "staff.png"):
        assert (out_dir / png).stat().st_size > 20_000, png


def test_figures_are_titled_labelled_and_only_show_stages_with_work(run_dir):
    from sim.plots.run_plots import run_figures

    out_dir, _ = run_dir
    figures = run_figures(out_dir)
    for name, fig in figures.items():
        assert fig.get_suptitle().startswith("mini: "), name
        for ax in fig.axes:
            assert ax.get_ylabel(), (name, ax.get_title())
    waiting = read_run_table(out_dir, "waiting_timeseries")
    held = {s for s, top in waiting.groupby("stage")["waiting"].max().items()
            if top > 0 and s != "backlog_devices"}
    titles = {ax.get_title().lower() for ax in figures["backlog_by_stage.png"].axes}
    assert len(titles) == len(held)
    assert "safeguarding (social care)" not in titles
    curve = figures["time_to_identification.png"].axes[0]
    labels = {t.get_text() for t in curve.texts}
    assert {"7 days", "30 days", "90 days"} <= labels  # labelled target lines
    assert curve.get_xscale() == "function"  # log(1 + days)


def test_fbsim_plot_redraws_and_lists_its_files(run_dir, tmp_path):
    out_dir, _ = run_dir
    (out_dir / "staff.png").unlink()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    code, out, err = run_cli("plot", str(out_dir))
    assert code == 0, err
    assert (out_dir / "staff.png").is_file() and "staff.png" in out
    assert foreign_files(out_dir) == []
    assert "staff.png" in json.loads((out_dir / "manifest.json").read_text())["files"]
    assert manifest["files"] == json.loads((out_dir / "manifest.json").read_text())["files"]


def test_fbsim_plot_refuses_folders_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    code, _, err = run_cli("plot", str(mine))
    assert code == 2 and "not a results folder written by fbsim" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    code, _, err = run_cli("plot", str(tmp_path / "absent"))
    assert code == 2 and "no such results folder" in err


def test_fbsim_plot_refuses_a_results_folder_holding_a_users_file(mini_path, tmp_path):
    out_dir = tmp_path / "res"
    assert run_cli("run", str(mini_path), "--reps", "1", "--workers", "1", "--quiet",
                   "--tables", "none", "--no-plots", "--out", str(out_dir))[0] == 0
    (out_dir / "thesis.tex").write_text("mine")
    code, _, err = run_cli("plot", str(out_dir))
    assert code == 2 and "thesis.tex" in err
    assert not list(out_dir.glob("*.png"))


def test_wait_curve_never_invents_a_finite_p90():
    from sim.plots.figures import wait_ecdfs

    days = np.array([0.0, 10.0, 100.0])
    frame = pd.DataFrame({"stage": "lab_examination", "group": "all", "wait_days": days,
                          "started_share_mean": [0.1, 0.5, math.nan],
                          "ci95_low": [0.05, 0.4, math.nan], "ci95_high": [0.15, 0.6, math.nan]})
    fig = wait_ecdfs(frame, "s")
    assert fig is not None
    line = fig.axes[0].lines[0]
    assert max(line.get_xdata()) == 10.0  # nothing drawn past the longest wait observed


# --- the command line's manners -----------------------------------------------------------------

def test_version_and_bare_fbsim():
    done = subprocess.run([sys.executable, "-m", "sim", "--version"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 0 and done.stdout.startswith("fbsim ")
    done = subprocess.run([sys.executable, "-m", "sim"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 2
    listed = [line.split()[0] for line in done.stderr.splitlines() if line.startswith("    ")]
    assert set(COMMANDS) <= set(listed)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_no_doubled_percent(command):
    args = ["--help"] if command is None else [command, "--help"]
    done = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert "%%" not in done.stdout
