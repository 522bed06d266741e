"""Reduced scenarios, replication statistics and a parallel runner for validation.

The full pipeline reduces to a plain queue (or a tandem of two) when every case
brings exactly one device, nobody has children, and every stage but the ones under
test is disabled (a disabled stage passes work on instantly). Each staffed stage gets
its own pool of ``c`` identical servers working round the clock (24 h a day, 7 days a
week, availability 1, one tier at speed 1), so a service written in days is the
calendar service time.

Which stages to use:

* ``intake`` sees referrals in arrival order but *before* risk grading, so every case
  has the lowest priority there; use it for single-class (FIFO) queues only.
* ``enforcement`` is the first stage after grading: use it for priority queues.
  Its key is (graded risk, referral day) and referral day = arrival day here, so
  within a class service is FIFO, as Cobham's formula assumes.
* Device stages (``device_triage``, ``lab_examination``, ...) serve devices; with one
  device per case they see the same stream as a case stage.

Statistics are per replication: each replication gives one mean (over the items that
arrived after the warm-up and, optionally, before a drain period at the end); the
replication means are independent, and :func:`t_interval` turns them into a
Student-t confidence interval.
"""

from __future__ import annotations

import atexit
import copy
import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from scipy import stats

from sim.config import RISK_LEVELS, STAGE_NAMES, Scenario, scenario_from_dict
from sim.model.replication import run_replication
from sim.monitor.records import Records
from tests._workforce_scenarios import BASE as WORKFORCE_BASE

T = TypeVar("T")

#: Default 2-class mix: 30 % very high risk (class 0), 70 % low (class 3).
TWO_CLASS_MIX = {"very_high": 0.3, "high": 0.0, "medium": 0.0, "low": 0.7}
FOUR_CLASS_MIX = {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}
ONE_CLASS_MIX = {"very_high": 0.0, "high": 0.0, "medium": 0.0, "low": 1.0}


def exp_days(mean: float) -> dict[str, Any]:
    """An exponential duration with the given mean in days."""
    return {"exponential": {"mean_days": mean}}


def lognormal_days(mean: float, sd: float) -> dict[str, Any]:
    """A lognormal duration with the given mean and standard deviation in days."""
    return {"lognormal": {"mean_days": mean, "sd_days": sd}}


@dataclass(frozen=True)
class QueueSpec:
    """One staffed stage under test: servers, service (in days) and discipline."""

    servers: int
    service: Mapping[str, Any]
    discipline: str = "fifo"


def queue_scenario(queues: Mapping[str, QueueSpec], *, arrivals_per_day: float,
                   horizon_days: float, warmup_days: float,
                   risk_mix: Mapping[str, float] | None = None, seed: int = 1,
                   name: str = "validation") -> Scenario:
    """A pipeline reduced to the stages in ``queues``, everything else disabled.

    Parameters
    ----------
    queues : mapping of stage name to QueueSpec
        The stages under test; each gets its own pool named ``pool_<stage>``.
    arrivals_per_day : float
        Poisson referral rate (no growth).
    horizon_days, warmup_days : float
        Measured horizon and warm-up; the clock runs to their sum.
    risk_mix : mapping, optional
        Shares of the four risk levels (the priority classes); one class by default.
    seed : int
        Base seed written into the scenario.
    name : str
        Scenario name.
    """
    unknown = set(queues) - set(STAGE_NAMES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}")
    stages: dict[str, Any] = {s: {"enabled": False} for s in STAGE_NAMES}
    staff: dict[str, Any] = {}
    for stage, spec in queues.items():
        stages[stage] = {"pool": f"pool_{stage}", "service": dict(spec.service),
                         "discipline": spec.discipline}
        staff[f"pool_{stage}"] = {"headcount": spec.servers}
    zero = {"fixed": {"value": 0}}
    data = {
        "name": name,
        "run": {"horizon_days": horizon_days, "warmup_days": warmup_days, "seed": seed,
                "replications": 1, "timeseries_interval_days": 365.0},
        "demand": {"referrals_per_year": arrivals_per_day * 365.25,
                   "risk_mix": dict(risk_mix or ONE_CLASS_MIX)},
        "cases": {
            "children_in_contact": {r: zero for r in RISK_LEVELS},
            "devices_per_case": {"fixed": {"value": 1}},
            "device_types": {"phone": {"share": 1.0, "data_tb": zero, "images": zero}},
            "first_generation_probability": {r: 0.0 for r in RISK_LEVELS},
            "depicted_children": zero,
        },
        "triage": {"grading_accuracy": 1.0},
        "stages": stages,
        "staff": staff,
        "policies": {"kiosk_share_of_phones": 0.0},
    }
    return scenario_from_dict(data, source=name)


# ------------------------------------------------------------------ statistics
def window_visits(records: Records, stage: str, drain_days: float = 0.0) -> dict[str, np.ndarray]:
    """Visits to ``stage`` by items that arrived in ``[warmup, end - drain_days)``.

    Items still waiting at the end (start = NaN) are dropped; with a drain period of
    many mean waits there are none in the window.
    """
    t = records.tables["stage_visits"]
    warmup, end = records.window
    keep = ((t["stage"] == stage) & (t["arrive_day"] >= warmup)
            & (t["arrive_day"] < end - drain_days) & ~np.isnan(t["start_day"]))
    return {k: v[keep] for k, v in t.items()}


def class_mean_waits(records: Records, stage: str, drain_days: float = 0.0
                     ) -> dict[str, float]:
    """Mean wait at ``stage`` over all items (``"all"``) and per priority class name."""
    v = window_visits(records, stage, drain_days)
    out = {"all": float(np.mean(v["wait_days"]))}
    for k, level in enumerate(RISK_LEVELS):
        mask = v["priority"] == k
        if mask.any():
            out[level] = float(np.mean(v["wait_days"][mask]))
    return out


@dataclass(frozen=True)
class Interval:
    """A Student-t confidence interval for a mean over independent replications."""

    mean: float
    half_width: float
    n: int
    confidence: float

    @property
    def low(self) -> float:
        """Lower end."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end."""
        return self.mean + self.half_width

    def contains(self, x: float) -> bool:
        """True when ``x`` lies in the closed interval."""
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.half_width:.4f} ({self.confidence:.0%}, n={self.n})"


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.99) -> Interval:
    """Student-t interval of the mean of independent replication values."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return Interval(float(x.mean()) if n else math.nan, math.inf, n, confidence)
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    q = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    return Interval(float(x.mean()), q * sem, n, confidence)


# ------------------------------------------------------------------ running
_EXECUTOR: Executor | None = None
#: Base seed of the validation runs; override with ``FBSIM_VALIDATION_SEED`` to tell a
#: 1-in-100 statistical fluke from a real change after a test fails.
DEFAULT_SEED = 20261127


def base_seed() -> int:
    """``FBSIM_VALIDATION_SEED`` or :data:`DEFAULT_SEED`."""
    return int(os.environ.get("FBSIM_VALIDATION_SEED", DEFAULT_SEED))


def workers() -> int:
    """Worker processes: ``FBSIM_TEST_WORKERS`` or the CPU count, at most 4."""
    env = os.environ.get("FBSIM_TEST_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


def _noop_arg(_: int) -> None:
    return None


def _executor() -> Executor:
    global _EXECUTOR
    if _EXECUTOR is None:
        # forkserver: workers fork from a clean server process, never from this one
        # (which may hold threads, e.g. left by Dask tests); the preload pays the model's
        # imports once. A script using this must guard its entry point with
        # ``if __name__ == "__main__":``.
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
        if "forkserver" in methods:
            ctx.set_forkserver_preload(["sim.model.replication", "ciw", "scipy.stats"])
        _EXECUTOR = ProcessPoolExecutor(max_workers=workers(), mp_context=ctx)
        list(_EXECUTOR.map(_noop_arg, range(workers())))
        atexit.register(shutdown_workers)
    return _EXECUTOR


def worker_cpu_seconds() -> float:
    """CPU time (user + system) used so far by the live worker processes (Linux only)."""
    if _EXECUTOR is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in list(getattr(_EXECUTOR, "_processes", {}) or {}):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def shutdown_workers() -> None:
    """Stop the worker processes (they restart on the next parallel call)."""
    global _EXECUTOR
    if _EXECUTOR is not None:
        _EXECUTOR.shutdown()
        _EXECUTOR = None


def _one(scenario: Scenario, seed: int, reduce: Callable[[Records], T], replication: int) -> T:
    return reduce(run_replication(scenario, replication, seed))


def replicate(scenario: Scenario, reps: int, reduce: Callable[[Records], T], seed: int = 1,
              first: int = 0) -> list[T]:
    """Run replications ``first .. first + reps - 1`` and reduce each one in its worker.

    ``reduce`` must be picklable (a module-level function or a ``functools.partial``
    of one); it keeps the data sent back small.
    """
    job = partial(_one, scenario, seed, reduce)
    indices = range(first, first + reps)
    if workers() == 1 or reps == 1:
        return [job(i) for i in indices]
    return list(_executor().map(job, indices))


def map_parallel(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """``list(map(fn, items))`` on the worker processes (``fn`` picklable)."""
    if workers() == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    return list(_executor().map(fn, items))


# ------------------------------------------------------------------ full pipeline
def mini_pipeline(*, stable: bool, horizon_days: float = 400.0, name: str = "mini"
                  ) -> dict[str, Any]:
    """A small full-pipeline scenario (every stage on), as a dict.

    ``stable=False`` is an overloaded planning scenario with today's backlog at
    enforcement and the lab (several stages have rho > 1: queues only grow).
    ``stable=True`` has fewer devices per case, enough staff for rho of about 0.7 at
    every stage at the end of the horizon, a warm-up and no backlog. Both are the
    workforce tests' base scenario (itself the shared ``mini``) with other sizes.
    """
    data = copy.deepcopy(WORKFORCE_BASE)
    data["name"] = name
    data["run"] = {"horizon_days": horizon_days, "seed": 1, "replications": 2,
                   "warmup_days": 60.0 if stable else 0.0}
    data["demand"]["referrals_per_year"] = 1825 if stable else 2600
    data["cases"]["devices_per_case"] = {"poisson": {"mean": 2 if stable else 9, "offset": 1}}
    heads = ({"investigators": 12, "enforcement": 31, "hub": 7, "kiosk_officers": 4,
              "examiners": 47, "graders": 126, "vid": 4} if stable else
             {"investigators": 20, "enforcement": 30, "hub": 8, "kiosk_officers": 15,
              "examiners": 60, "graders": 40, "vid": 4})
    for pool, n in heads.items():
        data["staff"][pool]["headcount"] = n
    if stable:
        del data["initial_backlog"]
    else:
        data["initial_backlog"]["lab_examination"]["count"] = 1500
        data["initial_backlog"]["enforcement"]["count"] = 100
    return data
