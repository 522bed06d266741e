"""Known-answer tests of the decision procedures on synthetic normal "systems".

Each Monte Carlo test runs a procedure many times (macro-replications) on systems with
known means, variances and a common-random-numbers correlation, in the least
favourable configuration the guarantee allows (means exactly one tolerance apart, or
exactly on a target). The procedure passes when the observed rate of correct
decisions is consistent with its promise: the test fails only if a one-sided 99.9%
Clopper–Pearson bound shows the true rate below ``1 - α``. The same harness run on a
naive rule (decide from the first-stage means) must fail, so the test can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta as beta_dist

from sim.decision.boundary import eta, h_squared, last_stage, sum_half_width
from sim.decision.confirm import cheapest_feasible
from sim.decision.feasibility import MET, MISSED, Bound, check_feasibility
from sim.decision.selection import difference_variances, select_smallest

MAX_REPS = 800


def normal_systems(means, sds, rho, rng, reps=MAX_REPS):
    """A sampler over fixed normal data: replication r of every system shares a shock."""
    means = np.asarray(means, dtype=float)
    sds = np.asarray(sds, dtype=float)
    if means.ndim == 1:
        means, sds = means[:, None], sds[:, None]
    k, outputs = means.shape
    common = rng.standard_normal((1, reps, outputs))
    own = rng.standard_normal((k, reps, outputs))
    data = means[:, None, :] + sds[:, None, :] * (np.sqrt(rho) * common + np.sqrt(1 - rho) * own)

    def sample(systems, start, stop):
        assert stop <= reps, "the procedure asked for more replications than the test holds"
        return data[list(systems), start:stop]

    return sample


def rate_upper_bound(successes: int, trials: int, confidence: float = 0.999) -> float:
    """One-sided Clopper–Pearson upper bound of a success probability."""
    if successes == trials:
        return 1.0
    return float(beta_dist.ppf(confidence, successes + 1, trials - successes))


def consistent_with(successes: int, trials: int, promised: float) -> bool:
    """True unless the data show (at 99.9%) a success rate below ``promised``."""
    return rate_upper_bound(successes, trials) >= promised


# ---------------------------------------------------------------- the boundary


@pytest.mark.parametrize(("beta", "n0"), [(0.0125, 10), (0.001, 5), (0.2, 2), (0.025 / 7, 20)])
def test_eta_makes_fabians_bound_equal_beta(beta, n0):
    e = eta(beta, n0)
    assert 0.5 * (1 + 2 * e) ** (-(n0 - 1) / 2) == pytest.approx(beta, rel=1e-12)
    assert h_squared(beta, n0) == pytest.approx(2 * e * (n0 - 1))


def test_triangle_closes_after_last_stage():
    h2, s2, tol = 7.3, 2.0, 0.5
    end = int(last_stage(h2, s2, tol))
    assert sum_half_width(end - 1, h2, s2, tol) > 0
    assert sum_half_width(end, h2, s2, tol) == 0
    # Kim & Nelson's W on means is R on sums over r.
    r = 3
    w = max(0.0, tol / (2 * r) * (h2 * s2 / tol ** 2 - r))
    assert float(sum_half_width(r, h2, s2, tol)) / r == pytest.approx(w)


def test_difference_variances_read_both_triangles():
    # Plan 2's difference with plan 0 has a large variance, with plan 1 none: an
    # implementation that reads S²[i, l] for l < i from the wrong half gets these wrong.
    x = np.array([[1.0, 2.0, 3.0, 4.0],
                  [5.0, 1.0, 7.0, 2.0],
                  [5.0, 1.0, 7.0, 2.0]])
    s2 = difference_variances(x)
    for i in range(3):
        for j in range(3):
            assert s2[i, j] == pytest.approx(np.var(x[i] - x[j], ddof=1))
    assert np.array_equal(s2, s2.T)
    assert s2[2, 1] == 0 and s2[2, 0] > 5


# ---------------------------------------------------------------- selection (KN)


def _kn_trial(rng, procedure):
    delta = 1.0
    # The best (smallest) mean is last, every other exactly delta worse; unequal
    # variances, so the l < i entries of S² matter.
    means = [delta, delta, delta, delta, 0.0]
    sds = [1.0, 3.0, 2.0, 4.0, 2.5]
    return procedure(normal_systems(means, sds, 0.4, rng), delta) == 4


def _kn(sample, delta):
    return select_smallest(sample, 5, delta, alpha=0.05, first_stage=10, batch=2,
                           max_replications=MAX_REPS).chosen


def _first_stage_only(sample, delta):
    return int(np.argmin(sample(range(5), 0, 10)[:, :, 0].mean(axis=1)))


def test_kn_chooses_the_best_at_least_as_often_as_promised():
    rng = np.random.default_rng(20260101)
    trials = 400
    correct = sum(_kn_trial(rng, _kn) for _ in range(trials))
    assert consistent_with(correct, trials, 0.95), correct


def test_the_harness_rejects_a_naive_choice():
    rng = np.random.default_rng(7)
    trials = 400
    correct = sum(_kn_trial(rng, _first_stage_only) for _ in range(trials))
    assert not consistent_with(correct, trials, 0.95), correct


def test_kn_with_costs_that_do_not_vary_picks_the_cheapest_exactly():
    costs = np.array([3.0, 1.0, 2.0, 1.0])

    def sample(systems, start, stop):
        return np.repeat(costs[list(systems)][:, None, None], stop - start, axis=1)

    out = select_smallest(sample, 4, tolerance=0.5, alpha=0.05, first_stage=5)
    assert out.chosen == 1  # tie with plan 3: the first listed
    assert not out.capped and out.replications.max() == 5


def test_kn_one_plan_needs_no_replication():
    def sample(systems, start, stop):
        raise AssertionError("no replication should be asked for")

    out = select_smallest(sample, 1, tolerance=1.0)
    assert out.chosen == 0 and out.replications.sum() == 0


def test_kn_cap_stops_and_says_so():
    rng = np.random.default_rng(3)
    sample = normal_systems([0.0, 0.0], [5.0, 5.0], 0.0, rng)
    out = select_smallest(sample, 2, tolerance=0.01, alpha=0.05, first_stage=10,
                          max_replications=30)
    assert out.capped and out.replications.max() == 30


# ------------------------------------------------------------ feasibility (F_B)


BOUNDS = [Bound(threshold=10.0, tolerance=1.0), Bound(threshold=0.0, tolerance=0.2)]
# Plan 0 misses target 0 by nothing at all (mean on the target: unacceptable), plan 1
# meets both with exactly their margins (desirable), plan 2 misses target 1 narrowly.
FEAS_MEANS = [[10.0, -0.2], [9.0, -0.2], [9.0, 0.0]]
FEAS_SDS = [[2.0, 0.3], [1.5, 0.5], [2.5, 0.4]]
FEAS_TRUTH = [False, True, False]


def _feasibility_trial(rng, procedure):
    sample = normal_systems(FEAS_MEANS, FEAS_SDS, 0.5, rng)
    return list(procedure(sample)) == FEAS_TRUTH


def _fb(sample):
    return check_feasibility(sample, 3, BOUNDS, alpha=0.05, first_stage=10, batch=3,
                             max_replications=MAX_REPS).feasible


def _first_stage_feasible(sample):
    means = sample(range(3), 0, 10).mean(axis=1)
    return np.all(means <= [b.threshold for b in BOUNDS], axis=1)


def test_feasibility_check_decides_correctly_at_least_as_often_as_promised():
    rng = np.random.default_rng(11)
    trials = 400
    correct = sum(_feasibility_trial(rng, _fb) for _ in range(trials))
    assert consistent_with(correct, trials, 0.95), correct


def test_the_harness_rejects_naive_feasibility():
    rng = np.random.default_rng(12)
    trials = 400
    correct = sum(_feasibility_trial(rng, _first_stage_feasible) for _ in range(trials))
    assert not consistent_with(correct, trials, 0.95), correct


def test_plan_on_its_target_is_rarely_declared_feasible():
    # The dangerous error alone: a plan exactly on its target, with no margin at all.
    rng = np.random.default_rng(5)
    trials = 400
    wrong = 0
    for _ in range(trials):
        sample = normal_systems([[10.0]], [[2.0]], 0.0, rng)
        wrong += bool(check_feasibility(sample, 1, BOUNDS[:1], alpha=0.05, first_stage=10,
                                        max_replications=MAX_REPS).feasible[0])
    assert consistent_with(trials - wrong, trials, 0.95), wrong


def test_feasibility_with_exact_metrics_and_nan():
    values = np.array([[[9.0, -1.0]], [[10.0, -1.0]], [[np.nan, -1.0]]])

    def sample(systems, start, stop):
        return np.repeat(values[list(systems)], stop - start, axis=1)

    out = check_feasibility(sample, 3, BOUNDS, alpha=0.05, first_stage=4)
    # 9 meets 10 with its margin; 10 is on the target (a tie is no evidence); NaN misses.
    assert list(out.feasible) == [True, False, False]
    assert out.status[1, 0] == MISSED and out.status[0, 0] == MET
    assert out.undefined[2, 0] and not out.undefined[2, 1]
    assert out.replications.tolist() == [4, 4, 4]


def test_undecided_at_the_cap_is_not_feasible():
    rng = np.random.default_rng(9)
    sample = normal_systems([[9.99]], [[5.0]], 0.0, rng)
    out = check_feasibility(sample, 1, [Bound(10.0, 0.01)], alpha=0.05, first_stage=10,
                            max_replications=40)
    assert out.undecided[0] and not out.feasible[0] and out.replications[0] == 40


# -------------------------------------------------- cheapest feasible (both phases)


def _combined_trial(rng, chosen_of):
    delta = 1.0
    # Targets: metric 0 <= 10 (tolerance 1), metric 1 <= 0 (tolerance 0.2); then cost.
    means = [[10.0, -0.5, 0.0],       # cheapest, misses target 0 by nothing
             [8.0, 0.0, 0.5],         # cheap, misses target 1 by nothing
             [9.0, -0.2, 2.0],        # desirable: the right answer
             [9.0, -0.3, 3.0],        # desirable, exactly delta dearer
             [7.0, -1.0, 3.0]]        # desirable, exactly delta dearer
    # Target spreads small enough for phase 1 to end well inside the cap.
    sds = [[1.0, 0.2, 1.0], [0.8, 0.15, 0.5], [1.0, 0.2, 1.5], [0.5, 0.2, 2.0], [1.0, 0.1, 1.0]]
    sample = normal_systems(means, sds, 0.5, rng)
    return chosen_of(sample, delta) == 2


def _confirm(sample, delta):
    return cheapest_feasible(sample, 5, BOUNDS, cost_tolerance=delta, alpha=0.05, first_stage=10,
                             batch=2, max_replications=MAX_REPS // 2).chosen


def test_cheapest_feasible_is_chosen_at_least_as_often_as_promised():
    rng = np.random.default_rng(2026)
    trials = 300
    correct = sum(_combined_trial(rng, _confirm) for _ in range(trials))
    assert consistent_with(correct, trials, 0.95), correct


def test_phase_two_uses_fresh_replications():
    seen: list[tuple[int, int]] = []
    rng = np.random.default_rng(1)
    base = normal_systems([[9.0, -1.0, 1.0], [9.0, -1.0, 2.0]], [[0.1, 0.1, 0.5]] * 2, 0.0, rng)

    def sample(systems, start, stop):
        seen.append((start, stop))
        return base(systems, start, stop)

    out = cheapest_feasible(sample, 2, BOUNDS, cost_tolerance=0.5, alpha=0.05, first_stage=5,
                            first_replication=7)
    assert out.chosen == 0 and out.candidates == [0, 1]
    phase1_end = out.feasibility.last_replication
    assert seen[0] == (7, 12)
    assert out.selection is not None and out.selection.first_replication == phase1_end
    assert all(start >= phase1_end for start, _ in seen[1:] if start >= phase1_end)
    assert any(start == phase1_end for start, _ in seen)
