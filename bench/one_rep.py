"""One replication of any scenario through fbsim's model, timed in-process.

  python bench/one_rep.py scenarios/met-baseline.yaml [--horizon-days D] [--rate-scale k]

Prints one JSON line: ``events`` (3 x completed service visits, as the shared peers
count them), ``sim_seconds`` (:func:`~sim.model.replication.run_replication`: event
loop, monitoring and every tidy table), ``events_per_s``, ``load_seconds`` (YAML and
validation) and the simulated length in days. ``--rate-scale k`` multiplies the
referral rate, every pool's head-count and every initial-backlog count by ``k``: the
same utilisation with ``k`` times the work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.cli import one_blas_thread  # noqa: E402

one_blas_thread()  # as the fbsim command does first: numpy's BLAS threads are never used

from sim.config import load_scenario, with_overrides  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402


def scaled(path: str, horizon_days: float | None = None, rate_scale: float = 1.0,
           warmup_days: float | None = None):
    """The scenario at ``path`` with another horizon and/or scaled demand and staff."""
    sc = load_scenario(path)
    over: dict = {}
    if horizon_days is not None:
        over["run.horizon_days"] = horizon_days
        over["run.horizon_years"] = None
    if warmup_days is not None:
        over["run.warmup_days"] = warmup_days
    if rate_scale != 1.0:
        over["demand.referrals_per_year"] = sc.demand.referrals_per_year * rate_scale
        for name, pool in sc.staff.items():
            over[f"staff.{name}.headcount"] = max(1, round(pool.headcount * rate_scale))
        for stage, block in sc.initial_backlog.blocks():
            over[f"initial_backlog.{stage}.count"] = round(block.count * rate_scale)
    return with_overrides(sc, over) if over else sc


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replication", type=int, default=0)
    ap.add_argument("--horizon-days", type=float, default=None)
    ap.add_argument("--warmup-days", type=float, default=None)
    ap.add_argument("--rate-scale", type=float, default=1.0)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    sc = scaled(a.scenario, a.horizon_days, a.rate_scale, a.warmup_days)
    t1 = time.perf_counter()
    c1 = time.process_time()
    records = run_replication(sc, a.replication, a.seed)
    t2 = time.perf_counter()
    c2 = time.process_time()
    out = {"impl": "fbsim", "scenario": sc.name, "seed": a.seed, "events": int(records.events),
           "sim_seconds": t2 - t1, "sim_cpu_seconds": c2 - c1,
           "events_per_s": records.events / (t2 - t1), "load_seconds": t1 - t0,
           "simulated_days": sc.run.end_day, "rate_scale": a.rate_scale,
           "visits": sum(len(t) for t in [records.tables["stage_visits"]["stage"]])}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
