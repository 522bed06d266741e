"""Validation tables for docs/validation.md: fbsim against queueing theory and Ciw.

  .venv/bin/python bench/validation_table.py > /tmp/validation-table.md

Runs every case of ``tests/validation/cases.py`` with its ``table_reps`` replications
(six times the test suite's), every network of ``tests/validation/peer.py`` in fbsim
and Ciw, and the Little's-law checks of ``tests/validation/test_little.py`` with more
replications, and prints Markdown. Replications run on ``FBSIM_TEST_WORKERS`` worker
processes (default: the CPU count, at most 4). The seed differs from the tests' so the
two are independent evidence. About 6 minutes of wall time on a free 2-core machine.

Options: ``--scale 0.25`` for a quick look (fewer replications), ``--seed``,
``--only mm1,tandem`` (cases and networks by name), ``--no-peer``, ``--no-little``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ciw  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import simpy  # noqa: E402
from scipy import stats  # noqa: E402

from sim.analysis.check import check_scenario  # noqa: E402
from sim.config import scenario_from_dict  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402
from tests.validation.builders import (  # noqa: E402
    mini_pipeline,
    shutdown_workers,
    worker_cpu_seconds,
    workers,
)
from tests.validation.cases import CASES, relative_error  # noqa: E402
from tests.validation.peer import NETWORKS  # noqa: E402
from tests.validation.test_ciw_peer import compare_means, run_both  # noqa: E402
from tests.validation.test_little import clipped_area  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (not the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; "
            f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
            f"{scipy.__version__}, simpy {simpy.__version__}, Ciw {ciw.__version__}; "
            f"git {commit or '?'} (plus uncommitted changes, if any)")


def fmt(x: float, digits: int = 4) -> str:
    return "inf" if math.isinf(x) else f"{x:.{digits}f}"


def analytic_table(names: list[str], scale: float, seed: int) -> list[str]:
    out = ["| case | formula | metric | analytic (d) | simulated (d), 99 % CI | diff | "
           "CI half-width | inside | replications x arrivals |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        case = CASES[name]
        reps = max(2, round(case.table_reps * scale))
        t0 = time.perf_counter()
        result = case.run(reps=reps, seed=seed)
        lam = case.scenario(1.0, 0.0).demand.referrals_per_year / 365.25
        arrivals = lam * case.horizon_days
        for key, analytic in case.analytic.items():
            iv = result[key]
            out.append(
                f"| {case.title} | {case.formula} | `{key}` | {fmt(analytic)} | "
                f"{fmt(iv.mean)} [{fmt(iv.low)}, {fmt(iv.high)}] | "
                f"{relative_error(iv, analytic):+.2%} | ±{iv.half_width / analytic:.2%} | "
                f"{'yes' if iv.contains(analytic) else '**no**'} | "
                f"{reps} x {arrivals:,.0f} |")
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def peer_table(names: list[str], scale: float, seed: int) -> list[str]:
    out = ["| network | metric | fbsim (d), 99 % CI | Ciw (d), 99 % CI | diff | Welch p | "
           "detectable diff (80 % power, alpha 0.01) | KS D | KS p | replications x arrivals |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        net = NETWORKS[name]
        reps = max(2, round(net.table_reps * scale))
        t0 = time.perf_counter()
        fb, cw = run_both(net, reps, seed)
        arrivals = net.arrivals_per_day * net.horizon_days
        for key in net.metric_keys():
            c = compare_means(fb, cw, key)
            a = np.concatenate([r["samples"][key] for r in fb])
            b = np.concatenate([r["samples"][key] for r in cw])
            ks = stats.ks_2samp(a, b)
            out.append(
                f"| {net.title} | `{key}` | {fmt(c['fbsim'].mean)} ± {fmt(c['fbsim'].half_width)} | "
                f"{fmt(c['ciw'].mean)} ± {fmt(c['ciw'].half_width)} | {c['rel_diff']:+.2%} | "
                f"{c['p']:.2f} | {c['mdd']:.1%} | {ks.statistic:.4f} | {ks.pvalue:.2f} | "
                f"{reps} x {arrivals:,.0f} |")
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return out


def little_tables(reps: int, seed: int) -> tuple[list[str], list[str]]:
    out = ["| run | stage | max relative error, L (station) vs visit log | max relative "
           "error, Lq | mean (L - lambda W) / L | replications |",
           "|---|---|---|---|---|---|"]
    example: list[str] = []
    for kind in ("stable", "overloaded-with-backlog"):
        stable = kind == "stable"
        sc = scenario_from_dict(mini_pipeline(stable=stable, horizon_days=900 if stable else 400))
        records = [run_replication(sc, rep, seed) for rep in range(reps)]
        for stage in records[0].time_averages:
            errs, qerrs, steady = [], [], []
            for rec in records:
                end = rec.window[1]
                avg = rec.time_averages[stage]
                area = clipped_area(rec, stage, "end_day")
                qarea = clipped_area(rec, stage, "start_day")
                errs.append(abs(avg["mean_in_system"] * end - area) / max(area, 1e-300))
                qerrs.append(abs(avg["mean_waiting"] * end - qarea) / max(qarea, 1e-300)
                             if qarea > 0 else abs(avg["mean_waiting"]))
                t = rec.tables["stage_visits"]
                done = (t["stage"] == stage) & ~np.isnan(t["end_day"]) & (t["arrive_day"] >= 0)
                if done.any() and avg["mean_in_system"] > 0:
                    w = float(np.mean(t["end_day"][done] - t["arrive_day"][done]))
                    steady.append((avg["mean_in_system"] - avg["arrival_rate_per_day"] * w)
                                  / avg["mean_in_system"])
            out.append(f"| {kind} | {stage} | {max(errs):.1e} | {max(qerrs):.1e} | "
                       f"{np.mean(steady):+.2%} | {reps} |" if steady else
                       f"| {kind} | {stage} | {max(errs):.1e} | {max(qerrs):.1e} | - | {reps} |")
        if stable:
            example = check_scenario(sc, records).to_text().splitlines()
    return out, example


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply replications")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated case/network names")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-little", action="store_true")
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    t0, c0 = time.perf_counter(), cpu_seconds()
    lines = [f"Generated {dt.date.today().isoformat()} by `.venv/bin/python "
             f"bench/validation_table.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}` "
             f"(seed {args.seed}, {workers()} worker processes) on: {machine()}.", ""]
    cases = [n for n in CASES if not only or n in only]
    if cases:
        print("analytic cases", file=sys.stderr)
        lines += ["### fbsim against queueing theory", ""]
        lines += analytic_table(cases, args.scale, args.seed)
        lines.append("")
    nets = [n for n in NETWORKS if not only or n in only]
    if nets and not args.no_peer:
        print("peer networks", file=sys.stderr)
        lines += ["### fbsim against Ciw 3.2.7", ""]
        lines += peer_table(nets, args.scale, args.seed + 7)
        lines.append("")
    if not args.no_little and not only:
        print("Little's law", file=sys.stderr)
        table, example = little_tables(max(2, round(10 * args.scale)), args.seed)
        lines += ["### Little's law on a full pipeline", "", *table, ""]
        lines += ["### `check_scenario` on the stable mini pipeline", "", "```", *example,
                  "```", ""]
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0 + worker_cpu_seconds()
    shutdown_workers()
    lines.append(f"Wall time {wall:.0f} s, CPU time {cpu:.0f} s (all processes).")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
