"""Statistics across replications: means with t confidence intervals, bands.

Each replication is one independent observation of a metric, so a metric's estimate
is the mean over replications with a Student-t interval. Replications where a metric
is undefined (NaN, e.g. a P90 the curve never reaches) are left out and counted.

SciPy is imported only when a t quantile is computed (:func:`t_quantile`), and then
only ``scipy.special`` (a fraction of the cost of ``scipy.stats``), so that worker
processes and short runs do not pay for it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Most bytes of values a column-wise statistic reads at once (:func:`column_blocks`).
BLOCK_BYTES = 1024 * 1024

#: ``read(start, stop)``: columns ``start .. stop - 1`` of a (replications, points) array,
#: as a new C-ordered float array of shape (replications, stop - start).
ColumnReader = Callable[[int, int], np.ndarray]


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


def t_quantile(p: float, df: int) -> float:
    """Quantile ``p`` of Student's t distribution with ``df`` degrees of freedom.

    For ``0 < p <= 1``, the same value as ``scipy.stats.t.ppf(p, df)`` (which calls
    ``stdtrit``), without importing ``scipy.stats``.
    """
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


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
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
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
    # Replications where a curve is undefined (NaN: e.g. no child at risk yet) are left
    # out point by point, so each point has its own count; fewer than two gives NaN.
    count = (~np.isnan(curves)).sum(axis=0)
    mean = np.full(curves.shape[1:], np.nan)
    half = np.full(curves.shape[1:], np.nan)
    some, ok = count >= 1, count >= 2
    if some.any():
        mean[some] = np.nanmean(curves[:, some], axis=0)
    if ok.any():
        sd = np.nanstd(curves[:, ok], axis=0, ddof=1)
        n = count[ok]
        t = {k: t_quantile(0.5 + level / 2.0, k - 1) for k in set(n.tolist())}
        half[ok] = np.asarray([t[k] for k in n.tolist()]) * sd / np.sqrt(n)
    return mean, mean - half, mean + half


def column_blocks(points: int, rows: int, max_bytes: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """Ranges of columns of a (rows, points) float array to read at once.

    One range of every column if they fit in ``max_bytes``; else blocks of as many
    columns as fit, and never a block of one column out of several (a C-ordered array of
    one column is summed pairwise, one of several in row order, so the column-wise sums of
    :func:`mean_by_columns` would change).
    """
    width = max(2, max_bytes // (max(rows, 1) * 8))
    if width >= points:
        return [(0, points)]
    bounds = [*range(0, points, width), points]
    blocks = list(itertools.pairwise(bounds))
    if blocks[-1][1] - blocks[-1][0] == 1:
        blocks[-2:] = [(blocks[-2][0], points)]
    return blocks


def band_by_columns(read: ColumnReader, points: int, rows: int, level: float = 0.95,
                    max_bytes: int = BLOCK_BYTES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`band` of a (rows, points) array that is read a block of columns at a time.

    :func:`band` is pointwise, and each point's numbers depend on its own column only:
    it takes the defined columns out as a new array (column-major, so each column's
    values are summed as one contiguous run, whatever else is beside it). So the result
    is that of ``band(read(0, points))``, bit for bit, with at most ``max_bytes`` of
    values (and band's working copies of them) in memory at a time.
    """
    parts = [band(read(start, stop), level) for start, stop in
             column_blocks(points, rows, max_bytes)]
    mean, low, high = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return mean, low, high


def mean_by_columns(read: ColumnReader, points: int, rows: int,
                    max_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """``numpy.mean(x, axis=0)`` of a (rows, points) C-ordered array read a block of columns at a time.

    numpy sums the rows of a C-ordered array of two or more columns in row order, each
    column alone, so blocks of two or more columns (:func:`column_blocks`) give the mean
    of the whole array bit for bit.
    """
    parts = [np.mean(read(start, stop), axis=0)
             for start, stop in column_blocks(points, rows, max_bytes)]
    return np.concatenate(parts)


def fan(curves: np.ndarray, quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
        ) -> np.ndarray:
    """Pointwise quantiles across replications (for fan charts), shape (q, points).

    NaN values are ignored. Without any, :func:`numpy.quantile` gives the same values
    as :func:`numpy.nanquantile`, which works column by column and is about a hundred
    times slower on a fan chart's thousands of points.
    """
    arr = np.asarray(curves, dtype=float)
    if np.isnan(arr).any():
        return np.nanquantile(arr, quantiles, axis=0)
    return np.quantile(arr, quantiles, axis=0)
