"""Sequential replication control: stops exactly when the rule is met, or at the cap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.experiment.autoreps import (
    MET,
    NOT_MET,
    STOPPED_CAP,
    STOPPED_PRECISION,
    UNDEFINED,
    PrecisionRule,
    judge,
    run_until_precise,
)


class Synthetic:
    """A batch runner over fixed per-replication values; records the ranges asked for."""

    def __init__(self, series: dict[str, np.ndarray]):
        self.series = series
        self.calls: list[tuple[int, int]] = []

    def __call__(self, first: int, count: int) -> dict[str, list[float]]:
        self.calls.append((first, count))
        return {k: list(v[first:first + count]) for k, v in self.series.items()}


def _met(values: np.ndarray, precision: float) -> bool:
    """The rule, written out independently with scipy.stats."""
    n = values.size
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return bool(half <= precision * abs(values.mean()))


def _first_met(series: dict[str, np.ndarray], initial: int, precision: float) -> int:
    for n in range(initial, 10_000):
        if all(_met(v[:n], precision) for v in series.values()):
            return n
    raise AssertionError("never met")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_at_a_time_stops_at_the_first_count_meeting_the_rule(seed):
    rng = np.random.default_rng(seed)
    series = {"a": rng.normal(100.0, 12.0, 1000), "b": rng.gamma(4.0, 5.0, 1000)}
    expected = _first_met(series, 10, 0.05)
    assert expected > 10  # the rule is not met at the start: the test can fail
    runner = Synthetic(series)
    rule = PrecisionRule(precision=0.05, initial=10, max_reps=1000, batch=1)
    out = run_until_precise(runner, rule)
    assert out.stopped == STOPPED_PRECISION
    assert out.replications == expected
    assert out.checks == list(range(10, expected + 1))
    assert all(q.status == MET for q in out.quantities.values())
    assert not all(_met(v[:expected - 1], 0.05) for v in series.values())


def test_batches_are_consecutive_ranges_from_first():
    rng = np.random.default_rng(7)
    series = {"a": np.concatenate([np.zeros(5), rng.normal(50.0, 20.0, 2000)])}
    runner = Synthetic(series)
    out = run_until_precise(runner, PrecisionRule(precision=0.03, initial=10, max_reps=1500),
                            first=5)
    starts = [5 + sum(c for _, c in runner.calls[:i]) for i in range(len(runner.calls))]
    assert [f for f, _ in runner.calls] == starts
    assert sum(c for _, c in runner.calls) == out.replications
    assert runner.calls[0] == (5, 10)
    # projected steps never more than double the count
    for (_, c), n in zip(runner.calls[1:], out.checks, strict=False):
        assert c <= n
    # the last check meets the rule on exactly the values of replications 5 .. 5 + n - 1
    assert out.stopped == STOPPED_PRECISION
    assert _met(series["a"][5:5 + out.replications], 0.03)
    assert out.quantities["a"].n == out.replications


def test_stops_at_the_cap_when_the_mean_is_zero():
    signs = np.tile([1.0, -1.0], 500)
    runner = Synthetic({"noise": signs, "fine": np.full(1000, 3.0)})
    out = run_until_precise(runner, PrecisionRule(precision=0.05, initial=10, max_reps=37))
    assert out.stopped == STOPPED_CAP
    assert out.replications == 37
    assert out.checks[-1] == 37 and max(out.checks) == 37
    assert out.quantities["noise"].status == NOT_MET
    assert out.quantities["fine"].status == MET and out.quantities["fine"].half_width == 0.0
    assert out.worst()[0] == "noise"


def test_absolute_floor_lets_a_zero_mean_stop():
    signs = np.tile([1.0, -1.0], 500)
    rule = PrecisionRule(precision=0.05, initial=10, max_reps=500, batch=2,
                         absolute={"noise": 0.5})
    out = run_until_precise(Synthetic({"noise": signs}), rule)
    assert out.stopped == STOPPED_PRECISION
    n = out.replications
    assert stats.t.ppf(0.975, n - 1) * signs[:n].std(ddof=1) / math.sqrt(n) <= 0.5
    m = n - 2
    assert stats.t.ppf(0.975, m - 1) * signs[:m].std(ddof=1) / math.sqrt(m) > 0.5


def test_undefined_quantities_are_skipped():
    values = [math.nan] * 9 + [4.0]
    q = judge(values, PrecisionRule())
    assert q.status == UNDEFINED and q.n == 1
    rng = np.random.default_rng(3)
    series = {"p90": np.full(400, np.nan), "mean": rng.normal(10.0, 1.0, 400)}
    out = run_until_precise(Synthetic(series), PrecisionRule(initial=10, max_reps=400, batch=1))
    assert out.stopped == STOPPED_PRECISION
    assert out.replications == _first_met({"mean": series["mean"]}, 10, 0.05)
    assert out.quantities["p90"].status == UNDEFINED


def test_rule_refuses_nonsense():
    with pytest.raises(ValueError, match="precision"):
        PrecisionRule(precision=0.0)
    with pytest.raises(ValueError, match="initial"):
        PrecisionRule(initial=1)
    with pytest.raises(ValueError, match="max_reps"):
        PrecisionRule(initial=20, max_reps=10)


def test_checks_in_between_say_running():
    seen = []
    out = run_until_precise(Synthetic({"x": np.tile([1.0, -1.0], 10)}),
                            PrecisionRule(initial=4, max_reps=6, batch=1),
                            on_check=lambda s: seen.append((s.replications, s.stopped)))
    assert seen == [(4, "running"), (5, "running"), (6, STOPPED_CAP)]
    assert out.stopped == STOPPED_CAP


def test_to_dict_is_json_ready():
    import json

    out = run_until_precise(Synthetic({"x": np.tile([1.0, -1.0], 10)}),
                            PrecisionRule(initial=4, max_reps=6))
    data = json.loads(json.dumps(out.to_dict(), allow_nan=False))
    assert data["stopped_at"] == "cap" and data["replications"] == 6
    assert data["quantities"]["x"]["status"] == "not met"
