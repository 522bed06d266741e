"""fbsim reduced to textbook queues: each analytic mean wait lies in the simulated 99 % CI.

Every test runs one case of :mod:`validation.cases` (16 independent replications,
statistics over arrivals after the warm-up) and checks every metric of that case. The
seeds are fixed, so the outcome is deterministic; with an unbiased model each single
check still fails for 1 seed in 100, so when one fails after a model change, re-run
with ``FBSIM_VALIDATION_SEED=<other>`` before concluding anything.
"""

from __future__ import annotations

import pytest

from .cases import CASES, relative_error

pytestmark = pytest.mark.slow


def _check(name: str) -> None:
    case = CASES[name]
    result = case.run()
    lines = []
    ok = True
    for key, analytic in case.analytic.items():
        interval = result[key]
        inside = interval.contains(analytic)
        ok &= inside
        lines.append(f"{key}: analytic {analytic:.4f}, simulated {interval} "
                     f"({relative_error(interval, analytic):+.2%}) {'ok' if inside else 'OUTSIDE'}")
    assert ok, f"{case.title} vs {case.formula}:\n" + "\n".join(lines)


def test_mm1() -> None:
    _check("mm1")


def test_mmc_erlang_c() -> None:
    _check("mmc")


def test_mg1_lognormal_pollaczek_khinchine() -> None:
    _check("mg1")


def test_priority_two_classes_cobham() -> None:
    _check("prio2")


def test_priority_four_classes_cobham() -> None:
    _check("prio4")


def test_tandem_burke_erlang_c() -> None:
    _check("tandem")
