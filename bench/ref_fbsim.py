"""The shared reference model run through fbsim's own model (one replication).

Same command line and JSON output as the peers in ``../shared/bench`` (``--seed
--horizon --warmup``; one JSON line with ``per_class`` means, ``events``,
``sim_seconds`` and ``events_per_s``), so ``timeit_cmd.py`` there can time it too.

``sim_seconds`` covers what the peers' figure covers plus fbsim's own monitoring:
:func:`sim.model.replication.run_replication` (event loop, station logs and every
tidy table it returns) and the per-class summary computed from the ``stage_visits``
table. Loading the YAML scenario is timed separately (``load_seconds``);
``sim_cpu_seconds`` is the CPU time of the same span (robust on a shared machine).

Classes: ``very_high`` referrals are the peers' class 0, ``low`` their class 1.
Measured jobs arrived at stage 1 at or after the warm-up and left stage 2 by the end,
as in ``model.py``.

Extra options: ``--scenario`` (default ``bench/reference.yaml``) and ``--rate-scale k``
(referral rate and both head-counts times ``k``: same utilisation, ``k`` times the events).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

gc.disable()  # as the fbsim command starts up (sim/__main__.py); resumed in main()

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from sim.cli import freeze_startup_heap, one_blas_thread  # noqa: E402

one_blas_thread()  # as the fbsim command does first: numpy's BLAS threads are never used

import numpy as np  # noqa: E402

from sim.config import load_scenario, with_overrides  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402

STAGE1, STAGE2 = "lab_examination", "image_grading"
CLASS_OF_PRIORITY = {0: "0", 3: "1"}  # very_high -> class 0, low -> class 1


def summarise(records) -> dict:
    """Per-class means of time in system and of the wait at each stage (as model.py)."""
    sv = records.tables["stage_visits"]
    stage = sv["stage"]
    ids = sv["entity_id"]
    n = int(ids.max()) + 1 if ids.size else 0
    cols = {}
    for name in (STAGE1, STAGE2):
        m = stage == name
        for col in ("arrive_day", "start_day", "end_day", "priority"):
            a = np.full(n, np.nan)
            a[ids[m]] = sv[col][m]
            cols[name, col] = a
    warmup, end = records.window
    arrive1 = cols[STAGE1, "arrive_day"]
    leave2 = cols[STAGE2, "end_day"]
    ok = (arrive1 >= warmup) & (leave2 <= end)  # NaN (not finished) compares False
    prio = cols[STAGE1, "priority"]
    wait1 = cols[STAGE1, "start_day"] - arrive1
    wait2 = cols[STAGE2, "start_day"] - cols[STAGE2, "arrive_day"]
    sojourn = leave2 - arrive1
    out = {"completed": int(ok.sum()), "events": int(records.events), "per_class": {}}
    groups = {cls: ok & (prio == p) for p, cls in CLASS_OF_PRIORITY.items()}
    groups["all"] = ok
    for key, m in groups.items():
        k = int(m.sum())
        if k:
            out["per_class"][key] = {"n": k, "sojourn": float(sojourn[m].mean()),
                                     "wait1": float(wait1[m].mean()),
                                     "wait2": float(wait2[m].mean())}
    return out


def reference_scenario(path: str | Path = ROOT / "bench" / "reference.yaml",
                       horizon: float | None = None, warmup: float | None = None,
                       rate_scale: float = 1.0):
    """The reference scenario, optionally with another horizon, warm-up or scale."""
    sc = load_scenario(path)
    over: dict = {}
    if horizon is not None:
        over["run.horizon_days"] = horizon
    if warmup is not None:
        over["run.warmup_days"] = warmup
    if rate_scale != 1.0:
        over["demand.referrals_per_year"] = sc.demand.referrals_per_year * rate_scale
        for name, pool in sc.staff.items():
            over[f"staff.{name}.headcount"] = round(pool.headcount * rate_scale)
    return with_overrides(sc, over) if over else sc


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replication", type=int, default=0)
    ap.add_argument("--horizon", type=float, default=None, help="measured days (default 20000)")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up days (default 2000)")
    ap.add_argument("--rate-scale", type=float, default=1.0)
    ap.add_argument("--scenario", default=str(ROOT / "bench" / "reference.yaml"))
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    sc = reference_scenario(a.scenario, a.horizon, a.warmup, a.rate_scale)
    freeze_startup_heap()  # as fbsim run does once start-up is over
    gc.enable()
    t1 = time.perf_counter()
    c1 = time.process_time()
    records = run_replication(sc, a.replication, a.seed)
    res = summarise(records)
    t2 = time.perf_counter()
    res["sim_seconds"] = t2 - t1
    res["sim_cpu_seconds"] = time.process_time() - c1
    res["events_per_s"] = res["events"] / res["sim_seconds"]
    res["load_seconds"] = t1 - t0
    res.update(impl="fbsim", seed=a.seed, horizon=sc.run.horizon, warmup=sc.run.warmup_days,
               rate_scale=a.rate_scale)
    json.dump(res, sys.stdout)
    print()


if __name__ == "__main__":
    main()
