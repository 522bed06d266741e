"""Which plans meet their targets: a sequential feasibility check that errs on the safe side.

The procedure is Batur & Kim's (2010) F_B, the multi-constraint form of the feasibility
check of Andradóttir & Kim (2010), with its thresholds placed so that the error it
controls is the dangerous one: declaring a plan feasible when it is not.

For one target "the mean of ``Y`` is at most ``q``" with tolerance ``ε`` a plan is

- *unacceptable* when its true mean is above ``q`` (it misses the target),
- *desirable* when its true mean is at most ``q - ε`` (it meets it with margin ``ε``),
- *acceptable* in between (it meets it, narrowly: either decision is correct).

F_B run at threshold ``q - ε/2`` with tolerance ``ε/2`` has exactly these three zones.
For each plan and target the partial sum ``Σ (Y_r - (q - ε/2))`` is watched after every
batch of replications; the target is declared *met* when the sum falls below ``-R(r)``
and *missed* when it rises above ``R(r)`` (:mod:`sim.decision.boundary`). A plan is
declared feasible when every target is declared met, infeasible as soon as one is
declared missed. Targets "at least ``q``" are passed in negated.

Guarantee (Batur & Kim 2010, Theorem 1, with the Bonferroni split they give for
dependent systems, ``β = α / (k s)`` for ``k`` plans and ``s`` targets, as common random
numbers make the plans dependent): with normal observations, with probability at
least ``1 - α`` every unacceptable plan is declared infeasible and every desirable plan
is declared feasible. In particular the chance that *any* plan that misses a target is
declared feasible is at most ``α``.

A replication where a target's metric is undefined (NaN) counts as missing that
target. A plan still undecided when ``max_replications`` is reached is *not* declared
feasible: the cap can cost optimality, never safety.

References
----------
Andradóttir, S. and Kim, S.-H. (2010). Fully sequential procedures for comparing
constrained systems via simulation. *Naval Research Logistics* 57(5), 403–421.
Batur, D. and Kim, S.-H. (2010). Finding feasible systems in the presence of constraints
on multiple performance measures. *ACM TOMACS* 20(3), article 13.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.decision.boundary import bonferroni, check_level, h_squared, sum_half_width

#: ``sample(systems, start, stop)`` -> array of shape (len(systems), stop - start, outputs):
#: the outputs of replications ``start .. stop - 1`` of each listed system. Replication
#: ``r`` of every system uses the same random numbers (common random numbers).
Sampler = Callable[[Sequence[int], int, int], np.ndarray]

MET, MISSED, UNDECIDED = 1, -1, 0


@dataclass(frozen=True)
class Bound:
    """One target in the form "mean at most ``threshold``".

    Attributes
    ----------
    threshold : float
        The target value ``q``.
    tolerance : float
        ``ε`` > 0: a plan whose mean is at most ``q - ε`` must be found feasible.
    """

    threshold: float
    tolerance: float

    def __post_init__(self) -> None:
        if not self.tolerance > 0:
            raise ValueError(f"a target's tolerance must be > 0, got {self.tolerance}")


@dataclass
class Feasibility:
    """The outcome of :func:`check_feasibility`.

    Attributes
    ----------
    status : numpy.ndarray
        Shape (plans, targets): :data:`MET`, :data:`MISSED` or :data:`UNDECIDED`
        (a target left undecided because the plan was already found infeasible on
        another, or the cap was reached).
    replications : numpy.ndarray
        Replications each plan used.
    means : numpy.ndarray
        Shape (plans, targets): mean of the observations each plan used.
    undefined : numpy.ndarray
        Shape (plans, targets): True where some replication gave NaN.
    alpha, beta, h2 : float
        Overall error, per-(plan, target) error and the boundary constant.
    first_stage : int
        ``n0``.
    first_replication : int
        Index of the first replication used.
    """

    status: np.ndarray
    replications: np.ndarray
    means: np.ndarray
    undefined: np.ndarray
    alpha: float
    beta: float
    h2: float
    first_stage: int
    first_replication: int

    @property
    def feasible(self) -> np.ndarray:
        """Plans declared feasible: every target declared met."""
        return np.all(self.status == MET, axis=1)

    @property
    def infeasible(self) -> np.ndarray:
        """Plans declared infeasible: some target declared missed."""
        return np.any(self.status == MISSED, axis=1)

    @property
    def undecided(self) -> np.ndarray:
        """Plans neither declared feasible nor infeasible (stopped by the cap)."""
        return ~self.feasible & ~self.infeasible

    @property
    def last_replication(self) -> int:
        """One past the highest replication index any plan used."""
        return self.first_replication + int(self.replications.max(initial=0))


def check_feasibility(sample: Sampler, plans: int, bounds: Sequence[Bound], alpha: float = 0.025,
                      first_stage: int = 10, batch: int = 1, max_replications: int | None = None,
                      first_replication: int = 0) -> Feasibility:
    """Decide for every plan whether it meets every target (procedure F_B, safe side).

    Parameters
    ----------
    sample : Sampler
        Gives the target metrics of replications of plans, shape (plans, reps, targets),
        already oriented so that smaller is better (negate "at least" targets).
    plans : int
        Number of plans ``k``.
    bounds : sequence of Bound
        One per target, in the order of ``sample``'s last axis.
    alpha : float
        Chance of any wrong decision (a missing plan declared feasible, or a desirable
        one declared infeasible), split over plans and targets.
    first_stage : int
        ``n0``: replications before the first decision; their variance sets the triangle.
    batch : int
        Replications added to each undecided plan between checks (any fixed batch keeps
        the guarantee; larger batches use parallel workers better).
    max_replications : int, optional
        Cap per plan; plans undecided at the cap are not declared feasible.
    first_replication : int
        Index of the first replication (replications must not have informed the choice
        of these plans, or the guarantee is void).
    """
    check_level(alpha)
    if plans < 1 or not bounds:
        raise ValueError("need at least one plan and one target")
    if batch < 1:
        raise ValueError("batch must be >= 1")
    if max_replications is not None and max_replications < first_stage:
        raise ValueError("max_replications must be >= first_stage")
    s = len(bounds)
    beta = bonferroni(alpha, plans * s)
    h2 = h_squared(beta, first_stage)
    shift = np.asarray([b.threshold - b.tolerance / 2.0 for b in bounds])
    half_tol = np.asarray([b.tolerance / 2.0 for b in bounds])

    first = np.asarray(sample(list(range(plans)), first_replication,
                              first_replication + first_stage), dtype=float)
    if first.shape != (plans, first_stage, s):
        raise ValueError(f"sampler returned shape {first.shape}, expected {(plans, first_stage, s)}")
    undefined = np.isnan(first).any(axis=1)
    # A target undefined in some replication is missed whatever its variance; zeros
    # stand in for its NaN values so the other targets' statistics are unaffected.
    first = np.where(np.isnan(first), 0.0, first)
    variance = np.var(first, axis=1, ddof=1)
    sums = np.sum(first - shift, axis=1)
    totals = np.sum(first, axis=1)
    r = np.full(plans, first_stage, dtype=np.int64)
    status = np.full((plans, s), UNDECIDED, dtype=np.int64)
    status[undefined] = MISSED
    active = ~np.any(status == MISSED, axis=1)

    while True:
        for i in np.flatnonzero(active):
            open_ = status[i] == UNDECIDED
            half = np.array([float(sum_half_width(r[i], h2, variance[i, j], half_tol[j]))
                             for j in range(s)])
            missed = open_ & (sums[i] >= half)  # checked first: a tie is not evidence
            met = open_ & ~missed & (sums[i] <= -half)
            status[i, missed] = MISSED
            status[i, met] = MET
            if missed.any() or np.all(status[i] == MET):
                active[i] = False
        if max_replications is not None:
            active &= r < max_replications
        todo = np.flatnonzero(active)
        if todo.size == 0:
            break
        step = batch if max_replications is None else int(min(batch, max_replications - r[todo].max()))
        start = first_replication + int(r[todo[0]])
        more = np.asarray(sample(todo.tolist(), start, start + step), dtype=float)
        bad = np.isnan(more).any(axis=1)
        for row, i in enumerate(todo):
            if bad[row].any():
                undefined[i] |= bad[row]
                status[i, bad[row]] = MISSED
                active[i] = False
            sums[i] += np.nansum(more[row] - shift, axis=0)
            totals[i] += np.nansum(more[row], axis=0)
            r[i] += step
    return Feasibility(status, r.copy(), totals / r[:, None], undefined, alpha, beta, h2,
                       first_stage, first_replication)
