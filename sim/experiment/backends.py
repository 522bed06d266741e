"""Execution backends: where replications run. Results never depend on the choice.

Every backend maps a picklable function over tasks and yields results as they finish;
the caller orders them by replication index, so serial, local processes and a Dask
cluster give identical tables for the same scenario and seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable
from typing import Any, Protocol

from sim.forkserver import WORKER_MODULES
from sim.forkserver import available_cpus as available_cpus  # where callers import it from
from sim.forkserver import configure as configure_forkserver

#: What ``map_unordered`` returns: a generator, so a caller can close it early.
Results = Generator[Any, None, None]

# multiprocessing is imported where processes are started: a serial run (one worker,
# or a test) has no use for it.


class Backend(Protocol):
    """Runs ``fn`` over ``tasks``, yielding results in completion order."""

    name: str
    workers: int

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Results:
        """Yield ``fn(task)`` for every task, in any order."""
        ...


class SerialBackend:
    """Run in this process, one replication after another."""

    name = "serial"
    workers = 1

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Results:
        """Yield results in task order."""
        for task in tasks:
            yield fn(task)


#: What a worker needs to run replications; the forkserver imports it before forking.
WORKER_MODULE = WORKER_MODULES[0]


def default_start_method() -> str:
    """``forkserver`` where the platform has it (Linux, macOS), else ``spawn``."""
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class ProcessBackend:
    """Local worker processes that inherit no state from the parent and die with it.

    Workers start by ``forkserver`` where available: a server process imports the model
    (:data:`WORKER_MODULE`) once and each worker is a fork of it, so a worker starts in
    milliseconds instead of importing everything again as a ``spawn`` worker does. The
    server is a clean process started for the purpose, never a fork of this one, and it
    is reused by later runs in the same process. Results are the same with either.

    The workers are a :class:`~sim.experiment.workers.WorkerPool`: each runs one task
    at a time and tasks are taken from the iterable only as workers become free, so a
    run of any number of replications holds a bounded number of tasks and pending
    results; when this process ends, is killed or stops iterating (Ctrl-C, an error),
    no worker goes on running.

    Parameters
    ----------
    workers : int
        Worker processes.
    start_method : str, optional
        ``forkserver`` or ``spawn``; default :func:`default_start_method`. The
        forkserver is shared by the whole process: this sets its preloaded modules to
        :data:`WORKER_MODULE` (which has no effect once it is running).
    """

    name = "processes"

    def __init__(self, workers: int, start_method: str | None = None):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        method = start_method or default_start_method()
        if method not in ("forkserver", "spawn"):
            raise ValueError(f"start_method must be forkserver or spawn, got {method!r}")
        self.workers = workers
        self.start_method = method

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Results:
        """Yield results as workers finish them."""
        import multiprocessing

        from sim.experiment.workers import WorkerPool

        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            # The server imports the model once; each worker is a fork of it (it may
            # already run: sim.forkserver.start_early).
            configure_forkserver()
        with WorkerPool(ctx, self.workers) as pool:
            yield from pool.map_unordered(fn, tasks)


class DaskBackend:
    """A Dask distributed cluster: a scheduler address, or a local cluster.

    At most ``in_flight`` tasks are on the cluster at a time: the task iterable is read
    only as results come back (the next task is submitted as each one completes), so a
    run of any number of replications holds a bounded number of tasks, futures and
    pending results, as :class:`ProcessBackend` does.

    Parameters
    ----------
    address : str or None
        ``tcp://host:8786`` of a running scheduler; None starts a ``LocalCluster``
        of ``workers`` single-threaded processes for this run.
    workers : int
        Local cluster size (ignored with an address).
    in_flight : int, optional
        Most tasks submitted and not yet returned; default :data:`IN_FLIGHT_PER_THREAD`
        per worker thread of the cluster (at least that many in all), enough to keep
        every worker busy while results travel back.
    """

    name = "dask"
    #: Default tasks in flight per worker thread.
    IN_FLIGHT_PER_THREAD = 3

    def __init__(self, address: str | None = None, workers: int = 2,
                 in_flight: int | None = None):
        try:
            import distributed  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the dask backend needs the 'dask' extra: "
                               "pip install 'forensic-backlog-sim[dask]'") from exc
        if in_flight is not None and in_flight < 1:
            raise ValueError("in_flight must be >= 1")
        self.address = address
        self.workers = workers
        self.in_flight = in_flight

    def window(self, threads: int) -> int:
        """Tasks kept in flight on a cluster of ``threads`` worker threads."""
        if self.in_flight is not None:
            return self.in_flight
        return self.IN_FLIGHT_PER_THREAD * max(1, threads)

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Results:
        """Yield results as they complete, with at most :meth:`window` tasks submitted ahead."""
        from distributed import Client, as_completed

        cluster = None
        if self.address is None:
            cluster = local_cluster(self.workers, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(self.address)
        try:
            it = iter(tasks)
            threads = sum(client.nthreads().values()) or self.workers
            pending = as_completed()
            for task in itertools.islice(it, self.window(threads)):
                pending.add(client.submit(fn, task, pure=False))
            for future in pending:
                result = future.result()
                future.release()
                for task in itertools.islice(it, 1):  # the next one, as this one is done
                    pending.add(client.submit(fn, task, pure=False))
                yield result
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def local_cluster(workers: int, dashboard_address: str | None) -> Any:
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes.

    Its worker processes are started without importing the ``__main__`` script
    (:func:`sim.experiment.workers.main_module_not_inherited`): Dask's ``spawn``
    workers would otherwise run a script again, and one that calls fbsim without an
    ``if __name__ == "__main__":`` guard would fail to start the cluster. What Dask
    workers run comes from ``sim``, by reference.
    """
    from distributed import LocalCluster

    from sim.forkserver import main_module_not_inherited

    with main_module_not_inherited():
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            dashboard_address=dashboard_address)


def make_backend(name: str, workers: int, address: str | None = None) -> Backend:
    """Build a backend by name: ``serial``, ``processes`` or ``dask``."""
    if name == "serial" or (name == "processes" and workers <= 1):
        return SerialBackend()
    if name == "processes":
        return ProcessBackend(workers)
    if name == "dask":
        return DaskBackend(address, workers)
    raise ValueError(f"unknown backend {name!r}; expected serial, processes or dask")
