"""Compare scenarios on common random numbers: run each with the same seed and replications."""

from __future__ import annotations

from dataclasses import dataclass

from sim.analysis.metrics import METRICS
from sim.analysis.paired import PairedDifference, paired_difference
from sim.config.schema import Scenario
from sim.experiment.backends import Backend
from sim.experiment.runner import ExperimentResult, run_experiment


@dataclass
class Comparison:
    """Results of a base scenario and one option, and their paired differences."""

    base: ExperimentResult
    option: ExperimentResult

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
