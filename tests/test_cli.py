"""The command line as a planner uses it: outputs, exit codes, readable errors."""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.cli import main


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_run_writes_summary_manifest_tables_and_plots(mini_file, tmp_path):
    out_dir = tmp_path / "res"
    code, out, err = run_cli("run", str(mini_file), "--reps", "2", "--seed", "4", "--workers", "1",
                             "--out", str(out_dir), "--quiet")
    assert code == 0, err
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["scenario"] == "mini" and summary["replications"] == 2 and summary["seed"] == 4
    for name in ("time_to_identify_median_days", "time_to_identify_p90_days",
                 "identified_within_30d_share", "child_days_at_risk", "lab_wait_median_days",
                 "backlog_devices_end"):
        metric = summary["metrics"][name]
        assert set(metric) >= {"mean", "ci95_low", "ci95_high", "unit"}
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert len(manifest["scenario_sha256"]) == 64
    assert manifest["seed"] == 4 and manifest["replications"] == 2
    assert manifest["package_version"] and manifest["wall_seconds"] > 0
    # The resolved scenario written beside the results is the scenario that ran.
    from sim.config import load_scenario, scenario_hash

    assert (scenario_hash(load_scenario(out_dir / "scenario.yaml"))
            == scenario_hash(load_scenario(mini_file)) == manifest["scenario_sha256"])
    for png in ("backlog_devices.png", "backlog_by_stage.png", "time_to_identification.png",
                "wait_ecdf.png", "staff.png"):
        assert (out_dir / png).stat().st_size > 10_000
    # The default: Parquet (pyarrow is a dependency), every table but the per-visit log.
    for table in ("cases", "devices", "children", "stage_timeseries", "staff_timeseries"):
        assert len(list((out_dir / "tables" / table).glob("rep-*.parquet"))) == 2
    assert not (out_dir / "tables" / "stage_visits").exists()
    assert manifest["tables"] == "standard" and manifest["table_format"] == "parquet"
    assert "Days at risk in the first year, per child" in out and "95% CI" in out


def test_bad_scenario_exit_2_with_location_and_no_traceback(mini_data, tmp_path):
    mini_data["stages"]["lab_examination"]["discipine"] = "fifo"
    mini_data["demand"]["referrals_per_year"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    code, _, err = run_cli("run", str(bad), "--out", str(tmp_path / "never"))
    assert code == 2
    assert "Traceback" not in err
    assert "stages.lab_examination.discipine" in err and "did you mean 'discipline'" in err
    assert "demand.referrals_per_year (value: -1)" in err
    assert f"{bad}:" in err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("args", [["run", "missing.yaml"], ["validate", "missing.yaml"]])
def test_missing_file_is_a_clear_error(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(*args)
    assert code == 2 and "not found" in err and "Traceback" not in err


def test_bad_options_exit_2(mini_file):
    for args in (["run", str(mini_file), "--reps", "0"], ["run", str(mini_file), "--seed", "x"],
                 ["frobnicate"]):
        code, _, _ = run_cli(*args)
        assert code == 2


def test_validate_reports_traffic_intensity_and_warns(mini_data, mini_file, tmp_path):
    code, out, _ = run_cli("validate", str(mini_file))
    assert code == 0 and "valid" in out and "lab_examination" in out and "rho" in out
    mini_data["staff"]["examiners"]["headcount"] = 1
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump(mini_data))
    code, out, _ = run_cli("validate", str(over))
    assert code == 0 and "WARNING: overloaded" in out
    code, _, _ = run_cli("validate", "--strict", str(over))
    assert code == 2


def test_python_dash_m_sim_works(mini_file):
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(mini_file)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


def test_compare_prints_paired_differences(mini_data, mini_file, tmp_path):
    mini_data["run"]["horizon_days"] = 120
    mini_data["name"] = "more-examiners"
    mini_data["staff"]["examiners"]["headcount"] = 60
    option = tmp_path / "more.yaml"
    option.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    code, out, err = run_cli("compare", str(mini_file), str(option), "--reps", "3",
                             "--workers", "1", "--metrics", "lab_wait_median_days",
                             "backlog_devices_end", "--out", str(tmp_path / "res"), "--no-plots")
    assert code == 0, err
    assert "more-examiners - mini" in out
    line = next(row for row in out.splitlines() if row.startswith("backlog_devices_end"))
    assert line.rstrip().endswith("*")  # 30 -> 60 examiners: fewer devices waiting, surely
    code, _, err = run_cli("compare", str(mini_file), str(option), "--metrics", "nope")
    assert code == 2 and "unknown metric" in err


def test_compare_reports_child_days_saved_per_million(mini_data, mini_file, tmp_path):
    for pool in mini_data["staff"].values():
        pool["workforce"] = {"cost_per_fte_year_gbp": 50_000}
    base = tmp_path / "costed.yaml"
    base.write_text(yaml.safe_dump({**mini_data, "name": "costed"}, sort_keys=False))
    mini_data["name"] = "more-staff"
    mini_data["staff"]["examiners"]["headcount"] = 60
    mini_data["staff"]["hub"]["headcount"] = 12
    option = tmp_path / "more.yaml"
    option.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    code, out, err = run_cli("compare", str(base), str(option), "--reps", "3", "--workers", "1",
                             "--out", str(tmp_path / "res"), "--no-plots")
    assert code == 0, err
    assert "child-days at risk saved per £1m" in out
    assert "cost_total_gbp" in out
    # By default the children are shown by route, not pooled.
    assert "days_at_risk_first_year_examination_mean" in out
    assert "time_to_identify_median_days" not in out


@pytest.mark.parametrize("content", [b"", b"- 1\n- 2\n", b"\xff\xfe\x00junk", b"name: [unclosed\n",
                                     b"{{{{", b"name: x\n" * 3])
def test_garbage_files_get_a_clear_error(content, tmp_path):
    path = tmp_path / "junk.yaml"
    path.write_bytes(content)
    code, _, err = run_cli("validate", str(path))
    assert code == 2
    assert "Traceback" not in err and str(path) in err


def test_check_compares_a_plain_queue_with_erlang_c(tmp_path):
    root = Path(__file__).resolve().parents[1]
    code, out, err = run_cli("check", str(root / "scenarios/teaching/mmc-lab.yaml"), "--reps", "3",
                             "--workers", "1")
    assert code == 0, err + out
    assert "M/M/c" in out and "lab_examination" in out and "no stage flagged" in out
    code, _, err = run_cli("check", str(root / "scenarios/teaching/mmc-lab.yaml"),
                           "--tolerance", "-1")
    assert code == 2 and "--tolerance" in err


@pytest.mark.parametrize("preset", [None, "3"])
def test_fbsim_asks_blas_for_one_thread_unless_the_user_chose(preset, mini_file, monkeypatch):
    from sim.cli import BLAS_THREAD_SETTINGS

    for name in BLAS_THREAD_SETTINGS:
        if preset is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, preset)
    code, _out, _err = run_cli("validate", str(mini_file))
    assert code == 0
    for name in BLAS_THREAD_SETTINGS:
        assert os.environ[name] == (preset or "1")


@pytest.mark.parametrize(("exiting", "already_frozen", "freezes", "unfreezes"), [
    (False, 0, 1, 1),   # a notebook or test calling main(): its heap is left as it was
    (True, 0, 1, 0),    # the fbsim command: frozen until the process ends
    (False, 5, 0, 0),   # someone froze objects before: not ours to touch
])
def test_run_freezes_start_up_objects_and_leaves_a_callers_heap_alone(
        exiting, already_frozen, freezes, unfreezes, mini_file, tmp_path, monkeypatch):
    import gc

    calls: list[str] = []
    monkeypatch.setattr(gc, "get_freeze_count", lambda: already_frozen)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", str(mini_file), "--reps", "1", "--workers", "1", "--tables", "none",
                 "--no-plots", "--quiet", "--out", str(tmp_path / "r")], out=out, err=err,
                exiting=exiting)
    assert code == 0, err.getvalue()
    assert calls.count("freeze") == freezes and calls.count("unfreeze") == unfreezes
    assert calls[:1] == (["freeze"] if freezes else [])


def test_the_fbsim_command_runs_as_a_process_of_its_own(mini_file, tmp_path):
    # python -m sim and the console script both go through sim.__main__.entry: the
    # collector paused for start-up, main(exiting=True).
    done = subprocess.run([sys.executable, "-m", "sim", "run", str(mini_file), "--reps", "1",
                           "--workers", "1", "--tables", "none", "--no-plots", "--quiet",
                           "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["replications"] == 1


def test_the_command_starts_up_with_the_collector_paused_and_resumes_it(mini_file, tmp_path,
                                                                        monkeypatch):
    import gc

    from sim.__main__ import entry

    paused_at_freeze: list[bool] = []
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 0)
    monkeypatch.setattr(gc, "freeze", lambda: paused_at_freeze.append(not gc.isenabled()))
    monkeypatch.setattr(sys, "argv", ["fbsim", "run", str(mini_file), "--reps", "1",
                                      "--workers", "1", "--tables", "none", "--no-plots",
                                      "--quiet", "--out", str(tmp_path / "r")])
    try:
        with pytest.raises(SystemExit) as done:
            entry()
    finally:
        was_enabled = gc.isenabled()
        gc.enable()
    assert done.value.code == 0
    assert paused_at_freeze == [True]  # start-up ran with the collector paused
    assert was_enabled  # and the run itself with it on


def test_host_facts_asked_for_in_the_background_are_the_host_facts():
    from sim.results.provenance import git_sha, host_facts_later

    wait = host_facts_later()
    facts = wait()
    assert facts["git_sha"] == git_sha()
    assert facts["platform"] == platform.platform() and facts["platform"]
    assert wait() == facts  # asking again waits for nothing
