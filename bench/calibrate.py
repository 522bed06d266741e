"""Calibration check: the Met baseline against the public figures it should reproduce.

  .venv/bin/python bench/calibrate.py [--reps N] [--years Y] [--seed S] [--workers W]
                                      [--scenario FILE] [--set KEY=VALUE ...]

Runs the scenario (default ``scenarios/met-baseline.yaml``) over its first ``Y`` years
(default 1: the published figures are snapshots of "today", and the first year of a
longer run is the same year, event for event) for ``N`` replications on local worker
processes and prints a Markdown table: each target, its source ID (``docs/sources.md``),
the published value with the tolerance the calibration aims for, and the simulated mean
over replications with a Student-t 95% confidence interval:

- share of lab exhibits (IIOC and other crime's) examined after <= 3 months / 3-12
  months / > 12 months, against the Met's 2020 FOI figures 60% / 39% / 1% [S7], within
  5 points; the IIOC exhibits' own shares are reported beside them;
- devices waiting for the lab at the start and at the end ([S7]: roughly flat in 2019-20);
- warrants per referral against 68 of ~202 in four weeks of 2020 [S21], within 0.05;
- enforcement within the KIRAT target time for each graded level, against HMICFRS's
  "very high usually met, the others often missed" [S4];
- depicted (first-generation) children identified per year against the Met's 22 in
  2019 [S21];
- in-contact children per warrant against 0.5-1.7 safeguarded per warrant [S29][S21];
- the wait for verification and upload to CAID ("concerning delays" [S1]; no figure).

The numbers are computed in the worker processes from each replication's metrics and
tables; only a small dict per replication comes back. ``--set staff.examiners.headcount=44``
(dotted keys, YAML values, repeatable) runs a sensitivity variant through
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
from sim.config import Scenario, load_scenario, with_overrides  # noqa: E402
from sim.experiment.backends import ProcessBackend, SerialBackend, available_cpus  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402

DEFAULT_SCENARIO = ROOT / "scenarios" / "met-baseline.yaml"
YEAR = 365.25

#: (key, target, source, published value and aim, format: pct / int / float / float2)
ROWS: list[tuple[str, str, str, str, str]] = [
    ("lab_all_examined_within_90d_share", "Lab exhibits (all crime) examined within 3 months",
     "[S7]", "60% (aim: 55-65%)", "pct"),
    ("lab_all_examined_90_365d_share", "... after 3-12 months", "[S7]", "39% (aim: 34-44%)",
     "pct"),
    ("lab_all_examined_over_365d_share", "... after more than 12 months", "[S7]",
     "1% (aim: 0-6%)", "pct"),
    ("lab_examined_within_90d_share", "IIOC lab exhibits examined within 3 months", "-",
     "(not published; reported)", "pct"),
    ("lab_waiting_start", "Exhibits waiting for the lab, day 0 (input)", "[S7] DERIVED",
     "~3 months of arrivals", "int"),
    ("lab_waiting_end", "... at the end of the period", "[S7]",
     "roughly flat in 2019-20", "int"),
    ("referrals_per_year", "Referrals per year", "[S21]", "~2,600 (input)", "int"),
    ("warrants_per_referral", "Warrants per referral", "[S21]",
     "0.34, 68 of ~202 in 4 weeks of 2020 (aim: 0.29-0.39)", "float2"),
    ("enforcement_within_target_very_high_share", "Actioned within target: graded very high "
     "(1 day)", "[S4]", "usually met", "pct"),
    ("enforcement_within_target_high_share", "... graded high (7 days)", "[S4]", "often missed",
     "pct"),
    ("enforcement_within_target_medium_share", "... graded medium (14 days)", "[S4]",
     "often missed", "pct"),
    ("enforcement_within_target_low_share", "... graded low (30 days)", "[S4]", "often missed",
     "pct"),
    ("depicted_identified_per_year", "Depicted children identified per year", "[S21]",
     "22 (Met, 2019)", "float"),
    ("contact_children_per_warrant", "In-contact children per warrant", "[S29][S21] DERIVED",
     "0.5-1.7 safeguarded per warrant", "float2"),
    ("upload_wait_median_days", "Median wait for verification and upload to CAID (days)",
     "[S1][S4]", "\"concerning delays\" (no figure)", "float"),
    ("backlog_upload_end", "Devices waiting for verification and upload, end", "[S1]",
     "(no figure)", "int"),
    ("children_examination_per_year", "Children known only from devices, per year", "[S32]",
     "(assumption: ~0.15 per referral)", "float"),
    ("identified_examination_within_365d_share", "... identified within a year", "-",
     "(model output)", "pct"),
]


def calibration_values(scenario: Scenario, replication: int, seed: int) -> dict[str, float]:
    """Run one replication and return every calibration quantity of :data:`ROWS`."""
    records = run_replication(scenario, replication, seed)
    metrics = replication_metrics(records, scenario).metrics
    start, end = records.window
    years = (end - start) / YEAR
    t = records.tables
    out = {key: metrics[key] for key, *_ in ROWS if key in metrics}
    out["referrals_per_year"] = metrics["cases_referred"] / years
    out["children_examination_per_year"] = metrics["children_examination"] / years
    ts = t["stage_timeseries"]
    lab = ts["stage"] == "lab_examination"
    days = np.asarray(ts["day"][lab], dtype=float)
    waiting = np.asarray(ts["waiting"][lab], dtype=float)
    out["lab_waiting_start"] = float(waiting[np.argmin(days)])
    out["lab_waiting_end"] = float(records.conservation["lab_examination"]["waiting"])
    cases = t["cases"]
    ch = t["children"]
    new = (cases["cohort"] == "new") & (cases["referral_day"] >= start)
    warranted = new & (cases["action"] == "warrant") & ~np.isnan(cases["warrant_day"])
    ids = set(np.asarray(cases["case_id"][warranted]).tolist())
    contact = ch["kind"] == "contact"
    n_contact = sum(1 for c in np.asarray(ch["case_id"][contact]).tolist() if c in ids)
    out["contact_children_per_warrant"] = n_contact / len(ids) if ids else math.nan
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
    parser.add_argument("--years", type=float, default=1.0,
                        help="years of the run to simulate (default 1; the scenario's own: 0)")
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
    if args.years > 0:
        overrides.setdefault("run.horizon_years", args.years)
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
