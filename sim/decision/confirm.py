"""The cheapest plan that meets every target: feasibility check, then selection.

Two phases on fresh replications, each with half of the error allowance ``α``:

1. :func:`~sim.decision.feasibility.check_feasibility` (F_B, safe side) decides, with
   error ``α/2``, which plans meet every target;
2. :func:`~sim.decision.selection.select_smallest` (KN) chooses the cheapest of the
   plans declared feasible, with error ``α/2``, on replications that phase 1 did not
   use (indices from one past the last replication phase 1 used, for every plan, so
   that phase 2 is independent of which plans phase 1 let through).

Guarantee. Call a plan *desirable* when it meets every target with its margin, and
let ``b`` be the cheapest desirable plan. With normal observations:

- with probability at least ``1 - α/2`` every plan declared feasible meets every target
  (its true mean, not its estimate) and every desirable plan is declared feasible; so
  the chosen plan meets every target with at least that probability, whatever the costs;
- if ``b`` is at least ``δ`` cheaper than every other plan that meets every target, ``b``
  is chosen with probability at least ``1 - α``: when phase 1 decides correctly (chance
  ``1 - α/2``) the plans let through meet the targets and include ``b``, so ``b`` is ``δ``
  cheaper than the others let through; conditional on which plans those are, phase 2's
  data are fresh, so KN chooses ``b`` with chance ``1 - α/2``; Bonferroni adds the two.

This is the formulation of Andradóttir & Kim (2010) for constrained selection (there
with one constraint and symmetric tolerance), here with the unacceptable zone starting
at the target itself, so that a plan that narrowly misses a target is never counted as
meeting it.

Reference
---------
Andradóttir, S. and Kim, S.-H. (2010). Fully sequential procedures for comparing
constrained systems via simulation. *Naval Research Logistics* 57(5), 403–421.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.decision.boundary import check_level
from sim.decision.feasibility import Bound, Feasibility, Sampler, check_feasibility
from sim.decision.selection import Selection, select_smallest


@dataclass
class Confirmation:
    """The outcome of :func:`cheapest_feasible`.

    Attributes
    ----------
    feasibility : Feasibility
        Phase 1, over all plans.
    selection : Selection or None
        Phase 2, over the plans declared feasible (None when fewer than two were).
    candidates : list of int
        Plans declared feasible, in the order given.
    chosen : int or None
        The plan chosen, or None when no plan was declared feasible.
    alpha : float
        Overall error allowance.
    cost_tolerance : float
        ``δ`` of phase 2.
    """

    feasibility: Feasibility
    selection: Selection | None
    candidates: list[int]
    chosen: int | None
    alpha: float
    cost_tolerance: float

    @property
    def capped(self) -> bool:
        """True when a cap stopped phase 1 undecided for some plan or phase 2 early."""
        return bool(self.feasibility.undecided.any()
                    or (self.selection is not None and self.selection.capped))


def cheapest_feasible(sample: Sampler, plans: int, bounds: Sequence[Bound], cost_tolerance: float,
                      alpha: float = 0.05, first_stage: int = 10, batch: int = 1,
                      max_replications: int | None = None,
                      first_replication: int = 0) -> Confirmation:
    """Choose the cheapest plan that meets every target, with the guarantee above.

    Parameters
    ----------
    sample : Sampler
        Outputs of replications, shape (plans, reps, targets + 1): the target metrics
        (smaller is better; negate "at least" targets) and then the cost.
    plans : int
        Number of plans.
    bounds : sequence of Bound
        The targets.
    cost_tolerance : float
        ``δ``: cost differences below this do not matter (same unit as the cost).
    alpha : float
        Overall error allowance; each phase gets half.
    first_stage, batch, max_replications : int
        As in :func:`~sim.decision.feasibility.check_feasibility` (the cap applies per
        phase).
    first_replication : int
        First replication index; earlier replications (a search) are never reused.
    """
    check_level(alpha)
    s = len(bounds)
    half = alpha / 2.0
    feasibility = check_feasibility(lambda idx, a, b: sample(idx, a, b)[:, :, :s], plans, bounds,
                                    half, first_stage, batch, max_replications, first_replication)
    candidates = [int(i) for i in np.flatnonzero(feasibility.feasible)]
    if not candidates:
        return Confirmation(feasibility, None, [], None, alpha, cost_tolerance)
    if len(candidates) == 1:
        return Confirmation(feasibility, None, candidates, candidates[0], alpha, cost_tolerance)
    fresh = feasibility.last_replication

    def sample_candidates(idx: Sequence[int], start: int, stop: int) -> np.ndarray:
        return sample([candidates[i] for i in idx], start, stop)[:, :, s:]

    selection = select_smallest(sample_candidates, len(candidates), cost_tolerance, half,
                                first_stage, batch, max_replications, fresh)
    return Confirmation(feasibility, selection, candidates, candidates[selection.chosen], alpha,
                        cost_tolerance)
