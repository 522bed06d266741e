"""Searching the plan space on a few replications per plan, then drawing up a shortlist.

Every plan is screened on the same few replications (common random numbers), so plans
are compared on the same luck. Two strategies:

- **grid**, when the whole space is no larger than the evaluation budget: every plan
  is screened, in one batch that parallel workers share;
- **coordinate search** otherwise: from the cheapest corner (every lever at its
  cheapest setting), climb one lever at a time, taking the step that removes most
  shortfall from the targets per pound (trying longer strides when no single step
  helps), until a plan looks feasible; then descend, moving one lever down or one down
  and another up, to the cheapest neighbour that still looks feasible, until none is
  cheaper. Levers are integer and costs rise with each lever's setting, which is what
  makes a move "up" dearer and a move "down" cheaper.

Screening decides nothing: it only chooses which plans the confirmation procedure
(:mod:`sim.decision.confirm`), on fresh replications, looks at. Its guarantee covers
that shortlist; the search is a heuristic and can miss a cheaper feasible plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sim.analysis.stats import Estimate
from sim.decision.levers import LeverSet, Plan
from sim.decision.targets import Target


@dataclass(frozen=True)
class Screen:
    """Screening estimates of one plan.

    Attributes
    ----------
    plan : Plan
        The plan.
    cost : Estimate
        Cost per replication over the reporting window (GBP).
    targets : tuple of Estimate
        One per target, in the targets' order.
    """

    plan: Plan
    cost: Estimate
    targets: tuple[Estimate, ...]

    def looks_feasible(self, targets: list[Target]) -> bool:
        """Every target met by its screening mean."""
        return all(t.met_by(e.mean) for t, e in zip(targets, self.targets, strict=True))

    def plausible(self, targets: list[Target]) -> bool:
        """No target clearly missed: each interval reaches the target's side."""
        for t, e in zip(targets, self.targets, strict=True):
            if math.isnan(e.mean):
                return False
            reach = e.mean if math.isnan(e.ci_low) else (e.ci_low if t.op == "<=" else e.ci_high)
            if not t.met_by(reach):
                return False
        return True

    def clearly_feasible(self, targets: list[Target]) -> bool:
        """Every target met by the whole screening interval."""
        for t, e in zip(targets, self.targets, strict=True):
            edge = e.ci_high if t.op == "<=" else e.ci_low
            if math.isnan(edge) or not t.met_by(edge):
                return False
        return True

    def shortfall(self, targets: list[Target]) -> float:
        """Sum over targets of how far the mean misses, in tolerances (large for NaN)."""
        return sum(min(t.shortfall(e.mean), 1e9) for t, e in zip(targets, self.targets, strict=True))


#: Screens a batch of plans: plans -> their screening estimates.
Assess = Callable[[list[Plan]], dict[Plan, Screen]]


@dataclass
class SearchLog:
    """Which plans were screened, how and why.

    Attributes
    ----------
    method : str
        ``grid`` or ``coordinate``.
    why : str
        The reason, for reports.
    screens : dict
        Plan -> screening estimates, in the order screened.
    path : list of Plan
        The plans the coordinate search moved through (grid: empty).
    """

    method: str
    why: str
    screens: dict[Plan, Screen]
    path: list[Plan]


def search(levers: LeverSet, assess: Assess, targets: list[Target], max_plans: int) -> SearchLog:
    """Screen plans by grid (small spaces) or coordinate search (large ones)."""
    if max_plans < 1:
        raise ValueError("max_plans must be >= 1")
    size = levers.size
    if size <= max_plans:
        plans = list(levers.plans())
        return SearchLog("grid", f"grid: all {size} plans (the space is within the budget of "
                         f"{max_plans} plans)", assess(plans), [])
    return _coordinate(levers, assess, targets, max_plans)


def _coordinate(levers: LeverSet, assess: Assess, targets: list[Target], max_plans: int
                ) -> SearchLog:
    sizes = [len(lever.values) for lever in levers.levers]
    seen: dict[Plan, Screen] = {}

    def look(plans: list[Plan]) -> None:
        new = [p for p in dict.fromkeys(plans) if p not in seen][: max_plans - len(seen)]
        if new:
            seen.update(assess(new))

    def cost(p: Plan) -> float:
        return seen[p].cost.mean

    current: Plan = tuple(0 for _ in sizes)
    look([current])
    path = [current]
    while not seen[current].looks_feasible(targets) and len(seen) < max_plans:
        best: Plan | None = None
        stride = 1
        while stride < max(sizes):
            ups = []
            for i, n in enumerate(sizes):
                j = min(current[i] + stride, n - 1)
                if j != current[i]:
                    ups.append((*current[:i], j, *current[i + 1:]))
            if not ups:
                break
            look(ups)
            here = seen[current].shortfall(targets)
            scored = [((here - seen[p].shortfall(targets)) / max(cost(p) - cost(current), 1.0), p)
                      for p in ups if p in seen and seen[p].shortfall(targets) < here]
            if scored:
                best = max(scored, key=lambda item: (item[0], -cost(item[1])))[1]
                break
            stride *= 2
        if best is None:
            break
        current = best
        path.append(current)
    if seen[current].looks_feasible(targets):
        while len(seen) < max_plans:
            moves: list[Plan] = []
            for i in range(len(sizes)):
                if current[i] == 0:
                    continue
                down = (*current[:i], current[i] - 1, *current[i + 1:])
                moves.append(down)
                for j in range(len(sizes)):
                    if j != i and down[j] + 1 < sizes[j]:
                        moves.append((*down[:j], down[j] + 1, *down[j + 1:]))
            look(moves)
            better = [p for p in moves if p in seen and seen[p].looks_feasible(targets)
                      and cost(p) < cost(current)]
            if not better:
                break
            current = min(better, key=cost)
            path.append(current)
    return SearchLog("coordinate", f"coordinate search: {len(seen)} of {levers.size:,} plans "
                     f"(the space is larger than the budget of {max_plans} plans)", seen, path)


def shortlist(screens: dict[Plan, Screen], targets: list[Target], size: int,
              budget_gbp: float | None = None) -> list[Plan]:
    """The cheapest plans that may meet every target, for confirmation.

    Up to ``size`` plans in order of screening cost among those no target of which is
    clearly missed (and within the budget), plus the cheapest plan that clearly meets
    every target when none of those does, so that a safe plan is always in the running.
    """
    order = sorted(screens.values(), key=lambda s: (s.cost.mean, s.plan))
    picks: list[Plan] = []
    clear = False
    for s in order:
        if budget_gbp is not None and s.cost.mean > budget_gbp:
            continue
        if not s.plausible(targets):
            continue
        if len(picks) < size:
            picks.append(s.plan)
            clear = clear or s.clearly_feasible(targets)
        elif not clear and s.clearly_feasible(targets):
            picks.append(s.plan)
            break
    return picks
