"""Which plan is cheapest: Kim & Nelson's (2001) fully sequential procedure KN.

Given ``k`` plans whose replications share random numbers (common random numbers),
KN takes ``n0`` replications of each, estimates the variance of every *pairwise
difference* ``S²_il = Var(X_i - X_l)`` — so the correlation that common random numbers
create shrinks the comparisons — and then, after each batch of replications of the
surviving plans, drops plan ``i`` when some surviving ``l`` is cheaper by more than the
half-width of their triangle:

    ``Σ_r (X_ir - X_lr) > R_il(r) = max(0, h² S²_il / (2δ) - δ r / 2)``,

with ``h² = 2η(n0 - 1)`` and ``η`` from ``β = α / (k - 1)`` (:mod:`sim.decision.boundary`).
It stops when one plan is left, or when every triangle has closed (then the cheapest
mean among the survivors is chosen).

Guarantee (Kim & Nelson 2001, Theorem 1): with normal observations, if the cheapest
plan's mean is at least ``δ`` below every other plan's, it is chosen with probability at
least ``1 - α``. ``S²_il`` is symmetric in ``i`` and ``l`` and is computed for every
ordered pair from the same first-stage data (:func:`difference_variances`); a known
error of one published Python implementation reads it from the wrong triangle of the
matrix when ``l < i``, which the tests check against.

Reference
---------
Kim, S.-H. and Nelson, B. L. (2001). A fully sequential procedure for indifference-zone
selection in simulation. *ACM TOMACS* 11(3), 251–273.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.decision.boundary import bonferroni, check_level, h_squared, sum_half_width
from sim.decision.feasibility import Sampler


def difference_variances(first_stage: np.ndarray) -> np.ndarray:
    """``S²[i, l]``: sample variance (ddof 1) of ``X_i - X_l`` over the first stage.

    Parameters
    ----------
    first_stage : numpy.ndarray
        Shape (plans, n0): one row per plan, replications aligned by index.

    Returns
    -------
    numpy.ndarray
        Shape (plans, plans), symmetric, zero on the diagonal.
    """
    x = np.asarray(first_stage, dtype=float)
    differences = x[:, None, :] - x[None, :, :]
    return np.var(differences, axis=2, ddof=1)


@dataclass
class Selection:
    """The outcome of :func:`select_smallest`.

    Attributes
    ----------
    chosen : int
        Index of the plan chosen.
    eliminated_after : numpy.ndarray
        Replications after which each plan was dropped (0 for the chosen plan and for
        plans still in when the procedure stopped).
    replications : numpy.ndarray
        Replications each plan used.
    means : numpy.ndarray
        Mean of the observations each plan used.
    capped : bool
        True when ``max_replications`` stopped the procedure before it finished: the
        choice is then the cheapest mean, without the guarantee.
    alpha, beta, h2, tolerance : float
        Error, per-pair error, boundary constant and indifference amount ``δ``.
    first_stage, first_replication : int
        ``n0`` and the index of the first replication used.
    """

    chosen: int
    eliminated_after: np.ndarray
    replications: np.ndarray
    means: np.ndarray
    capped: bool
    alpha: float
    beta: float
    h2: float
    tolerance: float
    first_stage: int
    first_replication: int


def select_smallest(sample: Sampler, plans: int, tolerance: float, alpha: float = 0.025,
                    first_stage: int = 10, batch: int = 1, max_replications: int | None = None,
                    first_replication: int = 0, output: int = 0) -> Selection:
    """Choose the plan with the smallest mean (procedure KN, with common random numbers).

    Parameters
    ----------
    sample : Sampler
        Gives replications of plans; ``output`` selects the quantity compared (cost).
    plans : int
        Number of plans ``k``.
    tolerance : float
        ``δ`` > 0: differences smaller than this do not matter.
    alpha : float
        ``1 - α`` is the probability of correct selection when the best plan is at least
        ``δ`` better than every other.
    first_stage : int
        ``n0`` (>= 2).
    batch : int
        Replications added to each surviving plan between checks.
    max_replications : int, optional
        Cap per plan; see :attr:`Selection.capped`.
    first_replication : int
        Index of the first replication; these replications must be independent of
        whatever chose the ``plans`` (fresh indices), or the guarantee is void.
    output : int
        Which output of ``sample`` to compare.
    """
    if plans < 1:
        raise ValueError("need at least one plan")
    if not tolerance > 0:
        raise ValueError(f"the indifference amount must be > 0, got {tolerance}")
    check_level(alpha)
    if batch < 1:
        raise ValueError("batch must be >= 1")
    if max_replications is not None and max_replications < first_stage:
        raise ValueError("max_replications must be >= first_stage")
    zeros = np.zeros(plans, dtype=np.int64)
    if plans == 1:
        return Selection(0, zeros, zeros.copy(), np.full(1, np.nan), False, alpha, alpha,
                         0.0, tolerance, first_stage, first_replication)
    beta = bonferroni(alpha, plans - 1)
    h2 = h_squared(beta, first_stage)
    first = np.asarray(sample(list(range(plans)), first_replication,
                              first_replication + first_stage), dtype=float)[:, :, output]
    if np.isnan(first).any():
        raise ValueError("the compared quantity is undefined (NaN) in some replication")
    variance = difference_variances(first)
    sums = first.sum(axis=1)
    r = first_stage
    alive = np.ones(plans, dtype=bool)
    eliminated_after = np.zeros(plans, dtype=np.int64)
    used = np.full(plans, first_stage, dtype=np.int64)
    capped = False
    while True:
        idx = np.flatnonzero(alive)
        half = sum_half_width(r, h2, variance[np.ix_(idx, idx)], tolerance)
        gap = sums[idx][:, None] - sums[idx][None, :]  # gap[a, b] = sum_i - sum_l
        dropped = np.any(gap > half, axis=1)
        alive[idx[dropped]] = False
        eliminated_after[idx[dropped]] = r
        idx = np.flatnonzero(alive)
        if idx.size == 1:
            chosen = int(idx[0])
            break
        closed = not np.any(sum_half_width(r, h2, variance[np.ix_(idx, idx)], tolerance) > 0)
        if closed or (max_replications is not None and r >= max_replications):
            capped = not closed
            chosen = int(idx[np.argmin(sums[idx])])  # ties: the first listed
            break
        step = batch if max_replications is None else min(batch, max_replications - r)
        start = first_replication + r
        more = np.asarray(sample(idx.tolist(), start, start + step), dtype=float)[:, :, output]
        if np.isnan(more).any():
            raise ValueError("the compared quantity is undefined (NaN) in some replication")
        sums[idx] += more.sum(axis=1)
        used[idx] += step
        r += step
    return Selection(chosen, eliminated_after, used, sums / used, capped, alpha, beta, h2,
                     tolerance, first_stage, first_replication)
