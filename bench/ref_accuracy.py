"""Accuracy of fbsim on the reference model: many replications against the analytic answer.

  python bench/ref_accuracy.py --reps 400 --procs 2 [--out bench/results/accuracy.json]

Replications ``0 .. reps-1`` of ``bench/reference.yaml`` with one base seed (fbsim's
own independent streams per replication), summarised as in the shared peers
(``bench/ref_fbsim.py``). For each class and measure: grand mean, 95 % t confidence
half-width, the analytic value from ``../shared/bench/analytic.py`` and the deviation in
per cent. Per-class stage-2 waits (and so per-class time in system) have no closed form
(priority at stage 1 reorders its output; see ``../shared/bench/README.md``), so those are
also compared with the shared 2,000-replication heap estimate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "bench").resolve()
for p in (str(ROOT), str(ROOT / "bench"), str(SHARED)):
    if p not in sys.path:
        sys.path.insert(0, p)

from analytic import reference  # noqa: E402  (the shared analytic script, by path)
from ref_fbsim import reference_scenario, summarise  # noqa: E402
from scipy.stats import t as student_t  # noqa: E402

from sim.model.replication import run_replication  # noqa: E402

#: Shared heap estimate (2,000 replications, ../shared/bench/README.md), for the
#: per-class figures without a closed form: mean and 95 % half-width, days.
HEAP_REFERENCE = {("0", "wait2"): (2.2498, 0.0102), ("1", "wait2"): (2.4410, 0.0108),
                  ("0", "sojourn"): (12.3288, 0.0119), ("1", "sojourn"): (14.4440, 0.0208)}

_SCENARIO = None


def one(job: tuple[int, int]) -> dict:
    global _SCENARIO
    if _SCENARIO is None:
        _SCENARIO = reference_scenario()
    replication, seed = job
    t0 = time.perf_counter()
    res = summarise(run_replication(_SCENARIO, replication, seed))
    res["sim_seconds"] = time.perf_counter() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seed0", type=int, default=1000, help="base seed")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "accuracy.json"))
    a = ap.parse_args()
    jobs = [(i, a.seed0) for i in range(a.reps)]
    t0 = time.perf_counter()
    if a.procs > 1:
        with Pool(a.procs) as pool:
            runs = pool.map(one, jobs, chunksize=4)
    else:
        runs = [one(j) for j in jobs]
    wall = time.perf_counter() - t0
    ref = reference()
    tq = float(student_t.ppf(0.975, a.reps - 1))
    stats: dict = {}
    for key in ("0", "1", "all"):
        stats[key] = {}
        for m in ("sojourn", "wait1", "wait2"):
            xs = [r["per_class"][key][m] for r in runs]
            mean = statistics.fmean(xs)
            hw = tq * statistics.stdev(xs) / len(xs) ** 0.5
            row = {"mean": mean, "ci95": hw, "analytic": ref[key][m],
                   "dev_pct": 100 * (mean / ref[key][m] - 1), "ci95_pct": 100 * hw / ref[key][m]}
            if (key, m) in HEAP_REFERENCE:
                hm, hhw = HEAP_REFERENCE[key, m]
                row.update({"heap": hm, "dev_vs_heap_pct": 100 * (mean / hm - 1),
                            "ci95_vs_heap_pct": 100 * (hw ** 2 + hhw ** 2) ** 0.5 / hm})
            stats[key][m] = row
    out = {"impl": "fbsim", "reps": a.reps, "procs": a.procs, "seed": a.seed0,
           "wall_seconds": wall, "sim_seconds_median": statistics.median(r["sim_seconds"] for r in runs),
           "completed_mean": statistics.fmean(r["completed"] for r in runs),
           "events_mean": statistics.fmean(r["events"] for r in runs), "stats": stats}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"wall_seconds": wall, "reps": a.reps}))
    print("| class | measure | fbsim mean ± 95% CI (days) | analytic | dev % ± CI % | vs heap % ± CI % |",
          file=sys.stderr)
    for key, ms in stats.items():
        for m, row in ms.items():
            heap = (f"{row['dev_vs_heap_pct']:+.2f} ± {row['ci95_vs_heap_pct']:.2f}"
                    if "heap" in row else "")
            print(f"| {key} | {m} | {row['mean']:.4f} ± {row['ci95']:.4f} | {row['analytic']:.4f} | "
                  f"{row['dev_pct']:+.2f} ± {row['ci95_pct']:.2f} | {heap} |", file=sys.stderr)


if __name__ == "__main__":
    main()
