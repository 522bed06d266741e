"""Statistics: Kaplan–Meier against scipy and hand calculations, intervals, streams."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.analysis.stats import band, fan, mean_ci, t_quantile
from sim.analysis.survival import kaplan_meier, quantile, survival_at
from sim.config.distspec import _parse_duration, _parse_plain
from sim.distributions import draw, sampler
from sim.streams import STREAM_NAMES, Streams


def test_kaplan_meier_by_hand():
    # times 1, 2 (censored), 3, 3, 4 (censored)
    t, s = kaplan_meier(np.array([1, 2, 3, 3, 4.0]), np.array([1, 0, 1, 1, 0], dtype=bool))
    np.testing.assert_allclose(t, [1, 3])
    np.testing.assert_allclose(s, [4 / 5, 4 / 5 * (1 - 2 / 3)])
    assert quantile(t, s, 0.5) == 3
    assert math.isnan(quantile(t, s, 0.95))
    np.testing.assert_allclose(survival_at(t, s, [0, 1, 2.5, 10]), [1, 0.8, 0.8, 0.8 / 3])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.booleans()), min_size=1, max_size=60))
def test_kaplan_meier_matches_scipy(pairs):
    times = np.array([p[0] for p in pairs], dtype=float)
    observed = np.array([p[1] for p in pairs])
    if not observed.any():
        return
    t, s = kaplan_meier(times, observed)
    ref = stats.ecdf(stats.CensoredData(uncensored=times[observed], right=times[~observed]))
    np.testing.assert_allclose(s, ref.sf.evaluate(t), atol=1e-12)


def test_mean_ci_covers_and_clips():
    est = mean_ci([1.0, 2.0, 3.0, np.nan])
    assert est.n == 3 and est.n_total == 4 and est.mean == 2.0
    assert est.ci_low == pytest.approx(2 - stats.t.ppf(0.975, 2) / math.sqrt(3))
    clipped = mean_ci([0.0, 0.0, 0.1], bounds=(0.0, 1.0))
    assert clipped.ci_low == 0.0
    single = mean_ci([5.0])
    assert single.mean == 5 and math.isnan(single.ci_low)
    mean, low, high = band(np.array([[0.0, 1.0], [2.0, 3.0]]))
    np.testing.assert_allclose(mean, [1, 2])
    assert (low < mean).all() and (high > mean).all()


def test_band_counts_replications_point_by_point_without_warnings():
    curves = np.array([[1.0, np.nan, np.nan, 4.0],
                       [3.0, np.nan, 5.0, 6.0],
                       [5.0, np.nan, np.nan, 8.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Mean of empty slice" used to reach users
        mean, low, high = band(curves)
    np.testing.assert_array_equal(mean[[0, 2, 3]], [3.0, 5.0, 6.0])
    assert np.isnan(mean[1]) and np.isnan(low[1]) and np.isnan(low[2])  # < 2 values
    for col in (0, 3):
        est = mean_ci(curves[:, col])
        assert low[col] == pytest.approx(est.ci_low) and high[col] == pytest.approx(est.ci_high)


@pytest.mark.parametrize("df", [*range(1, 40), 99, 999, 10**6])
def test_t_quantile_is_scipy_stats_t_ppf(df):
    for level in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0):
        p = 0.5 + level / 2
        assert t_quantile(p, df) == float(stats.t.ppf(p, df))


def test_fan_is_nanquantile_with_or_without_nan():
    rng = np.random.default_rng(3)
    curves = rng.exponential(10.0, (7, 500)).round(1)
    q = (0.05, 0.25, 0.5, 0.75, 0.95)
    np.testing.assert_array_equal(fan(curves), np.nanquantile(curves, q, axis=0))
    curves[2, 10:20] = np.nan
    curves[:, 30] = np.nan
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        expected = np.nanquantile(curves, q, axis=0)
    with pytest.warns(RuntimeWarning, match="All-NaN slice"):
        np.testing.assert_array_equal(fan(curves), expected)


@pytest.mark.parametrize("raw", [
    {"exponential": {"mean_hours": 5}}, {"lognormal": {"mean_hours": 8, "sd_hours": 6}},
    {"gamma": {"mean_days": 2, "sd_days": 1}}, {"uniform": {"low_hours": 1, "high_hours": 3}},
    {"triangular": {"low_hours": 1, "mode_hours": 2, "high_hours": 6}},
    {"empirical": {"values_hours": [1, 2, 10], "weights": [1, 1, 2]}},
])
def test_duration_samples_match_analytic_mean_and_variance(raw):
    spec = _parse_duration(raw)
    x = draw(spec, Streams(1, 0).get("service.intake"), 200_000)
    assert x.mean() == pytest.approx(spec.mean, rel=0.02)
    assert x.var() == pytest.approx(spec.variance, rel=0.06)
    one = sampler(spec, Streams(1, 0).get("service.intake"))
    np.testing.assert_allclose([one() for _ in range(5000)], x[:5000])


@pytest.mark.parametrize("raw", [
    {"poisson": {"mean": 3}}, {"negative_binomial": {"mean": 9, "sd": 7, "offset": 1}},
    {"categorical": {"values": [0, 1, 4], "weights": [5, 3, 2]}}, {"fixed": {"value": 2}},
])
def test_count_samples_match_analytic_mean(raw):
    spec = _parse_plain(raw, "count")
    x = draw(spec, Streams(2, 0).get("case.devices"), 100_000)
    assert x.dtype.kind == "i"
    assert x.mean() == pytest.approx(spec.mean, rel=0.02)
    assert x.var() == pytest.approx(spec.variance, rel=0.06, abs=1e-9)


def test_streams_are_reproducible_and_distinct():
    a = Streams(5, 1).get("arrivals").random(4)
    np.testing.assert_array_equal(a, Streams(5, 1).get("arrivals").random(4))
    assert not np.allclose(a, Streams(5, 2).get("arrivals").random(4))
    assert not np.allclose(a, Streams(5, 1).get("case.risk").random(4))
    assert not np.allclose(a, Streams(6, 1).get("arrivals").random(4))
    with pytest.raises(KeyError, match="register it"):
        Streams(1, 0).get("no-such-stream")
    assert len(set(STREAM_NAMES)) == len(STREAM_NAMES)


def test_stream_registry_is_append_only():
    # Reordering the registry would silently change every result; pin its head.
    assert STREAM_NAMES[:3] == ("arrivals", "case.risk", "case.grading")
    assert STREAM_NAMES.index("service.lab_examination") == 21


def test_paired_difference_is_tighter_than_independent_intervals():
    from sim.analysis.paired import paired_difference

    rng = np.random.default_rng(0)
    common = rng.normal(100, 10, 30)
    base, option = common, common - 1 + rng.normal(0, 0.5, 30)
    d = paired_difference(base, option)
    assert d.significant and d.difference.ci_high < 0
    assert d.difference.half_width < d.base.half_width / 5
    with pytest.raises(ValueError):
        paired_difference([1, 2], [1, 2, 3])


def test_ratio_of_mean_differences_delta_method():
    from sim.analysis.paired import ratio_of_mean_differences

    rng = np.random.default_rng(1)
    cost = rng.normal(2.0, 0.1, 50)
    saved = 300 * cost + rng.normal(0, 5, 50)
    r = ratio_of_mean_differences(saved, cost)
    assert r.value == pytest.approx(saved.mean() / cost.mean())
    assert r.ci_low < 300 < r.ci_high and r.ci_high - r.ci_low < 10
    flat = ratio_of_mean_differences(saved, rng.normal(0, 1, 50))
    assert math.isnan(flat.ci_low)


@pytest.mark.parametrize("raw", [
    {"poisson": {"mean": 1.3}}, {"negative_binomial": {"mean": 2, "sd": 3}},
    {"categorical": {"values": [0, 2], "weights": [1, 3]}}, {"fixed": {"value": 0}},
    {"poisson": {"mean": 1, "offset": 1}},
])
def test_probability_of_zero_matches_samples(raw):
    spec = _parse_plain(raw, "count")
    x = draw(spec, Streams(3, 0).get("case.devices"), 100_000)
    assert spec.probability_of_zero() == pytest.approx(np.mean(x == 0), abs=0.005)


def test_km_of_groups_taken_from_one_stable_sort_equals_km_of_each_group():
    from sim.analysis.survival import kaplan_meier_sorted

    rng = np.random.default_rng(5)
    # Ties on purpose (rounded times), censoring, and a group with one member.
    wait = np.round(rng.exponential(20.0, 3000), 1)
    started = rng.random(3000) < 0.8
    group = rng.integers(0, 4, 3000)
    group[17] = 9
    order = np.argsort(wait, kind="stable")
    for g in (0, 1, 2, 3, 9):
        mask = (group == g)[order]
        fast = kaplan_meier_sorted(wait[order][mask], started[order][mask])
        plain = kaplan_meier(wait[group == g], started[group == g])
        for a, b in zip(fast, plain, strict=True):
            np.testing.assert_array_equal(a, b)
    empty = kaplan_meier_sorted(np.empty(0), np.empty(0, dtype=bool))
    assert empty[0].size == 0 and empty[1].size == 0
