"""The fork server that local worker processes are forked from, and how to start it.

:class:`sim.experiment.backends.ProcessBackend` starts its workers by ``forkserver``: a
clean server process imports :data:`WORKER_MODULES` once and every worker is a fork of
it. The server starts with the first worker, and then takes about a second to import
the model, while the main process waits. :func:`start_early` starts it sooner, when a
command knows it will run replications on local processes: the server then imports the
model while the main process is still reading the scenario and preparing its results
folder. Either way it is the same server, with the same modules, and it ends when the
main process does (it exits when the main process's end of its pipe closes, however the
main process ends).

This module imports nothing of the model, so that starting early costs the main
process nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Generator

#: What a worker needs to run replications (:func:`sim.experiment.runner.run_task`) and
#: its own loop (:mod:`sim.experiment.workers`); the fork server imports them.
WORKER_MODULES = ("sim.experiment.runner", "sim.experiment.workers")
#: What a worker needs to draw a run's figures (:func:`sim.plots.run_plots.run_pngs`):
#: preloaded too by a server started early for a run that draws them.
FIGURE_MODULES = ("pandas", "pyarrow.parquet", "matplotlib.figure",
                  "matplotlib.backends.backend_agg", "sim.plots.run_plots")


def available_cpus() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def main_module_not_inherited() -> Generator[None, None, None]:
    """Start processes in the block without having them import the ``__main__`` script.

    A ``forkserver`` or ``spawn`` child runs the parent's main script again (as
    ``__mp_main__``) before it runs its target, so that objects defined there unpickle.
    A script that calls fbsim at its top level, without an ``if __name__ ==
    "__main__":`` guard, would then start a run again in every worker, which
    multiprocessing refuses: the worker dies and the run fails. Workers need nothing
    from ``__main__`` (what they run, :func:`sim.experiment.runner.run_task` and its
    tasks, lives in ``sim``), so while a worker starts, ``sys.modules["__main__"]`` is
    a bare module with neither ``__file__`` nor ``__spec__``, and
    :func:`multiprocessing.spawn.get_preparation_data` gives the child no main module
    to import. The swap lasts only for ``Process.start()``, in this thread.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def configure(figures: bool = False) -> bool:
    """Set the fork server's preloaded modules; False where the platform has no fork server.

    :data:`WORKER_MODULES`, and :data:`FIGURE_MODULES` with ``figures``. The setting is
    the whole process's and has no effect once the server runs (a module the server
    cannot import is left out, and imported by the worker that needs it).
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    modules = list(WORKER_MODULES) + (list(FIGURE_MODULES) if figures else [])
    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    return True


def start_early(figures: bool = False) -> None:
    """Start the fork server now (if the platform has one and it is not running yet).

    Returns at once: the server imports its modules (:func:`configure`) in the
    background. ``figures``: the run will draw its figures in workers too.
    """
    if not configure(figures):
        return
    from multiprocessing import forkserver

    with main_module_not_inherited():
        forkserver.ensure_running()
