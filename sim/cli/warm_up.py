"""Importing what the end of a run needs while its last replications finish.

Once the last replications are running, a worker process has nothing left to do and
its CPU is idle until they end; the main process then imports what it writes the
run-level tables with (pyarrow, a few tenths of a second). A :func:`warm_up` started at
that moment imports it in a background thread of the main process (which is only
waiting for results meanwhile). An import that fails there is simply left to the main
thread, which imports the module again when it needs it and reports the error as it
always would. (The figures are drawn in worker processes, whose fork server has their
modules already: :mod:`sim.forkserver`.)
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable

#: What the main process imports to write a run's tables as Parquet.
END_OF_RUN_MODULES = ("pyarrow", "pyarrow.parquet")


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):  # the main thread imports it again
            importlib.import_module(name)


def warm_up(modules: tuple[str, ...] = END_OF_RUN_MODULES
            ) -> Callable[[], threading.Thread | None]:
    """A callable that, on its first call, starts importing ``modules`` in a thread.

    It returns that thread the first time, None after (and starts nothing more). The
    thread is a daemon: it never delays the end of the process.
    """
    started = threading.Event()

    def start() -> threading.Thread | None:
        if started.is_set():
            return None
        started.set()
        thread = threading.Thread(target=_import_all, args=(modules,), daemon=True,
                                  name="fbsim-warm-up")
        thread.start()
        return thread

    return start
