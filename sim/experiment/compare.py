"""Compare scenarios on common random numbers: the same seed and replications for each.

Replication ``r`` of every scenario (an *arm*) uses the random streams ``(seed, r)``,
so the per-replication difference option − base cancels much of the noise. All arms'
replications go through one backend map (:func:`run_arms`), interleaved by
replication, so workers stay busy until the last one finishes whatever the number of
arms. With several options, the p-values of each metric are Holm-adjusted across the
options (:func:`sim.analysis.paired.holm_adjust`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analysis.metrics import METRICS, ReplicationSummary
from sim.analysis.paired import (
    PairedDifference,
    Ratio,
    holm_adjust,
    paired_difference,
    paired_p_value,
    ratio_of_mean_differences,
    replications_to_resolve,
)
from sim.analysis.replication_store import ReplicationStore
from sim.config.loader import scenario_hash
from sim.config.schema import Scenario
from sim.experiment.backends import Backend, SerialBackend
from sim.experiment.runner import ExperimentResult, Task, run_experiment, run_task

if TYPE_CHECKING:
    from sim.experiment.autoreps import AutoReplications, PrecisionRule


@dataclass
class Comparison:
    """Results of a base scenario and one option, and their paired differences."""

    base: ExperimentResult
    option: ExperimentResult

    def child_days_saved_per_million_gbp(self, level: float = 0.95) -> Ratio:
        """Child-days at risk saved per £1m of extra cost, option against base.

        NaN when the costs do not differ (no unit costs set, or equal costs).
        """
        def per_rep(result: ExperimentResult, name: str) -> np.ndarray:
            return result.store.metric(name, strict=True)

        saved = per_rep(self.base, "child_days_at_risk") - per_rep(self.option, "child_days_at_risk")
        extra_m = (per_rep(self.option, "cost_total_gbp") - per_rep(self.base, "cost_total_gbp")) / 1e6
        return ratio_of_mean_differences(saved, extra_m, level)

    def differences(self, level: float = 0.95) -> dict[str, PairedDifference]:
        """Paired difference (option − base) of every metric both arms report."""
        out = {}
        for name in metric_names([self.base, self.option]):
            a = self.base.store.metric(name)
            b = self.option.store.metric(name)
            out[name] = paired_difference(a, b, level)
        return out


def metric_names(results: Sequence[ExperimentResult]) -> list[str]:
    """Metrics every result reports: :data:`METRICS` first, then the others (stage waits)."""
    seen: dict[str, None] = dict.fromkeys(METRICS)
    for result in results:
        seen.update(dict.fromkeys(result.store.metric_names()))
    return [n for n in seen if all(res.store.has_metric(n) for res in results)]


#: The run settings that must agree for a paired comparison to mean anything: what
#: part of the calendar is simulated and measured.
PAIRED_RUN_SETTINGS = ("start_date", "horizon", "warmup_days")


def run_setting_differences(base: Scenario, option: Scenario) -> list[str]:
    """The run settings of :data:`PAIRED_RUN_SETTINGS` in which ``option`` differs from ``base``.

    Each entry reads ``run.horizon: 1826.25 days (base) against 120 (option)``; the
    horizon is compared in days, so ``horizon_years: 1`` equals ``horizon_days: 365.25``.
    """
    out = []
    for key in PAIRED_RUN_SETTINGS:
        a, b = getattr(base.run, key), getattr(option.run, key)
        if a != b:
            unit = " days" if key != "start_date" else ""
            out.append(f"run.{key}: {a}{unit} ({base.name}) against {b}{unit} ({option.name})")
    return out


def run_arm_task(job: tuple[int, Task]) -> tuple[int, ReplicationSummary]:
    """Run one replication of arm ``job[0]``; the unit of work of :func:`run_arms`."""
    arm, task = job
    return arm, run_task(task)


def run_arms(scenarios: Sequence[Scenario], replications: int, seed: int,
             backend: Backend | None = None,
             on_result: Callable[[ReplicationSummary, int, int], None] | None = None,
             first_replication: int = 0,
             finished: Mapping[str, Mapping[int, ReplicationSummary]] | None = None,
             record: Callable[[str, ReplicationSummary], None] | None = None,
             stores: dict[str, ReplicationStore] | None = None) -> list[ExperimentResult]:
    """Replications of several scenarios on common random numbers, through one backend map.

    Tasks are made as workers take them, replication by replication across the arms,
    so the number in flight is bounded and every arm advances together. Scenarios
    that are the same (equal :func:`~sim.config.loader.scenario_hash`) run once.

    Parameters
    ----------
    scenarios : sequence of Scenario
        The arms, base first by convention.
    replications, seed, first_replication
        As :func:`sim.experiment.runner.run_experiment`.
    backend : Backend, optional
        Where to run (serial by default).
    on_result : callable, optional
        ``on_result(summary, done, total)`` after each replication of any arm.
    finished : mapping, optional
        Scenario hash -> replication index -> summary: replications already run (a
        resumed comparison's journal); they are not run again and join the result.
    record : callable, optional
        ``record(scenario_hash, summary)`` as soon as each replication is back (a
        resumable comparison journals it).
    stores : dict of str to ReplicationStore, optional
        Scenario hash -> the store its replications go into (a comparison run in batches
        keeps one per scenario); one is made for each hash not in it.

    Returns
    -------
    list of ExperimentResult
        One per scenario, in the order given; ``wall_seconds`` is the whole run's.
    """
    if replications < 1:
        raise ValueError("replications must be >= 1")
    backend = backend or SerialBackend()
    keys = [scenario_hash(s) for s in scenarios]
    unique = list(dict.fromkeys(keys))
    first = {k: scenarios[keys.index(k)] for k in unique}
    indices = range(first_replication, first_replication + replications)
    stores = {} if stores is None else stores
    got = [stores.setdefault(k, ReplicationStore(first_replication)) for k in unique]
    done = 0
    reused: dict[str, set[int]] = {}
    for k, store in zip(unique, got, strict=True):
        earlier = (finished or {}).get(k, {})
        reused[k] = {i for i in indices if i in earlier}
        for i in sorted(reused[k]):  # one at a time: a journal reads each from disk
            store.add(earlier[i])
        done += len(reused[k])
    total = replications * len(unique)
    jobs = ((u, Task(first[k], i, seed))
            for i in indices for u, k in enumerate(unique) if i not in reused[k])
    t0 = time.perf_counter()
    if done < total:
        with contextlib.closing(backend.map_unordered(run_arm_task, jobs)) as results:
            for u, summary in results:
                if record is not None:
                    record(unique[u], summary)
                got[u].add(summary)
                done += 1
                if on_result is not None:
                    on_result(summary, done, total)
    wall = time.perf_counter() - t0
    return [ExperimentResult(s, seed, stores[k], wall, backend.name, backend.workers)
            for s, k in zip(scenarios, keys, strict=True)]


#: Columns of :meth:`MultiComparison.difference_rows`, in order.
DIFFERENCE_COLUMNS = ("option", "metric", "unit", "base_mean", "option_mean", "difference",
                      "ci95_low", "ci95_high", "sd_difference", "replications", "p_value",
                      "p_holm", "significant", "significant_holm", "replications_to_resolve")


@dataclass
class MultiComparison:
    """A base and one or more options run on common random numbers.

    Attributes
    ----------
    base : ExperimentResult
        The base arm.
    options : list of ExperimentResult
        The options, each compared with the base.
    labels : list of str
        Names of the base and the options (the scenario names, made unique).
    level : float
        Confidence level of the intervals and of the tests (0.95).
    auto : AutoReplications or None
        What replication control did (``--reps auto``), None for a fixed count.
    """

    base: ExperimentResult
    options: list[ExperimentResult]
    labels: list[str] = field(default_factory=list)
    level: float = 0.95
    auto: AutoReplications | None = None

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = arm_labels([self.base.scenario, *(o.scenario for o in self.options)])

    @property
    def arms(self) -> list[ExperimentResult]:
        """The base, then the options."""
        return [self.base, *self.options]

    @property
    def holm(self) -> bool:
        """Whether p-values are Holm-adjusted (several options)."""
        return len(self.options) > 1

    def pair(self, i: int) -> Comparison:
        """The base against option ``i``."""
        return Comparison(self.base, self.options[i])

    def metric_names(self) -> list[str]:
        """Metrics every arm reports."""
        return metric_names(self.arms)

    def difference_rows(self, metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Paired difference option − base of each metric, one row per (option, metric).

        Columns :data:`DIFFERENCE_COLUMNS`: the two means, the mean difference and its
        interval, its SD and the replications where it is defined, the paired t-test's
        p-value and its Holm adjustment across the options (equal to it with one
        option), whether the interval excludes zero (``significant``), whether the
        adjusted p-value is below ``1 - level`` (``significant_holm``), and, where the
        interval includes zero, the replications a paired interval would need to
        exclude it at the observed difference and SD (NaN where resolved or never).
        """
        from sim.results.summary import unit_and_description

        names = list(metrics) if metrics is not None else self.metric_names()
        rows: list[dict[str, Any]] = []
        for name in names:
            part: list[dict[str, Any]] = []
            a = self.base.store.metric(name)
            for label, option in zip(self.labels[1:], self.options, strict=True):
                b = option.store.metric(name)
                d = paired_difference(a, b, self.level)
                diff = d.difference
                need = (replications_to_resolve(diff, self.level)
                        if not d.significant and diff.n >= 2 else None)
                part.append({
                    "option": label, "metric": name, "unit": unit_and_description(name)[0],
                    "base_mean": d.base.mean, "option_mean": d.option.mean,
                    "difference": diff.mean, "ci95_low": diff.ci_low, "ci95_high": diff.ci_high,
                    "sd_difference": diff.sd, "replications": diff.n,
                    "p_value": paired_p_value(diff), "significant": d.significant,
                    "replications_to_resolve": math.nan if need is None else need})
            adjusted = holm_adjust([float(row["p_value"]) for row in part])
            for row, p in zip(part, adjusted, strict=True):
                row["p_holm"] = float(p)
                row["significant_holm"] = bool(p < 1.0 - self.level)
            rows.extend({k: row[k] for k in DIFFERENCE_COLUMNS} for row in part)
        return rows


def arm_labels(scenarios: Sequence[Scenario]) -> list[str]:
    """Scenario names, with ``-2``, ``-3`` … added where two arms share a name."""
    out: list[str] = []
    for s in scenarios:
        label, k = s.name, 2
        while label in out:
            label, k = f"{s.name}-{k}", k + 1
        out.append(label)
    return out


def compare_many(base: Scenario, options: Sequence[Scenario], replications: int, seed: int,
                 backend: Backend | None = None,
                 on_result: Callable[[ReplicationSummary, int, int], None] | None = None,
                 level: float = 0.95,
                 finished: Mapping[str, Mapping[int, ReplicationSummary]] | None = None,
                 record: Callable[[str, ReplicationSummary], None] | None = None
                 ) -> MultiComparison:
    """Run a base and options on common random numbers through one backend map.

    ``finished`` and ``record`` are those of :func:`run_arms` (a resumable comparison).
    """
    results = run_arms([base, *options], replications, seed, backend, on_result,
                       finished=finished, record=record)
    return MultiComparison(results[0], results[1:], level=level)


def difference_key(option: str, base: str, metric: str) -> str:
    """The replication controller's name of an option's paired difference in a metric."""
    return f"{option} - {base}: {metric}"


def paired_values(base: Sequence[ReplicationSummary], option: Sequence[ReplicationSummary],
                  metric: str) -> list[float]:
    """Per replication, option − base in ``metric`` (NaN where either is undefined)."""
    return [o.metrics.get(metric, math.nan) - b.metrics.get(metric, math.nan)
            for b, o in zip(base, option, strict=True)]


def compare_many_auto(base: Scenario, options: Sequence[Scenario], seed: int,
                      rule: PrecisionRule, metrics: Sequence[str],
                      backend: Backend | None = None,
                      on_result: Callable[[ReplicationSummary, int, int], None] | None = None,
                      on_check: Callable[[AutoReplications], None] | None = None,
                      level: float = 0.95,
                      finished: Mapping[str, Mapping[int, ReplicationSummary]] | None = None,
                      record: Callable[[str, ReplicationSummary], None] | None = None
                      ) -> MultiComparison:
    """A comparison with replications added until the paired differences are precise.

    The quantities controlled are the per-replication differences option − base of
    every metric of ``metrics``, for every option (named by :func:`difference_key`);
    each batch runs replications ``first .. first + count - 1`` of every arm through
    one backend map (:func:`run_arms`), so the result equals a fixed comparison of
    the final count. ``rule.absolute`` may give a floor per quantity (for a difference
    near zero, which a relative precision cannot reach). ``finished`` and ``record``
    as for :func:`run_arms` (a resumed comparison stops where the uninterrupted one
    would: the rule sees the same values). ``on_result``'s ``total`` is the count the
    current batch reaches, over every arm.
    """
    from sim.experiment.autoreps import run_until_precise

    arms = [base, *options]
    labels = arm_labels(arms)
    keys = [scenario_hash(s) for s in arms]
    stores: dict[str, ReplicationStore] = {}  # one per scenario, every batch in it
    backend = backend or SerialBackend()
    t0 = time.perf_counter()
    unique = len(set(keys))

    def batch(first: int, count: int) -> dict[str, list[float]]:
        before = (len(stores[keys[0]]) if stores else 0) * unique

        def report(summary: ReplicationSummary, done: int, total: int) -> None:
            if on_result is not None:
                on_result(summary, before + done, before + total)

        run_arms(arms, count, seed, backend, report, first, finished, record, stores)
        indices = range(first, first + count)
        out = {}
        for label, key in zip(labels[1:], keys[1:], strict=True):
            for m in metrics:
                out[difference_key(label, labels[0], m)] = (
                    stores[key].metric_for(m, indices)
                    - stores[keys[0]].metric_for(m, indices)).tolist()
        return out

    auto = run_until_precise(batch, rule, 0, on_check)
    wall = time.perf_counter() - t0
    results = [ExperimentResult(s, seed, stores[k], wall, backend.name, backend.workers)
               for s, k in zip(arms, keys, strict=True)]
    return MultiComparison(results[0], results[1:], labels, level, auto)


def compare(base: Scenario, option: Scenario, replications: int, seed: int,
            backend: Backend | None = None) -> Comparison:
    """Run both scenarios with the same seed and replication indices (common random numbers)."""
    if backend is None:
        return Comparison(run_experiment(base, replications, seed),
                          run_experiment(option, replications, seed))
    both = run_arms([base, option], replications, seed, backend)
    return Comparison(both[0], both[1])
