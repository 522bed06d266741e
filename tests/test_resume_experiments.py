"""Resuming ``fbsim compare`` and ``fbsim sweep``, and ``fbsim compare --reps auto``.

The real cases follow ``tests/test_resume.py``: start the command with ``--workers 2``
in a session of its own, wait (polling the journal, not the clock) until some
replications are finished, kill it (SIGKILL) or press Ctrl-C (SIGINT), check that
nothing of it runs on and that its unfinished folder is never read as results, then
``--resume`` it (with the very command the interruption message printed, where there
is one) and compare the outcome with an uninterrupted run.

What is compared (docs/robustness.md, "Resuming a run"): every file byte for byte,
except the per-replication table (``replication_metrics`` of a comparison,
``sweep_replications`` of a sweep), the same cell for cell but for ``seconds`` (each
replication's wall time), and ``manifest.json``, the same but for what says when, where
and how it ran.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.analysis.stats import t_quantile
from sim.results.folder import IncompleteRunError, incomplete_path
from sim.results.journal import JOURNAL, Journal, journal_entries
from sim.results.tables import read_run_table

from .test_cli import run_cli
from .test_compare_folder import _write
from .test_interrupts import assert_nothing_left_running, wait_until
from .test_resume import RUN_FACTS, posix_proc, session_reaper  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[1]
HEADCOUNT = "staff.examiners.headcount"
SWEEP = ["--vary", f"{HEADCOUNT}=20,40", "--reps", "3"]
COMPARE_REPS = 4


def _pair(tmp_path_factory, name: str, horizon_days: int, option_examiners: int
          ) -> tuple[Path, Path]:
    """The mini scenario over ``horizon_days`` (as ``name``) and an option with more examiners."""
    from .conftest import MINI

    folder = tmp_path_factory.mktemp(name)
    data = json.loads(json.dumps(MINI))
    data["run"]["horizon_days"] = horizon_days
    return (_write(folder, data, name),
            _write(folder, data, "more", **{HEADCOUNT: option_examiners}))


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> tuple[Path, Path]:
    """Over 1,500 days (about a second a replication), against 40 examiners."""
    return _pair(tmp_path_factory, "slow", 1500, 40)


@pytest.fixture(scope="module")
def short(tmp_path_factory) -> tuple[Path, Path]:
    """Over 120 days, against 60 examiners (twice the base's)."""
    return _pair(tmp_path_factory, "mini", 120, 60)


def _strip(manifest: dict) -> dict:
    """A manifest without what says when, where and how the run ran (also in its arms)."""
    assert manifest["complete"] is True
    out = {k: v for k, v in manifest.items() if k not in RUN_FACTS}
    if "arms" in out:
        out["arms"] = [{k: v for k, v in arm.items() if k not in RUN_FACTS}
                       for arm in out["arms"]]
    return out


def assert_same_results(resumed: Path, clean: Path, per_replication: str) -> None:
    """``resumed`` holds exactly the results of ``clean`` (see the module docstring)."""
    files = sorted(p.relative_to(clean).as_posix() for p in clean.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(resumed).as_posix()
                           for p in resumed.rglob("*") if p.is_file())
    assert any(f.startswith(per_replication) for f in files), files
    for name in files:
        if name.startswith(f"{per_replication}.") or name == "manifest.json":
            continue
        assert (resumed / name).read_bytes() == (clean / name).read_bytes(), name
    frames = [read_run_table(f, per_replication).drop(columns="seconds")
              for f in (resumed, clean)]
    pd.testing.assert_frame_equal(*frames, check_exact=True)
    manifests = [_strip(json.loads((f / "manifest.json").read_text())) for f in (resumed, clean)]
    assert manifests[0] == manifests[1]


def start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "sim", *argv], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, text=True,
                                start_new_session=True)


def stop_when_journaled(argv: list[str], out: Path, log: Path, done: int, sessions: list[int],
                        sig: int) -> subprocess.Popen[str]:
    """Start ``fbsim ARGV``; once ``done`` replications are journaled, send it ``sig``."""
    proc = start(argv, out.parent, log)
    sessions.append(proc.pid)

    def journaled() -> bool:
        assert proc.poll() is None, log.read_text()
        return len(journal_entries(incomplete_path(out))) >= done

    wait_until(journaled, 120, f"{done} replications in the journal")
    os.kill(proc.pid, sig)
    proc.wait(timeout=20)
    assert_nothing_left_running(proc.pid)  # no worker finishes its replication unseen
    return proc


def assert_not_results(out: Path, table: str) -> None:
    staging = incomplete_path(out)
    assert not out.exists() and staging.is_dir()
    manifest = json.loads((staging / "manifest.json").read_text())
    assert manifest["complete"] is False and "files" not in manifest
    with pytest.raises(IncompleteRunError, match="--resume"):
        read_run_table(staging, table)
    code, _, err = run_cli("report", str(staging))
    assert code == 2 and "did not finish" in err and "--resume" in err, err


def continue_with(log: Path) -> list[str]:
    """The command the interruption message says continues the run, as arguments."""
    last = log.read_text().strip().splitlines()[-1]
    assert "continue with: fbsim " in last, last
    return shlex.split(last.split("continue with: fbsim ", 1)[1])


@pytest.fixture(scope="module")
def clean_sweep(slow, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean-sweep") / "sw"
    code, _, err = run_cli("sweep", str(slow[0]), *SWEEP, "--workers", "2", "--quiet",
                           "--no-plots", "--out", str(out))
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def clean_compare(slow, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean-compare") / "cmp"
    code, _, err = run_cli("compare", str(slow[0]), str(slow[1]), "--reps", str(COMPARE_REPS),
                           "--workers", "2", "--quiet", "--no-plots", "--out", str(out))
    assert code == 0, err
    return out


@posix_proc
def test_sweep_resume_after_sigkill_gives_the_tables_of_an_uninterrupted_sweep(
        slow, clean_sweep, tmp_path, session_reaper):  # noqa: F811
    out = tmp_path / "sw"
    argv = ["sweep", str(slow[0]), *SWEEP, "--workers", "2", "--out", str(out), "--no-plots"]
    stop_when_journaled(argv, out, tmp_path / "err.txt", 2, session_reaper, signal.SIGKILL)
    done = len(journal_entries(incomplete_path(out)))
    assert 2 <= done < 6
    assert_not_results(out, "sweep_points")
    code, _, err = run_cli(*argv[:-1], "--quiet")  # a plain rerun says how to resume
    assert code == 2 and f"--resume {incomplete_path(out)}" in err, err
    code, text, err = run_cli("sweep", str(slow[0]), "--resume", str(out), "--workers", "2",
                              "--quiet", "--no-plots")  # --vary and --reps from the run
    assert code == 0, err
    assert f"{done} of 6 runs (point x replication) were finished, {6 - done} to run" in text
    assert not incomplete_path(out).exists() and not (out / JOURNAL).exists()
    assert_same_results(out, clean_sweep, "sweep_replications")
    assert json.loads((out / "manifest.json").read_text())["resumed"] == {
        "replications_reused": done}


@posix_proc
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_compare_resume_gives_the_tables_of_an_uninterrupted_comparison(
        slow, clean_compare, tmp_path, session_reaper, sig):  # noqa: F811
    out = tmp_path / "cmp"
    log = tmp_path / "err.txt"
    argv = ["compare", str(slow[0]), str(slow[1]), "--reps", str(COMPARE_REPS), "--workers",
            "2", "--out", str(out), "--no-plots"]
    proc = stop_when_journaled(argv, out, log, 2, session_reaper, sig)
    staging = incomplete_path(out)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in log.read_text()
        resume = continue_with(log)
        assert resume == ["compare", str(slow[0]), str(slow[1]), "--resume", str(staging)]
    else:
        resume = ["compare", str(slow[0]), str(slow[1]), "--resume", str(out)]
    done = len(journal_entries(staging))
    assert 2 <= done < 2 * COMPARE_REPS
    assert_not_results(out, "differences")
    code, text, err = run_cli(*resume, "--workers", "2", "--quiet", "--no-plots")
    assert code == 0, err
    assert f"{done} of {2 * COMPARE_REPS} replications (all arms) were finished" in text
    assert not staging.exists()
    assert_same_results(out, clean_compare, "replication_metrics")


class _StopAfter:
    """Make ``Journal.append`` raise KeyboardInterrupt (a Ctrl-C) after ``n`` records."""

    def __init__(self, monkeypatch, n: int):
        real = Journal.append

        def append(journal, *args, **kwargs):
            real(journal, *args, **kwargs)
            if len(journal) >= n:
                raise KeyboardInterrupt

        monkeypatch.setattr(Journal, "append", append)


def _tree(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size)
                  for p in folder.rglob("*") if p.is_file())


def test_resume_with_other_settings_is_refused_and_leaves_the_run_alone(short, tmp_path,
                                                                        monkeypatch):
    base, more = short
    cmp_out, sw_out = tmp_path / "cmp", tmp_path / "sw"
    with monkeypatch.context() as m:
        _StopAfter(m, 2)
        code, _, err = run_cli("compare", str(base), str(more), "--reps", "4", "--workers", "1",
                               "--quiet", "--no-plots", "--out", str(cmp_out))
        assert code == 130 and "continue with: fbsim compare" in err, err
        code, _, err = run_cli("sweep", str(base), "--vary", f"{HEADCOUNT}=20,40", "--reps",
                               "3", "--workers", "1", "--quiet", "--no-plots", "--format", "csv",
                               "--out", str(sw_out))
        assert code == 130 and "continue with: fbsim sweep" in err, err
    other = _write(tmp_path, yaml.safe_load(more.read_text()), "more", **{HEADCOUNT: 59})
    before = {p: _tree(incomplete_path(p)) for p in (cmp_out, sw_out)}
    cases = [
        (["compare", str(base), str(other)], cmp_out, "options_sha256"),
        (["compare", str(base), str(more), "--seed", "9"], cmp_out, "seed: 7 when it started"),
        (["compare", str(base), str(more), "--reps", "5"], cmp_out, "replications: 4 when"),
        (["compare", str(base), str(more), "--reps", "auto"], cmp_out, "replications: 4 when"),
        (["compare", str(base), str(more), "--metrics", "backlog_devices_end"], cmp_out,
         "metrics: ["),
        (["sweep", str(base), "--vary", f"{HEADCOUNT}=20,41"], sw_out, "vary: "),
        (["sweep", str(base), "--reps", "4"], sw_out, "replications: 3 when"),
        (["sweep", str(base), "--seed", "9"], sw_out, "seed: 7 when"),
        (["sweep", str(base), "--metrics", "backlog_devices_end"], sw_out, "metrics: "),
        (["sweep", str(base), "--target", "lab_wait_p90_days=90"], sw_out, "targets: {}"),
        (["sweep", str(base), "--format", "parquet"], sw_out, "table_format: 'csv'"),
        (["sweep", str(base), "--design", "lhs", "--samples", "2", "--vary",
          f"{HEADCOUNT}=20:40"], sw_out, "design: 'grid' when"),
        (["sweep", str(more)], sw_out, "scenario_sha256"),
    ]
    for argv, out, setting in cases:
        code, _, err = run_cli(*argv, "--resume", str(out), "--quiet", "--no-plots")
        staging = incomplete_path(out)
        assert code == 2 and f"cannot resume {staging}" in err and setting in err, (argv, err)
        assert "Traceback" not in err
    code, _, err = run_cli("sweep", str(base), "--resume", str(cmp_out))
    assert code == 2 and "holds an unfinished 'fbsim compare', not an 'fbsim sweep'" in err, err
    code, _, err = run_cli("run", str(base), "--resume", str(sw_out))
    assert code == 2 and "unfinished 'fbsim sweep'" in err, err
    code, _, err = run_cli("compare", str(base), str(more), "--resume", str(cmp_out), "--out",
                           str(tmp_path / "elsewhere"))
    assert code == 2 and "name different folders" in err, err
    assert {p: _tree(incomplete_path(p)) for p in (cmp_out, sw_out)} == before
    # What a reader says is the command that continues it, as the run recorded it.
    for out, words in ((cmp_out, f"'fbsim compare {base} {more} --resume "),
                       (sw_out, f"'fbsim sweep {base} --resume ")):
        with pytest.raises(IncompleteRunError, match=re.escape(words)):
            read_run_table(incomplete_path(out), "summary")


def _differences(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "differences.csv")


def _paired(folder: Path, option: str, base: str, metric: str) -> list[float]:
    reps = read_run_table(folder, "replication_metrics")
    a = reps[reps.scenario == base].sort_values("replication")[metric].to_numpy()
    b = reps[reps.scenario == option].sort_values("replication")[metric].to_numpy()
    return list(b - a)


def _half_width(values: list[float]) -> float:
    n = len(values)
    return t_quantile(0.975, n - 1) * float(pd.Series(values).std(ddof=1)) / math.sqrt(n)


def test_compare_auto_stops_at_the_first_check_meeting_the_precision(short, tmp_path):
    base, more = short
    out = tmp_path / "auto"
    code, text, err = run_cli("compare", str(base), str(more), "--reps", "auto", "--precision",
                              "0.05", "--initial-reps", "3", "--precision-metrics",
                              "backlog_devices_end", "--workers", "1", "--out", str(out),
                              "--no-plots")
    assert code == 0, err
    control = json.loads((out / "summary.json").read_text())["replication_control"]
    assert control == json.loads((out / "manifest.json").read_text())["replication_control"]
    n = control["replications"]
    assert control["stopped_at"] == "precision" and 3 < n < 200, control
    assert "reached +/-5.0% (95% intervals) for every chosen difference" in text
    # The rule, recomputed from the per-replication table: met at n, not at the check before.
    previous = control["checks"][-2]
    met_before = True
    for metric in ("backlog_devices_end",):
        d = _paired(out, "more", "mini", metric)
        assert len(d) == n
        assert _half_width(d) <= 0.05 * abs(sum(d) / n)
        q = control["quantities"][f"more - mini: {metric}"]
        assert q["status"] == "met" and q["half_width"] == pytest.approx(_half_width(d))
        met_before &= _half_width(d[:previous]) <= 0.05 * abs(sum(d[:previous]) / previous)
    assert not met_before
    # Equal to a fixed comparison of the final count.
    fixed = tmp_path / "fixed"
    code, _, err = run_cli("compare", str(base), str(more), "--reps", str(n), "--workers", "1",
                           "--out", str(fixed), "--no-plots", "--quiet")
    assert code == 0, err
    assert (fixed / "differences.csv").read_bytes() == (out / "differences.csv").read_bytes()
    frames = [read_run_table(f, "replication_metrics").drop(columns="seconds")
              for f in (out, fixed)]
    pd.testing.assert_frame_equal(*frames, check_exact=True)


def test_compare_auto_stops_at_the_cap_and_names_the_unresolved_differences(short, tmp_path):
    base, more = short
    argv = ["compare", str(base), str(more), "--reps", "auto", "--precision", "0.05",
            "--initial-reps", "4", "--max-reps", "8", "--precision-metrics",
            "child_days_at_risk_contact", "--workers", "1", "--no-plots",
            "--quiet"]
    code, text, err = run_cli(*argv, "--out", str(tmp_path / "cap"))
    assert code == 0, err
    summary = json.loads((tmp_path / "cap" / "summary.json").read_text())
    control = summary["replication_control"]
    assert control["stopped_at"] == "cap" and control["replications"] == 8
    assert control["quantities"]["more - mini: child_days_at_risk_contact"]["status"] == "not met"
    line = next(x for x in text.splitlines() if x.startswith("not resolved: "))
    assert "child_days_at_risk_contact" in line and "--precision-floor" in line, text
    assert line in summary["notes"]
    assert "stopped at the cap of 8 replications" in text
    # An absolute floor as wide as the difference's spread lets it stop at once.
    hw = control["quantities"]["more - mini: child_days_at_risk_contact"]["half_width"]
    code, text, err = run_cli(*argv, "--precision-floor",
                              f"child_days_at_risk_contact={10 * hw}",
                              "--out", str(tmp_path / "floor"))
    assert code == 0, err
    control = json.loads((tmp_path / "floor" / "summary.json").read_text())[
        "replication_control"]
    assert control["stopped_at"] == "precision" and control["replications"] == 4
    assert control["absolute_floors"] == {"more - mini: child_days_at_risk_contact": 10 * hw}
    code, _, err = run_cli("compare", str(base), str(more), "--precision-floor", "x=1")
    assert code == 2 and "unknown metric 'x'" in err, err
    code, _, err = run_cli("compare", str(base), str(more), "--reps", "3",
                           "--precision-floor", "backlog_devices_end=1")
    assert code == 2 and "only applies with --reps auto" in err, err


def test_compare_auto_count_is_the_same_whatever_the_workers_and_in_python(short, tmp_path):
    import sim

    base, more = short
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        code, _, err = run_cli("compare", str(base), str(more), "--reps", "auto", "--precision",
                               "0.1", "--initial-reps", "3", "--precision-metrics",
                               "backlog_devices_end", "--workers", workers, "--out", str(out),
                               "--no-plots", "--quiet")
        assert code == 0, err
        outs.append(out)
    assert (outs[0] / "differences.csv").read_bytes() == (outs[1] / "differences.csv").read_bytes()
    control = json.loads((outs[0] / "summary.json").read_text())["replication_control"]
    assert control == json.loads((outs[1] / "summary.json").read_text())["replication_control"]
    result = sim.compare(base, [more], reps="auto", precision=0.1, initial_reps=3,
                         precision_metrics=["backlog_devices_end"])
    assert result.auto is not None and result.auto.to_dict() == control
    frame = result.to_frame().reset_index()
    pd.testing.assert_series_equal(frame["difference"], _differences(outs[0])["difference"],
                                   check_exact=True)


def test_an_interrupted_auto_comparison_resumes_to_the_same_stop(short, tmp_path, monkeypatch):
    base, more = short
    argv = ["compare", str(base), str(more), "--reps", "auto", "--precision", "0.05",
            "--initial-reps", "3", "--precision-metrics", "backlog_devices_end",
            "--workers", "1", "--no-plots", "--quiet"]
    clean = tmp_path / "clean"
    code, _, err = run_cli(*argv, "--out", str(clean))
    assert code == 0, err
    n = json.loads((clean / "summary.json").read_text())["replication_control"]["replications"]
    out = tmp_path / "res"
    with monkeypatch.context() as m:
        _StopAfter(m, 2 * 3 + 2)  # past the first check, into the second batch
        code, _, err = run_cli(*argv, "--out", str(out))
    assert code == 130, err
    resume = shlex.split(err.strip().splitlines()[-1].split("continue with: fbsim ", 1)[1])
    assert "--reps" not in resume  # the rule's options come from the unfinished run
    code, text, err = run_cli(*resume, "--quiet", "--no-plots")
    assert code == 0, err
    assert "8 replications (all arms) were finished; more are added" in text
    assert json.loads((out / "summary.json").read_text())["replication_control"][
        "replications"] == n
    assert_same_results(out, clean, "replication_metrics")


def test_an_interrupted_auto_run_resumes_with_the_printed_command(mini_file, tmp_path,
                                                                   monkeypatch):
    argv = ["run", str(mini_file), "--reps", "auto", "--initial-reps", "3", "--max-reps", "7",
            "--precision", "0.01", "--workers", "1", "--no-plots", "--quiet", "--tables", "none"]
    out = tmp_path / "res"
    with monkeypatch.context() as m:
        _StopAfter(m, 4)
        code, _, err = run_cli(*argv, "--out", str(out))
    assert code == 130, err
    resume = shlex.split(err.strip().splitlines()[-1].split("continue with: fbsim ", 1)[1])
    code, _, err = run_cli(*resume, "--quiet", "--no-plots")
    assert code == 0, err
    control = json.loads((out / "summary.json").read_text())["replication_control"]
    assert control["replications"] == 7 and control["stopped_at"] == "cap"
