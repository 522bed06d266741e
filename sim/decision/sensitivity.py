"""Global sensitivity: which uncertain assumptions move the metrics, and a lever's effect.

Sampling and indices come from SALib (Herman & Usher 2017): **Morris** elementary
effects (Morris 1991, with Campolongo et al.'s 2007 ``mu_star``) to screen many
parameters, **Sobol** first- and total-order indices (Saltelli et al. 2010) for few.
Every sample point runs the same ``replications`` replications (indices ``0 .. R-1``),
so points differ only in their assumptions (common random numbers), and a lever is run
at every point on those same replications: its **effect** at a point is the paired
difference lever minus base, averaged over the replications. The indices of an effect
say which assumptions its size depends on; its range over the points says whether it
keeps its sign under every sampled assumption.

Morris ``mu_star`` is in the output's unit: the mean absolute change of the output when
one parameter moves across its whole range (SALib scales steps to the unit range).
Whole-number parameters are rounded after sampling; their elementary effects are then
approximate.

References
----------
Herman, J. and Usher, W. (2017). SALib: an open-source Python library for sensitivity
analysis. *Journal of Open Source Software* 2(9), 97.
Morris, M. D. (1991). Factorial sampling plans for preliminary computational
experiments. *Technometrics* 33(2), 161–174.
Campolongo, F., Cariboni, J. and Saltelli, A. (2007). An effective screening design for
sensitivity analysis of large models. *Environmental Modelling & Software* 22, 1509–1518.
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output.
*Computer Physics Communications* 181(2), 259–270.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.decision.evaluate import Evaluator
from sim.decision.uncertain import UncertainSpec

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.schema import Scenario

#: Morris for at least this many parameters, Sobol below (when the file does not say).
MORRIS_FROM_PARAMETERS = 6


def require_salib() -> None:
    """Raise ImportError with what to install when SALib is missing."""
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise ImportError("fbsim sensitivity needs SALib: pip install "
                          "'forensic-backlog-sim[sensitivity]'") from None


@dataclass(frozen=True)
class SensitivitySettings:
    """How :func:`run_sensitivity` samples.

    Attributes
    ----------
    seed : int
        Base seed of every replication and of the sampler.
    method : str or None
        ``morris`` or ``sobol``; None: the file's, else Morris from
        :data:`MORRIS_FROM_PARAMETERS` parameters.
    samples : int or None
        Morris trajectories (default 10) or Sobol base samples ``N`` (a power of two,
        default 32).
    replications : int
        Replications per sample point (and per lever at it).
    levels : int
        Morris grid levels.
    """

    seed: int
    method: str | None = None
    samples: int | None = None
    replications: int = 2
    levels: int = 4

    def __post_init__(self) -> None:
        if self.method not in (None, "morris", "sobol"):
            raise ValueError("method is morris or sobol")
        if self.samples is not None and self.samples < 2:
            raise ValueError("samples must be >= 2")
        if self.replications < 1:
            raise ValueError("replications must be >= 1")


@dataclass
class SensitivityResult:
    """Sample points, outputs, indices and lever effects; ``*_frame`` give DataFrames."""

    spec: UncertainSpec
    settings: SensitivitySettings
    method: str
    samples: int
    points: np.ndarray
    outputs: dict[str, np.ndarray]
    indices: dict[str, dict[str, np.ndarray]]
    wall_seconds: float
    replications_run: int
    backend: str
    workers: int
    extra: dict[str, Any] = field(default_factory=dict)
    replications_reused: int = 0
    """Replications read back (a resumed run's journal) rather than run."""

    @property
    def replications_total(self) -> int:
        """Replications behind the result: run in this session or read back."""
        return self.replications_run + self.replications_reused

    @property
    def parameter_names(self) -> list[str]:
        """Parameter names, in file order."""
        return [p.name for p in self.spec.parameters]

    def to_frame(self) -> pd.DataFrame:
        """:meth:`indices_frame`: every output's index for every parameter."""
        return self.indices_frame()

    def indices_frame(self) -> pd.DataFrame:
        """One row per (output, parameter): the method's indices and their 95% half-widths."""
        import pandas as pd

        rows = []
        for output, values in self.indices.items():
            for i, name in enumerate(self.parameter_names):
                row: dict[str, Any] = {"output": output, "parameter": name}
                row.update({k: float(v[i]) for k, v in values.items()})
                rows.append(row)
        return pd.DataFrame(rows)

    def samples_frame(self) -> pd.DataFrame:
        """One row per sample point: parameter values (as run) and every output's mean."""
        import pandas as pd

        frame = pd.DataFrame(self.points_as_run(), columns=self.parameter_names)
        frame.insert(0, "point", np.arange(len(frame)))
        for output, values in self.outputs.items():
            frame[output] = values
        return frame

    def points_as_run(self) -> np.ndarray:
        """The sample points with whole-number parameters rounded, as the scenarios had them."""
        out = self.points.copy()
        for j, p in enumerate(self.spec.parameters):
            if p.integer:
                out[:, j] = np.round(out[:, j])
        return out

    def lever_effects_frame(self) -> pd.DataFrame:
        """Per lever and metric: the effect's mean, range and sign over the sample points."""
        import pandas as pd

        rows = []
        for lever in self.spec.levers:
            for metric in self.spec.metrics:
                v = self.outputs[effect_name(lever, metric)]
                ok = v[~np.isnan(v)]
                rows.append({
                    "lever": lever, "metric": metric, "effect_mean": _mean(ok),
                    "effect_min": float(ok.min()) if ok.size else math.nan,
                    "effect_max": float(ok.max()) if ok.size else math.nan,
                    "points": int(ok.size), "points_undefined": int(v.size - ok.size),
                    "share_positive": float(np.mean(ok > 0)) if ok.size else math.nan,
                    "share_negative": float(np.mean(ok < 0)) if ok.size else math.nan,
                    "same_sign_everywhere": bool(ok.size and (np.all(ok > 0) or np.all(ok < 0))),
                })
        return pd.DataFrame(rows)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def effect_name(lever: str, metric: str) -> str:
    """Output name of a lever's effect on a metric: ``effect:<lever>:<metric>``."""
    return f"effect:{lever}:{metric}"


def _problem(spec: UncertainSpec) -> dict[str, Any]:
    return {"num_vars": len(spec.parameters), "names": [p.name for p in spec.parameters],
            "bounds": [[p.low, p.high] for p in spec.parameters]}


def choose_method(spec: UncertainSpec, settings: SensitivitySettings) -> tuple[str, int]:
    """The method and sample size to use."""
    method = settings.method or spec.method or (
        "morris" if len(spec.parameters) >= MORRIS_FROM_PARAMETERS else "sobol")
    samples = settings.samples or (10 if method == "morris" else 32)
    if method == "sobol" and samples & (samples - 1):
        raise ValueError(f"Sobol needs a power of two base samples, got {samples}")
    return method, samples


def sample_points(spec: UncertainSpec, method: str, samples: int, settings: SensitivitySettings
                  ) -> np.ndarray:
    """The SALib design: (points, parameters)."""
    require_salib()
    problem = _problem(spec)
    if method == "morris":
        from SALib.sample import morris

        return np.asarray(morris.sample(problem, N=samples, num_levels=settings.levels,
                                        seed=settings.seed))
    from SALib.sample import sobol

    return np.asarray(sobol.sample(problem, samples, calc_second_order=False, seed=settings.seed))


def analyse(spec: UncertainSpec, method: str, points: np.ndarray, y: np.ndarray,
            settings: SensitivitySettings) -> dict[str, np.ndarray]:
    """SALib's indices of one output (NaN everywhere when the output is undefined somewhere)."""
    p = len(spec.parameters)
    keys = (("mu_star", "mu_star_conf", "mu", "sigma") if method == "morris"
            else ("S1", "S1_conf", "ST", "ST_conf"))
    if np.isnan(y).any() or p == 0:
        return {k: np.full(p, np.nan) for k in keys}
    problem = _problem(spec)
    if method == "morris":
        from SALib.analyze import morris

        si = morris.analyze(problem, points, y, num_levels=settings.levels, conf_level=0.95,
                            num_resamples=1000, seed=settings.seed)
    else:
        from SALib.analyze import sobol

        if np.ptp(y) == 0:  # a constant output: nothing to attribute
            return {k: np.zeros(p) for k in keys}
        si = sobol.analyze(problem, y, calc_second_order=False, conf_level=0.95,
                           num_resamples=1000, seed=settings.seed)
    return {k: np.asarray(si[k], dtype=float) for k in keys}


def run_sensitivity(scenario: Scenario, spec: UncertainSpec, settings: SensitivitySettings,
                    evaluator: Evaluator | None = None) -> SensitivityResult:
    """Sample the parameters, run every point (and every lever at it), compute indices.

    Parameters
    ----------
    scenario : Scenario
        The scenario the parameters belong to.
    spec : UncertainSpec
        From :func:`~sim.decision.uncertain.load_uncertain`.
    settings : SensitivitySettings
        Method, sizes, seed.
    evaluator : Evaluator, optional
        Where replications run (serial by default); it may hold replications already
        run. Its seed must be ``settings.seed``.
    """
    t0 = time.perf_counter()
    del scenario  # the spec holds its data; kept in the signature to mirror find_plan
    evaluator = evaluator or Evaluator(seed=settings.seed)
    if evaluator.seed != settings.seed:
        raise ValueError("the evaluator's seed differs from the settings' seed")
    method, samples = choose_method(spec, settings)
    points = sample_points(spec, method, samples, settings)
    names = [p.name for p in spec.parameters]
    levers: list[str | None] = [None, *spec.levers]
    scenarios = {(i, lever): spec.scenario_at(dict(zip(names, row, strict=True)), lever)
                 for i, row in enumerate(points) for lever in levers}
    reps = settings.replications
    evaluator.ensure(list(scenarios.values()), 0, reps)
    metrics = list(spec.metrics)
    per_point = {key: evaluator.values(sc, metrics, range(reps)) for key, sc in scenarios.items()}
    outputs: dict[str, np.ndarray] = {}
    for j, metric in enumerate(metrics):
        outputs[metric] = np.asarray([per_point[(i, None)][:, j].mean()
                                      for i in range(len(points))])
        for lever in spec.levers:
            outputs[effect_name(lever, metric)] = np.asarray(
                [(per_point[(i, lever)][:, j] - per_point[(i, None)][:, j]).mean()
                 for i in range(len(points))])
    indices = {name: analyse(spec, method, points, y, settings) for name, y in outputs.items()}
    return SensitivityResult(spec, settings, method, samples, points, outputs, indices,
                             time.perf_counter() - t0, evaluator.replications_run,
                             evaluator.backend.name, evaluator.backend.workers,
                             replications_reused=evaluator.replications_reused)
