"""Running the replications a decision needs: each (scenario, replication) once, on CRN.

Plans are told apart by their scenario's hash, so two plans that build the same
scenario share their replications, and replication ``r`` of every plan uses the
random streams ``(seed, r)``: common random numbers, whatever the backend or the order
in which results come back. Only the per-replication metrics come back from a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from sim.config import scenario_hash
from sim.config.schema import Scenario
from sim.experiment.backends import Backend, SerialBackend


@dataclass(frozen=True)
class MetricsTask:
    """One replication of one scenario, for a worker.

    Attributes
    ----------
    key : str
        The scenario's hash.
    scenario : Scenario
        What to simulate.
    replication : int
        Replication index.
    seed : int
        Base seed.
    """

    key: str
    scenario: Scenario
    replication: int
    seed: int


def run_metrics_task(task: MetricsTask) -> tuple[str, int, dict[str, float]]:
    """Run one replication and return its metrics only."""
    from sim.experiment.runner import Task, run_task

    summary = run_task(Task(task.scenario, task.replication, task.seed))
    return task.key, task.replication, {k: float(v) for k, v in summary.metrics.items()}


#: Replications already run: scenario hash -> replication -> metric -> value.
Store = dict[str, dict[int, dict[str, float]]]


class Evaluator:
    """Runs replications on a backend and keeps their metrics.

    Parameters
    ----------
    backend : Backend, optional
        Where replications run (serial by default).
    seed : int
        Base seed shared by every scenario (common random numbers).
    store : Store, optional
        Replications already run (e.g. read back to resume); filled as runs finish.
    on_result : callable, optional
        Called as ``on_result(done, total)`` after each replication of a batch.
    on_store : callable, optional
        Called as ``on_store(key, replication, metrics)`` for every new replication
        (to journal it).
    """

    def __init__(self, backend: Backend | None = None, seed: int = 0, store: Store | None = None,
                 on_result: Callable[[int, int], None] | None = None,
                 on_store: Callable[[str, int, dict[str, float]], None] | None = None):
        self.backend = backend or SerialBackend()
        self.seed = seed
        self.store: Store = store if store is not None else {}
        self.on_result = on_result
        self.on_store = on_store
        self.replications_run = 0
        #: Replications the store held when the evaluator was made (read back to resume).
        self.replications_reused = sum(len(reps) for reps in self.store.values())

    @staticmethod
    def key(scenario: Scenario) -> str:
        """The identity of a scenario's replications."""
        return scenario_hash(scenario)

    def ensure(self, scenarios: Iterable[Scenario], start: int, stop: int) -> None:
        """Run whatever replications ``start .. stop - 1`` of ``scenarios`` are missing."""
        tasks: list[MetricsTask] = []
        queued: set[tuple[str, int]] = set()
        for scenario in scenarios:
            key = self.key(scenario)
            have = self.store.get(key, {})
            for r in range(start, stop):
                if r not in have and (key, r) not in queued:
                    queued.add((key, r))
                    tasks.append(MetricsTask(key, scenario, r, self.seed))
        for done, (key, r, metrics) in enumerate(
                self.backend.map_unordered(run_metrics_task, tasks), start=1):
            self.store.setdefault(key, {})[r] = metrics
            self.replications_run += 1
            if self.on_store is not None:
                self.on_store(key, r, metrics)
            if self.on_result is not None:
                self.on_result(done, len(tasks))

    def values(self, scenario: Scenario | str, metrics: list[str], replications: Iterable[int]
               ) -> np.ndarray:
        """Shape (replications, len(metrics)): the metrics of replications already run."""
        key = scenario if isinstance(scenario, str) else self.key(scenario)
        have = self.store[key]
        return np.asarray([[have[r][m] for m in metrics] for r in replications],
                          dtype=float).reshape(-1, len(metrics))

    def replications_of(self, scenario: Scenario | str) -> Mapping[int, dict[str, float]]:
        """Every replication run of a scenario."""
        key = scenario if isinstance(scenario, str) else self.key(scenario)
        return self.store.get(key, {})


@contextmanager
def backend_for_session(name: str, workers: int, address: str | None = None) -> Iterator[Backend]:
    """A backend for a whole decision run, which sends many small batches.

    ``dask`` without an address starts one local cluster for the session (a
    :class:`~sim.experiment.backends.DaskBackend` without an address would start one
    per batch) and closes it at the end; everything else is
    :func:`~sim.experiment.backends.make_backend`'s.
    """
    from sim.experiment.backends import DaskBackend, local_cluster, make_backend

    if name != "dask" or address is not None:
        yield make_backend(name, workers, address)
        return
    DaskBackend(None, workers)  # says what to install when the extra is missing
    # A dashboard on a free port (":0"): another cluster on this machine may hold the
    # default 8787, and distributed starts one there even when asked for none.
    cluster = local_cluster(workers, dashboard_address=":0")
    try:
        yield DaskBackend(cluster.scheduler_address, workers)
    finally:
        cluster.close()
