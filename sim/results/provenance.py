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


def git_sha_later() -> Callable[[], str | None]:
    """Start :func:`git_sha` now, in a thread; the function returned waits for its answer.

    The two ``git`` processes take a few milliseconds, spent waiting, which a run can
    spend simulating instead.
    """
    answer: list[str | None] = [None]

    def ask() -> None:
        answer[0] = git_sha()

    thread = threading.Thread(target=ask, name="fbsim-git-sha", daemon=True)
    thread.start()

    def wait() -> str | None:
        thread.join()
        return answer[0]

    return wait


def manifest(scenario: Scenario, seed: int, replications: int, wall_seconds: float,
             backend: str, workers: int, scenario_file: str | None,
             started: dt.datetime, extra: dict[str, Any] | None = None,
             git: Callable[[], str | None] = git_sha) -> dict[str, Any]:
    """The manifest.json content for a run (``git`` gives the commit: :func:`git_sha`)."""
    import numpy
    import simpy

    return {
        "scenario": scenario.name,
        "scenario_file": scenario_file,
        "scenario_sha256": scenario_hash(scenario),
        "seed": seed,
        "replications": replications,
        "package_version": package_version(),
        "git_sha": git(),
        "python": sys.version.split()[0],
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "backend": backend,
        "workers": workers,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 3),
        **(extra or {}),
    }
