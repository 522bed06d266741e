"""fbsim against Ciw 3.2.7 on the same networks: mean waits and wait distributions.

Networks (:data:`validation.peer.NETWORKS`): an M/G/2 FIFO queue with lognormal service
(no exact formula: the peer is the reference), and a tandem whose first node is an
M/M/1 with two non-preemptive priority classes and whose second node is a FIFO M/M/1
(the per-class waits at node 2 have no closed form). Every ``stage/class`` mean wait
is compared with Welch's t-test on the replication means (two-sided, alpha = 0.01),
and the wait distributions with a two-sample Kolmogorov-Smirnov test on the waits of
all replications pooled, keeping every 25th job in arrival order.

Power calculation
-----------------
Let ``K = CV^2 x n`` be the relative variance constant of a replication's mean wait
(``CV`` its coefficient of variation across replications, ``n`` the arrivals per
replication). A pilot of 200 replications of 2,500 arrivals per simulator measured
``K`` between 22 and 36 for every compared key (fbsim and Ciw alike; e.g. M/G/2: 35 and
31; tandem node-2 class very_high: 33 and 36); the design uses ``K = 40``. With ``R =
24`` replications of ``n = 46,000`` arrivals per simulator, the standard error of one
simulator's mean is ``sqrt(K / (R n)) = 0.60 %`` of the mean, and of the difference
``0.60 % x sqrt(2) = 0.85 %``. Welch's test then has ``df ~ 46`` and rejects at alpha =
0.01 when ``|diff| > t(0.995, 46) x 0.85 % = 2.29 %``; a true 3 % difference gives a
non-centrality of ``3 / 0.85 = 3.52``, so the power is
``P(T_46 > 2.687 - 3.52) = 0.80``. Equivalently, the minimum difference detected with
80 % power is ``(t(0.995, 46) + t(0.80, 46)) x 0.85 % = 3.0 %``. The test also computes
this minimum detectable difference from the observed standard errors and requires it to
stay under 4 %, so a change that silently cut the replications would fail.

The KS test uses the same runs: about 1,840 thinned waits per replication and key
pooled over 24 replications (44,000 per simulator); at a lag of 25 jobs the
autocorrelation of waits at rho = 0.5 is below about 2 %. Waits have an atom at zero
(no wait), which makes the asymptotic KS p-value conservative.

Each comparison is at alpha = 0.01 and the seeds are fixed, so the outcome is
deterministic; re-run with ``FBSIM_VALIDATION_SEED`` set to tell a fluke from a change.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pytest
from scipy import stats

from .builders import base_seed, map_parallel, replicate, t_interval
from .peer import NETWORKS, PeerNetwork, Sample, ciw_sample, fbsim_reducer

pytestmark = pytest.mark.slow

ALPHA = 0.01
POWER = 0.80
MAX_DETECTABLE = 0.04
CIW_SEED_OFFSET = 1_000_003


def run_both(net: PeerNetwork, reps: int, seed: int) -> tuple[list[Sample], list[Sample]]:
    """``reps`` replications in fbsim and in Ciw (independent seeds)."""
    fb = replicate(net.scenario(), reps, fbsim_reducer(net), seed=seed)
    seeds = [seed + CIW_SEED_OFFSET + i for i in range(reps)]
    cw = map_parallel(partial(ciw_sample, net), seeds)
    return fb, cw


def compare_means(fb: list[Sample], cw: list[Sample], key: str) -> dict[str, Any]:
    """Welch test, both 99 % CIs and the minimum detectable difference for ``key``."""
    a = np.asarray([r["means"][key] for r in fb])
    b = np.asarray([r["means"][key] for r in cw])
    welch = stats.ttest_ind(a, b, equal_var=False)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    mdd = (stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(POWER, df)) * se / b.mean()
    return {"fbsim": t_interval(a), "ciw": t_interval(b), "p": float(welch.pvalue),
            "rel_diff": (a.mean() - b.mean()) / b.mean(), "mdd": float(mdd)}


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def peer_runs(request: pytest.FixtureRequest) -> tuple[PeerNetwork, list[Sample], list[Sample]]:
    net = NETWORKS[request.param]
    fb, cw = run_both(net, net.reps, base_seed())
    return net, fb, cw


def test_mean_waits_agree(peer_runs: tuple[PeerNetwork, list[Sample], list[Sample]]) -> None:
    net, fb, cw = peer_runs
    lines, failed = [], []
    for key in net.metric_keys():
        c = compare_means(fb, cw, key)
        line = (f"{key}: fbsim {c['fbsim']}, ciw {c['ciw']}, diff {c['rel_diff']:+.2%}, "
                f"Welch p = {c['p']:.3g}, detectable (80 % power) {c['mdd']:.2%}")
        lines.append(line)
        if c["p"] < ALPHA or c["mdd"] > MAX_DETECTABLE:
            failed.append(line)
    assert not failed, f"{net.title}:\n" + "\n".join(lines)


def test_wait_distributions_agree(peer_runs: tuple[PeerNetwork, list[Sample], list[Sample]]
                                  ) -> None:
    net, fb, cw = peer_runs
    lines, failed = [], []
    for key in net.metric_keys():
        a = np.concatenate([r["samples"][key] for r in fb])
        b = np.concatenate([r["samples"][key] for r in cw])
        ks = stats.ks_2samp(a, b)
        line = (f"{key}: KS D = {ks.statistic:.4f}, p = {ks.pvalue:.3g} "
                f"(n = {a.size} and {b.size}; P(wait > 0) {np.mean(a > 0):.3f} vs "
                f"{np.mean(b > 0):.3f})")
        lines.append(line)
        if ks.pvalue < ALPHA:
            failed.append(line)
    assert not failed, f"{net.title}:\n" + "\n".join(lines)
