"""``sim.run`` and ``sim.compare``: the Python twins of ``fbsim run`` and ``fbsim compare``.

They take a scenario file or a :class:`~sim.config.schema.Scenario`, run on the
backend asked for, write no results folder, and return result objects whose
``to_frame()`` gives a pandas DataFrame. The numbers are those of the commands for
the same scenario, seed and replications, whatever the backend.

Parallel workers (``backend="processes"``) work from a notebook and from a plain
script without an ``if __name__ == "__main__":`` guard: worker processes do not
import the main script (:func:`sim.experiment.workers.main_module_not_inherited`).

Examples
--------
>>> import sim
>>> result = sim.run("scenarios/teaching/mm1.yaml", reps=2)  # doctest: +SKIP
>>> result.to_frame().loc["lab_wait_mean_days"]  # doctest: +SKIP
>>> both = sim.compare("base.yaml", ["option.yaml"], reps=5)  # doctest: +SKIP
>>> both.to_frame()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sim.config import load_scenario
from sim.config.schema import Scenario
from sim.experiment.backends import Backend, available_cpus, make_backend

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiment.autoreps import AutoReplications
    from sim.experiment.compare import MultiComparison
    from sim.experiment.runner import ExperimentResult

#: Columns of :meth:`RunResult.to_frame`.
ESTIMATE_COLUMNS = ("mean", "ci_low", "ci_high", "sd", "replications", "replications_run", "unit")


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def _backend(backend: str, workers: int | None, jobs: int, scheduler: str | None) -> Backend:
    name = "dask" if scheduler else backend
    if name not in ("serial", "processes", "dask"):
        raise ValueError(f"backend must be 'serial', 'processes' or 'dask', got {backend!r}")
    return make_backend(name, workers or max(1, min(available_cpus(), jobs)), scheduler)


@dataclass
class RunResult:
    """The replications of one scenario (``sim.run``).

    Attributes
    ----------
    experiment : ExperimentResult
        The per-replication summaries (metrics, curves, time series).
    """

    experiment: ExperimentResult

    @property
    def scenario(self) -> Scenario:
        """The scenario run."""
        return self.experiment.scenario

    def to_frame(self) -> pd.DataFrame:
        """Every metric's mean and 95% CI: one row per metric, columns :data:`ESTIMATE_COLUMNS`.

        The same numbers as ``summary.json`` of ``fbsim run``.
        """
        import pandas as pd

        from sim.results.summary import all_estimates, unit_and_description

        rows = {name: {"mean": e.mean, "ci_low": e.ci_low, "ci_high": e.ci_high, "sd": e.sd,
                       "replications": e.n, "replications_run": e.n_total,
                       "unit": unit_and_description(name)[0]}
                for name, e in all_estimates(self.experiment).items()}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(ESTIMATE_COLUMNS))
        frame.index.name = "metric"
        return frame

    def replications_frame(self) -> pd.DataFrame:
        """One row per replication, one column per metric (``replication_metrics``)."""
        from sim.results.summary import metrics_frame

        return metrics_frame(self.experiment)

    def identify_curve_frame(self) -> pd.DataFrame:
        """Share identified by day since referral, per route, with 95% bands."""
        from sim.results.summary import identify_curve_frame

        return identify_curve_frame(self.experiment)

    def waiting_frame(self) -> pd.DataFrame:
        """Items waiting per stage over time, one row per (replication, day, stage)."""
        from sim.results.summary import waiting_frame

        return waiting_frame(self.experiment)


@dataclass
class CompareResult:
    """A base and options on common random numbers (``sim.compare``).

    Attributes
    ----------
    comparison : MultiComparison
        The arms and their paired differences.
    """

    comparison: MultiComparison

    @property
    def auto(self) -> AutoReplications | None:
        """What replication control did (``reps="auto"``), None for a fixed count."""
        return self.comparison.auto

    @property
    def base(self) -> RunResult:
        """The base's replications."""
        return RunResult(self.comparison.base)

    @property
    def options(self) -> dict[str, RunResult]:
        """Each option's replications, by label."""
        return {label: RunResult(arm) for label, arm
                in zip(self.comparison.labels[1:], self.comparison.options, strict=True)}

    def to_frame(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Paired differences option − base: one row per (option, metric).

        Columns of :data:`sim.experiment.compare.DIFFERENCE_COLUMNS` (the means, the
        difference and its 95% CI, the p-value and its Holm adjustment across the
        options, the significance flags, the replications needed to resolve it), the
        same as ``differences.csv`` of ``fbsim compare``; indexed by option and metric.
        """
        import pandas as pd

        from sim.experiment.compare import DIFFERENCE_COLUMNS

        frame = pd.DataFrame(self.comparison.difference_rows(metrics),
                             columns=list(DIFFERENCE_COLUMNS))
        return frame.set_index(["option", "metric"])

    def replications_frame(self) -> pd.DataFrame:
        """Every arm's per-replication metrics, with a ``scenario`` column first."""
        from sim.results.compare_folder import arm_tables

        return arm_tables(self.comparison)["replication_metrics"]


def run(scenario: Scenario | str | Path, reps: int | None = None, seed: int | None = None,
        backend: str = "serial", workers: int | None = None,
        scheduler: str | None = None) -> RunResult:
    """Replications of a scenario, as ``fbsim run`` runs them (no folder is written).

    Parameters
    ----------
    scenario : Scenario, str or pathlib.Path
        A scenario or its YAML file.
    reps : int, optional
        Replications (default: the scenario's ``run.replications``).
    seed : int, optional
        Base seed (default: the scenario's ``run.seed``).
    backend : str
        ``serial`` (default), ``processes`` or ``dask``; results do not depend on it.
    workers : int, optional
        Worker processes (default: one per CPU, at most ``reps``).
    scheduler : str, optional
        A Dask scheduler address (implies ``backend="dask"``).
    """
    from sim.experiment.runner import run_experiment

    chosen = _scenario(scenario)
    n = reps or chosen.run.replications
    run_seed = chosen.run.seed if seed is None else seed
    return RunResult(run_experiment(chosen, n, run_seed, _backend(backend, workers, n, scheduler)))


def compare(base: Scenario | str | Path, options: Scenario | str | Path
            | Sequence[Scenario | str | Path], reps: int | str | None = None,
            seed: int | None = None, backend: str = "serial", workers: int | None = None,
            scheduler: str | None = None, allow_different_run_settings: bool = False, *,
            precision: float = 0.05, max_reps: int = 200, initial_reps: int = 10,
            precision_metrics: Sequence[str] | None = None,
            precision_floors: Mapping[str, float] | None = None,
            on_check: Callable[[AutoReplications], None] | None = None) -> CompareResult:
    """A base and options on common random numbers, as ``fbsim compare`` runs them.

    Parameters are those of :func:`run`; ``options`` is one scenario or a list.
    ``reps`` defaults to the base's; it must be at least 2. ``reps="auto"`` adds
    replications until the 95% half-width of every option's paired difference in
    each of ``precision_metrics`` (default
    :data:`~sim.experiment.autoreps.DEFAULT_METRICS`) is within ``precision`` of the
    difference, or ``precision_floors[metric]`` in the metric's unit (for differences
    near zero), at most ``max_reps``; ``result.auto`` says what it did. The numbers are
    those of ``fbsim compare --reps auto`` with the same options.

    Raises
    ------
    ValueError
        When an option differs from the base in start date, horizon or warm-up (unless
        ``allow_different_run_settings``), or with fewer than 2 replications.
    """
    from sim.experiment.autoreps import DEFAULT_METRICS, DEFAULT_MIN_BATCH, PrecisionRule
    from sim.experiment.compare import (
        arm_labels,
        compare_many,
        compare_many_auto,
        difference_key,
        run_setting_differences,
    )

    chosen = _scenario(base)
    listed = ([options] if isinstance(options, Scenario | str | Path) else list(options))
    others = [_scenario(o) for o in listed]
    if not others:
        raise ValueError("compare needs at least one option")
    differ = [d for o in others for d in run_setting_differences(chosen, o)]
    if differ and not allow_different_run_settings:
        raise ValueError("the scenarios differ in run settings that decide what is measured: "
                         + "; ".join(differ) + " (set them equal, or pass "
                         "allow_different_run_settings=True)")
    run_seed = chosen.run.seed if seed is None else seed
    if reps == "auto":
        labels = arm_labels([chosen, *others])
        floors = {difference_key(label, labels[0], m): float(v) for label in labels[1:]
                  for m, v in (precision_floors or {}).items()}
        rule = PrecisionRule(precision=precision, initial=initial_reps, max_reps=max_reps,
                             min_batch=DEFAULT_MIN_BATCH, absolute=floors)
        runner = _backend(backend, workers, initial_reps * (1 + len(others)), scheduler)
        return CompareResult(compare_many_auto(
            chosen, others, run_seed, rule, list(precision_metrics or DEFAULT_METRICS),
            runner, on_check=on_check))
    if isinstance(reps, str):
        raise ValueError(f"reps={reps!r}: expected a number of replications or 'auto'")
    n = reps or chosen.run.replications
    if n < 2:
        raise ValueError("compare needs at least 2 replications for confidence intervals")
    jobs = n * (1 + len(others))
    return CompareResult(compare_many(chosen, others, n, run_seed,
                                      _backend(backend, workers, jobs, scheduler)))
