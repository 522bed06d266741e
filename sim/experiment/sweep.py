"""A sweep: one scenario at many lever values, every point on the same random numbers.

Every point runs replications ``first .. first + n - 1`` with the same seed, so
replication ``i`` of every point sees the same referrals and service times (common
random numbers) and the differences between points are the lever's, not noise. All
(point, replication) tasks go through one ``backend.map_unordered`` call, so the
workers stay busy across points, and each worker sends back only the replication's
metrics (no tables, no curves): a sweep's memory grows with points x replications x
metrics numbers, nothing more.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.metrics import METRICS, ReplicationSummary
from sim.analysis.stats import Estimate, mean_ci, t_quantile
from sim.config.schema import Scenario
from sim.experiment.backends import Backend, SerialBackend
from sim.experiment.design import Point, Value, point_scenarios
from sim.experiment.runner import Task, run_task

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiment.autoreps import AutoReplications, PrecisionRule


@dataclass(frozen=True)
class PointTask:
    """One replication of one sweep point, for a worker."""

    point: int
    task: Task


@dataclass(frozen=True)
class PointReplication:
    """What a worker sends back: one replication's metrics at one point."""

    point: int
    replication: int
    metrics: dict[str, float]
    events: int
    seconds: float


def run_point_task(job: PointTask) -> PointReplication:
    """Run one replication of one point; keep only its metrics."""
    summary = run_task(job.task)
    return PointReplication(job.point, summary.replication,
                            {k: float(v) for k, v in summary.metrics.items()},
                            summary.events, summary.seconds)


def metric_bounds(name: str) -> tuple[float, float]:
    """Range of a metric (shares in [0, 1], the rest non-negative)."""
    from sim.results.summary import unit_and_description

    if name in METRICS:
        return METRICS[name].bounds
    return (0.0, 1.0) if unit_and_description(name)[0] == "share" else (0.0, math.inf)


def t_half_width(e: Estimate, level: float = 0.95) -> float:
    """Half-width of the Student-t interval of ``e`` before clipping (NaN below two values)."""
    if e.n < 2:
        return math.nan
    return t_quantile(0.5 + level / 2.0, e.n - 1) * e.sd / math.sqrt(e.n)


@dataclass
class SweepResult:
    """Every replication of every point of a sweep.

    Attributes
    ----------
    scenario : Scenario
        The base scenario.
    points : list of dict
        Lever path -> value, one per point, in design order.
    seed : int
        Seed shared by every point.
    runs : list of list of PointReplication
        Per point, its replications ordered by index (the same indices at every point).
    wall_seconds : float
        Time the sweep took.
    backend : str
        Backend name.
    workers : int
        Workers.
    auto : AutoReplications or None
        What replication control did, for ``reps="auto"``.
    specs : list of str
        The ``PATH=SPEC`` texts, for provenance.
    design : str
        ``grid`` or ``lhs``.
    """

    scenario: Scenario
    points: list[Point]
    seed: int
    runs: list[list[PointReplication]]
    wall_seconds: float
    backend: str
    workers: int
    auto: AutoReplications | None = None
    specs: list[str] = field(default_factory=list)
    design: str = "grid"

    @property
    def levers(self) -> list[str]:
        """Lever paths, in the order of the points' keys."""
        return list(self.points[0]) if self.points else []

    @property
    def replications(self) -> int:
        """Replications per point."""
        return len(self.runs[0]) if self.runs else 0

    def metric_names(self) -> list[str]:
        """Every metric the replications report: :data:`METRICS` first, then stage waits."""
        names: dict[str, None] = {n: None for n in METRICS}
        for reps in self.runs:
            for r in reps:
                names.update(dict.fromkeys(r.metrics))
        return list(names)

    def values(self, point: int, metric: str) -> list[float]:
        """One metric's values at one point, in replication order."""
        return [r.metrics.get(metric, math.nan) for r in self.runs[point]]

    def estimates(self, level: float = 0.95) -> list[dict[str, Estimate]]:
        """Per point, the mean and interval of every metric."""
        names = self.metric_names()
        return [{n: mean_ci(self.values(i, n), level, metric_bounds(n)) for n in names}
                for i in range(len(self.points))]

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy estimates: one row per point and metric.

        Columns ``point``, one per lever, ``metric``, ``mean``, ``ci_low``, ``ci_high``
        (the interval, clipped to the metric's range: shares to [0, 1], the rest at 0),
        ``half_width`` (the t interval's half-width before clipping,
        :func:`t_half_width`), ``replications`` (those where the metric was defined)
        and ``replications_run``.
        """
        import pandas as pd

        rows = []
        for i, (point, est) in enumerate(zip(self.points, self.estimates(level), strict=True)):
            for name, e in est.items():
                rows.append({"point": i, **point, "metric": name, "mean": e.mean,
                             "ci_low": e.ci_low, "ci_high": e.ci_high,
                             "half_width": t_half_width(e, level), "replications": e.n,
                             "replications_run": e.n_total})
        return pd.DataFrame(rows)

    def replications_frame(self) -> pd.DataFrame:
        """One row per point and replication: the levers, and every metric."""
        import pandas as pd

        names = self.metric_names()
        rows = []
        for i, (point, reps) in enumerate(zip(self.points, self.runs, strict=True)):
            for r in reps:
                rows.append({"point": i, **point, "replication": r.replication,
                             **{n: r.metrics.get(n, math.nan) for n in names},
                             "events": r.events, "seconds": r.seconds})
        return pd.DataFrame(rows)


def sweep_tasks(scenarios: Sequence[Scenario], first: int, count: int, seed: int,
                skip: Mapping[int, Mapping[int, object]] | None = None
                ) -> Iterator[PointTask]:
    """Tasks replication by replication, every point in turn (made as workers take them).

    ``skip`` (point -> replication -> anything) names the tasks not to make.
    """
    skip = skip or {}
    for r in range(first, first + count):
        for i, scenario in enumerate(scenarios):
            if r not in skip.get(i, {}):
                yield PointTask(i, Task(scenario, r, seed))


def run_points(scenarios: Sequence[Scenario], first: int, count: int, seed: int,
               backend: Backend,
               on_result: Callable[[PointReplication, int, int], None] | None = None,
               finished: Mapping[int, Mapping[int, PointReplication]] | None = None,
               record: Callable[[PointReplication], None] | None = None
               ) -> list[list[PointReplication]]:
    """Replications ``first .. first + count - 1`` of every scenario, in one map.

    ``finished`` (point -> replication -> result: a resumed sweep's journal) are not
    run again but join the result; ``record(rep)`` is called as soon as each new one
    is back (a resumable sweep journals it). Returns, per scenario, its replications
    ordered by index.
    """
    total = len(scenarios) * count
    wanted = range(first, first + count)
    reused = {i: {r: rep for r, rep in (finished or {}).get(i, {}).items() if r in wanted}
              for i in range(len(scenarios))}
    runs: list[list[PointReplication]] = [list(reused[i].values()) for i in range(len(scenarios))]
    done = sum(len(reps) for reps in runs)
    if done < total:
        with contextlib.closing(backend.map_unordered(
                run_point_task, sweep_tasks(scenarios, first, count, seed, reused))) as results:
            for rep in results:
                if record is not None:
                    record(rep)
                runs[rep.point].append(rep)
                done += 1
                if on_result is not None:
                    on_result(rep, done, total)
    for reps in runs:
        reps.sort(key=lambda r: r.replication)
    return runs


def as_summary(rep: PointReplication) -> ReplicationSummary:
    """A point's replication as a (curve-less) summary, for the journal of a resumable sweep."""
    empty = np.empty(0)
    return ReplicationSummary(rep.replication, dict(rep.metrics), empty, empty, {}, {},
                              rep.events, rep.seconds)


def from_summary(point: int, summary: ReplicationSummary) -> PointReplication:
    """The replication :func:`as_summary` journaled, equal to it bit for bit."""
    return PointReplication(point, summary.replication,
                            {k: float(v) for k, v in summary.metrics.items()},
                            summary.events, summary.seconds)


def run_sweep(base: Scenario, points: Sequence[Mapping[str, Value]], replications: int,
              seed: int, backend: Backend | None = None, first_replication: int = 0,
              on_result: Callable[[PointReplication, int, int], None] | None = None,
              scenarios: Sequence[Scenario] | None = None,
              finished: Mapping[int, Mapping[int, PointReplication]] | None = None,
              record: Callable[[PointReplication], None] | None = None) -> SweepResult:
    """Run every point with the same seed and replication indices.

    Parameters
    ----------
    base : Scenario
        The scenario the points change.
    points : sequence of mapping
        Lever path -> value (:mod:`sim.experiment.design`); each is checked by building
        its scenario before anything runs.
    replications : int
        Replications per point.
    seed : int
        Base seed shared by every point (common random numbers).
    backend : Backend, optional
        Where to run (serial by default); one ``map_unordered`` for all tasks.
    first_replication : int
        Index of the first replication.
    on_result : callable, optional
        ``on_result(rep, done, total)`` after each (point, replication).
    scenarios : sequence of Scenario, optional
        The points' scenarios, if already built by
        :func:`~sim.experiment.design.point_scenarios`.
    finished, record
        As :func:`run_points` (a resumable sweep).
    """
    if replications < 1:
        raise ValueError("replications must be >= 1")
    if not points:
        raise ValueError("a sweep needs at least one point")
    if scenarios is None:
        scenarios = point_scenarios(base, points)
    backend = backend or SerialBackend()
    t0 = time.perf_counter()
    runs = run_points(scenarios, first_replication, replications, seed, backend, on_result,
                      finished, record)
    return SweepResult(base, [dict(p) for p in points], seed, runs, time.perf_counter() - t0,
                       backend.name, backend.workers)


def point_key(point: int, metric: str) -> str:
    """The replication controller's name of one point's metric."""
    return f"point {point}: {metric}"


def run_sweep_auto(base: Scenario, points: Sequence[Mapping[str, Value]], seed: int,
                   metrics: Sequence[str], rule: PrecisionRule, backend: Backend | None = None,
                   first_replication: int = 0,
                   on_result: Callable[[PointReplication, int, int], None] | None = None,
                   on_check: Callable[[AutoReplications], None] | None = None,
                   scenarios: Sequence[Scenario] | None = None,
                   finished: Mapping[int, Mapping[int, PointReplication]] | None = None,
                   record: Callable[[PointReplication], None] | None = None) -> SweepResult:
    """A sweep with replications added until every point's ``metrics`` are precise.

    Parameters
    ----------
    rule : sim.experiment.autoreps.PrecisionRule
        The stopping rule; every point must meet it for every metric of ``metrics``
        (those undefined at a point are skipped there).

    Other parameters are those of :func:`run_sweep`; ``on_result`` gets ``done`` and
    ``total`` of the current batch. A resumed sweep (``finished``) stops where the
    uninterrupted one would: the rule sees the same values.
    """
    from sim.experiment.autoreps import run_until_precise

    if not points:
        raise ValueError("a sweep needs at least one point")
    built = point_scenarios(base, points) if scenarios is None else list(scenarios)
    backend = backend or SerialBackend()
    runs: list[list[PointReplication]] = [[] for _ in built]
    t0 = time.perf_counter()

    def batch(first: int, count: int) -> dict[str, list[float]]:
        new = run_points(built, first, count, seed, backend, on_result, finished, record)
        out: dict[str, list[float]] = {}
        for i, reps in enumerate(new):
            runs[i].extend(reps)
            for m in metrics:
                out[point_key(i, m)] = [r.metrics.get(m, math.nan) for r in reps]
        return out

    auto = run_until_precise(batch, rule, first_replication, on_check)
    return SweepResult(base, [dict(p) for p in points], seed, runs, time.perf_counter() - t0,
                       backend.name, backend.workers, auto)
