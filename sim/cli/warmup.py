"""``fbsim warmup``: suggest ``run.warmup_days`` for a steady-state study (MSER-5).

Runs the scenario (its horizon, warm-up included, sampled weekly), averages each
series of items waiting across replications and finds its MSER-5 truncation point
(:mod:`sim.analysis.warmup`). Prints the warm-up per series and the one to set; with
``--out`` writes a small results folder (summary.json, manifest.json,
warmup_series.csv, warmup.png).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sim.cli.common import (
    ENVIRONMENT_ERRNOS,
    EXIT_OK,
    UserError,
    describe_os_error,
    fmt_number,
    load,
    progress,
    replications_int,
    seed_int,
    workers_int,
)

if TYPE_CHECKING:
    from sim.analysis.warmup import SeriesWarmup
    from sim.config.schema import Scenario
    from sim.experiment.backends import Backend

#: The interval MSER-5's batches are counted in (weekly observations).
WEEK_DAYS = 7.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    p = sub.add_parser("warmup", help="suggest a warm-up period (MSER-5)",
                       description="Estimate the warm-up period of a scenario that starts "
                                   "empty: MSER-5 (White 1997) on the weekly series of items "
                                   "waiting, averaged across replications.")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--reps", type=replications_int,
                   help="replications to average (default: the scenario's)")
    p.add_argument("--seed", type=seed_int, help="base seed (default: the scenario's)")
    p.add_argument("--workers", type=workers_int, help="parallel worker processes")
    p.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                   help="where replications run (default: local processes)")
    p.add_argument("--series", nargs="+", metavar="NAME",
                   help="series to use: stage names or backlog_devices (default: every stage "
                        "where anything waits)")
    p.add_argument("--out", type=Path, help="write a results folder with the plot here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim warmup``."""
    from sim.analysis.warmup import MIN_BATCHES, replication_series, series_warmups, suggested_warmup
    from sim.config import with_overrides
    from sim.experiment import make_backend, run_experiment
    from sim.experiment.backends import available_cpus

    scenario = load(args.scenario)
    if scenario.initial_backlog.blocks():
        print(f"warning: {scenario.name} starts from an initial backlog "
              f"(initial_backlog): its start is the state the study is about, not a transient "
              f"to cut away, so a warm-up is not the right tool; the estimate below is for the "
              f"series as run", file=err)
    weeks = int(scenario.run.end_day // WEEK_DAYS)
    if weeks < 5 * MIN_BATCHES:
        raise UserError(f"{args.scenario}: the run is {scenario.run.end_day:g} days; MSER-5 "
                        f"needs at least {5 * MIN_BATCHES} weeks ({5 * MIN_BATCHES * 7} days) "
                        f"of weekly observations; lengthen run.horizon_days")
    if args.out is not None:
        from sim.results.folder import ResultsFolderError, check_writable

        try:
            check_writable(args.out)
        except ResultsFolderError as exc:
            raise UserError(str(exc)) from None
    run = with_overrides(scenario, {"run.timeseries_interval_days": WEEK_DAYS})
    reps = args.reps or scenario.run.replications
    seed = scenario.run.seed if args.seed is None else args.seed
    backend = make_backend(args.backend, args.workers or max(1, min(available_cpus(), reps)))
    print(f"fbsim warmup: {scenario.name}, {reps} replications, seed {seed}, "
          f"{scenario.run.end_day:g} days sampled weekly", file=out)
    t0 = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    result = run_experiment(run, reps, seed, backend,
                            on_result=None if args.quiet else progress(err, t0))
    try:
        days, series = replication_series(result.replications, args.series)
    except ValueError as exc:
        raise UserError(f"--series: {exc}") from None
    results = series_warmups(days, series)
    print("\nseries                     warm-up (days)  weeks  settled", file=out)
    for r in results:
        print(f"{r.series:<26} {fmt_number(r.warmup_days):>14}  {r.warmup_days / 7:5.0f}  "
              f"{'yes' if r.result.settled else 'NO'}", file=out)
    unsettled = [r.series for r in results if not r.result.settled]
    best = suggested_warmup([r for r in results if r.result.settled] or results)
    print(f"\nsuggested warm-up: {best.warmup_days:g} days ({best.warmup_days / 7:g} weeks, "
          f"from {best.series}); set\n  run:\n    warmup_days: {best.warmup_days:g}", file=out)
    if scenario.run.warmup_days:
        print(f"(the scenario has warmup_days: {scenario.run.warmup_days:g}; the series above "
              f"start at day 0, so the suggestion replaces it)", file=out)
    if unsettled:
        print(f"warning: {', '.join(unsettled)} did not settle within the run (the MSER "
              f"minimum is at the end of the first half): the backlog may only grow, or the "
              f"run is too short; no warm-up makes them stationary, so the suggestion is from "
              f"the series that settled; lengthen the horizon or check 'fbsim validate'",
              file=err)
    if args.out is not None:
        _write_folder(args, scenario, results, best, seed, reps, started, t0, backend)
        print(f"\nResults in {args.out}/ (summary.json, warmup_series.csv, warmup.png)",
              file=out)
    return EXIT_OK


def _write_folder(args: argparse.Namespace, scenario: Scenario, results: list[SeriesWarmup],
                  best: SeriesWarmup, seed: int, reps: int, started: dt.datetime, t0: float,
                  backend: Backend) -> None:
    import numpy as np
    import pandas as pd

    from sim.plots.run_plots import png_bytes, write_png
    from sim.plots.warmup import warmup_figure
    from sim.results.atomic import write_atomic, write_json
    from sim.results.folder import ResultsFolderError, StagedFolder
    from sim.results.provenance import manifest
    from sim.results.tables import csv_writer

    frame = pd.concat([pd.DataFrame({"series": r.series, "day": r.days, "waiting_mean": r.values})
                       for r in results], ignore_index=True)
    summary = {"scenario": scenario.name,
               "method": "MSER-5 (White 1997) on weekly series averaged across replications",
               "replications": reps, "seed": seed,
               "suggested_warmup_days": best.warmup_days, "from_series": best.series,
               "series": {r.series: {"warmup_days": r.warmup_days,
                                     "truncation_batches": r.result.truncation_batches,
                                     "settled": r.result.settled,
                                     "mser_min": float(np.min(r.result.statistic))}
                          for r in results}}
    args.staged = staged = StagedFolder(args.out)
    try:
        with staged as staging:
            write_json(staging / "summary.json", summary)
            write_atomic(staging / "warmup_series.csv", csv_writer(frame))
            write_png(staging / "warmup.png",
                      png_bytes(warmup_figure(results, scenario.name, reps)))
            write_json(staging / "manifest.json", manifest(
                scenario, seed, reps, time.perf_counter() - t0, backend.name,
                backend.workers, str(args.scenario), started, {"command": "warmup"}))
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise UserError(f"cannot write results to {args.out}: {describe_os_error(exc)}") from None
