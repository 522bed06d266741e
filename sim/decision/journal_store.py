"""A decision run's replications in the journal of its unfinished folder, and back.

``fbsim plan`` and ``fbsim sensitivity`` keep, like ``fbsim run``, a journal
(:mod:`sim.results.journal`) in their resumable staging folder: one record per
replication, keyed by ``(scenario hash, replication)``, written as soon as the
replication's metrics come back (:func:`store_recorder`, the evaluator's ``on_store``).
A resumed run reads them back into the evaluator's store (:func:`journaled_store`), so
no (scenario, replication) runs twice. A decision needs only a replication's metrics,
so a record carries a :class:`~sim.analysis.metrics.ReplicationSummary` with the
metrics alone (empty curves and series); the journal keeps every float bit for bit,
so the values read back are those the interrupted run saw.

Search, feasibility check and selection are deterministic functions of those values,
so a resumed run asks for the same replications in the same order as an uninterrupted
one, reaches the same decisions and writes the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim.analysis.metrics import ReplicationSummary
from sim.decision.evaluate import Store
from sim.results.folder import MANIFEST, STAGING_LOCK
from sim.results.journal import JOURNAL, Journal, journal_entries


def metrics_summary(replication: int, metrics: dict[str, float]) -> ReplicationSummary:
    """A summary holding only a replication's metrics (what a decision journals)."""
    empty = np.zeros(0, dtype=float)
    return ReplicationSummary(replication=replication, metrics=dict(metrics),
                              identified_curve=empty, timeseries_days=empty, waiting={},
                              conservation={}, events=0)


def journaled_store(folder: Path) -> Store:
    """The replications journaled in ``folder``: scenario hash -> replication -> metrics.

    A later record of the same (scenario, replication) replaces an earlier one.
    """
    store: Store = {}
    for entry in journal_entries(folder):
        store.setdefault(entry.key, {})[entry.replication] = {
            str(k): float(v) for k, v in entry.summary.metrics.items()}
    return store


def store_recorder(journal: Journal) -> Callable[[str, int, dict[str, float]], None]:
    """The evaluator's ``on_store``: journal each new replication, durably, at once."""
    def record(key: str, replication: int, metrics: dict[str, float]) -> None:
        journal.append(key, metrics_summary(replication, metrics))

    return record


def clear_outputs(folder: Path) -> int:
    """Delete what a stopped run had begun to write in its unfinished ``folder``.

    Everything but the journal, the manifest and the lock: the resumed run writes every
    output anew, so none of an earlier session's (a plot it drew and this one will not,
    with ``--no-plots``) can reach the results. Call only on a staging folder whose
    files are all fbsim's (:class:`~sim.results.folder.StagedFolder` checks that on
    entry).

    Returns
    -------
    int
        How many files were removed.
    """
    removed = 0
    for path in sorted(folder.rglob("*")):
        if (path.name in (JOURNAL, MANIFEST, STAGING_LOCK) and path.parent == folder) or \
                path.is_symlink() or not path.is_file():
            continue
        path.unlink()
        removed += 1
    return removed
