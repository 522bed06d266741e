"""Calibration check: the Met baseline against the public figures it should reproduce.

  .venv/bin/python bench/calibrate.py [--reps N] [--seed S] [--workers W] [--scenario FILE]
                                      [--set KEY=VALUE ...]

Runs the scenario (default ``scenarios/met-baseline.yaml``, its full 5-year horizon) for
``N`` replications on local worker processes and prints a Markdown table: each target,
its source ID (see the project's domain evidence), the published value, and the
simulated mean over replications with a Student-t 95% confidence interval. The rows:

- share of lab-examined devices that waited <= 3 months / 3-12 months / > 12 months,
  against the Met's 2020 FOI figures 60% / 39% / 1% [S7] (the calibration target of
  ``demand.risk_mix.low`` and ``staff.examiners.headcount``);
- referrals per year against ~2,600 [S21] (an input; the check is that the arrival
  process delivers it);
- devices waiting for the lab, at the start, on average and at the end, against a
  plausible band of 2,000-7,000 (see docs/calibration.md for the reasoning);
- depicted (first-generation) children identified per year against the Met's 22 in
  2019 [S21];
- in-contact children per warrant against the 0.5-1.7 children safeguarded per warrant
  of national and Met operations [S29][S21];
- warrants per referral against 68 of ~202 in four weeks of 2020 [S21] (a known
  mismatch: the model has no "no further action" exit);
- enforcement within the KIRAT target time, very high vs lower levels, against
  HMICFRS's "very high usually met, others often missed" [S4] (qualitative).

The numbers are computed from each replication's tables in the worker process; only a
small dict per replication comes back. ``--set staff.examiners.headcount=44`` (dotted
keys, YAML values, repeatable) runs a sensitivity variant through
:func:`sim.config.with_overrides`. Documented in ``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.analysis.metrics import replication_metrics  # noqa: E402
from sim.analysis.stats import Estimate, mean_ci  # noqa: E402
from sim.config import RISK_LEVELS, Scenario, load_scenario, with_overrides  # noqa: E402
from sim.experiment.backends import ProcessBackend, SerialBackend, available_cpus  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402

DEFAULT_SCENARIO = ROOT / "scenarios" / "met-baseline.yaml"
YEAR = 365.25

#: (key, target, source, published value, format: pct / int / float / float2)
ROWS: list[tuple[str, str, str, str, str]] = [
    ("lab_examined_within_90d_share", "Lab-examined devices that waited <= 3 months", "[S7]",
     "60%", "pct"),
    ("lab_examined_90_365d_share", "... waited 3-12 months", "[S7]", "39%", "pct"),
    ("lab_examined_over_365d_share", "... waited > 12 months", "[S7]", "1%", "pct"),
    ("referrals_per_year", "Referrals per year (mean over the run)", "[S21]",
     "~2,600 (2,514 in 2018; ~50/week in 2020)", "int"),
    ("lab_waiting_start", "Devices waiting for the lab, day 0 (input)", "[S7] DERIVED",
     "plausible 2,000-7,000", "int"),
    ("lab_waiting_mean", "Devices waiting for the lab, time average", "[S7][S8][S4] ESTIMATE",
     "plausible 2,000-7,000, roughly flat", "int"),
    ("lab_waiting_year1_mean", "... time average over year 1", "[S7][S8][S4] ESTIMATE",
     "plausible 2,000-7,000", "int"),
    ("lab_waiting_year5_mean", "... time average over year 5", "[S7][S8][S4] ESTIMATE",
     "plausible 2,000-7,000", "int"),
    ("lab_waiting_end", "... at the end of year 5", "[S7][S8][S4] ESTIMATE",
     "plausible 2,000-7,000", "int"),
    ("depicted_identified_per_year", "Depicted children identified per year", "[S21]",
     "22 (Met, 2019)", "float"),
    ("contact_children_per_warrant", "In-contact children per warrant", "[S29][S21] DERIVED",
     "0.5-1.7 safeguarded per warrant", "float2"),
    ("warrants_per_referral", "Warrants per referral", "[S21]",
     "0.34 (68 of ~202, spring 2020)", "float2"),
    ("enforcement_within_target_very_high", "Warrants within target, graded very high", "[S4]",
     "usually met", "pct"),
    ("enforcement_within_target_lower", "Warrants within target, graded high/medium/low", "[S4]",
     "often missed", "pct"),
]


def _window_mean(days: np.ndarray, values: np.ndarray, low: float, high: float) -> float:
    sel = (days >= low) & (days < high)
    return float(values[sel].mean()) if sel.any() else math.nan


def calibration_values(scenario: Scenario, replication: int, seed: int) -> dict[str, float]:
    """Run one replication and return every calibration quantity of :data:`ROWS`."""
    records = run_replication(scenario, replication, seed)
    metrics = replication_metrics(records, scenario).metrics
    start, end = records.window
    years = (end - start) / YEAR
    t = records.tables
    out = {k: metrics[k] for k in ("lab_examined_within_90d_share", "lab_examined_90_365d_share",
                                   "lab_examined_over_365d_share")}
    out["referrals_per_year"] = metrics["cases_referred"] / years

    ts = t["stage_timeseries"]
    lab = ts["stage"] == "lab_examination"
    days = np.asarray(ts["day"][lab], dtype=float)
    waiting = np.asarray(ts["waiting"][lab], dtype=float)
    out["lab_waiting_start"] = float(waiting[np.argmin(days)])
    out["lab_waiting_mean"] = float(records.time_averages["lab_examination"]["mean_waiting"])
    out["lab_waiting_year1_mean"] = _window_mean(days, waiting, start, start + YEAR)
    out["lab_waiting_year5_mean"] = _window_mean(days, waiting, end - YEAR, end + 1.0)
    out["lab_waiting_end"] = float(records.conservation["lab_examination"]["waiting"])

    ch = t["children"]
    ident_day = np.asarray(ch["identified_day"], dtype=float)
    depicted_found = ((ch["route"] == "depicted") & ~np.isnan(ident_day)
                      & (ident_day >= start) & (ident_day < end))
    out["depicted_identified_per_year"] = float(depicted_found.sum()) / years

    cases = t["cases"]
    new = (cases["cohort"] == "new") & (cases["referral_day"] >= start)
    warrant = np.asarray(cases["warrant_day"], dtype=float)
    warranted = new & ~np.isnan(warrant)
    warranted_ids = set(np.asarray(cases["case_id"][warranted]).tolist())
    contact = ch["route"] == "contact"
    n_contact = sum(1 for c in np.asarray(ch["case_id"][contact]).tolist() if c in warranted_ids)
    out["contact_children_per_warrant"] = (n_contact / warranted.sum() if warranted.any()
                                           else math.nan)
    out["warrants_per_referral"] = float(warranted.sum()) / max(int(new.sum()), 1)

    target_days = dict(zip(RISK_LEVELS,
                           scenario.policies.enforcement_target_days.values_in_order(), strict=True))
    graded = np.asarray(cases["graded_risk"][new]).astype(str)
    took = warrant[new] - np.asarray(cases["referral_day"][new], dtype=float)
    age = end - np.asarray(cases["referral_day"][new], dtype=float)
    target = np.asarray([target_days[g] for g in graded], dtype=float)
    done = ~np.isnan(took)
    decided = done | (age > target)
    met = done & (took <= target)
    for key, levels in (("very_high", {"very_high"}), ("lower", {"high", "medium", "low"})):
        sel = decided & np.isin(graded, list(levels))
        out[f"enforcement_within_target_{key}"] = float(met[sel].mean()) if sel.any() else math.nan
    return out


def _task(args: tuple[Scenario, int, int]) -> tuple[int, dict[str, float]]:
    scenario, replication, seed = args
    return replication, calibration_values(scenario, replication, seed)


def _fmt(value: float, kind: str) -> str:
    if math.isnan(value):
        return "n/a"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "float2":
        return f"{value:.2f}"
    return f"{value:.1f}"


def _cell(est: Estimate, kind: str) -> str:
    if math.isnan(est.ci_low):
        return _fmt(est.mean, kind)
    return f"{_fmt(est.mean, kind)} [{_fmt(est.ci_low, kind)}, {_fmt(est.ci_high, kind)}]"


def main(argv: list[str] | None = None) -> int:
    """Run the calibration replications and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20, help="replications (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: the scenario's)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per CPU, at most --reps)")
    parser.add_argument("--scenario", default=str(DEFAULT_SCENARIO), help="scenario YAML file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted key, e.g. staff.examiners.headcount=44 (repeatable)")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)

    scenario = load_scenario(args.scenario)
    if overrides:
        scenario = with_overrides(scenario, overrides)
    seed = scenario.run.seed if args.seed is None else args.seed
    workers = min(args.workers or available_cpus(), args.reps)
    backend = SerialBackend() if workers == 1 else ProcessBackend(workers)
    t0 = time.perf_counter()
    results = dict(backend.map_unordered(_task, [(scenario, i, seed) for i in range(args.reps)]))
    wall = time.perf_counter() - t0
    reps = [results[i] for i in sorted(results)]

    changed = "".join(f", {k}={v}" for k, v in overrides.items())
    print(f"Calibration of `{scenario.name}` ({args.scenario}{changed}): {args.reps} replications, "
          f"seed {seed}, {workers} worker(s), {wall:.0f} s wall; {dt.date.today().isoformat()}, "
          f"{platform.node() or 'unknown host'} ({platform.machine()}, Python "
          f"{platform.python_version()}).")
    print("Simulated: mean over replications [Student-t 95% CI].\n")
    print("| target | source | published | simulated mean [95% CI] |")
    print("|---|---|---|---|")
    for key, label, source, published, kind in ROWS:
        bounds = (0.0, 1.0) if kind == "pct" else (0.0, math.inf)
        est = mean_ci([r[key] for r in reps], 0.95, bounds)
        print(f"| {label} | {source} | {published} | {_cell(est, kind)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
