"""Provenance of a run: what was run, with what, where, and how long it took."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.config.loader import scenario_hash
from sim.config.schema import Scenario


def package_version() -> str:
    """Installed version of forensic-backlog-sim (or 'unknown')."""
    try:
        return metadata.version("forensic-backlog-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_sha() -> str | None:
    """Commit of the source tree the package runs from, if it is a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "sim"],
                           capture_output=True, text=True, timeout=5, check=False)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def host_facts() -> dict[str, str | None]:
    """What the run ran on that takes a moment to find: the commit and the platform.

    ``platform.platform()`` runs ``uname -p`` on Linux; :func:`git_sha` runs ``git``
    twice.
    """
    return {"git_sha": git_sha(), "platform": platform.platform()}


def host_facts_later() -> Callable[[], dict[str, str | None]]:
    """Start :func:`host_facts` now, in a thread; the function returned waits for them.

    The child processes behind them take several milliseconds, spent waiting, which a
    run can spend simulating instead.
    """
    answer: list[dict[str, str | None]] = []

    def ask() -> None:
        answer.append(host_facts())

    thread = threading.Thread(target=ask, name="fbsim-host-facts", daemon=True)
    thread.start()

    def wait() -> dict[str, str | None]:
        thread.join()
        return answer[0] if answer else host_facts()  # the thread failed: ask here

    return wait


def manifest(scenario: Scenario, seed: int, replications: int, wall_seconds: float,
             backend: str, workers: int, scenario_file: str | None,
             started: dt.datetime, extra: dict[str, Any] | None = None,
             host: Callable[[], dict[str, str | None]] = host_facts) -> dict[str, Any]:
    """The manifest.json content for a run (``host`` gives :func:`host_facts`)."""
    import numpy
    import simpy

    facts = host()
    return {
        "scenario": scenario.name,
        "scenario_file": scenario_file,
        "scenario_sha256": scenario_hash(scenario),
        "seed": seed,
        "replications": replications,
        "package_version": package_version(),
        "git_sha": facts["git_sha"],
        "python": sys.version.split()[0],
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "platform": facts["platform"],
        "backend": backend,
        "workers": workers,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
        **(extra or {}),
    }
