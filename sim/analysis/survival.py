"""Kaplan–Meier estimation for right-censored times (time to identification, waits).

A child not yet identified when the run ends is *censored*: we know only that the
time exceeds what was observed. Dropping such children would make every policy that
leaves children unidentified look better, so every time-to-event figure here uses the
Kaplan–Meier product-limit estimator (Kaplan & Meier 1958, JASA 53:457–481).
"""

from __future__ import annotations

import numpy as np


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product-limit estimate of the survival function S(t) = P(T > t).

    Parameters
    ----------
    durations : numpy.ndarray
        Event or censoring times (>= 0).
    observed : numpy.ndarray of bool
        True where the event happened at ``durations``; False where censored.

    Returns
    -------
    times : numpy.ndarray
        Distinct event times, increasing.
    survival : numpy.ndarray
        S just after each event time. S is 1 before ``times[0]``.

    Notes
    -----
    At tied times, events are counted before censorings, the usual convention.
    """
    durations = np.asarray(durations, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    if durations.shape != observed.shape:
        raise ValueError("durations and observed must have the same shape")
    if durations.size == 0:
        return np.empty(0), np.empty(0)
    if np.any(np.isnan(durations)) or np.any(durations < 0):
        raise ValueError("durations must be non-negative numbers")
    order = np.argsort(durations, kind="stable")
    return kaplan_meier_sorted(durations[order], observed[order])


def kaplan_meier_sorted(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kaplan_meier` of times already sorted (stably) and their event flags.

    For several groups of one sample, sort the sample once and take each group's rows
    in that order: the same estimate as :func:`kaplan_meier` of each group, without a
    sort per group. ``t`` must be sorted, non-negative and free of NaN (not checked).
    """
    if t.size == 0:
        return np.empty(0), np.empty(0)
    uniq, first = np.unique(t, return_index=True)
    at_risk = t.size - first
    events = np.add.reduceat(e.astype(np.int64), first)
    keep = events > 0
    factors = 1.0 - events[keep] / at_risk[keep]
    return uniq[keep], np.cumprod(factors)


def survival_at(times: np.ndarray, survival: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Evaluate the step function S at ``t`` (right-continuous)."""
    idx = np.searchsorted(times, np.asarray(t, dtype=float), side="right")
    padded = np.concatenate([[1.0], survival])
    return np.asarray(padded[idx])


def quantile(times: np.ndarray, survival: np.ndarray, q: float) -> float:
    """Smallest t with F(t) = 1 - S(t) >= q; NaN when the curve never gets there.

    Parameters
    ----------
    times, survival : numpy.ndarray
        Output of :func:`kaplan_meier`.
    q : float
        Probability in (0, 1), e.g. 0.5 for the median.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("q must be in (0, 1)")
    hit = np.nonzero(survival <= 1.0 - q + 1e-12)[0]
    return float(times[hit[0]]) if hit.size else float("nan")


def restricted_mean(times: np.ndarray, survival: np.ndarray, tau: float) -> float:
    """Restricted mean survival time: the area under S from 0 to ``tau``.

    The mean time, capped at ``tau``, until the event: children never safeguarded within
    ``tau`` count ``tau`` days. Censoring is handled by the Kaplan–Meier curve; beyond the
    last event time S stays at its last value.

    Parameters
    ----------
    times, survival : numpy.ndarray
        Output of :func:`kaplan_meier`.
    tau : float
        The cap, e.g. 365 days.
    """
    if tau <= 0:
        raise ValueError("tau must be positive")
    edges = np.concatenate([[0.0], times[times < tau], [tau]])
    levels = np.concatenate([[1.0], survival[times < tau]])
    return float(np.sum(np.diff(edges) * levels))
