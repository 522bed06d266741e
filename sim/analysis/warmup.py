"""A warm-up period for steady-state studies: MSER-5 on the weekly series of a run.

MSER (White 1997; MSER-5 in White, Cobb & Spratt 2000) truncates the start of an
output series where doing so minimises the marginal standard error of what is left.
The series (here: items waiting at a stage, sampled weekly and averaged across
replications) is cut into batch means of 5 observations, ``Z_1 … Z_m``; for each
truncation ``d`` (batches dropped from the start)

    MSER(d) = sum_{j > d} (Z_j - mean(Z_{d+1..m}))^2 / (m - d)^2,

and the truncation point is the ``d`` minimising it over the first half of the series
(``d <= m // 2``). A minimum at the very end of that range means the series has not
settled within the run (a backlog that only grows, or a run too short): the result is
then flagged, not trusted.

A warm-up replaces an initial state that is not typical with one the model reaches by
itself; it is the tool for a study that starts empty. A scenario that starts from
today's backlog (``initial_backlog``) is a study of the transient from that backlog:
its start is the point of the study, and cutting it away would answer another question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.analysis.metrics import ReplicationSummary

#: Observations per batch mean (the 5 of MSER-5).
BATCH_SIZE = 5
#: Fewest batches for a truncation point worth reporting.
MIN_BATCHES = 10


@dataclass(frozen=True)
class MserResult:
    """The MSER-5 truncation point of one series.

    Attributes
    ----------
    truncation_batches : int
        Batches dropped from the start (``d*``).
    truncation_observations : int
        Observations dropped: ``d* * batch``.
    statistic : numpy.ndarray
        ``MSER(d)`` for ``d = 0 … m // 2``.
    batch_means : numpy.ndarray
        The ``m`` batch means (the last ``n mod batch`` observations are left out).
    batch : int
        Observations per batch.
    settled : bool
        False when the minimum lies at the end of the searched range: the series has
        not reached a steady state within the run, and the truncation is not to be
        trusted.
    """

    truncation_batches: int
    truncation_observations: int
    statistic: np.ndarray
    batch_means: np.ndarray
    batch: int
    settled: bool


def batch_means(series: np.ndarray, batch: int = BATCH_SIZE) -> np.ndarray:
    """Means of consecutive non-overlapping batches of ``batch`` observations.

    The last ``len(series) % batch`` observations, which make no full batch, are left out.
    """
    x = np.asarray(series, dtype=float)
    m = x.size // batch
    return x[:m * batch].reshape(m, batch).mean(axis=1)


def mser(series: np.ndarray, batch: int = BATCH_SIZE) -> MserResult:
    """The MSER-``batch`` truncation point of ``series`` (MSER-5 by default).

    Parameters
    ----------
    series : numpy.ndarray
        Equally spaced observations, in time order (no NaN).
    batch : int
        Observations per batch mean.

    Raises
    ------
    ValueError
        With fewer than ``2 * batch`` observations, or NaN in them.
    """
    x = np.asarray(series, dtype=float)
    if np.isnan(x).any():
        raise ValueError("the series has NaN values")
    z = batch_means(x, batch)
    m = z.size
    if m < 2:
        raise ValueError(f"MSER-{batch} needs at least {2 * batch} observations, got {x.size}")
    d_max = m // 2
    # Sums over the tails z[d:], from cumulative sums taken from the end. Deviations
    # from the overall mean keep the subtraction below well conditioned.
    y = z - z.mean()
    n = m - np.arange(d_max + 1)
    s1 = np.cumsum(y[::-1])[::-1][:d_max + 1]
    s2 = np.cumsum((y * y)[::-1])[::-1][:d_max + 1]
    ss = np.maximum(s2 - s1 * s1 / n, 0.0)
    stat = ss / (n.astype(float) ** 2)
    d = int(np.argmin(stat))
    settled = d < d_max or d_max == 0
    return MserResult(d, d * batch, stat, z, batch, settled)


@dataclass(frozen=True)
class SeriesWarmup:
    """The warm-up suggested by one series of a run.

    Attributes
    ----------
    series : str
        What the series counts (a stage's items waiting, or ``backlog_devices``).
    days : numpy.ndarray
        Sample days.
    values : numpy.ndarray
        The series averaged across replications.
    result : MserResult
        Its MSER-5 truncation.
    interval_days : float
        Days between observations.
    """

    series: str
    days: np.ndarray
    values: np.ndarray
    result: MserResult
    interval_days: float

    @property
    def warmup_days(self) -> float:
        """Days cut away: the day of the first observation kept."""
        return float(self.result.truncation_observations * self.interval_days)


def series_warmups(days: np.ndarray, series: dict[str, np.ndarray], batch: int = BATCH_SIZE
                   ) -> list[SeriesWarmup]:
    """MSER truncation of each series (already averaged across replications).

    Parameters
    ----------
    days : numpy.ndarray
        Equally spaced sample days, shared by every series.
    series : dict of str to numpy.ndarray
        Name -> values on ``days``.
    batch : int
        Observations per batch mean.
    """
    d = np.asarray(days, dtype=float)
    interval = float(d[1] - d[0]) if d.size > 1 else 0.0
    return [SeriesWarmup(name, d, np.asarray(v, dtype=float), mser(v, batch), interval)
            for name, v in series.items()]


def suggested_warmup(results: list[SeriesWarmup]) -> SeriesWarmup:
    """The series asking for the longest warm-up (the warm-up must suit every series)."""
    if not results:
        raise ValueError("no series to suggest a warm-up from")
    return max(results, key=lambda r: r.warmup_days)


def replication_series(replications: Sequence[ReplicationSummary],
                       stages: list[str] | None = None
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sample days and the items waiting per series, averaged across replications.

    Parameters
    ----------
    replications : sequence of ReplicationSummary
        Replications of one scenario (their ``timeseries_days`` and ``waiting``); from a
        :class:`~sim.analysis.replication_store.ReplicationStore`, the series are read
        from it a block of days at a time, to the same means.
    stages : list of str, optional
        The series to keep (stage names, or ``backlog_devices``); default every series
        where anything ever waited, ``backlog_devices`` first.
    """
    from sim.analysis.replication_store import ReplicationStore

    if not replications:
        raise ValueError("no replications")
    store = (replications if isinstance(replications, ReplicationStore)
             else ReplicationStore.of(replications))
    first = store[0]
    days = np.asarray(first.timeseries_days, dtype=float)
    names = list(first.waiting)
    if stages is None:
        names = [n for n in names if store.series_ever_positive(n)]
        names.sort(key=lambda n: n != "backlog_devices")
    else:
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise ValueError(f"no time series {', '.join(unknown)}; the run has "
                             f"{', '.join(names)}")
        names = list(stages)
    return days, {n: store.series_mean(n) for n in names}
