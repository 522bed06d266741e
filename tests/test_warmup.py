"""MSER-5 warm-up: known answers on synthetic series, and ``fbsim warmup``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from sim.analysis.warmup import batch_means, mser, series_warmups, suggested_warmup

from .test_cli import run_cli


def test_batch_means_drop_the_incomplete_last_batch():
    np.testing.assert_allclose(batch_means(np.arange(12.0)), [2.0, 7.0])


def test_mser_statistic_by_hand():
    # Batches (1,1,1,1,1) and (3,3,3,3,3): z = [1, 3]. MSER(0) = (1 + 1) / 2^2 = 0.5 and
    # MSER(1) = 0 / 1: truncation at the end of the searched half, so not settled.
    r = mser(np.r_[np.ones(5), np.full(5, 3.0)])
    np.testing.assert_allclose(r.statistic, [0.5, 0.0])
    assert r.truncation_batches == 1 and r.truncation_observations == 5 and not r.settled


@pytest.mark.parametrize("transient", [50, 100, 150])
def test_mser5_cuts_near_the_end_of_a_transient(transient):
    """A decaying transient on stationary noise: the cut lands near the transient's end."""
    n = 400
    t = np.arange(n)
    cuts = []
    for seed in range(10):
        noise = np.random.default_rng(seed).normal(0.0, 1.0, n)
        x = 10.0 + noise + np.where(t < transient, 20.0 * (1 - t / transient), 0.0)
        r = mser(x)
        assert r.settled
        cuts.append(r.truncation_observations)
    # Where the transient has decayed into the noise: within 5 batches of its end in 9 of
    # 10 series (measured: one of the ten at 150 cuts at 190, a run of low noise after it),
    # and the median within 2 batches.
    assert abs(np.median(cuts) - transient) <= 10
    assert sum(abs(c - transient) <= 25 for c in cuts) >= 9, cuts
    assert min(cuts) >= transient - 25, cuts  # never inside the transient


def test_mser5_keeps_nearly_all_of_a_stationary_series():
    cuts = [mser(np.random.default_rng(seed).normal(5.0, 1.0, 400)).truncation_observations
            for seed in range(20)]
    assert np.median(cuts) == 0
    assert max(cuts) <= 0.15 * 400, cuts


def test_mser5_flags_a_series_that_only_grows():
    x = 0.1 * np.arange(400) + np.random.default_rng(1).normal(0.0, 1.0, 400)
    assert not mser(x).settled


def test_suggestion_is_the_longest_warmup_in_days():
    days = np.arange(200) * 7.0
    flat = np.random.default_rng(0).normal(5, 1, 200)
    ramp = flat + np.where(days < 350, 20.0, 0.0)
    results = series_warmups(days, {"flat": flat, "ramp": ramp})
    best = suggested_warmup(results)
    assert best.series == "ramp" and best.warmup_days == pytest.approx(350.0, abs=35)


@pytest.fixture
def empty_file(mini_data, tmp_path):
    mini_data["run"]["horizon_days"] = 364
    mini_data["name"] = "empty"
    del mini_data["initial_backlog"]
    mini_data["demand"]["annual_growth_rate"] = 0.0
    mini_data["staff"]["examiners"]["headcount"] = 40
    path = tmp_path / "empty.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    return path


def test_warmup_command_prints_the_setting_and_writes_a_plot(empty_file, tmp_path):
    out_dir = tmp_path / "w"
    code, out, err = run_cli("warmup", str(empty_file), "--reps", "2", "--workers", "1",
                             "--out", str(out_dir), "--quiet", "--series", "lab_examination",
                             "backlog_devices")
    assert code == 0, err
    assert "suggested warm-up:" in out and "warmup_days:" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert set(summary["series"]) == {"lab_examination", "backlog_devices"}
    days = summary["suggested_warmup_days"]
    assert days % 35 == 0 and f"warmup_days: {days:g}" in out  # whole batches of 5 weeks
    assert imread(out_dir / "warmup.png").shape[0] > 200
    assert "initial backlog" not in err


def test_warmup_warns_on_an_initial_backlog_and_refuses_a_short_run(mini_data, tmp_path):
    mini_data["run"]["horizon_days"] = 350
    path = tmp_path / "backlog.yaml"
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    code, _, err = run_cli("warmup", str(path), "--reps", "1", "--workers", "1", "--quiet",
                           "--series", "lab_examination")
    assert code == 0, err
    assert "initial backlog" in err and "not the right tool" in err
    mini_data["run"]["horizon_days"] = 120
    path.write_text(yaml.safe_dump(mini_data, sort_keys=False))
    code, _, err = run_cli("warmup", str(path), "--reps", "1")
    assert code == 2 and "needs at least 50 weeks" in err
    code, _, err = run_cli("warmup", str(path.with_name("nope.yaml")))
    assert code == 2
