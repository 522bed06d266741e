"""Paired differences between two scenarios run on common random numbers.

Replication ``i`` of both scenarios uses the same random streams, so much of the noise
cancels in the per-replication difference; the interval of the mean difference is then
far narrower than comparing two independent intervals would suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analysis.stats import Estimate, mean_ci


@dataclass(frozen=True)
class PairedDifference:
    """Mean of (option − base) over replications with its t interval.

    Attributes
    ----------
    base, option : Estimate
        Each scenario's own estimate.
    difference : Estimate
        Estimate of the paired difference option − base.
    """

    base: Estimate
    option: Estimate
    difference: Estimate

    @property
    def significant(self) -> bool:
        """True when the difference's interval excludes zero."""
        d = self.difference
        return bool(d.n >= 2 and (d.ci_low > 0 or d.ci_high < 0))


def paired_difference(base: np.ndarray | list[float], option: np.ndarray | list[float],
                      level: float = 0.95) -> PairedDifference:
    """Paired difference of one metric, replication by replication.

    Parameters
    ----------
    base, option : array-like
        The metric per replication, in replication order, for the two scenarios.
    level : float
        Confidence level.
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(option, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired comparison needs the same replications for both scenarios")
    return PairedDifference(mean_ci(a, level), mean_ci(b, level), mean_ci(b - a, level))
