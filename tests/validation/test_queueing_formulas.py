"""The analytic formulas of ``sim.analysis.queueing``: known values and identities."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln, logsumexp

from sim.analysis import queueing as q


def erlang_c_direct(c: int, a: float) -> float:
    """Erlang C from its textbook definition, in log space."""
    rho = a / c
    log_terms = [k * math.log(a) - gammaln(k + 1) for k in range(c)]
    log_top = c * math.log(a) - gammaln(c + 1) - math.log1p(-rho)
    return math.exp(log_top - logsumexp([*log_terms, log_top]))


@pytest.mark.parametrize(("c", "a"), [(1, 0.3), (2, 1.0), (4, 3.0), (8, 6.4), (50, 45.0),
                                      (500, 480.0), (3, 0.01)])
def test_erlang_c_matches_definition(c: int, a: float) -> None:
    assert q.erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-10)


def test_known_values() -> None:
    assert q.erlang_c(1, 0.7) == pytest.approx(0.7)
    assert q.erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    # The bench reference (shared/bench/analytic.py): M/M/4, lambda 1, mean 3.2.
    assert q.mmc_wait(1.0, 3.2, 4) == pytest.approx(2.3857, abs=1e-4)
    assert q.mm1_wait(0.5, 1.0) == pytest.approx(1.0)
    assert q.mg1_wait(0.5, 1.0, 0.0) == pytest.approx(0.5)  # M/D/1
    # Bench stage 1: Cobham, 8 servers, mean 6.4, classes 0.3 and 0.7 per day.
    waits = q.cobham_priority_waits([0.3, 0.7], 6.4, 8)
    assert waits == pytest.approx([0.4817, 2.4087], abs=1e-4)


def test_unstable_and_invalid() -> None:
    assert q.erlang_c(2, 2.0) == 1.0
    assert math.isinf(q.mmc_wait(2.0, 1.0, 2))
    assert math.isinf(q.mm1_wait(1.0, 1.0))
    assert math.isinf(q.mg1_wait(1.0, 1.5, 1.0))
    assert math.isinf(q.allen_cunneen_wait(3.0, 1.0, 2, 0.5))
    waits = q.cobham_priority_waits([0.5, 0.6], 1.0, 1)
    assert all(math.isinf(w) for w in waits)
    with pytest.raises(ValueError):
        q.erlang_c(0, 0.5)
    with pytest.raises(ValueError):
        q.utilisation(1.0, 1.0, 0)
    with pytest.raises(ValueError):
        q.cobham_priority_waits([-0.1, 0.2], 1.0, 1)


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 40), rho=st.floats(0.01, 0.97), mean=st.floats(0.05, 20.0),
       cs2=st.floats(0.0, 6.0))
def test_limits_and_reductions(c: int, rho: float, mean: float, cs2: float) -> None:
    lam = rho * c / mean
    mmc = q.mmc_wait(lam, mean, c)
    assert q.utilisation(lam, mean, c) == pytest.approx(rho)
    # Allen-Cunneen is exact for exponential service ...
    assert q.allen_cunneen_wait(lam, mean, c, 1.0) == pytest.approx(mmc, rel=1e-12)
    # ... and is Pollaczek-Khinchine with one server.
    if c == 1:
        assert q.mmc_wait(lam, mean, 1) == pytest.approx(q.mm1_wait(lam, mean), rel=1e-12)
        assert q.allen_cunneen_wait(lam, mean, 1, cs2) == pytest.approx(
            q.mg1_wait(lam, mean, cs2 * mean**2), rel=1e-12)
    # QNA departures of an M/M/c are Poisson (Burke).
    assert q.qna_departure_scv(rho, c, 1.0, 1.0) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 20), rho=st.floats(0.05, 0.95), mean=st.floats(0.1, 5.0),
       shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4).filter(
           lambda s: sum(s) > 0.05),
       cs2=st.floats(0.0, 4.0))
def test_priority_conservation(c: int, rho: float, mean: float, shares: list[float],
                               cs2: float) -> None:
    """Kleinrock's conservation law: the rate-weighted class wait is the FIFO wait."""
    lam = rho * c / mean
    lams = [lam * s / sum(shares) for s in shares]
    cob = q.cobham_priority_waits(lams, mean, c)
    assert sum(x * w for x, w in zip(lams, cob, strict=True)) / lam == pytest.approx(
        q.mmc_wait(lam, mean, c), rel=1e-9)
    mgc = q.mgc_priority_waits(lams, mean, c, cs2)
    assert sum(x * w for x, w in zip(lams, mgc, strict=True)) / lam == pytest.approx(
        q.allen_cunneen_wait(lam, mean, c, cs2), rel=1e-9)
    # Higher classes never wait longer.
    assert all(a <= b * (1 + 1e-12) for a, b in itertools.pairwise(cob))
    # Exponential service: the M/G/c version is Cobham's formula.
    assert q.mgc_priority_waits(lams, mean, c, 1.0) == pytest.approx(cob, rel=1e-9)
    if c == 1:  # M/G/1 non-preemptive priority (Kleinrock 1976, eq. 3.30)
        w0 = lam * (cs2 + 1.0) * mean**2 / 2.0
        sigma, expected = 0.0, []
        for x in lams:
            before = sigma
            sigma += x * mean
            expected.append(w0 / ((1 - before) * (1 - sigma)))
        assert mgc == pytest.approx(expected, rel=1e-9)
