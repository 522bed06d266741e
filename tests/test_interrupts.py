"""Killing or interrupting ``fbsim run --workers 2``: real processes, real signals.

Each test starts ``python -m sim run`` in a session of its own, waits until both worker
processes are running, signals it as a user would (Ctrl-C once or twice, SIGTERM,
SIGKILL) and then looks in /proc for any process of that session still running:
workers, the fork server and multiprocessing's resource tracker must all be gone
within seconds. No results, no staging folder, no traceback; and a killed run's
staging folder never reaches the next run into the same folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sim.results import read_table

from .test_cli import run_cli

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.name != "posix",
                                reason="reads processes from /proc")

ROOT = Path(__file__).resolve().parents[1]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, session id) of a process, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[3])


def running_in_session(sid: int) -> dict[int, str]:
    """Processes of session ``sid`` that are still running (zombies are not), by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is None or info[2] != sid or info[0] in "ZX":
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found[int(entry.name)] = cmdline
    return found


def workers_of(main_pid: int) -> list[int]:
    """The worker processes of a run: children of its fork server."""
    procs = running_in_session(main_pid)
    servers = {pid for pid, cmd in procs.items()
               if "forkserver" in cmd and (_stat(pid) or ("", 0, 0))[1] == main_pid}
    return sorted(pid for pid in procs if (_stat(pid) or ("", 0, 0))[1] in servers)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def long_file(mini_data, tmp_path) -> Path:
    """The mini scenario long enough that six replications take many seconds."""
    mini_data["run"]["horizon_days"] = 3000
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return path


@pytest.fixture
def start_run(long_file, tmp_path):
    """Start ``fbsim run --workers 2`` in a session of its own; returns once both workers run.

    Whatever the test finds, every process of the session is killed afterwards (by
    its pid), so a failing test leaves nothing behind either.
    """
    sessions: list[int] = []

    def start(out: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with (tmp_path / "stderr.txt").open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sim", "run", str(long_file), "--reps", "6", "--workers",
                 "2", "--out", str(out), "--no-plots"],
                cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True,
                start_new_session=True)
        sessions.append(proc.pid)

        def workers_running() -> bool:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            return len(workers_of(proc.pid)) >= 2

        wait_until(workers_running, 60, "two worker processes")
        time.sleep(0.3)  # well into the first replications
        return proc

    yield start
    for sid in sessions:
        for pid in running_in_session(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def finish(proc: subprocess.Popen[str], tmp_path: Path) -> str:
    """Wait for the run's main process (no hang allowed); its standard error."""
    proc.wait(timeout=20)
    return (tmp_path / "stderr.txt").read_text()


def send(proc: subprocess.Popen[str], sig: int, to_group: bool) -> None:
    try:
        if to_group:
            os.killpg(proc.pid, sig)  # what a terminal does on Ctrl-C
        else:
            os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass  # it had already finished stopping


def assert_nothing_left_running(sid: int) -> None:
    wait_until(lambda: not running_in_session(sid), 15,
               f"every process of the run to end (still running: {running_in_session(sid)})")


def staging_folders(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()
                  if p.name.endswith((".partial", ".old", ".incomplete")))


@pytest.mark.parametrize(("sig", "times", "to_group", "status", "message"), [
    (signal.SIGINT, 1, False, 130, "interrupted; no results were written"),
    (signal.SIGINT, 2, False, 130, "interrupted; no results were written"),
    (signal.SIGINT, 2, True, 130, "interrupted; no results were written"),
    (signal.SIGTERM, 1, False, 143, "terminated (SIGTERM); no results were written"),
    (signal.SIGINT, 0, True, 130, "interrupted; no results were written"),
], ids=["ctrl-c-once", "ctrl-c-twice", "ctrl-c-twice-in-a-terminal", "sigterm",
        "ctrl-c-until-it-has-gone"])
def test_an_interrupted_run_stops_at_once_and_leaves_nothing(start_run, tmp_path, sig, times,
                                                             to_group, status, message):
    out = tmp_path / "res"
    proc = start_run(out)
    for _ in range(times):
        send(proc, sig, to_group)
        time.sleep(0.05)
    if times == 0:  # Ctrl-C pressed again and again, through the clean-up and the exit
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            send(proc, sig, to_group)
            time.sleep(0.01)
    err = finish(proc, tmp_path)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "Exception" not in err, err
    assert err.strip().splitlines()[-1].startswith(message), err
    assert_nothing_left_running(proc.pid)
    assert not out.exists()
    assert staging_folders(tmp_path) == []


def test_a_killed_run_leaves_no_process_and_nothing_that_reaches_the_next_run(
        start_run, mini_file, tmp_path):
    out = tmp_path / "res"
    proc = start_run(out)
    proc.kill()  # SIGKILL: nothing can be cleaned up by the run itself
    finish(proc, tmp_path)
    assert_nothing_left_running(proc.pid)  # its workers saw it go and left at once
    # Killed before it finished a replication: its unfinished folder, never results.
    assert staging_folders(tmp_path) == ["res.incomplete"] and not out.exists()
    # The next run into the same folder: only its own replication, and the dead
    # run's unfinished folder, with nothing finished in it, is cleared away.
    code, _, err = run_cli("run", str(mini_file), "--reps", "1", "--workers", "1", "--seed", "9",
                           "--no-plots", "--quiet", "--out", str(out))
    assert code == 0, err
    assert sorted(set(read_table(out, "cases").replication)) == [0]
    assert staging_folders(tmp_path) == []


def test_a_worker_killed_by_the_system_ends_the_run_with_a_clear_message(start_run, tmp_path):
    out = tmp_path / "res"
    proc = start_run(out)
    os.kill(workers_of(proc.pid)[0], signal.SIGKILL)  # what the out-of-memory killer does
    err = finish(proc, tmp_path)
    assert proc.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: worker process ") and "was killed by SIGKILL" in last, err
    assert "Traceback" not in err
    assert_nothing_left_running(proc.pid)
    assert not out.exists() and staging_folders(tmp_path) == []
