"""``sim.plan`` and ``sim.sensitivity``: the Python twins of ``fbsim plan`` and ``fbsim sensitivity``.

They take the same inputs as the commands (a scenario file or object, a levers or
parameters file, targets as text) and return the result objects, whose ``to_frame()``
and ``*_frame()`` methods give pandas DataFrames. No results folder is written.

Examples
--------
>>> import sim
>>> result = sim.plan("scenarios/met-baseline.yaml", "docs/planning/levers.yaml",
...                   ["identified_within_90d_share>=0.9"])  # doctest: +SKIP
>>> result.to_frame()  # every plan tried  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sim.config import load_scenario
from sim.config.schema import Scenario
from sim.decision.evaluate import Evaluator, backend_for_session
from sim.decision.planning import PlanResult, PlanSettings, find_plan
from sim.decision.sensitivity import SensitivityResult, SensitivitySettings, run_sensitivity


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


@contextmanager
def _evaluator(backend: str, workers: int | None, scheduler: str | None, seed: int
               ) -> Iterator[Evaluator]:
    from sim.experiment.backends import available_cpus

    with backend_for_session("dask" if scheduler else backend, workers or available_cpus(),
                             scheduler) as chosen:
        yield Evaluator(chosen, seed)


def plan(scenario: Scenario | str | Path, levers: str | Path, targets: Sequence[str], *,
         tolerances: Sequence[str] | None = None, budget_gbp: float | None = None,
         cost_tolerance_gbp: float | None = None, confidence: float = 0.95,
         screen_replications: int = 5, first_stage: int = 10, max_replications: int = 200,
         max_plans: int = 60, shortlist_size: int = 4, seed: int | None = None,
         backend: str = "serial", workers: int | None = None,
         scheduler: str | None = None) -> PlanResult:
    """The cheapest plan that meets every target, as ``fbsim plan`` finds it.

    Parameters are those of ``fbsim plan`` (``targets`` like ``"backlog_devices_end<=900"``,
    ``tolerances`` like ``"backlog_devices_end=50"``); ``backend`` is ``serial``,
    ``processes`` or ``dask``. Results do not depend on the backend.
    """
    from sim.analysis.metrics import METRICS
    from sim.decision.levers import load_levers
    from sim.decision.targets import make_targets

    base = _scenario(scenario)
    lever_set = load_levers(Path(levers), base)
    wanted = make_targets(list(targets), list(tolerances or []), METRICS)
    run_seed = base.run.seed if seed is None else seed
    settings = PlanSettings(seed=run_seed, screen_replications=screen_replications,
                            max_plans=max_plans, shortlist_size=shortlist_size,
                            alpha=1.0 - confidence, first_stage=first_stage,
                            max_replications=max(max_replications, first_stage),
                            cost_tolerance_gbp=cost_tolerance_gbp, budget_gbp=budget_gbp)
    with _evaluator(backend, workers, scheduler, run_seed) as evaluator:
        return find_plan(base, lever_set, wanted, settings, evaluator=evaluator)


def sensitivity(scenario: Scenario | str | Path, params: str | Path, *, method: str | None = None,
                samples: int | None = None, replications: int = 2, seed: int | None = None,
                backend: str = "serial", workers: int | None = None,
                scheduler: str | None = None) -> SensitivityResult:
    """Global sensitivity of metrics and lever effects, as ``fbsim sensitivity`` runs it."""
    from sim.analysis.metrics import METRICS
    from sim.decision.uncertain import load_uncertain

    base = _scenario(scenario)
    spec = load_uncertain(Path(params), base, METRICS)
    run_seed = base.run.seed if seed is None else seed
    settings = SensitivitySettings(seed=run_seed, method=method, samples=samples,
                                   replications=replications)
    with _evaluator(backend, workers, scheduler, run_seed) as evaluator:
        return run_sensitivity(base, spec, settings, evaluator)
