"""Paired differences between two scenarios run on common random numbers.

Replication ``i`` of both scenarios uses the same random streams, so much of the noise
cancels in the per-replication difference; the interval of the mean difference is then
far narrower than comparing two independent intervals would suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analysis.stats import Estimate, mean_ci, t_quantile


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


@dataclass(frozen=True)
class Ratio:
    """A ratio of two mean paired differences with a delta-method interval.

    Attributes
    ----------
    value, ci_low, ci_high : float
        Estimate and approximate interval (NaN when the denominator is not
        distinguishable from zero).
    """

    value: float
    ci_low: float
    ci_high: float


def ratio_of_mean_differences(numerator: np.ndarray, denominator: np.ndarray,
                              level: float = 0.95) -> Ratio:
    """``mean(numerator) / mean(denominator)`` over replications, with a delta-method CI.

    Used for cost-effectiveness, e.g. child-days at risk saved per £1m: numerator the
    per-replication days saved, denominator the per-replication extra cost in £m.

    Parameters
    ----------
    numerator, denominator : numpy.ndarray
        Paired per-replication differences.
    level : float
        Confidence level.
    """
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    n = a.size
    nan = float("nan")
    if n < 2 or b.mean() == 0:
        return Ratio(nan, nan, nan)
    den = mean_ci(b, level)
    if den.ci_low <= 0 <= den.ci_high:
        return Ratio(float(a.mean() / b.mean()), nan, nan)
    r = float(a.mean() / b.mean())
    cov = np.cov(a, b, ddof=1)
    var = (cov[0, 0] + r * r * cov[1, 1] - 2 * r * cov[0, 1]) / (n * b.mean() ** 2)
    half = t_quantile(0.5 + level / 2, n - 1) * float(np.sqrt(max(var, 0.0)))
    return Ratio(r, r - half, r + half)


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
