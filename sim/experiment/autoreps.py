"""Sequential replication control: add replications until the estimates are precise enough.

The rule follows Hoad, Robinson & Davies (2010, *J. Oper. Res. Soc.* 61:1632-1644),
the confidence-interval method with a relative precision: after ``n`` replications
the estimate of a quantity is precise enough when the half-width of its 95% Student-t
interval is within ``precision`` times the magnitude of its mean,

    t(0.975, n - 1) * s / sqrt(n) <= precision * |mean|.

Replications are run in batches of indices ``n, n + 1, ...`` so the final result is
exactly that of a fixed run of the final count (replication ``i`` depends only on the
scenario, the seed and ``i``). The controller starts with ``initial`` replications
(10 by default, as Hoad et al. advise against fewer) and stops when *every* quantity
meets the rule, or at ``max_reps``. Between checks it adds the replications the
worst quantity is projected to need, ``n * (half-width / target)^2`` (the half-width
shrinks as ``1 / sqrt(n)``), at least ``min_batch`` and at most doubling ``n``; a fixed
``batch`` may be asked instead.

Means near zero: a relative precision of a quantity whose mean is zero cannot be met.
A quantity that is the same in every replication (half-width 0: a share that is always
0, a metric a scenario does not use) meets the rule. Otherwise the target half-width is
``max(precision * |mean|, absolute)``, where ``absolute`` is a per-quantity floor
(default none), so a caller can say "within 0.5 days" for a difference expected near
zero. A quantity defined in fewer than two replications (NaN: a 90th percentile the
waits never reach, in an overloaded system) has no interval; it is *skipped*, reported
as ``undefined``, and does not hold the run back.

The controller is generic: it calls ``run_batch(first, count)``, which runs
replications ``first .. first + count - 1`` (of one scenario, every point of a sweep
or every option of a comparison) and returns the per-replication values of each
quantity to control (metrics of a run, ``point 3: lab_wait_p90_days`` of a sweep, the
paired differences of a comparison), in replication order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analysis.stats import t_quantile

if TYPE_CHECKING:
    from sim.analysis.metrics import ReplicationSummary
    from sim.config.schema import Scenario
    from sim.experiment.backends import Backend
    from sim.experiment.runner import ExperimentResult

#: Statuses of a quantity after the last check.
MET, NOT_MET, UNDEFINED = "met", "not met", "undefined"
#: Why the controller stopped (``running`` in the states passed to ``on_check`` before the end).
STOPPED_PRECISION, STOPPED_CAP, RUNNING = "precision", "cap", "running"

#: Metrics controlled when none are named: the lab's waits and backlog, and what they
#: mean for the children only the seized devices can reveal (the children a staffing or
#: training change in the forensic pipeline can reach; children in contact are mostly
#: found at research or the warrant, before any device reaches the lab).
DEFAULT_METRICS = ("lab_wait_p90_days", "backlog_devices_end",
                   "identified_examination_within_365d_share",
                   "days_at_risk_first_year_examination_mean")

#: Replications are added at least this many at a time (per sweep point). A constant, not
#: the number of workers: the counts at which the rule is checked, and so where it stops
#: and every table, must be the same on any machine, backend and number of workers.
DEFAULT_MIN_BATCH = 4

#: ``run_batch(first, count)`` -> quantity -> its values in replications first .. first+count-1.
BatchRunner = Callable[[int, int], Mapping[str, Sequence[float]]]


@dataclass(frozen=True)
class PrecisionRule:
    """When to stop adding replications.

    Attributes
    ----------
    precision : float
        Relative half-width to reach, e.g. 0.05 for +/-5% of the mean.
    level : float
        Confidence level of the interval.
    initial : int
        Replications before the first check (at least 2).
    max_reps : int
        Cap on the replications.
    batch : int or None
        Replications added per step; None projects what the worst quantity needs.
    min_batch : int
        Smallest projected step (e.g. the number of workers, to keep them busy).
    absolute : mapping of str to float
        Per-quantity absolute floor of the target half-width (for means near zero).
    """

    precision: float = 0.05
    level: float = 0.95
    initial: int = 10
    max_reps: int = 200
    batch: int | None = None
    min_batch: int = 1
    absolute: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (0 < self.precision < 1):
            raise ValueError(f"precision must be in (0, 1), got {self.precision}")
        if not (0 < self.level < 1):
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.initial < 2:
            raise ValueError(f"initial must be >= 2 (an interval needs two), got {self.initial}")
        if self.max_reps < self.initial:
            raise ValueError(f"max_reps ({self.max_reps}) must be >= initial ({self.initial})")
        if self.batch is not None and self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if self.min_batch < 1:
            raise ValueError(f"min_batch must be >= 1, got {self.min_batch}")


@dataclass(frozen=True)
class QuantityPrecision:
    """How precise one quantity's estimate is after the last check.

    Attributes
    ----------
    mean, half_width : float
        Mean and half-width of its interval (NaN when undefined).
    relative : float
        ``half_width / |mean|`` (inf for a non-zero half-width around a zero mean, 0 for
        a constant quantity).
    target : float
        The half-width it had to reach.
    n : int
        Replications where it was defined.
    status : str
        ``met``, ``not met`` or ``undefined``.
    """

    mean: float
    half_width: float
    relative: float
    target: float
    n: int
    status: str


def judge(values: Sequence[float], rule: PrecisionRule, key: str = "") -> QuantityPrecision:
    """The precision of one quantity's values (NaN values are left out)."""
    arr = np.asarray(values, dtype=float)
    ok = arr[~np.isnan(arr)]
    n = int(ok.size)
    if n < 2:
        mean = float(ok.mean()) if n else math.nan
        return QuantityPrecision(mean, math.nan, math.nan, math.nan, n, UNDEFINED)
    mean = float(ok.mean())
    sd = float(ok.std(ddof=1))
    half = t_quantile(0.5 + rule.level / 2.0, n - 1) * sd / math.sqrt(n)
    target = max(rule.precision * abs(mean), float(rule.absolute.get(key, 0.0)))
    if half == 0.0:
        relative = 0.0
    else:
        relative = half / abs(mean) if mean != 0.0 else math.inf
    status = MET if half <= target else NOT_MET
    return QuantityPrecision(mean, half, relative, target, n, status)


@dataclass
class AutoReplications:
    """What the controller did.

    Attributes
    ----------
    replications : int
        Replications run (indices ``first .. first + replications - 1``).
    stopped : str
        ``precision`` (every quantity met the rule) or ``cap`` (``max_reps`` reached first);
        ``running`` while more replications are to come (the states given to ``on_check``).
    rule : PrecisionRule
        The rule applied.
    quantities : dict
        Quantity -> :class:`QuantityPrecision` at the last check.
    checks : list of int
        Replication counts at which the rule was checked.
    """

    replications: int
    stopped: str
    rule: PrecisionRule
    quantities: dict[str, QuantityPrecision]
    checks: list[int]

    def worst(self) -> tuple[str, QuantityPrecision] | None:
        """The defined quantity furthest from its target (largest half-width / target)."""
        defined = [(k, q) for k, q in self.quantities.items() if q.status != UNDEFINED]
        if not defined:
            return None

        def ratio(item: tuple[str, QuantityPrecision]) -> float:
            q = item[1]
            if q.half_width == 0.0:
                return 0.0
            return q.half_width / q.target if q.target > 0 else math.inf

        return max(defined, key=ratio)

    def to_dict(self) -> dict[str, Any]:
        """For summary.json and manifest.json (NaN and inf as None)."""
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        return {
            "method": "sequential confidence-interval rule (Hoad, Robinson & Davies 2010)",
            "precision": self.rule.precision, "level": self.rule.level,
            "initial": self.rule.initial, "max_reps": self.rule.max_reps,
            "absolute_floors": dict(self.rule.absolute),
            "near_zero": "a constant quantity meets the rule; a quantity undefined in "
                         "fewer than 2 replications is skipped; otherwise the target is "
                         "max(precision * |mean|, the absolute floor if any)",
            "replications": self.replications, "stopped_at": self.stopped,
            "checks": list(self.checks),
            "quantities": {k: {"mean": num(q.mean), "half_width": num(q.half_width),
                               "relative_half_width": num(q.relative),
                               "target_half_width": num(q.target),
                               "replications_defined": q.n, "status": q.status}
                           for k, q in self.quantities.items()},
        }


def _next_total(n: int, quantities: Mapping[str, QuantityPrecision], rule: PrecisionRule) -> int:
    """How many replications to have after the next batch."""
    if rule.batch is not None:
        return min(rule.max_reps, n + rule.batch)
    need = n + rule.min_batch
    for q in quantities.values():
        if q.status != NOT_MET:
            continue
        if q.target > 0:
            projected = math.ceil(n * (q.half_width / q.target) ** 2)
        else:
            projected = 2 * n
        need = max(need, projected)
    return min(rule.max_reps, max(n + rule.min_batch, min(need, 2 * n)))


def run_until_precise(run_batch: BatchRunner, rule: PrecisionRule, first: int = 0,
                      on_check: Callable[[AutoReplications], None] | None = None
                      ) -> AutoReplications:
    """Run batches of replications until every quantity meets ``rule``, or the cap.

    Parameters
    ----------
    run_batch : callable
        ``run_batch(first, count)`` runs replications ``first .. first + count - 1``
        and returns, for every quantity to control, its values in those replications
        in replication order. It is called with consecutive ranges, starting at
        ``first``; the caller keeps whatever else it needs (tables, summaries).
    rule : PrecisionRule
        When to stop.
    first : int
        Index of the first replication.
    on_check : callable, optional
        Called with the state after every check (for progress messages).

    Returns
    -------
    AutoReplications
        Replications run, why it stopped and each quantity's precision.
    """
    values: dict[str, list[float]] = {}
    n = 0
    target = rule.initial
    checks: list[int] = []
    while True:
        batch = run_batch(first + n, target - n)
        for key, vals in batch.items():
            got = [float(v) for v in vals]
            if len(got) != target - n:
                raise ValueError(f"run_batch returned {len(got)} values of {key!r} for "
                                 f"{target - n} replications")
            values.setdefault(key, []).extend(got)
        n = target
        checks.append(n)
        quantities = {k: judge(v, rule, k) for k, v in values.items()}
        done = all(q.status != NOT_MET for q in quantities.values())
        stopped = (STOPPED_PRECISION if done else
                   STOPPED_CAP if n >= rule.max_reps else RUNNING)
        state = AutoReplications(n, stopped, rule, quantities, list(checks))
        if on_check is not None:
            on_check(state)
        if done or n >= rule.max_reps:
            return state
        target = _next_total(n, quantities, rule)


def run_experiment_auto(scenario: Scenario, seed: int, rule: PrecisionRule,
                        metrics: Sequence[str] = DEFAULT_METRICS,
                        backend: Backend | None = None,
                        on_result: Callable[[ReplicationSummary, int, int], None] | None = None,
                        on_check: Callable[[AutoReplications], None] | None = None,
                        first_replication: int = 0, table_dir: Path | None = None,
                        table_format: str = "csv", table_set: str = "full",
                        finished: Mapping[int, ReplicationSummary] | None = None,
                        record: Callable[[ReplicationSummary], None] | None = None
                        ) -> ExperimentResult:
    """:func:`~sim.experiment.runner.run_experiment` with replications added until precise.

    Runs batches of consecutive replications until every metric of ``metrics`` meets
    ``rule``, or the cap; the result is the same as a fixed run of the final count.
    ``on_result(summary, done, total)`` counts over all batches (``total`` is the
    count the current batch reaches). The result's ``extra`` holds the controller's
    outcome: ``auto`` (:class:`AutoReplications`) and ``replication_control`` (its
    :meth:`~AutoReplications.to_dict`). ``finished`` and ``record`` are passed to each
    batch's run (a resumed run: replications already done are not run again, and the
    rule, seeing the same values, stops where the uninterrupted run would).
    """
    from sim.analysis.replication_store import ReplicationStore
    from sim.experiment.runner import ExperimentResult, run_experiment

    store = ReplicationStore(first_replication)  # every batch's replications, in one
    parts: list[ExperimentResult] = []

    def batch(first: int, count: int) -> dict[str, list[float]]:
        offset = first - first_replication

        def report(summary: ReplicationSummary, done: int, total: int) -> None:
            if on_result is not None:
                on_result(summary, offset + done, offset + total)

        # run_experiment looks up only this batch's indices in ``finished`` (a resumed
        # run's journal, read from disk one replication at a time).
        part = run_experiment(scenario, count, seed, backend, table_dir, table_format, report,
                              first, table_set, finished=finished, record=record, store=store)
        parts.append(part)
        indices = range(first, first + count)
        return {m: store.metric_for(m, indices).tolist() for m in metrics}

    auto = run_until_precise(batch, rule, first_replication, on_check)
    return ExperimentResult(scenario, seed, store, sum(p.wall_seconds for p in parts),
                            parts[0].backend, parts[0].workers,
                            {"auto": auto, "replication_control": auto.to_dict()})
