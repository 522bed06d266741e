"""The validation cases: a reduced scenario, its analytic answers, and how to measure.

Shared by ``tests/validation/test_analytic.py`` (few replications, CI budget) and
``bench/validation_table.py`` (more replications, for ``docs/validation.md``). Each case
returns per-replication means keyed like ``"enforcement/very_high"`` (stage / class,
``all`` for every class) and lists the analytic value of each key it checks.

Replication sizes come from a pilot of 40-100 short replications per case, which
measured the *relative variance constant* ``K = CV(replication mean)^2 x arrivals per
replication`` (about 60 for M/M/1 at rho 0.7, 100-160 for M/M/c at rho 0.7-0.75,
more for the lowest of several priority classes). A 99 % t-interval over ``R``
replications of ``n`` arrivals each then has a relative half-width of about
``t(0.995, R-1) sqrt(K / (R n))``; the tests (16 replications) get 2.5-6 %, the table
(96) about 40 % of that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sim.analysis import queueing as q
from sim.config import RISK_LEVELS, Scenario
from sim.monitor.records import Records

from .builders import (
    FOUR_CLASS_MIX,
    TWO_CLASS_MIX,
    Interval,
    QueueSpec,
    base_seed,
    class_mean_waits,
    exp_days,
    lognormal_days,
    queue_scenario,
    replicate,
    t_interval,
)

CONFIDENCE = 0.99


def stage_class_waits(records: Records, stages: tuple[str, ...], drain_days: float
                      ) -> dict[str, float]:
    """Per-replication mean waits keyed ``"<stage>/<class or all>"``."""
    out: dict[str, float] = {}
    for stage in stages:
        for key, value in class_mean_waits(records, stage, drain_days).items():
            out[f"{stage}/{key}"] = value
    return out


def class_rates(lam: float, mix: dict[str, float]) -> list[float]:
    """Arrival rate of each risk level in priority order (zeros kept)."""
    return [lam * mix[level] for level in RISK_LEVELS]


@dataclass(frozen=True)
class Case:
    """One validation case.

    Attributes
    ----------
    name : str
        Short identifier (test ids, table rows).
    title : str
        What the case is, for the table.
    formula : str
        The analytic result it is checked against.
    scenario : callable
        ``scenario(horizon_days, warmup_days) -> Scenario``.
    stages : tuple of str
        Stages whose waits are measured.
    analytic : dict of str to float
        Metric key (``stage/class``) to its analytic mean wait in days.
    horizon_days, warmup_days : float
        Per replication.
    reps : int
        Replications in the test suite.
    table_reps : int
        Replications for ``docs/validation.md``.
    drain_days : float
        Arrivals in the last ``drain_days`` are not measured (they may not have started).
    """

    name: str
    title: str
    formula: str
    scenario: Callable[[float, float], Scenario]
    stages: tuple[str, ...]
    analytic: dict[str, float]
    horizon_days: float
    warmup_days: float
    reps: int
    table_reps: int
    drain_days: float = 50.0
    labels: dict[str, str] = field(default_factory=dict)

    def run(self, reps: int | None = None, seed: int | None = None, first: int = 0
            ) -> dict[str, Interval]:
        """Simulate ``reps`` replications and return a 99 % interval per metric."""
        seed = base_seed() if seed is None else seed
        sc = self.scenario(self.horizon_days, self.warmup_days)
        reduce = partial(stage_class_waits, stages=self.stages, drain_days=self.drain_days)
        results = replicate(sc, reps or self.reps, reduce, seed=seed, first=first)
        return {key: t_interval([r[key] for r in results], CONFIDENCE) for key in self.analytic}


# --------------------------------------------------------------------- the cases
def _mm1(horizon: float, warmup: float) -> Scenario:
    return queue_scenario({"intake": QueueSpec(1, exp_days(1.0))}, arrivals_per_day=0.7,
                          horizon_days=horizon, warmup_days=warmup, name="val-mm1")


def _mmc(horizon: float, warmup: float) -> Scenario:
    return queue_scenario({"intake": QueueSpec(4, exp_days(1.0))}, arrivals_per_day=3.0,
                          horizon_days=horizon, warmup_days=warmup, name="val-mmc")


MG1_MEAN, MG1_SD, MG1_LAM = 1.0, 1.5, 0.6


def _mg1(horizon: float, warmup: float) -> Scenario:
    return queue_scenario({"intake": QueueSpec(1, lognormal_days(MG1_MEAN, MG1_SD))},
                          arrivals_per_day=MG1_LAM, horizon_days=horizon,
                          warmup_days=warmup, name="val-mg1")


PRIO_C, PRIO_LAM = 4, 2.8


def _prio(mix: dict[str, float], name: str, horizon: float, warmup: float) -> Scenario:
    return queue_scenario({"enforcement": QueueSpec(PRIO_C, exp_days(1.0), "priority")},
                          arrivals_per_day=PRIO_LAM, risk_mix=mix, horizon_days=horizon,
                          warmup_days=warmup, name=name)


TANDEM_LAM, TANDEM_C1, TANDEM_S1, TANDEM_C2, TANDEM_S2 = 1.4, 4, 2.0, 2, 1.0


def _tandem(horizon: float, warmup: float) -> Scenario:
    return queue_scenario(
        {"enforcement": QueueSpec(TANDEM_C1, exp_days(TANDEM_S1), "priority"),
         "device_triage": QueueSpec(TANDEM_C2, exp_days(TANDEM_S2), "fifo")},
        arrivals_per_day=TANDEM_LAM, risk_mix=TWO_CLASS_MIX, horizon_days=horizon,
        warmup_days=warmup, name="val-tandem")


def _priority_analytic(mix: dict[str, float]) -> dict[str, float]:
    waits = q.cobham_priority_waits(class_rates(PRIO_LAM, mix), 1.0, PRIO_C)
    out = {f"enforcement/{level}": w for level, w in zip(RISK_LEVELS, waits, strict=True)
           if mix[level] > 0}
    out["enforcement/all"] = q.mmc_wait(PRIO_LAM, 1.0, PRIO_C)
    return out


def _tandem_analytic() -> dict[str, float]:
    waits = q.cobham_priority_waits(class_rates(TANDEM_LAM, TWO_CLASS_MIX), TANDEM_S1, TANDEM_C1)
    out = {f"enforcement/{level}": w for level, w in zip(RISK_LEVELS, waits, strict=True)
           if TWO_CLASS_MIX[level] > 0}
    # Burke: the departures of a stable M/M/c are Poisson, so stage 2 is M/M/c again.
    out["device_triage/all"] = q.mmc_wait(TANDEM_LAM, TANDEM_S2, TANDEM_C2)
    return out


CASES: dict[str, Case] = {
    case.name: case for case in (
        Case("mm1", "M/M/1, rho = 0.7 (intake, 1 server, exp. mean 1 d, 0.7/d)",
             "Wq = rho / (mu - lambda)", _mm1, ("intake",),
             {"intake/all": q.mm1_wait(0.7, 1.0)},
             horizon_days=30_000, warmup_days=300, reps=16, table_reps=96, drain_days=100),
        Case("mmc", "M/M/4, rho = 0.75 (intake, 4 servers, exp. mean 1 d, 3/d)",
             "Erlang C", _mmc, ("intake",), {"intake/all": q.mmc_wait(3.0, 1.0, 4)},
             horizon_days=14_000, warmup_days=100, reps=16, table_reps=96),
        Case("mg1", "M/G/1 lognormal, rho = 0.6 (mean 1 d, sd 1.5 d, 0.6/d)",
             "Pollaczek-Khinchine", _mg1, ("intake",),
             {"intake/all": q.mg1_wait(MG1_LAM, MG1_MEAN, MG1_SD**2)},
             horizon_days=60_000, warmup_days=500, reps=16, table_reps=96, drain_days=200),
        Case("prio2", "M/M/4, 2 non-preemptive priority classes (30/70 %), rho = 0.7",
             "Cobham", partial(_prio, TWO_CLASS_MIX, "val-prio2"), ("enforcement",),
             _priority_analytic(TWO_CLASS_MIX),
             horizon_days=14_000, warmup_days=100, reps=16, table_reps=96),
        Case("prio4", "M/M/4, 4 non-preemptive priority classes (10/20/30/40 %), rho = 0.7",
             "Cobham", partial(_prio, FOUR_CLASS_MIX, "val-prio4"), ("enforcement",),
             _priority_analytic(FOUR_CLASS_MIX),
             horizon_days=14_000, warmup_days=100, reps=16, table_reps=96),
        Case("tandem", "Tandem: M/M/4 priority (2 classes, rho 0.7) -> M/M/2 FIFO (rho 0.7)",
             "Cobham + Burke/Erlang C", _tandem, ("enforcement", "device_triage"),
             _tandem_analytic(),
             horizon_days=20_000, warmup_days=200, reps=16, table_reps=96),
    )
}

def relative_error(interval: Interval, analytic: float) -> float:
    """(simulated - analytic) / analytic."""
    return (interval.mean - analytic) / analytic if analytic else math.nan
