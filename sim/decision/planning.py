"""The cheapest plan that meets the targets: search, shortlist, confirm.

:func:`find_plan` is what ``fbsim plan`` and :func:`sim.plan` run:

1. **search** (:mod:`sim.decision.search`): every candidate plan is screened on the
   same ``screen_replications`` replications (indices ``0 .. n - 1``: common random
   numbers), by grid or coordinate search;
2. **shortlist**: the cheapest plans that may meet every target;
3. **confirm** (:mod:`sim.decision.confirm`): on fresh replications (from index
   ``screen_replications`` on, so screening luck cannot leak into the decision), the
   feasibility check and the selection procedure choose the plan, with the guarantee
   :meth:`PlanResult.guarantee` states.

A plan's cost is the simulation's ``cost_total_gbp`` (staff employed, training places
and devices outsourced over the reporting window, at the scenario's unit costs), plus
the cost the levers file gives for switches the scenario cannot price. The simulated
figure is used rather than unit-cost arithmetic because it counts what a plan really
spends: staff on the payroll while hiring lags run, cohorts that start within the
window, devices actually sent out; for head-count and training levers without
attrition it equals the arithmetic exactly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analysis.stats import Estimate, mean_ci
from sim.config.schema import Scenario
from sim.decision.confirm import Confirmation, cheapest_feasible
from sim.decision.evaluate import Evaluator
from sim.decision.feasibility import MET, MISSED, Sampler
from sim.decision.levers import LeverSet, Plan
from sim.decision.search import Screen, SearchLog, search, shortlist
from sim.decision.targets import Target
from sim.experiment.backends import Backend

if TYPE_CHECKING:
    import pandas as pd

COST_METRIC = "cost_total_gbp"


#: Replications added to each shortlisted plan between the confirmation's checks (one per
#: plan and round, the procedures' own step). A constant, not sized to the workers: the
#: rounds decide when the sequential checks look, so the chosen plan must not depend on the
#: machine.
CONFIRM_BATCH = 1


@dataclass(frozen=True)
class PlanSettings:
    """How :func:`find_plan` searches and confirms.

    Attributes
    ----------
    seed : int
        Base seed of every replication.
    screen_replications : int
        Replications per plan in the search.
    max_plans : int
        Plans the search may screen (a grid when the space is no larger).
    shortlist_size : int
        Plans confirmed (one more when none of them clearly meets the targets).
    alpha : float
        Chance of a wrong answer the confirmation allows (split over its two phases).
    first_stage : int
        Replications per plan before the confirmation's first decision (``n0``).
    max_replications : int
        Cap on replications per plan in each confirmation phase.
    cost_tolerance_gbp : float or None
        ``δ``: cost differences below it do not matter; None: half the cheapest lever
        step (:meth:`LeverSet.default_cost_tolerance_gbp`).
    budget_gbp : float or None
        Plans whose screening cost is above it are not shortlisted.
    batch : int or None
        Replications added per plan between the confirmation's checks; None:
        :data:`CONFIRM_BATCH`. The batch decides when the sequential checks look, and so
        the outcome: it never depends on the number of workers, so that a plan is the
        same on any machine and backend, and after a resume.
    """

    seed: int
    screen_replications: int = 5
    max_plans: int = 60
    shortlist_size: int = 4
    alpha: float = 0.05
    first_stage: int = 10
    max_replications: int = 200
    cost_tolerance_gbp: float | None = None
    budget_gbp: float | None = None
    batch: int | None = None

    def __post_init__(self) -> None:
        if self.screen_replications < 2:
            raise ValueError("screening needs at least 2 replications per plan")
        if self.first_stage < 2:
            raise ValueError("the confirmation's first stage needs at least 2 replications")
        if self.shortlist_size < 1 or self.max_plans < 1:
            raise ValueError("shortlist_size and max_plans must be >= 1")
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be in (0, 0.5)")
        if self.cost_tolerance_gbp is not None and not self.cost_tolerance_gbp > 0:
            raise ValueError("the cost tolerance must be > 0")


@dataclass
class PlanEstimates:
    """A shortlisted plan's estimates from the confirmation's replications.

    Attributes
    ----------
    cost : Estimate
        Cost over the window (GBP).
    targets : tuple of Estimate
        Each target's metric, in the targets' order.
    replications : int
        Replications behind them.
    """

    cost: Estimate
    targets: tuple[Estimate, ...]
    replications: int


@dataclass
class PlanResult:
    """Everything :func:`find_plan` found; ``*_frame`` methods give DataFrames."""

    levers: LeverSet
    targets: list[Target]
    settings: PlanSettings
    cost_tolerance_gbp: float
    log: SearchLog
    reference: Screen
    shortlist: list[Plan]
    confirmation: Confirmation | None
    confirmed: dict[Plan, PlanEstimates]
    wall_seconds: float
    replications_run: int
    backend: str
    workers: int
    replication_rows: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    replications_reused: int = 0
    """Replications read back (a resumed run's journal) rather than run."""

    @property
    def replications_total(self) -> int:
        """Replications behind the result: run in this session or read back."""
        return self.replications_run + self.replications_reused

    @property
    def chosen(self) -> Plan | None:
        """The plan chosen, or None when no shortlisted plan was shown to meet the targets."""
        c = self.confirmation
        if c is None or c.chosen is None:
            return None
        return self.shortlist[c.chosen]

    def outcome(self, plan: Plan) -> str:
        """What the confirmation said of a plan (``screened`` when it was not shortlisted)."""
        if plan not in self.shortlist or self.confirmation is None:
            return "screened"
        i = self.shortlist.index(plan)
        if plan == self.chosen:
            return "chosen"
        f = self.confirmation.feasibility
        if f.feasible[i]:
            return "meets targets"
        if f.infeasible[i]:
            return "misses a target"
        return "undecided (cap)"

    def runners_up(self) -> list[Plan]:
        """Shortlisted plans other than the chosen one, cheapest confirmed cost first."""
        others = [p for p in self.shortlist if p != self.chosen]
        return sorted(others, key=lambda p: self.confirmed[p].cost.mean)

    def to_frame(self) -> pd.DataFrame:
        """:meth:`plans_frame`: every plan tried."""
        return self.plans_frame()

    def plans_frame(self) -> pd.DataFrame:
        """One row per plan screened: settings, screening estimates, confirmation outcome."""
        import pandas as pd

        rows = []
        for plan, screen in self.log.screens.items():
            row: dict[str, Any] = {"plan": self.levers.label(plan)}
            row.update(self.levers.settings(plan))
            row.update(_estimate_columns("screen_cost_gbp", screen.cost))
            for t, e in zip(self.targets, screen.targets, strict=True):
                row.update(_estimate_columns(f"screen_{t.metric}", e))
            row["screen_replications"] = screen.cost.n_total
            row["looks_feasible"] = screen.looks_feasible(self.targets)
            row["shortlisted"] = plan in self.shortlist
            row["outcome"] = self.outcome(plan)
            est = self.confirmed.get(plan)
            if est is not None:
                row.update(_estimate_columns("cost_gbp", est.cost))
                for t, e in zip(self.targets, est.targets, strict=True):
                    row.update(_estimate_columns(t.metric, e))
                row["confirm_replications"] = est.replications
            rows.append(row)
        return pd.DataFrame(rows)

    def replications_frame(self) -> pd.DataFrame:
        """Every replication run: plan, replication index, phase, target metrics and cost."""
        import pandas as pd

        return pd.DataFrame(self.replication_rows)

    def targets_frame(self) -> pd.DataFrame:
        """The chosen plan's estimate of each target, with its interval, and the verdict."""
        import pandas as pd

        plan = self.chosen
        rows = []
        for j, t in enumerate(self.targets):
            row: dict[str, Any] = {"metric": t.metric, "op": t.op, "target": t.value,
                                   "tolerance": t.tolerance}
            if plan is not None:
                e = self.confirmed[plan].targets[j]
                row.update({"mean": e.mean, "ci95_low": e.ci_low, "ci95_high": e.ci_high,
                            "replications": e.n})
            rows.append(row)
        return pd.DataFrame(rows)

    def guarantee(self) -> str:
        """The confirmation's guarantee, in plain words, with its numbers."""
        c = self.confirmation
        k = len(self.shortlist)
        a = self.settings.alpha
        lines = []
        if c is None:
            return ("No plan was confirmed: no screened plan came near every target. Widen the "
                    "levers' ranges, or check the targets.")
        shown = len(c.candidates)
        lines.append(f"{shown} of the {k} shortlisted plans were shown to meet every target "
                     f"(feasibility check F_B of Batur & Kim 2010, then Kim & Nelson's 2001 "
                     f"selection, on common random numbers and fresh replications).")
        lines.append(f"If the model is right and its outputs are close to normal: with "
                     f"probability at least {1 - a / 2:.1%} every plan declared to meet the "
                     f"targets truly meets them (the long-run mean, not this estimate) and every "
                     f"shortlisted plan that meets them by its tolerance was found; with "
                     f"probability at least {1 - a:.0%}, if the cheapest plan that meets every "
                     f"target by its tolerance is at least {_gbp(self.cost_tolerance_gbp)} cheaper "
                     f"than every other shortlisted plan that meets the targets, it is the one "
                     f"chosen.")
        if c.capped:
            lines.append(f"The cap of {self.settings.max_replications} replications stopped the "
                         f"procedure early for some plan: a plan undecided at the cap is not counted "
                         f"as meeting the targets (the first guarantee still holds), but the second "
                         f"does not: a cheaper plan may have been missed.")
        lines.append("The guarantee covers the shortlist, not every possible plan (the search "
                     "that built it is a heuristic), and not the model's assumptions: see "
                     "fbsim sensitivity for how they move the answer.")
        return "\n".join(lines)


def _estimate_columns(prefix: str, e: Estimate) -> dict[str, float]:
    return {f"{prefix}_mean": e.mean, f"{prefix}_ci95_low": e.ci_low,
            f"{prefix}_ci95_high": e.ci_high}


def _gbp(x: float) -> str:
    return f"£{x / 1e6:,.2f}m" if abs(x) >= 1e6 else f"£{x:,.0f}"


class _Planner:
    """Runs the replications of plans and turns them into the procedures' arrays."""

    def __init__(self, levers: LeverSet, targets: list[Target], evaluator: Evaluator):
        self.levers = levers
        self.targets = targets
        self.evaluator = evaluator
        self.metrics = [t.metric for t in targets] + [COST_METRIC]
        self._scenarios: dict[Plan, Scenario] = {}

    def scenario(self, plan: Plan) -> Scenario:
        if plan not in self._scenarios:
            self._scenarios[plan] = self.levers.scenario_for(plan)
        return self._scenarios[plan]

    def raw(self, plan: Plan, replications: Sequence[int]) -> np.ndarray:
        """(reps, targets + 1): target metrics as simulated, then the plan's cost."""
        values = self.evaluator.values(self.scenario(plan), self.metrics, replications)
        values[:, -1] += self.levers.fixed_cost_gbp(plan)
        return values

    def estimates(self, plan: Plan, replications: Sequence[int]
                  ) -> tuple[Estimate, tuple[Estimate, ...]]:
        values = self.raw(plan, replications)
        cost = mean_ci(values[:, -1])
        return cost, tuple(mean_ci(values[:, j]) for j in range(len(self.targets)))

    def screen(self, plans: list[Plan], replications: int) -> dict[Plan, Screen]:
        self.evaluator.ensure([self.scenario(p) for p in plans], 0, replications)
        out = {}
        for p in plans:
            cost, targets = self.estimates(p, range(replications))
            out[p] = Screen(p, cost, targets)
        return out

    def sampler(self, plans: list[Plan]) -> Sampler:
        signs = np.asarray([t.sign for t in self.targets] + [1.0])

        def sample(idx: Sequence[int], start: int, stop: int) -> np.ndarray:
            chosen = [plans[i] for i in idx]
            self.evaluator.ensure([self.scenario(p) for p in chosen], start, stop)
            return np.stack([self.raw(p, range(start, stop)) * signs for p in chosen])

        return sample


def find_plan(scenario: Scenario, levers: LeverSet, targets: list[Target], settings: PlanSettings,
              backend: Backend | None = None, evaluator: Evaluator | None = None) -> PlanResult:
    """Search, shortlist and confirm the cheapest plan that meets every target.

    Parameters
    ----------
    scenario : Scenario
        The scenario as given (the levers act on it).
    levers : LeverSet
        From :func:`~sim.decision.levers.load_levers`.
    targets : list of Target
        From :func:`~sim.decision.targets.make_targets`.
    settings : PlanSettings
        Search and confirmation settings.
    backend : Backend, optional
        Where replications run (serial by default); results do not depend on it.
    evaluator : Evaluator, optional
        One holding replications already run (to resume); made from ``backend`` and
        ``settings.seed`` otherwise.
    """
    t0 = time.perf_counter()
    evaluator = evaluator or Evaluator(backend, settings.seed)
    planner = _Planner(levers, targets, evaluator)
    n = settings.screen_replications
    log = search(levers, lambda plans: planner.screen(plans, n), targets, settings.max_plans)
    evaluator.ensure([scenario], 0, n)
    ref_values = evaluator.values(scenario, planner.metrics, range(n))
    reference = Screen((), mean_ci(ref_values[:, -1]),
                       tuple(mean_ci(ref_values[:, j]) for j in range(len(targets))))
    picks = shortlist(log.screens, targets, settings.shortlist_size, settings.budget_gbp)
    delta = settings.cost_tolerance_gbp or levers.default_cost_tolerance_gbp()
    confirmation = None
    confirmed: dict[Plan, PlanEstimates] = {}
    if picks:
        batch = settings.batch or CONFIRM_BATCH
        confirmation = cheapest_feasible(
            planner.sampler(picks), len(picks), [t.bound() for t in targets], delta,
            settings.alpha, settings.first_stage, batch, settings.max_replications,
            first_replication=n)
        for plan in picks:
            # Every replication the confirmation ran of this plan (phase 2 starts past
            # phase 1's last, so there may be a gap between them).
            reps = sorted(r for r in evaluator.replications_of(planner.scenario(plan)) if r >= n)
            cost, ests = planner.estimates(plan, reps)
            confirmed[plan] = PlanEstimates(cost, ests, len(reps))
    rows = []
    tried: list[tuple[str, float, Scenario]] = [("as given", 0.0, scenario)]
    tried += [(levers.label(p), levers.fixed_cost_gbp(p), planner.scenario(p)) for p in log.screens]
    for label, fixed, sc in tried:
        for r, metrics in sorted(evaluator.replications_of(sc).items()):
            row: dict[str, Any] = {"plan": label, "replication": r,
                                   "phase": "screen" if r < n else "confirm"}
            row.update({t.metric: metrics[t.metric] for t in targets})
            row[COST_METRIC] = metrics[COST_METRIC]
            row["plan_cost_gbp"] = metrics[COST_METRIC] + fixed
            rows.append(row)
    return PlanResult(levers, targets, settings, delta, log, reference, picks, confirmation,
                      confirmed, time.perf_counter() - t0, evaluator.replications_run,
                      evaluator.backend.name, evaluator.backend.workers, rows,
                      replications_reused=evaluator.replications_reused)


__all__ = ["MET", "MISSED", "PlanResult", "PlanSettings", "find_plan"]
