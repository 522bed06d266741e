"""The ``fbsim`` command line: run, validate and check scenarios.

Only this module reads ``argv`` or prints. User mistakes (a bad scenario, a bad
option) are reported as plain messages with exit status 2, never a traceback.
Exit status: 0 success, 1 internal error, 2 bad input, 3 ``check`` flagged a stage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from sim.config import ScenarioError, load_scenario
from sim.config.schema import Scenario

DEFAULT_SCENARIO = Path("scenarios") / "met-baseline.yaml"
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CHECK_FLAGGED = 3


#: Thread-count settings of the BLAS libraries numpy may be built with. fbsim never
#: uses BLAS: a replication is single-threaded, and replications run in parallel as
#: processes. Yet numpy's OpenBLAS starts a pool of threads when numpy is imported,
#: which costs every run and worker process tens of milliseconds on a small machine
#: (``bench/RESULTS.md``) and oversubscribes the cores when several workers do it.
BLAS_THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Ask numpy's BLAS for one thread, where the user has not chosen a number.

    Takes effect only before numpy is first imported in this process, and in the
    worker processes it starts (which inherit the environment).
    """
    for name in BLAS_THREAD_SETTINGS:
        os.environ.setdefault(name, "1")


def freeze_startup_heap() -> bool:
    """Exempt every object made so far from garbage collection; True if this call did it.

    Called once start-up is over (modules and classes imported, the scenario validated).
    Those objects live until the process ends, yet every full collection would scan them
    again, and the interpreter's last collection at exit spends tens of milliseconds on
    them (``bench/RESULTS.md``). :func:`gc.freeze` moves them to a permanent generation
    that no collection visits; objects made afterwards are collected as usual. Nothing
    is done (False) if some objects were already frozen, by the user or an earlier call.
    """
    if gc.get_freeze_count():
        return False
    gc.freeze()
    return True


class UserError(Exception):
    """A mistake in what the user asked for; printed without a traceback."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``, with a plain message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fbsim``."""
    parser = argparse.ArgumentParser(
        prog="fbsim",
        description="Simulate the police forensic backlog for online child-abuse investigations "
                    "and estimate the time until children at risk are identified.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario and write results",
                         description="Run replications of a scenario; print headline results "
                                     "with 95%% confidence intervals and write tables and plots.")
    run.add_argument("scenario", nargs="?", default=None,
                     help=f"scenario YAML file (default: {DEFAULT_SCENARIO})")
    run.add_argument("--reps", type=_positive_int, help="replications (default: the scenario's)")
    run.add_argument("--seed", type=_non_negative_int, help="base seed (default: the scenario's)")
    run.add_argument("--workers", type=_positive_int,
                     help="parallel worker processes (default: one per CPU, at most --reps)")
    run.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                     help="where replications run (default: local processes)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://host:8786 (implies --backend dask)")
    run.add_argument("--out", type=Path, help="results folder (default: results/<scenario name>)")
    run.add_argument("--tables", choices=("all", "none"), default="all",
                     help="write per-replication tables (default: all)")
    run.add_argument("--format", choices=("csv", "parquet"), default="csv",
                     help="table format (parquet needs the 'parquet' extra)")
    run.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    comp = sub.add_parser("compare", help="compare scenarios on common random numbers",
                          description="Run a base scenario and options with the same seed and "
                                      "replications; print paired differences (option - base) "
                                      "with 95%% confidence intervals.")
    comp.add_argument("base", type=Path, help="the base scenario")
    comp.add_argument("options", nargs="+", type=Path, help="scenarios to compare with the base")
    comp.add_argument("--reps", type=_positive_int, help="replications (default: the base's)")
    comp.add_argument("--seed", type=_non_negative_int, help="base seed (default: the base's)")
    comp.add_argument("--workers", type=_positive_int, help="parallel worker processes")
    comp.add_argument("--metrics", nargs="+", metavar="NAME",
                      help="metrics to show (default: the headline ones)")

    check = sub.add_parser("check", help="check a scenario against queueing theory",
                           description="Run a few replications and compare each stage's simulated "
                                       "waits with its queueing approximation (M/M/c, or M/G/c by "
                                       "Allen-Cunneen), plus a Little's-law check; flags large "
                                       "disagreements and unstable stages.")
    check.add_argument("scenario", type=Path, help="scenario YAML file")
    check.add_argument("--reps", type=_positive_int, default=5, help="replications (default: 5)")
    check.add_argument("--seed", type=_non_negative_int, help="base seed (default: the scenario's)")
    check.add_argument("--workers", type=_positive_int, help="parallel worker processes")
    check.add_argument("--tolerance", type=float, default=0.25,
                       help="relative difference of mean waits flagged (default: 0.25)")

    validate = sub.add_parser("validate", help="check scenario files without running them",
                              description="Validate scenario files and report each stage's "
                                          "traffic intensity (offered load / capacity).")
    validate.add_argument("files", nargs="+", type=Path, help="scenario YAML files")
    validate.add_argument("--strict", action="store_true",
                          help="exit 2 when a stage is overloaded (rho >= 1)")
    return parser


def _progress(stream: TextIO, t0: float):  # type: ignore[no-untyped-def]
    tty = stream.isatty()
    last_tenth = [-1]

    def report(_summary: object, done: int, total: int) -> None:
        elapsed = time.perf_counter() - t0
        if tty:
            width = 30
            filled = int(width * done / total)
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"replications, {elapsed:.1f} s")
            if done == total:
                stream.write("\n")
            stream.flush()
        else:
            tenth = int(10 * done / total)
            if tenth != last_tenth[0]:
                last_tenth[0] = tenth
                print(f"{done}/{total} replications done ({elapsed:.1f} s)", file=stream)

    return report


def _load(path: Path) -> Scenario:
    if not path.exists():
        raise UserError(f"{path}: scenario file not found")
    return load_scenario(path)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim run``."""
    from sim.experiment import make_backend, run_experiment
    from sim.experiment.backends import available_cpus
    from sim.results.folder import ResultsFolderError, StagedFolder, check_writable, choose_out
    from sim.results.provenance import host_facts_later, manifest
    from sim.results.summary import estimates_table, write_run_outputs

    path = Path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    if args.scenario is None and not path.exists():
        raise UserError(f"no scenario given and the default {path} is not here; run from the "
                        f"project folder or name a scenario file")
    scenario = _load(path)
    reps = args.reps or scenario.run.replications
    seed = scenario.run.seed if args.seed is None else args.seed
    backend_name = "dask" if args.scheduler else args.backend
    workers = args.workers or max(1, min(available_cpus(), reps))
    if args.format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("--format parquet needs pyarrow: pip install "
                            "'forensic-backlog-sim[parquet]'") from None
    try:
        backend = make_backend(backend_name, workers, args.scheduler)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    default_out = Path("results") / scenario.name
    try:
        if args.out is not None:
            out_dir: Path = args.out
            check_writable(out_dir)
        else:
            out_dir = choose_out(default_out)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    if out_dir != (args.out or default_out):
        print(f"note: {default_out} holds files fbsim did not write, so results go to "
              f"{out_dir}", file=err)
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    args.started()
    print(f"fbsim run: {scenario.name} ({path}), {reps} replications, seed {seed}, "
          f"{backend.name} x{backend.workers}", file=out)
    t0 = time.perf_counter()
    try:
        with StagedFolder(out_dir) as staging:
            result = run_experiment(
                scenario, reps, seed, backend,
                table_dir=staging / "tables" if args.tables == "all" else None,
                table_format=args.format,
                on_result=None if args.quiet else _progress(err, t0))
            meta = manifest(scenario, seed, reps, time.perf_counter() - t0, backend.name,
                            backend.workers, str(path), started,
                            {"events": sum(r.events for r in result.replications),
                             "tables": args.tables, "table_format": args.format}, host)
            write_run_outputs(staging, result, meta, plots=not args.no_plots)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    rows = estimates_table(result.estimates())
    widths = [max(len(r[i]) for r in [*rows, ("metric", "mean", "95% CI", "unit")])
              for i in range(4)]
    header = ("metric", "mean", "95% CI", "unit")
    print("", file=out)
    for row in (header, *rows):
        print("  ".join(c.ljust(w) if i != 1 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))), file=out)
    print(f"\nResults in {out_dir}/ (summary.json, manifest.json, tables/, *.png); "
          f"{time.perf_counter() - t0:.1f} s", file=out)
    return EXIT_OK


HEADLINE = ("time_to_identify_median_days", "time_to_identify_p90_days",
            "identified_within_30d_share", "time_to_safeguard_median_days", "child_days_at_risk",
            "child_days_at_risk_contact",
            "lab_wait_median_days", "backlog_devices_end", "cost_total_gbp")


def cmd_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim compare``."""
    from sim.analysis.metrics import METRICS
    from sim.experiment import make_backend
    from sim.experiment.backends import available_cpus
    from sim.experiment.compare import compare

    base = _load(args.base)
    options = [_load(p) for p in args.options]
    names = args.metrics or list(HEADLINE)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    reps = args.reps or base.run.replications
    seed = base.run.seed if args.seed is None else args.seed
    backend = make_backend("processes", args.workers or max(1, min(available_cpus(), reps)))
    if reps < 2:
        raise UserError("compare needs at least 2 replications for confidence intervals")
    print(f"fbsim compare: base {base.name}, {reps} replications, seed {seed} "
          f"(common random numbers)", file=out)
    for option in options:
        comparison = compare(base, option, reps, seed, backend)
        diffs = comparison.differences()
        print(f"\n{option.name} - {base.name}", file=out)
        rows = [("metric", "base", option.name, "difference", "95% CI of difference", "")]
        for name in names:
            d = diffs[name]
            rows.append((name, _fmt(d.base.mean), _fmt(d.option.mean), _fmt(d.difference.mean),
                         f"[{_fmt(d.difference.ci_low)}, {_fmt(d.difference.ci_high)}]",
                         "*" if d.significant else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                  file=out)
        ratio = comparison.child_days_saved_per_million_gbp()
        cost = diffs["cost_total_gbp"]
        if cost.difference.mean != 0 and not math.isnan(ratio.value):
            ci = ("" if math.isnan(ratio.ci_low)
                  else f", 95% CI [{_fmt(ratio.ci_low)}, {_fmt(ratio.ci_high)}]")
            print(f"extra cost {_fmt(cost.difference.mean / 1e6)} £m; child-days at risk saved "
                  f"per £1m: {_fmt(ratio.value)}{ci}", file=out)
    print("\n* the interval excludes zero", file=out)
    return EXIT_OK


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:,.3f}" if abs(x) < 10 else f"{x:,.1f}"


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim check``: exit 0 when no stage is flagged, 3 when some are."""
    from functools import partial

    from sim.analysis.check import check_scenario
    from sim.experiment import make_backend
    from sim.experiment.backends import available_cpus
    from sim.model.replication import run_replication

    scenario = _load(args.scenario)
    if not 0 < args.tolerance < 10:
        raise UserError(f"--tolerance must be a relative difference in (0, 10), got {args.tolerance}")
    seed = scenario.run.seed if args.seed is None else args.seed
    backend = make_backend("processes", args.workers or max(1, min(available_cpus(), args.reps)))
    print(f"fbsim check: {scenario.name}, {args.reps} replications, seed {seed}", file=out)
    records = sorted(backend.map_unordered(partial(run_replication, scenario, seed=seed),
                                           range(args.reps)),
                     key=lambda r: r.replication)
    report = check_scenario(scenario, records, tolerance=args.tolerance)
    print(report.to_text(), file=out)
    return EXIT_OK if report.ok else EXIT_CHECK_FLAGGED


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim validate``."""
    from sim.analysis.load import offered_load

    status = EXIT_OK
    for path in args.files:
        try:
            scenario = _load(path)
        except (ScenarioError, UserError) as exc:
            _print_error(exc, err)
            status = EXIT_BAD_INPUT
            continue
        end_day = scenario.run.end_day
        print(f"{path}: valid ({scenario.name})", file=out)
        print("  traffic intensity rho = offered work / staff capacity (at the start; 'at end' "
              "with demand growth, head-count as at the start)", file=out)
        print(f"  {'stage':<22} {'pool':<16} {'arrivals/day':>12} {'work h/item':>11} "
              f"{'staff':>6} {'rho':>6} {'pool rho':>8} {'at end':>7}", file=out)
        for row, last in zip(offered_load(scenario), offered_load(scenario, end_day), strict=True):
            flag = ""
            if row.pool is not None and max(row.rho_pool, last.rho_pool) >= 1.0:
                when = "from the start" if row.rho_pool >= 1.0 else "by the end of the horizon"
                flag = f"  WARNING: overloaded (rho >= 1) {when}: this backlog can only grow"
                if args.strict:
                    status = EXIT_BAD_INPUT
            rho = "delay" if row.pool is None else _fmt_rho(row.rho_stage)
            pool_rho = "" if row.pool is None else _fmt_rho(row.rho_pool)
            end_rho = "" if row.pool is None else _fmt_rho(last.rho_pool)
            print(f"  {row.stage:<22} {row.pool or '-':<16} {row.arrivals_per_day:>12.2f} "
                  f"{row.work_hours_mean:>11.2f} {row.servers:>6} {rho:>6} {pool_rho:>8} "
                  f"{end_rho:>7}{flag}", file=out)
    return status


def _fmt_rho(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3f}"


def _print_error(exc: BaseException, err: TextIO) -> None:
    if isinstance(exc, ScenarioError):
        noun = "problem" if len(exc.problems) == 1 else "problems"
        print(f"error: the scenario has {len(exc.problems)} {noun}:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
    else:
        print(f"error: {exc}", file=err)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None, *, exiting: bool = False) -> int:
    """The ``fbsim`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: the process's own).
    out, err : text stream, optional
        Where results and messages go (default: standard output and error).
    exiting : bool
        True when the process ends after this call (:func:`sim.__main__.entry`): objects
        frozen at the end of start-up (:func:`freeze_startup_heap`) then stay frozen,
        which spares the interpreter's last collection, and a garbage collector paused
        for start-up is resumed there. False (a call from a notebook or a test)
        unfreezes them before returning and leaves the collector as it is.
    """
    one_blas_thread()
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    commands = {"run": cmd_run, "validate": cmd_validate, "compare": cmd_compare,
                "check": cmd_check}
    froze = [False]
    resume_gc = exiting and not gc.isenabled()  # paused by entry() for start-up

    def started() -> None:
        froze[0] = freeze_startup_heap()
        if resume_gc:
            gc.enable()

    args.started = started
    if args.command != "run":
        started()  # the other commands have nothing to gain from waiting
    try:
        return commands[args.command](args, out, err)
    except (ScenarioError, UserError) as exc:
        _print_error(exc, err)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ninterrupted: no results were written (any previous results are untouched)",
              file=err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n(run with --debug for a traceback; "
              f"please report it)", file=err)
        return EXIT_INTERNAL
    finally:
        if froze[0] and not exiting:
            gc.unfreeze()
        if resume_gc:
            gc.enable()  # start-up failed before it was over


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
