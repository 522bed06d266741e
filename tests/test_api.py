"""``sim.run`` and ``sim.compare``: the same numbers as the commands; parallel from a plain script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from sim.experiment.workers import WorkerPool

from .test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_files(mini_data, tmp_path):
    mini_data["run"]["horizon_days"] = 90
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    mini_data["name"] = "more"
    mini_data["staff"]["examiners"]["headcount"] = 45
    option = tmp_path / "more.yaml"
    option.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return base, option


def test_sim_run_gives_the_numbers_of_fbsim_run(two_files, tmp_path):
    base, _ = two_files
    code, _, err = run_cli("run", str(base), "--reps", "2", "--workers", "1", "--tables", "none",
                           "--no-plots", "--quiet", "--out", str(tmp_path / "r"))
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    frame = sim.run(base, reps=2).to_frame()
    for name in ("backlog_devices_end", "lab_wait_median_days", "child_days_at_risk"):
        assert frame.loc[name, "mean"] == summary["metrics"][name]["mean"]
        assert frame.loc[name, "ci_low"] == summary["metrics"][name]["ci95_low"]
    assert (frame["replications_run"] == 2).all()


def test_sim_compare_gives_the_numbers_of_fbsim_compare(two_files, tmp_path):
    base, option = two_files
    code, _, err = run_cli("compare", str(base), str(option), "--reps", "2", "--workers", "1",
                           "--no-plots", "--quiet", "--out", str(tmp_path / "c"))
    assert code == 0, err
    cli = pd.read_csv(tmp_path / "c" / "differences.csv").set_index(["option", "metric"])
    result = sim.compare(sim.load_scenario(base), option, reps=2)
    api = result.to_frame()
    assert list(api.index) == list(cli.index)
    numeric = ["difference", "ci95_low", "ci95_high", "p_value", "p_holm"]
    pd.testing.assert_frame_equal(api[numeric], cli[numeric], check_exact=True)
    reps = result.replications_frame()
    assert set(reps["scenario"]) == {"mini", "more"} and len(reps) == 4
    assert result.base.to_frame().loc["backlog_devices_end", "replications"] == 2


def test_sim_compare_refuses_different_run_settings(mini_data):
    from sim.config import scenario_from_dict, with_overrides

    base = scenario_from_dict(mini_data)
    with pytest.raises(ValueError, match=r"run\.warmup_days"):
        sim.compare(base, with_overrides(base, {"run.warmup_days": 30,
                                                "initial_backlog": {}}), reps=2)
    with pytest.raises(ValueError, match="at least 2 replications"):
        sim.compare(base, base, reps=1)


def test_a_function_of_the_main_script_is_refused_with_a_message():
    import multiprocessing

    def job(x):
        return x

    job.__module__ = "__main__"
    with WorkerPool(multiprocessing.get_context("spawn"), 1) as pool, \
            pytest.raises(ValueError, match="defined in the main script"):
        list(pool.map_unordered(job, [1]))


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc (Linux)")
def test_a_script_without_a_main_guard_runs_in_parallel_and_leaves_no_process(two_files,
                                                                              tmp_path):
    """Workers used to run the script again (forkserver/spawn import ``__main__``) and die."""
    base, option = two_files
    script = tmp_path / "plain_script.py"
    script.write_text(textwrap.dedent(f"""
        import sim
        print("top level", flush=True)
        run = sim.run({str(base)!r}, reps=2, backend="processes", workers=2)
        both = sim.compare({str(base)!r}, [{str(option)!r}], reps=2, backend="processes",
                           workers=2)
        print("RUN", repr(float(run.to_frame().loc["backlog_devices_end", "mean"])))
        print("DIFF", repr(float(both.to_frame()["difference"].iloc[0])))
    """))
    marker = f"FBSIM_TEST_{uuid.uuid4().hex}"
    env = {**os.environ, marker: "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("top level") == 1  # the workers did not run the script again
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    serial_run = sim.run(base, reps=2).to_frame().loc["backlog_devices_end", "mean"]
    serial_diff = sim.compare(base, option, reps=2).to_frame()["difference"].iloc[0]
    assert float(lines["RUN"]) == serial_run
    assert float(lines["DIFF"]) == serial_diff
    assert _processes_with(marker) == []  # no worker, fork server or tracker left behind
