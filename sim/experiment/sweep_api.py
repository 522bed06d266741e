"""``sim.sweep``: the ``fbsim sweep`` command for notebooks and scripts.

Examples
--------
>>> import sim
>>> result = sim.sweep("scenarios/met-baseline.yaml",
...                    {"staff.examiners.headcount": "20:60:10"}, reps=5)  # doctest: +SKIP
>>> result.to_frame().query("metric == 'lab_wait_p90_days'")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sim.config import load_scenario
from sim.config.schema import Scenario
from sim.experiment.autoreps import (
    DEFAULT_METRICS,
    DEFAULT_MIN_BATCH,
    AutoReplications,
    PrecisionRule,
)
from sim.experiment.design import DesignError, design_points, parse_levers, point_scenarios
from sim.experiment.sweep import PointReplication, SweepResult, run_sweep, run_sweep_auto

#: A lever's values: a SPEC text (``"20:60:5"``, ``"20,30,45"``, ``"20:60"`` for LHS),
#: a list of values, or a ``(lo, hi)`` pair for LHS.
Values = str | Sequence[int | float]


def vary_texts(vary: Mapping[str, Values] | Sequence[str], design: str = "grid") -> list[str]:
    """The levers as ``PATH=SPEC`` texts, as ``--vary`` takes them."""
    if isinstance(vary, Mapping):
        texts = []
        for path, values in vary.items():
            if isinstance(values, str):
                spec = values
            elif design == "lhs":
                if len(values) != 2:
                    raise DesignError(f"vary[{path!r}]: an LHS lever is a (lo, hi) pair or "
                                      f"'lo:hi', got {values!r}")
                spec = f"{values[0]}:{values[1]}"
            else:
                spec = ",".join(str(v) for v in values)
            texts.append(f"{path}={spec}")
        return texts
    if isinstance(vary, str):
        return [vary]
    return list(vary)


def sweep(scenario: str | Path | Scenario, vary: Mapping[str, Values] | Sequence[str],
          reps: int | str | None = None, *, seed: int | None = None, design: str = "grid",
          samples: int | None = None, metrics: Sequence[str] | None = None,
          precision: float = 0.05, max_reps: int = 200, initial_reps: int = 10,
          backend: str = "processes", workers: int | None = None, address: str | None = None,
          on_result: Callable[[PointReplication, int, int], None] | None = None,
          on_check: Callable[[AutoReplications], None] | None = None) -> SweepResult:
    """Run a scenario at every point of a design, on common random numbers.

    The same numbers as ``fbsim sweep`` with the same arguments; writes nothing.

    Parameters
    ----------
    scenario : str, pathlib.Path or Scenario
        A scenario file or a loaded scenario.
    vary : mapping or sequence of str
        Lever path -> values (``{"staff.examiners.headcount": [20, 40, 60]}`` or a SPEC
        text ``"20:60:5"``; for ``lhs`` ``(lo, hi)`` or ``"lo:hi"``), or ``PATH=SPEC``
        texts as on the command line.
    reps : int, "auto" or None
        Replications per point; ``"auto"`` adds them until every point's ``metrics``
        are within ``precision`` (:mod:`sim.experiment.autoreps`); None: the scenario's.
    seed : int, optional
        Base seed (default: the scenario's); also seeds an LHS design.
    design : str
        ``grid`` (every combination) or ``lhs`` (``samples`` points).
    samples : int, optional
        Points of an LHS design.
    metrics : sequence of str, optional
        Metrics replication control watches (default :data:`DEFAULT_METRICS`); the
        result has every metric.
    precision, max_reps, initial_reps : float, int, int
        The rule of ``reps="auto"``.
    backend : str
        ``processes`` (default), ``serial`` or ``dask``.
    workers : int, optional
        Worker processes (default: one per CPU).
    address : str, optional
        Dask scheduler address.
    on_result, on_check : callable, optional
        Progress callbacks (see :func:`sim.experiment.sweep.run_sweep_auto`).

    Raises
    ------
    sim.experiment.design.DesignError
        A bad SPEC or design, or a point the scenario refuses.
    """
    from sim.experiment.backends import available_cpus, make_backend

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    seed = base.run.seed if seed is None else seed
    texts = vary_texts(vary, design)
    levers = parse_levers(texts, design)
    points = design_points(levers, design, samples, seed, base)
    scenarios = point_scenarios(base, points)
    chosen = list(metrics or DEFAULT_METRICS)
    n_workers = workers or available_cpus()
    runner = make_backend("dask" if address else backend, n_workers, address)
    if reps == "auto":
        rule = PrecisionRule(precision=precision, initial=initial_reps, max_reps=max_reps,
                             min_batch=DEFAULT_MIN_BATCH)
        result = run_sweep_auto(base, points, seed, chosen, rule, runner, on_result=on_result,
                                on_check=on_check, scenarios=scenarios)
    else:
        if isinstance(reps, str):
            raise DesignError(f"reps={reps!r}: expected a number of replications or 'auto'")
        count = base.run.replications if reps is None else int(reps)
        result = run_sweep(base, points, count, seed, runner, on_result=on_result,
                           scenarios=scenarios)
    result.specs = texts
    result.design = design
    return result
