"""Statistics across replications: means with t confidence intervals, bands.

Each replication is one independent observation of a metric, so a metric's estimate
is the mean over replications with a Student-t interval. Replications where a metric
is undefined (NaN, e.g. a P90 the curve never reaches) are left out and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """Mean over replications with a confidence interval.

    Attributes
    ----------
    mean, ci_low, ci_high : float
        Estimate and interval (NaN bounds with fewer than two defined values).
    n : int
        Replications where the metric was defined.
    n_total : int
        Replications run.
    sd : float
        Standard deviation across replications.
    """

    mean: float
    ci_low: float
    ci_high: float
    n: int
    n_total: int
    sd: float

    @property
    def half_width(self) -> float:
        """Half the interval's width."""
        return (self.ci_high - self.ci_low) / 2.0


def mean_ci(values: np.ndarray | list[float], level: float = 0.95,
            bounds: tuple[float, float] = (-math.inf, math.inf)) -> Estimate:
    """Mean and Student-t confidence interval, ignoring NaN values.

    Parameters
    ----------
    values : array-like
        One value per replication.
    level : float
        Confidence level, default 0.95.
    bounds : tuple of float
        Range the quantity cannot leave (e.g. (0, 1) for a share); the interval is
        clipped to it, as a t-interval can otherwise cross it with few replications.
    """
    arr = np.asarray(values, dtype=float)
    ok = arr[~np.isnan(arr)]
    n = int(ok.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, int(arr.size), math.nan)
    mean = float(ok.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n, int(arr.size), math.nan)
    sd = float(ok.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    low = max(mean - half, bounds[0])
    high = min(mean + half, bounds[1])
    return Estimate(mean, low, high, n, int(arr.size), sd)


def band(curves: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean and t confidence band of curves stacked by replication.

    Parameters
    ----------
    curves : numpy.ndarray
        Shape (replications, points).

    Returns
    -------
    mean, low, high : numpy.ndarray
        Each of shape (points,).
    """
    curves = np.asarray(curves, dtype=float)
    n = curves.shape[0]
    mean = np.nanmean(curves, axis=0)
    if n < 2:
        return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    half = stats.t.ppf(0.5 + level / 2.0, n - 1) * np.nanstd(curves, axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def fan(curves: np.ndarray, quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
        ) -> np.ndarray:
    """Pointwise quantiles across replications (for fan charts), shape (q, points)."""
    return np.nanquantile(np.asarray(curves, dtype=float), quantiles, axis=0)
