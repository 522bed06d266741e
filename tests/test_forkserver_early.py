"""fbsim run starts the workers' fork server early; it is the same server, and it ends."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pytest

from sim.cli.run import _on_local_processes
from sim.forkserver import available_cpus


def _args(**kw: object) -> argparse.Namespace:
    base = {"scheduler": None, "backend": "processes", "workers": None, "reps": None}
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.skipif(available_cpus() < 2, reason="one CPU: runs are serial anyway")
def test_the_server_starts_early_only_where_workers_are_likely():
    assert _on_local_processes(_args())
    assert _on_local_processes(_args(reps=10)) and _on_local_processes(_args(reps="auto"))
    assert not _on_local_processes(_args(reps=1))
    assert not _on_local_processes(_args(workers=1))
    assert not _on_local_processes(_args(backend="serial"))
    assert not _on_local_processes(_args(backend="dask"))
    assert not _on_local_processes(_args(scheduler="tcp://127.0.0.1:8786"))


SCRIPT = """
import sys
from multiprocessing import forkserver
from sim.forkserver import start_early
start_early()
first = forkserver._forkserver._forkserver_pid
start_early()
print(first, forkserver._forkserver._forkserver_pid, flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_starting_early_twice_is_one_server_that_ends_with_its_process():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=60)
    first, second = (int(x) for x in out.stdout.split())
    assert first == second  # started once
    deadline = time.monotonic() + 20
    while _alive(first) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(first), "the fork server outlived the process that started it"
