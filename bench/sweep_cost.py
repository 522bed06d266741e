"""The cost of the sweep machinery: a sweep point against a plain run of the same replications.

  .venv/bin/python bench/sweep_cost.py [--reps 4] [--horizon 365] [--rounds 3] [--points 4]

1. Serial, one point: ``run_sweep`` of one point against ``run_experiment`` of that
   point's scenario, the same replications and seed (so the same simulation work); wall
   and CPU time of this process, alternating the two ``--rounds`` times and keeping the
   fastest of each (the machine is shared). The ratio is the machinery's overhead:
   building and checking the point's scenario, the per-(point, replication) task, the
   metrics-only result, the frames.
2. Two worker processes, ``--points`` points: one sweep (one map over every (point,
   replication)) against one ``run_experiment`` per point; wall time only (the
   workers' CPU time is not this process's).

Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.config import load_scenario, with_overrides  # noqa: E402
from sim.experiment import ProcessBackend, SerialBackend, run_experiment  # noqa: E402
from sim.experiment.sweep import run_sweep  # noqa: E402

LEVER = "staff.examiners.headcount"


def timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wall and CPU seconds of ``fn()`` (this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    """Measure and print."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--horizon", type=int, default=365)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--points", type=int, default=4)
    args = p.parse_args()
    base = with_overrides(load_scenario(ROOT / "scenarios" / "met-baseline.yaml"),
                          {"run.horizon_days": args.horizon})
    seed = base.run.seed
    point = {LEVER: 43}
    scenario = with_overrides(base, point)

    def sweep_once() -> None:
        result = run_sweep(base, [point], args.reps, seed, SerialBackend())
        result.to_frame()
        result.replications_frame()

    def plain_once() -> None:
        run_experiment(scenario, args.reps, seed, SerialBackend())

    sweep_once()  # warm the imports and caches before timing
    runs: dict[str, list[tuple[float, float]]] = {"sweep": [], "plain": []}
    for _ in range(args.rounds):
        runs["plain"].append(timed(plain_once))
        runs["sweep"].append(timed(sweep_once))
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}

    points = [{LEVER: 30 + 10 * i} for i in range(args.points)]
    backend = ProcessBackend(2)

    def sweep_parallel() -> None:
        run_sweep(base, points, args.reps, seed, backend)

    def plain_parallel() -> None:
        for pt in points:
            run_experiment(with_overrides(base, pt), args.reps, seed, backend)

    par = {"plain": min(timed(plain_parallel)[0] for _ in range(max(1, args.rounds - 1))),
           "sweep": min(timed(sweep_parallel)[0] for _ in range(max(1, args.rounds - 1)))}

    today = dt.date.today().isoformat()
    print(f"Measured {today} on {platform.processor() or platform.machine()}, "
          f"{platform.platform()}, Python {platform.python_version()}; met-baseline, "
          f"horizon {args.horizon} days, {args.reps} replications, fastest of "
          f"{args.rounds} alternated rounds.\n")
    print("| what | plain run(s) | sweep | sweep / plain |")
    print("|---|---|---|---|")
    (pw, pc), (sw, sc) = best["plain"], best["sweep"]
    print(f"| 1 point, serial, wall | {pw:.3f} s | {sw:.3f} s | {sw / pw:.4f} |")
    print(f"| 1 point, serial, CPU | {pc:.3f} s | {sc:.3f} s | {sc / pc:.4f} |")
    print(f"| {args.points} points, 2 processes, wall | {par['plain']:.3f} s "
          f"(one run per point) | {par['sweep']:.3f} s (one map) | "
          f"{par['sweep'] / par['plain']:.4f} |")


if __name__ == "__main__":
    main()
