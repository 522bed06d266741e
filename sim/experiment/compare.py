"""Compare scenarios on common random numbers: run each with the same seed and replications."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analysis.metrics import METRICS
from sim.analysis.paired import (
    PairedDifference,
    Ratio,
    paired_difference,
    ratio_of_mean_differences,
)
from sim.config.schema import Scenario
from sim.experiment.backends import Backend
from sim.experiment.runner import ExperimentResult, run_experiment


@dataclass
class Comparison:
    """Results of a base scenario and one option, and their paired differences."""

    base: ExperimentResult
    option: ExperimentResult

    def child_days_saved_per_million_gbp(self, level: float = 0.95) -> Ratio:
        """Child-days at risk saved per £1m of extra cost, option against base.

        NaN when the costs do not differ (no unit costs set, or equal costs).
        """
        def per_rep(result: ExperimentResult, name: str) -> np.ndarray:
            return np.asarray([r.metrics[name] for r in result.replications], dtype=float)

        saved = per_rep(self.base, "child_days_at_risk") - per_rep(self.option, "child_days_at_risk")
        extra_m = (per_rep(self.option, "cost_total_gbp") - per_rep(self.base, "cost_total_gbp")) / 1e6
        return ratio_of_mean_differences(saved, extra_m, level)

    def differences(self, level: float = 0.95) -> dict[str, PairedDifference]:
        """Paired difference (option − base) of every metric."""
        out = {}
        for name in METRICS:
            a = [r.metrics[name] for r in self.base.replications]
            b = [r.metrics[name] for r in self.option.replications]
            out[name] = paired_difference(a, b, level)
        return out


def compare(base: Scenario, option: Scenario, replications: int, seed: int,
            backend: Backend | None = None) -> Comparison:
    """Run both scenarios with the same seed and replication indices (common random numbers)."""
    return Comparison(run_experiment(base, replications, seed, backend),
                      run_experiment(option, replications, seed, backend))
