"""Paired differences between two scenarios run on common random numbers.

Replication ``i`` of both scenarios uses the same random streams, so much of the noise
cancels in the per-replication difference; the interval of the mean difference is then
far narrower than comparing two independent intervals would suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def paired_p_value(difference: Estimate) -> float:
    """Two-sided p-value of the paired t-test that the mean difference is zero.

    ``t = mean / (sd / sqrt(n))`` on ``n - 1`` degrees of freedom, from the
    :class:`~sim.analysis.stats.Estimate` of the per-replication differences. With
    no spread (every replication's difference the same): 1 if that difference is
    zero, else 0. NaN with fewer than two defined replications.
    """
    from scipy.special import stdtr

    n, mean, sd = difference.n, difference.mean, difference.sd
    if n < 2 or math.isnan(mean) or math.isnan(sd):
        return math.nan
    if sd == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = abs(mean) / (sd / math.sqrt(n))
    return float(2.0 * stdtr(n - 1, -t))


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the order given.

    With the ``m`` defined p-values sorted ascending, ``p_(1) <= … <= p_(m)``, the
    adjusted value of ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    rejecting where it is below ``alpha`` controls the family-wise error rate at
    ``alpha`` under any dependence between the tests. NaN values stay NaN and do not
    count in ``m``.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = defined.size
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


#: The most replications :func:`replications_to_resolve` looks for.
RESOLVE_SEARCH_LIMIT = 10_000_000


def replications_to_resolve(difference: Estimate, level: float = 0.95) -> int | None:
    """Replications a paired t interval needs to exclude zero, at the observed mean and SD.

    The smallest ``n >= 2`` with ``t_{(1+level)/2, n-1} * sd / sqrt(n) < |mean|``,
    taking the difference and its spread as they came out (a planning figure, not a
    promise: both are estimates). None when the mean difference is zero or undefined,
    or more than :data:`RESOLVE_SEARCH_LIMIT` would be needed.
    """
    mean, sd = difference.mean, difference.sd
    if math.isnan(mean) or math.isnan(sd) or mean == 0.0:
        return None
    if sd == 0.0:
        return 2
    q = 0.5 + level / 2.0

    def resolves(n: int) -> bool:
        return t_quantile(q, n - 1) * sd / math.sqrt(n) < abs(mean)

    # The normal approximation is a lower bound (t > z); step up from it in doubling
    # strides, then bisect.
    z = t_quantile(q, 10**9)
    low = max(2, math.floor((z * sd / abs(mean)) ** 2))
    if low > RESOLVE_SEARCH_LIMIT:
        return None
    if resolves(low):
        return low
    high = low + 1
    while not resolves(high):
        low, high = high, min(RESOLVE_SEARCH_LIMIT, 2 * high)
        if low >= RESOLVE_SEARCH_LIMIT:
            return None
    while high - low > 1:
        mid = (low + high) // 2
        if resolves(mid):
            high = mid
        else:
            low = mid
    return high
