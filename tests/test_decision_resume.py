"""Resuming ``fbsim plan`` and ``fbsim sensitivity``: the same decisions, the same files.

A plan run is killed (SIGKILL, a process of its own) or interrupted (Ctrl-C, in
process) part-way, resumed with the command it printed, and its results folder is
compared with an uninterrupted run's: every file byte for byte except
``manifest.json``, whose facts of when, where and how the run ran may differ
(docs/planning.md, "Resuming"). No (scenario, replication) runs twice: the resumed
session runs exactly the replications the journal did not hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.decision import journal_store
from sim.results.folder import incomplete_path
from sim.results.journal import JOURNAL, journal_entries

from .test_cli import run_cli
from .test_interrupts import assert_nothing_left_running, running_in_session, wait_until

ROOT = Path(__file__).resolve().parents[1]
GRID = {"levers": {"examiners": {"path": "staff.examiners.headcount",
                                 "values": {"min": 20, "max": 40, "step": 10}},
                   "graders": {"path": "staff.graders.headcount", "values": [15, 25]}}}
PLAN_OPTIONS = ["--target", "backlog_devices_end<=900", "--tolerance", "backlog_devices_end=60",
                "--screen-reps", "3", "--first-stage", "5", "--max-reps", "60", "--seed", "7"]
#: manifest.json keys that say when, where and how a run ran, not what it found.
RUN_FACTS = {"started_utc", "wall_seconds", "git_sha", "platform", "backend", "workers",
             "resumed", "python", "scenario_file", "levers_file", "parameters_file"}

posix_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.name != "posix",
                                reason="reads processes from /proc")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """The mini scenario over 120 days with costed pools, and a 6-plan levers file."""
    from .conftest import MINI

    folder = tmp_path_factory.mktemp("inputs")
    data = json.loads(json.dumps(MINI))
    data["run"]["horizon_days"] = 120
    for pool, cost in {"examiners": 55000, "graders": 65000}.items():
        data["staff"][pool]["workforce"] = {"cost_per_fte_year_gbp": cost}
    scenario = folder / "costed.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    levers = folder / "levers.yaml"
    levers.write_text(yaml.safe_dump(GRID, sort_keys=False))
    return scenario, levers


@pytest.fixture(scope="module")
def clean_plan(inputs, tmp_path_factory) -> Path:
    """An uninterrupted plan run: what every resumed run must reproduce."""
    scenario, levers = inputs
    out = tmp_path_factory.mktemp("clean") / "plan"
    code, _, err = run_cli("plan", str(scenario), "--levers", str(levers), *PLAN_OPTIONS,
                           "--workers", "2", "--quiet", "--out", str(out))
    assert code == 0, err
    return out


def assert_same_results(resumed: Path, clean: Path) -> None:
    """Every file of ``clean`` is in ``resumed`` with the same bytes; manifests agree on facts."""
    files = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(resumed).as_posix()
                           for p in resumed.rglob("*") if p.is_file())
    assert "summary.json" in files and JOURNAL not in files
    for name in files:
        if name != "manifest.json":
            assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    manifests = [json.loads((f / "manifest.json").read_text()) for f in (resumed, clean)]
    for m in manifests:
        assert m["complete"] is True
        for key in RUN_FACTS:
            m.pop(key, None)
    assert manifests[0] == manifests[1]


def resume_command(err: str) -> list[str]:
    """The arguments of the command an interruption message says continues the run."""
    line = err.strip().splitlines()[-1]
    assert "continue with: fbsim " in line, err
    return shlex.split(line.split("continue with: ", 1)[1])[1:]


@pytest.fixture
def session_reaper():
    """Kill, by pid, whatever is left of the sessions a test started (a failing test too)."""
    sessions: list[int] = []
    yield sessions
    for sid in sessions:
        for pid in running_in_session(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@posix_proc
def test_plan_resumed_after_sigkill_writes_the_files_of_an_uninterrupted_run(
        inputs, clean_plan, tmp_path, session_reaper):
    scenario, levers = inputs
    out = tmp_path / "plan"
    staging = incomplete_path(out)
    log = tmp_path / "err.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "plan", str(scenario), "--levers", str(levers),
             *PLAN_OPTIONS, "--workers", "2", "--out", str(out)],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err_file, text=True,
            start_new_session=True)
    session_reaper.append(proc.pid)
    total = json.loads((clean_plan / "summary.json").read_text())["replications_run"]

    def into_confirmation() -> bool:  # past the 21 screening replications
        assert proc.poll() is None, log.read_text()
        return len(journal_entries(staging)) >= 25

    wait_until(into_confirmation, 180, "25 replications in the journal")
    proc.kill()
    proc.wait(timeout=20)
    assert_nothing_left_running(proc.pid)
    done = len({(e.key, e.replication) for e in journal_entries(staging)})
    assert 25 <= done < total and not out.exists()
    # The folder is no results; readers say how to continue it, with the command.
    code, _, err = run_cli("report", str(staging))
    assert code == 2 and "did not finish" in err and "fbsim plan " in err, err
    # A plain rerun does not touch it.
    code, _, err = run_cli("plan", str(scenario), "--levers", str(levers), *PLAN_OPTIONS,
                           "--out", str(out), "--quiet")
    assert code == 2 and f"--resume {staging}" in err, err
    assert len(journal_entries(staging)) >= done
    # Resumed with other workers (one process): the batches keep the first session's.
    code, text, err = run_cli("plan", str(scenario), "--levers", str(levers), *PLAN_OPTIONS,
                              "--resume", str(out), "--workers", "1", "--quiet")
    assert code == 0, err
    assert f"resuming {staging}: {done} replications done, not run again" in text
    assert f"{total} replications ({done} of them from the interrupted run)" in text
    assert not staging.exists()
    assert_same_results(out, clean_plan)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed"] == {"replications_reused": done}
    assert manifest["replications"] == total


def stop_after(monkeypatch, records: int) -> None:
    """Make the journal raise KeyboardInterrupt (a Ctrl-C) once ``records`` are written."""
    real = journal_store.store_recorder

    def stopping(journal):
        record = real(journal)

        def then_stop(key, replication, metrics):
            record(key, replication, metrics)
            if len(journal) >= records:
                raise KeyboardInterrupt

        return then_stop

    monkeypatch.setattr(journal_store, "store_recorder", stopping)


def test_plan_resume_refuses_other_settings_then_the_printed_command_finishes(
        inputs, clean_plan, tmp_path, monkeypatch):
    scenario, levers = inputs
    out = tmp_path / "plan"
    staging = incomplete_path(out)
    with monkeypatch.context() as m:
        stop_after(m, 10)  # sized for 2 workers, as the clean run (resume_settings agree)
        code, _, err = run_cli("plan", str(scenario), "--levers", str(levers), *PLAN_OPTIONS,
                               "--workers", "2", "--quiet", "--out", str(out))
    assert code == 130 and "10 replications done are kept" in err, err
    again = resume_command(err)
    assert again[again.index("--resume") + 1] == str(staging)
    before = sorted((p.relative_to(staging), p.stat().st_size) for p in staging.rglob("*"))
    other_levers = tmp_path / "other.yaml"
    other_levers.write_text(levers.read_text().replace("25", "26"))
    changed = {"--target": "backlog_devices_end<=950", "--tolerance": "backlog_devices_end=50",
               "--seed": "8", "--max-reps": "61", "--confidence": "0.9",
               "--levers": str(other_levers)}
    expect = {"--target": "targets:", "--tolerance": "'tolerance': 60.0",
              "--seed": "seed: 7 when it started, 8 now", "--max-reps": "max_replications: 60",
              "--confidence": "confidence: 0.95", "--levers": "levers_sha256"}
    for option, value in changed.items():
        args = list(again)
        args[args.index(option) + 1] = value
        code, _, err = run_cli(*args, "--quiet")
        assert code == 2 and f"cannot resume {staging}" in err, (option, err)
        assert expect[option] in err and "Traceback" not in err, (option, err)
    code, _, err = run_cli("run", str(scenario), "--resume", str(out), "--quiet")
    assert code == 2 and "unfinished 'fbsim plan', not an 'fbsim run'" in err, err
    assert sorted((p.relative_to(staging), p.stat().st_size)
                  for p in staging.rglob("*")) == before
    # Stopped again later, then finished: still the uninterrupted run's files, and no
    # replication ran twice (the sessions' counts add up to the total).
    with monkeypatch.context() as m:
        stop_after(m, 30)
        code, text, err = run_cli(*again, "--workers", "1", "--quiet")
    assert code == 130 and "30 replications done are kept" in err, err
    assert "resuming" in text and resume_command(err) == again
    code, text, err = run_cli(*again, "--workers", "2", "--quiet")
    assert code == 0, err
    assert "resuming" in text and "(30 of them from the interrupted run)" in text, text
    assert_same_results(out, clean_plan)


SENSITIVITY = {"parameters": {
    "lab_hours_per_tb": {"path": "stages.lab_examination.hours_per_tb", "range": [1.0, 3.0]},
    "examiners": {"path": "staff.examiners.headcount", "range": [25, 35]}},
    "metrics": ["backlog_devices_end"],
    "levers": {"plus_5_examiners": {"staff.examiners.headcount": {"add": 5}}}}


def test_sensitivity_resumed_writes_the_files_of_an_uninterrupted_run(inputs, tmp_path,
                                                                      monkeypatch):
    pytest.importorskip("SALib")
    scenario, _ = inputs
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(SENSITIVITY, sort_keys=False))
    options = ["--method", "morris", "--samples", "2", "--reps", "1", "--quiet"]
    clean = tmp_path / "clean"
    code, _, err = run_cli("sensitivity", str(scenario), "--params", str(params), *options,
                           "--workers", "1", "--out", str(clean))
    assert code == 0, err
    out = tmp_path / "sens"
    with monkeypatch.context() as m:
        stop_after(m, 5)
        code, _, err = run_cli("sensitivity", str(scenario), "--params", str(params), *options,
                               "--workers", "1", "--out", str(out))
    assert code == 130 and "5 replications done are kept" in err, err
    again = resume_command(err)
    code, _, err = run_cli(*[("2" if a == "1" and again[i - 1] == "--reps" else a)
                             for i, a in enumerate(again)], "--quiet")
    assert code == 2 and "replications_per_point: 1 when it started, 2 now" in err, err
    code, text, err = run_cli(*again, "--workers", "2", "--quiet")
    assert code == 0, err
    assert f"resuming {incomplete_path(out)}: 5 replications done" in text
    assert_same_results(out, clean)
    assert json.loads((out / "manifest.json").read_text())["resumed"] == {
        "replications_reused": 5}
