"""The triangular continuation region shared by the feasibility and selection procedures.

Both procedures watch a partial sum of normal observations (a plan's metric minus its
target, or the difference of two plans' costs) and stop when it leaves a triangle
that closes as observations accumulate. With ``c = 1`` (the choice of Kim & Nelson,
2001, and of Batur & Kim, 2010), after ``r`` observations the sum continues inside

    ``|sum| < R(r) = max(0, h² S² / (2 tol) - tol r / 2)``,

where ``S²`` is the first-stage sample variance of one observation, ``tol`` the
indifference amount (a target's tolerance or the cost resolution) and
``h² = 2 η (n0 - 1)``. Fabian's (1974) bound gives the chance that the sum leaves the
triangle on the wrong side as at most ``½ (1 + 2η)^{-(n0 - 1)/2}``, so choosing

    ``η = ½ [(2 β)^{-2/(n0 - 1)} - 1]``

makes that chance at most ``β``.

References
----------
Fabian, V. (1974). Note on Anderson's sequential procedures with triangular boundary.
*Annals of Statistics* 2(1), 170–176.
Kim, S.-H. and Nelson, B. L. (2001). A fully sequential procedure for indifference-zone
selection in simulation. *ACM TOMACS* 11(3), 251–273.
Batur, D. and Kim, S.-H. (2010). Finding feasible systems in the presence of constraints
on multiple performance measures. *ACM TOMACS* 20(3), article 13.
"""

from __future__ import annotations

import math

import numpy as np


def eta(beta: float, first_stage: int) -> float:
    """The constant η for which Fabian's wrong-exit bound equals ``beta`` (with c = 1).

    Parameters
    ----------
    beta : float
        Chance of leaving the triangle on the wrong side, in (0, 0.5).
    first_stage : int
        First-stage sample size ``n0`` (>= 2); ``S²`` has ``n0 - 1`` degrees of freedom.
    """
    if not 0.0 < beta < 0.5:
        raise ValueError(f"beta must be in (0, 0.5), got {beta}")
    if first_stage < 2:
        raise ValueError(f"the first stage needs at least 2 observations, got {first_stage}")
    return 0.5 * ((2.0 * beta) ** (-2.0 / (first_stage - 1)) - 1.0)


def h_squared(beta: float, first_stage: int) -> float:
    """``h² = 2 η (n0 - 1)``, the size of the triangle in units of ``S² / tol``."""
    return 2.0 * eta(beta, first_stage) * (first_stage - 1)


def sum_half_width(r: int | np.ndarray, h2: float, variance: float | np.ndarray,
                   tolerance: float) -> np.ndarray:
    """Half-width ``R(r)`` of the continuation region of a partial sum of ``r`` observations.

    Parameters
    ----------
    r : int or numpy.ndarray
        Observations summed so far.
    h2 : float
        :func:`h_squared`.
    variance : float or numpy.ndarray
        First-stage sample variance ``S²`` (of one observation, or of one difference).
    tolerance : float
        Indifference amount (> 0), in the observations' unit.
    """
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    return np.maximum(0.0, h2 * np.asarray(variance, dtype=float) / (2.0 * tolerance)
                      - tolerance * np.asarray(r, dtype=float) / 2.0)


def last_stage(h2: float, variance: float | np.ndarray, tolerance: float) -> np.ndarray:
    """Observations after which the triangle has closed (``R = 0``): ``floor(h² S²/tol²) + 1``."""
    return np.floor(h2 * np.asarray(variance, dtype=float) / tolerance ** 2).astype(np.int64) + 1


def bonferroni(alpha: float, parts: int) -> float:
    """``alpha`` split evenly over ``parts`` events (Bonferroni), as used for dependent systems."""
    if parts < 1:
        raise ValueError("parts must be >= 1")
    return alpha / parts


def check_level(alpha: float, what: str = "alpha") -> None:
    """Refuse an error probability outside (0, 0.5)."""
    if not (0.0 < alpha < 0.5) or math.isnan(alpha):
        raise ValueError(f"{what} must be in (0, 0.5), got {alpha}")
