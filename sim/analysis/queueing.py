"""Steady-state formulas of classical queueing theory, for validating the simulator.

Pure functions of rates and moments (any consistent time unit; the simulator uses
days). Nothing here simulates. Notation: ``lam`` arrival rate, ``mean_service`` the
mean service time of one server, ``c`` the number of identical servers,
``a = lam * mean_service`` the offered load in Erlangs and ``rho = a / c`` the
utilisation. Waits are times in queue, before service starts (``Wq``). Every formula
returns ``math.inf`` for an unstable queue (``rho >= 1``) instead of a negative
number.

References
----------
.. [Erlang1917] A. K. Erlang, "Solution of some problems in the theory of
   probabilities of significance in automatic telephone exchanges", *Elektroteknikeren*
   13 (1917); English translation in E. Brockmeyer, H. L. Halstrøm, A. Jensen, *The
   Life and Works of A. K. Erlang* (1948).
.. [Pollaczek1930] F. Pollaczek, "Über eine Aufgabe der Wahrscheinlichkeitstheorie",
   *Mathematische Zeitschrift* 32 (1930) 64–100 and 729–750.
.. [Khinchine1932] A. Y. Khinchine, "Mathematical theory of a stationary queue",
   *Matematicheskii Sbornik* 39(4) (1932) 73–84.
.. [Cobham1954] A. Cobham, "Priority assignment in waiting line problems",
   *Journal of the Operations Research Society of America* 2(1) (1954) 70–76.
.. [Burke1956] P. J. Burke, "The output of a queuing system", *Operations Research*
   4(6) (1956) 699–704.
.. [Little1961] J. D. C. Little, "A proof for the queuing formula L = λW",
   *Operations Research* 9(3) (1961) 383–387.
.. [Kleinrock1975] L. Kleinrock, *Queueing Systems, Volume 1: Theory*, Wiley (1975):
   M/M/1 and M/M/c (ch. 3), M/G/1 and the P–K formula (ch. 5).
.. [Kleinrock1976] L. Kleinrock, *Queueing Systems, Volume 2: Computer Applications*,
   Wiley (1976), §3.6: non-preemptive priority and the conservation law.
.. [Allen1990] A. O. Allen, *Probability, Statistics, and Queueing Theory with
   Computer Science Applications*, 2nd ed., Academic Press (1990), §6.4: the
   Allen–Cunneen approximation for GI/G/c.
.. [BondiBuzen1984] A. B. Bondi, J. P. Buzen, "The response times of priority classes
   under preemptive resume in M/G/m queues", *ACM SIGMETRICS Performance Evaluation
   Review* 12(3) (1984) 195–201: scaling single-server priority ratios to ``m`` servers.
.. [Whitt1983] W. Whitt, "The queueing network analyzer", *Bell System Technical
   Journal* 62(9) (1983) 2779–2815: variability (SCV) propagation in networks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "allen_cunneen_wait",
    "cobham_priority_waits",
    "erlang_c",
    "mg1_wait",
    "mgc_priority_waits",
    "mm1_wait",
    "mmc_wait",
    "qna_departure_scv",
    "utilisation",
]


def utilisation(lam: float, mean_service: float, c: int = 1) -> float:
    """Server utilisation ``rho = lam * mean_service / c``.

    Parameters
    ----------
    lam : float
        Arrival rate.
    mean_service : float
        Mean service time.
    c : int, default 1
        Number of servers.

    Returns
    -------
    float
        Traffic intensity per server; the queue is stable when it is below one.
    """
    if c < 1:
        raise ValueError(f"need at least one server, got c={c}")
    return lam * mean_service / c


def erlang_c(c: int, a: float) -> float:
    r"""Erlang's C formula: probability that an arrival waits in M/M/c.

    .. math::

        C(c, a) = \frac{\frac{a^c}{c!}\frac{1}{1-\rho}}
                         {\sum_{k=0}^{c-1}\frac{a^k}{k!} + \frac{a^c}{c!}\frac{1}{1-\rho}},
        \qquad \rho = a / c.

    Computed through the numerically stable Erlang B recursion
    ``B(k) = a B(k-1) / (k + a B(k-1))`` and ``C = B / (1 - rho (1 - B))``, which is
    safe for thousands of servers [Erlang1917]_, [Kleinrock1975]_.

    Parameters
    ----------
    c : int
        Number of servers, at least one.
    a : float
        Offered load in Erlangs, ``lam * mean_service``.

    Returns
    -------
    float
        The waiting probability in ``[0, 1]``; 1 when ``a >= c`` (unstable).

    Examples
    --------
    >>> round(erlang_c(1, 0.5), 12)  # M/M/1: P(wait) = rho
    0.5
    >>> round(erlang_c(2, 1.0), 12)
    0.333333333333
    """
    if c < 1:
        raise ValueError(f"need at least one server, got c={c}")
    if a < 0:
        raise ValueError(f"offered load must be >= 0, got {a}")
    if a >= c:
        return 1.0
    if a == 0:
        return 0.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_wait(lam: float, mean_service: float, c: int) -> float:
    """Mean wait in queue of M/M/c (FIFO or any non-preemptive, size-blind order).

    ``Wq = C(c, a) / (c mu - lam)`` with ``mu = 1 / mean_service`` [Kleinrock1975]_.

    Parameters
    ----------
    lam : float
        Poisson arrival rate.
    mean_service : float
        Mean of the exponential service time.
    c : int
        Number of servers.

    Returns
    -------
    float
        Mean time in queue; ``inf`` when ``rho >= 1``.
    """
    a = lam * mean_service
    if a >= c:
        return math.inf
    return erlang_c(c, a) * mean_service / (c - a)


def mm1_wait(lam: float, mean_service: float) -> float:
    """Mean wait in queue of M/M/1: ``Wq = rho / (mu - lam)`` [Kleinrock1975]_.

    Parameters
    ----------
    lam : float
        Poisson arrival rate.
    mean_service : float
        Mean of the exponential service time.

    Returns
    -------
    float
        Mean time in queue; ``inf`` when ``rho >= 1``.

    Examples
    --------
    >>> round(mm1_wait(0.5, 1.0), 12)
    1.0
    """
    rho = lam * mean_service
    if rho >= 1:
        return math.inf
    return rho * mean_service / (1.0 - rho)


def mg1_wait(lam: float, mean_service: float, var_service: float) -> float:
    """Pollaczek–Khinchine mean wait of M/G/1.

    ``Wq = lam E[S^2] / (2 (1 - rho))`` with ``E[S^2] = var + mean^2``
    [Pollaczek1930]_, [Khinchine1932]_, [Kleinrock1975]_ eq. (5.105). Exact for any
    service distribution with finite variance and any non-preemptive order that does
    not look at service times.

    Parameters
    ----------
    lam : float
        Poisson arrival rate.
    mean_service : float
        Mean service time.
    var_service : float
        Variance of the service time (0 for constant service).

    Returns
    -------
    float
        Mean time in queue; ``inf`` when ``rho >= 1``.

    Examples
    --------
    >>> round(mg1_wait(0.5, 1.0, 1.0), 12)  # exponential service: M/M/1
    1.0
    >>> round(mg1_wait(0.5, 1.0, 0.0), 12)  # M/D/1: half of M/M/1
    0.5
    """
    rho = lam * mean_service
    if rho >= 1:
        return math.inf
    second = var_service + mean_service**2
    return lam * second / (2.0 * (1.0 - rho))


def allen_cunneen_wait(lam: float, mean_service: float, c: int, scv_service: float,
                       scv_arrival: float = 1.0) -> float:
    """Allen–Cunneen approximation of the mean wait in GI/G/c.

    ``Wq ≈ Wq(M/M/c) (ca² + cs²) / 2``, where ``ca²`` and ``cs²`` are the squared
    coefficients of variation of inter-arrival and service times [Allen1990]_. It is
    exact for M/M/c (``ca² = cs² = 1``) and for M/G/1 (``c = 1, ca² = 1``: the
    Pollaczek–Khinchine formula); for M/G/c it is typically within about 10 % when
    ``cs²`` is moderate, and less accurate for very variable service at light load.

    Parameters
    ----------
    lam : float
        Arrival rate.
    mean_service : float
        Mean service time.
    c : int
        Number of servers.
    scv_service : float
        Squared coefficient of variation of the service time, ``var / mean²``.
    scv_arrival : float, default 1.0
        Squared coefficient of variation of the inter-arrival times (1 for Poisson).

    Returns
    -------
    float
        Approximate mean time in queue; ``inf`` when ``rho >= 1``.
    """
    base = mmc_wait(lam, mean_service, c)
    if math.isinf(base):
        return math.inf
    return base * (scv_arrival + scv_service) / 2.0


def _priority_factors(lams: Sequence[float], mean_service: float, c: int
                      ) -> list[tuple[float, float]]:
    """``(1 - sigma_{k-1}, 1 - sigma_k)`` per class, ``sigma_k`` the cumulative load."""
    out = []
    sigma = 0.0
    for lam_k in lams:
        if lam_k < 0:
            raise ValueError(f"class arrival rates must be >= 0, got {lam_k}")
        before = sigma
        sigma += lam_k * mean_service / c
        out.append((1.0 - before, 1.0 - sigma))
    return out


def cobham_priority_waits(lams: Sequence[float], mean_service: float, c: int) -> list[float]:
    r"""Per-class mean waits of M/M/c with non-preemptive priority (Cobham's formula).

    Classes are listed from highest to lowest priority; FIFO within a class; every
    class has the same exponential service. Then

    .. math::

        W_k = \frac{W_0}{(1 - \sigma_{k-1})(1 - \sigma_k)}, \quad
        W_0 = \frac{C(c, a)}{c \mu}, \quad
        \sigma_k = \sum_{i \le k} \frac{\lambda_i}{c \mu},

    where ``W0`` is the mean time until the next server frees up, seen by an arrival
    [Cobham1954]_, [Kleinrock1976]_ §3.6. With one class this is Erlang C; the
    rate-weighted mean over classes equals the FIFO wait (conservation law).

    Parameters
    ----------
    lams : sequence of float
        Arrival rate of each class, highest priority first.
    mean_service : float
        Mean of the exponential service time (same for all classes).
    c : int
        Number of servers.

    Returns
    -------
    list of float
        Mean wait per class; ``inf`` for classes that see a load of one or more.
    """
    a = sum(lams) * mean_service
    w0 = erlang_c(c, a) * mean_service / c if a < c else math.inf
    out = []
    for before, after in _priority_factors(lams, mean_service, c):
        out.append(w0 / (before * after) if after > 0 and not math.isinf(w0) else math.inf)
    return out


def mgc_priority_waits(lams: Sequence[float], mean_service: float, c: int,
                       scv_service: float, scv_arrival: float = 1.0) -> list[float]:
    """Approximate per-class mean waits of GI/G/c with non-preemptive priority.

    The mean residual time ``W0`` of Cobham's formula is replaced by the
    Allen–Cunneen FIFO wait times ``(1 - rho)``:
    ``W_k ≈ Wq_AC (1 - rho) / ((1 - sigma_{k-1})(1 - sigma_k))``. This keeps the
    conservation law (the load-weighted mean of the class waits is the FIFO wait), is
    exact for M/M/c (Cobham) and for M/G/1 (``W0 = lam E[S²] / 2``, Kleinrock's
    non-preemptive priority formula), and scales the single-server priority ratios to
    ``c`` servers in the manner of [BondiBuzen1984]_.

    Parameters
    ----------
    lams : sequence of float
        Arrival rate of each class, highest priority first.
    mean_service : float
        Mean service time (same distribution for all classes).
    c : int
        Number of servers.
    scv_service : float
        Squared coefficient of variation of the service time.
    scv_arrival : float, default 1.0
        Squared coefficient of variation of the inter-arrival times.

    Returns
    -------
    list of float
        Mean wait per class; ``inf`` for classes that see a load of one or more.
    """
    lam = sum(lams)
    rho = lam * mean_service / c
    fifo = allen_cunneen_wait(lam, mean_service, c, scv_service, scv_arrival)
    w0 = fifo * (1.0 - rho) if rho < 1 else math.inf
    out = []
    for before, after in _priority_factors(lams, mean_service, c):
        out.append(w0 / (before * after) if after > 0 and not math.isinf(w0) else math.inf)
    return out


def qna_departure_scv(rho: float, c: int, scv_arrival: float, scv_service: float) -> float:
    """Squared coefficient of variation of the departures of a GI/G/c queue (QNA).

    ``cd² = 1 + (1 - rho²)(ca² - 1) + rho² (cs² - 1) / sqrt(c)`` [Whitt1983]_
    eq. (39). For M/M/c it gives 1, consistent with Burke's theorem [Burke1956]_ (the
    output of a stable M/M/c queue is Poisson).

    Parameters
    ----------
    rho : float
        Utilisation of the queue (capped at 1).
    c : int
        Number of servers.
    scv_arrival : float
        Squared coefficient of variation of the inter-arrival times.
    scv_service : float
        Squared coefficient of variation of the service times.

    Returns
    -------
    float
        The departure process's squared coefficient of variation (at least 0).
    """
    r = min(max(rho, 0.0), 1.0)
    value = 1.0 + (1.0 - r * r) * (scv_arrival - 1.0) + r * r * (scv_service - 1.0) / math.sqrt(c)
    return max(value, 0.0)
