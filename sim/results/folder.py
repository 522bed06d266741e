"""The results folder of a run, staged so an interrupted run leaves nothing half done.

A run writes into ``<out>.partial``; only when everything is written is any previous
``<out>`` removed and the staging folder renamed to ``<out>``. An interrupted or failed
run removes its staging folder and leaves the previous results untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType


class StagedFolder:
    """Context manager yielding the staging path; publishes it on success.

    Parameters
    ----------
    out : pathlib.Path
        Final results folder.
    """

    def __init__(self, out: Path):
        self.out = out
        self.staging = out.with_name(out.name + ".partial")

    def __enter__(self) -> Path:
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        return self.staging

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        if self.out.exists():
            old = self.out.with_name(self.out.name + ".old")
            if old.exists():
                shutil.rmtree(old)
            self.out.rename(old)
            self.staging.rename(self.out)
            shutil.rmtree(old)
        else:
            self.staging.rename(self.out)
