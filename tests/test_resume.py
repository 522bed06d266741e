"""Resuming ``fbsim run``: a killed or interrupted run continues to the same results.

The real cases start ``python -m sim run --workers 2`` in a session of its own, wait
(polling the journal, not the clock) until some replications are finished, kill it
(SIGKILL) or press Ctrl-C (SIGINT), check that nothing of it runs on and that its
unfinished folder can never be read as results, then ``--resume`` it and compare the
outcome, file by file, with an uninterrupted run of the same scenario and seed.

What is compared (docs/robustness.md, "Resuming a run"): every per-replication table
and every run-level table byte for byte, ``summary.json`` and ``scenario.yaml`` byte for
byte; ``replication_metrics`` cell for cell except ``seconds`` (each replication's wall
time, which differs between any two runs); ``manifest.json`` except what says when,
where and how the run ran (timing, host, backend, the record of the resumption).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.results import read_table
from sim.results.folder import IncompleteRunError, incomplete_path
from sim.results.journal import JOURNAL, Journal, journal_entries
from sim.results.tables import read_run_table

from .test_cli import run_cli
from .test_interrupts import assert_nothing_left_running, running_in_session, wait_until

ROOT = Path(__file__).resolve().parents[1]
REPS = 6
#: manifest.json keys that say when, where and how a run ran, not what it found.
RUN_FACTS = {"started_utc", "wall_seconds", "git_sha", "platform", "backend", "workers",
             "resumed", "python", "scenario_file"}

posix_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.name != "posix",
                                reason="reads processes from /proc")


@pytest.fixture(scope="module")
def slow_file(tmp_path_factory) -> Path:
    """The mini scenario long enough that a replication takes about a second."""
    from .conftest import MINI

    data = json.loads(json.dumps(MINI))
    data["run"]["horizon_days"] = 1500
    path = tmp_path_factory.mktemp("scenario") / "slow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def clean_run(slow_file, tmp_path_factory) -> Path:
    """An uninterrupted run of ``slow_file``: what every resumed run must reproduce."""
    out = tmp_path_factory.mktemp("clean") / "res"
    code, _, err = run_cli("run", str(slow_file), "--reps", str(REPS), "--workers", "2",
                           "--quiet", "--no-plots", "--out", str(out))
    assert code == 0, err
    return out


def assert_same_results(resumed: Path, clean: Path) -> None:
    """``resumed`` holds exactly the results of ``clean`` (see the module docstring)."""
    files = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(resumed).as_posix()
                           for p in resumed.rglob("*") if p.is_file())
    tables = [f for f in files if f.startswith("tables/")]
    kinds = {f.split("/")[1] for f in tables}
    assert len(kinds) > 3 and len(tables) == REPS * len(kinds), tables  # each, every rep
    for name in files:
        if name.startswith("replication_metrics.") or name == "manifest.json":
            continue
        assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    metrics = [read_run_table(f, "replication_metrics").drop(columns="seconds")
               for f in (resumed, clean)]
    pd.testing.assert_frame_equal(*metrics, check_exact=True)
    manifests = [json.loads((f / "manifest.json").read_text()) for f in (resumed, clean)]
    for m in manifests:
        assert m["complete"] is True
        for key in RUN_FACTS:
            m.pop(key, None)
    assert manifests[0] == manifests[1]


def start(slow_file: Path, out: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "sim", "run", str(slow_file), "--reps", str(REPS),
             "--workers", "2", "--out", str(out), "--no-plots"],
            cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True,
            start_new_session=True)


@pytest.fixture
def session_reaper():
    """Kill, by pid, whatever is left of the sessions a test started (a failing test too)."""
    sessions: list[int] = []
    yield sessions
    for sid in sessions:
        for pid in running_in_session(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def run_until_journaled(slow_file: Path, out: Path, log: Path, done: int,
                        sessions: list[int]) -> subprocess.Popen[str]:
    """Start the run; return once ``done`` replications are in its journal (and it runs on)."""
    proc = start(slow_file, out, log)
    sessions.append(proc.pid)
    staging = incomplete_path(out)

    def journaled() -> bool:
        assert proc.poll() is None, log.read_text()
        return len(journal_entries(staging)) >= done

    wait_until(journaled, 120, f"{done} replications in the journal")
    return proc


def assert_unfinished_folder_is_not_results(out: Path) -> None:
    staging = incomplete_path(out)
    assert not out.exists() and staging.is_dir()
    manifest = json.loads((staging / "manifest.json").read_text())
    assert manifest["complete"] is False and "files" not in manifest
    with pytest.raises(IncompleteRunError, match="--resume"):
        read_table(staging, "cases")
    for command in ("report", "plot"):
        code, _, err = run_cli(command, str(staging))
        assert code == 2 and "did not finish" in err and "--resume" in err, err
        code, _, err = run_cli(command, str(out))
        assert code == 2 and "--resume" in err, err


@posix_proc
def test_resume_after_sigkill_gives_the_tables_of_an_uninterrupted_run(
        slow_file, clean_run, tmp_path, session_reaper):
    out = tmp_path / "res"
    proc = run_until_journaled(slow_file, out, tmp_path / "err.txt", 2, session_reaper)
    proc.kill()
    proc.wait(timeout=20)
    assert_nothing_left_running(proc.pid)  # no worker finishes its replication unseen
    done = len(journal_entries(incomplete_path(out)))
    assert 2 <= done < REPS
    assert_unfinished_folder_is_not_results(out)
    # A plain rerun never overwrites the unfinished run: it says how to resume it.
    code, _, err = run_cli("run", str(slow_file), "--reps", str(REPS), "--out", str(out),
                           "--quiet", "--no-plots")
    assert code == 2 and f"--resume {incomplete_path(out)}" in err, err
    assert len(journal_entries(incomplete_path(out))) == done
    code, text, err = run_cli("run", str(slow_file), "--resume", str(out), "--workers", "2",
                              "--quiet", "--no-plots")
    assert code == 0, err
    assert f"{done} of {REPS} replications were finished, {REPS - done} to run" in text
    assert not incomplete_path(out).exists() and not (out / JOURNAL).exists()
    assert_same_results(out, clean_run)
    assert json.loads((out / "manifest.json").read_text())["resumed"] == {
        "replications_reused": done}


@posix_proc
def test_resume_after_ctrl_c_gives_the_tables_of_an_uninterrupted_run(
        slow_file, clean_run, tmp_path, session_reaper):
    out = tmp_path / "res"
    log = tmp_path / "err.txt"
    proc = run_until_journaled(slow_file, out, log, 1, session_reaper)
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(timeout=20)
    err = log.read_text()
    assert proc.returncode == 130 and "Traceback" not in err, err
    staging = incomplete_path(out)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted; no results were written; ") and (
        f"done are kept in {staging}" in last or f"done is kept in {staging}" in last), err
    assert f"continue with: fbsim run {slow_file} --resume {staging}" in last, err
    assert_nothing_left_running(proc.pid)
    assert_unfinished_folder_is_not_results(out)
    code, _, err = run_cli("run", str(slow_file), "--resume", str(staging), "--workers", "2",
                           "--quiet", "--no-plots")  # the .incomplete folder works too
    assert code == 0, err
    assert_same_results(out, clean_run)


@pytest.fixture
def unfinished(mini_data, tmp_path, monkeypatch):
    """An unfinished run of 4 replications stopped (Ctrl-C, in process) after 2 finished."""
    from sim.results import resume

    mini_data["run"]["horizon_days"] = 120
    scenario = tmp_path / "mini.yaml"
    scenario.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    real = resume.recorder

    def stop_after_two(journal, key, table_dir):
        record = real(journal, key, table_dir)

        def then_stop(summary):
            record(summary)
            if len(journal) == 2:
                raise KeyboardInterrupt

        return then_stop

    out = tmp_path / "res"
    with monkeypatch.context() as m:
        m.setattr(resume, "recorder", stop_after_two)
        code, _, err = run_cli("run", str(scenario), "--reps", "4", "--workers", "1",
                               "--quiet", "--no-plots", "--format", "csv", "--out", str(out))
    assert code == 130 and "2 replications done are kept" in err, err
    return scenario, out


def test_resume_with_other_settings_is_refused_and_leaves_the_run_alone(unfinished, mini_data,
                                                                        tmp_path):
    scenario, out = unfinished
    staging = incomplete_path(out)
    before = sorted((p.relative_to(staging), p.stat().st_size) for p in staging.rglob("*"))
    mini_data["run"]["horizon_days"] = 121
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    for args, setting in [((str(other),), "scenario_sha256"),
                          ((str(scenario), "--seed", "9"), "seed: 7 when it started, 9 now"),
                          ((str(scenario), "--reps", "5"), "replications: 4 when it started"),
                          ((str(scenario), "--tables", "full"), "tables: 'standard' when"),
                          ((str(scenario), "--format", "parquet"), "table_format: 'csv'")]:
        code, _, err = run_cli("run", *args, "--resume", str(out), "--quiet", "--no-plots")
        assert code == 2 and f"cannot resume {staging}" in err and setting in err, (args, err)
        assert "Traceback" not in err
    assert sorted((p.relative_to(staging), p.stat().st_size)
                  for p in staging.rglob("*")) == before
    code, _, err = run_cli("run", str(scenario), "--resume", str(tmp_path / "nothing"))
    assert code == 2 and "there is no unfinished run" in err, err
    code, _, err = run_cli("run", str(scenario), "--resume", str(out), "--out",
                           str(tmp_path / "elsewhere"))
    assert code == 2 and "name different folders" in err, err


def test_a_resumed_run_reruns_what_the_journal_does_not_vouch_for(unfinished, tmp_path):
    scenario, out = unfinished
    staging = incomplete_path(out)
    # A table of a journaled replication lost (a power cut before the disk had it) and
    # half-written leftovers of replications that were running.
    lost = staging / "tables" / "cases" / "rep-00001.csv"
    lost.unlink()
    (staging / "tables" / "cases" / "rep-00003.csv").write_text("half")
    (staging / "tables" / "cases" / ".rep-00002.csv.x1.tmp").write_text("half")
    code, text, err = run_cli("run", str(scenario), "--resume", str(out), "--quiet",
                              "--no-plots", "--workers", "1")
    assert code == 0, err
    assert "1 of 4 replications were finished, 3 to run" in text
    clean = tmp_path / "clean"
    code, _, err = run_cli("run", str(scenario), "--reps", "4", "--workers", "1", "--quiet",
                           "--no-plots", "--format", "csv", "--out", str(clean))
    assert code == 0, err
    for path in [*sorted(clean.glob("tables/*/*")), clean / "summary.json"]:
        name = path.relative_to(clean)
        assert (out / name).read_bytes() == path.read_bytes(), name
    assert sorted(p.name for p in (out / "tables" / "cases").iterdir()) == [
        f"rep-0000{i}.csv" for i in range(4)]


def test_files_fbsim_did_not_write_stop_a_resume_and_are_never_deleted(unfinished):
    scenario, out = unfinished
    mine = incomplete_path(out) / "notes.txt"
    mine.write_text("mine")
    for more in (("--resume", str(out)), ("--reps", "4", "--out", str(out))):
        code, _, err = run_cli("run", str(scenario), *more, "--quiet", "--no-plots")
        assert code == 2 and "notes.txt" in err, err
    assert mine.read_text() == "mine"
    assert len(journal_entries(incomplete_path(out))) == 2


@pytest.mark.parametrize("user_file", ["chapter1.tex", "summary.json"])
def test_a_users_folder_named_like_an_unfinished_run_is_refused_untouched(
        mini_data, tmp_path, user_file):
    """A folder ``NAME.incomplete`` fbsim did not make gets no lock file and loses nothing,
    even when its files have names of fbsim's layout."""
    mini_data["run"]["horizon_days"] = 60
    scenario = tmp_path / "mini.yaml"
    scenario.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    out = tmp_path / "thesis"
    theirs = incomplete_path(out)
    theirs.mkdir()
    (theirs / user_file).write_text("mine")
    for more in (("--out", str(out)), ("--resume", str(out))):
        code, _, err = run_cli("run", str(scenario), "--reps", "2", *more, "--quiet",
                               "--no-plots")
        assert code == 2 and "Traceback" not in err, err
    assert sorted(p.name for p in theirs.iterdir()) == [user_file]
    assert (theirs / user_file).read_text() == "mine" and not out.exists()


def test_stale_staging_cleanup_never_removes_resumable_work(unfinished, tmp_path):
    from sim.results.folder import STAGING_LOCK, remove_stale_staging

    _, out = unfinished
    hidden = tmp_path / ".res.killed.partial"  # a staging folder of a killed run
    hidden.mkdir()
    (hidden / STAGING_LOCK).write_text("")
    (incomplete_path(out) / JOURNAL).rename(hidden / JOURNAL)
    assert remove_stale_staging(tmp_path, "res") == []
    assert len(journal_entries(hidden)) == 2


def test_a_journal_cut_short_keeps_its_whole_records_bit_for_bit(make_mini, tmp_path):
    import dataclasses
    import math

    import numpy as np

    from sim.experiment import run_experiment

    result = run_experiment(make_mini(**{"run.horizon_days": 60}), 3, 4)
    with Journal(tmp_path) as journal:
        for summary in result.replications:
            journal.append("k", summary)
    path = tmp_path / JOURNAL
    whole = path.stat().st_size
    with path.open("r+b") as f:  # the last record cut short, as a kill mid-write leaves it
        f.truncate(whole - 10)
    with Journal(tmp_path) as journal:
        assert path.stat().st_size < whole - 10  # the partial record is cut off
        back = journal.finished("k")
        assert sorted(back) == [0, 1] and journal.finished("other") == {}
        journal.append("k", result.replications[2])
    back = {e.replication: e.summary for e in journal_entries(tmp_path)}
    assert sorted(back) == [0, 1, 2]
    for original in result.replications:
        copy = back[original.replication]
        for field in dataclasses.fields(original):
            a, b = getattr(original, field.name), getattr(copy, field.name)
            if isinstance(a, dict):
                assert a.keys() == b.keys(), field.name
                pairs = [(a[k], b[k]) for k in a]
            else:
                pairs = [(a, b)]
            for x, y in pairs:
                if isinstance(x, np.ndarray):
                    assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field.name
                elif isinstance(x, float) and math.isnan(x):
                    assert math.isnan(y), field.name
                else:
                    assert x == y and type(x) is type(y), field.name


def test_an_unfinished_folder_is_never_a_place_for_results(unfinished, tmp_path):
    from sim.results.folder import ResultsFolderError, check_writable

    _, out = unfinished
    with pytest.raises(ResultsFolderError, match="unfinished run"):
        check_writable(incomplete_path(out))
    with pytest.raises(ResultsFolderError, match="unfinished run"):
        check_writable(tmp_path / "new.incomplete")
