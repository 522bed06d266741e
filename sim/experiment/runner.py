"""Replications as tasks, and an experiment as a set of them.

:func:`run_task` is the unit of work shipped to a backend: it runs one replication,
writes its tables (if asked) straight from the worker, and returns only the small
:class:`~sim.analysis.metrics.ReplicationSummary`. The main process puts each summary
into the experiment's :class:`~sim.analysis.replication_store.ReplicationStore` as it
comes back (metrics as columns, curves off the heap) and lets it go, so memory stays
flat however many replications run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sim.analysis.metrics import METRICS, ReplicationSummary, replication_metrics
from sim.analysis.replication_store import ReplicationStore
from sim.analysis.stats import Estimate, mean_ci
from sim.config.schema import Scenario
from sim.experiment.backends import Backend, SerialBackend
from sim.model.replication import run_replication
from sim.results.tables import write_replication_tables


@dataclass(frozen=True)
class Task:
    """One replication to run.

    Attributes
    ----------
    scenario : Scenario
        What to simulate.
    replication : int
        Replication index.
    seed : int
        Base seed.
    table_dir : str or None
        Where the worker writes this replication's tables; None writes none.
    table_format : str
        ``csv`` or ``parquet``.
    table_set : str
        Which tables: ``standard`` (all but the per-visit log) or ``full``.
    """

    scenario: Scenario
    replication: int
    seed: int
    table_dir: str | None = None
    table_format: str = "csv"
    table_set: str = "full"


def run_task(task: Task) -> ReplicationSummary:
    """Run one replication, write its tables, return its summary."""
    t0 = time.perf_counter()
    records = run_replication(task.scenario, task.replication, task.seed)
    summary = replication_metrics(records, task.scenario)
    if task.table_dir is not None:
        write_replication_tables(records, Path(task.table_dir), task.table_format,
                                 task.table_set)
    summary.seconds = time.perf_counter() - t0
    return summary


@dataclass
class ExperimentResult:
    """All replication summaries of a run, ordered by replication index.

    ``replications`` is a :class:`~sim.analysis.replication_store.ReplicationStore` (a
    sequence of summaries, rebuilt on access); a list given is put into one.
    """

    scenario: Scenario
    seed: int
    replications: Sequence[ReplicationSummary]
    wall_seconds: float
    backend: str
    workers: int
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.replications, ReplicationStore):
            self.replications = ReplicationStore.of(self.replications)

    @property
    def store(self) -> ReplicationStore:
        """The replications, with their metrics as columns and curves by blocks."""
        assert isinstance(self.replications, ReplicationStore)
        return self.replications

    def estimates(self, level: float = 0.95) -> dict[str, Estimate]:
        """Mean and CI of every metric across replications."""
        return {name: mean_ci(self.store.metric(name, strict=True), level, info.bounds)
                for name, info in METRICS.items()}


def run_experiment(scenario: Scenario, replications: int, seed: int,
                   backend: Backend | None = None, table_dir: Path | None = None,
                   table_format: str = "csv",
                   on_result: Callable[[ReplicationSummary, int, int], None] | None = None,
                   first_replication: int = 0, table_set: str = "full",
                   finished: Mapping[int, ReplicationSummary] | None = None,
                   record: Callable[[ReplicationSummary], None] | None = None,
                   store: ReplicationStore | None = None) -> ExperimentResult:
    """Run replications ``first_replication`` .. ``first_replication + replications - 1``.

    Parameters
    ----------
    scenario : Scenario
        What to simulate.
    replications : int
        How many replications.
    seed : int
        Base seed; replication ``i`` uses streams ``(seed, i)``.
    backend : Backend, optional
        Where to run (serial by default).
    table_dir : pathlib.Path, optional
        Folder for per-replication tables; None writes no tables.
    table_format : str
        ``csv`` or ``parquet``.
    on_result : callable, optional
        Called as ``on_result(summary, done, total)`` after each replication.
    first_replication : int
        Index of the first replication.
    table_set : str
        Which tables to write: ``full`` (default, every table) or ``standard`` (all but
        the per-visit log ``stage_visits``; what ``fbsim run`` writes by default).
    finished : mapping of int to ReplicationSummary, optional
        Replications already run (by index; a resumed run's journal): they are not run
        again, and their summaries join the result as if they had been. Their tables,
        if any, must already be in ``table_dir``.
    record : callable, optional
        Called as ``record(summary)`` as soon as each replication is back, before
        ``on_result`` (a resumable run journals it: :func:`sim.results.resume.recorder`).
    store : ReplicationStore, optional
        Where the summaries go (a run in batches adds each batch to one store); by
        default a new one. The result holds the whole store.
    """
    if replications < 1:
        raise ValueError("replications must be >= 1")
    backend = backend or SerialBackend()
    indices = range(first_replication, first_replication + replications)
    finished = finished or {}
    results = ReplicationStore(first_replication) if store is None else store
    reused = [i for i in indices if i in finished]
    for i in reused:  # one at a time: a journal's mapping reads each from disk when asked
        results.add(finished[i])
    skip = set(reused)
    tasks = (Task(scenario, i, seed, None if table_dir is None else str(table_dir),
                  table_format, table_set)
             for i in indices if i not in skip)  # made as workers take them
    t0 = time.perf_counter()
    done_count = len(reused)
    if done_count < replications:
        # closing(): if the caller's callback fails or the run is interrupted here, the
        # backend stops its workers now, before the caller cleans up their output folder.
        with contextlib.closing(backend.map_unordered(run_task, tasks)) as done:
            for summary in done:
                if record is not None:
                    record(summary)
                results.add(summary)
                done_count += 1
                if on_result is not None:
                    on_result(summary, done_count, replications)
    return ExperimentResult(scenario, seed, results, time.perf_counter() - t0, backend.name,
                            backend.workers)
