"""``fbsim sweep``: one scenario at many lever values, on common random numbers."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sim.cli.common import (
    ENVIRONMENT_ERRNOS,
    EXIT_OK,
    UserError,
    fmt_number,
    load,
    positive_int,
    progress,
    seed_int,
    workers_int,
)
from sim.cli.replication_args import (
    add_replication_arguments,
    check_metric_names,
    describe_outcome,
    precision_rule,
)
from sim.cli.resuming import (
    add_resume_argument,
    restore,
    restore_replications,
    results_folder,
    resume_command,
    resuming_line,
    stored_settings_for,
    write_failed,
)

if TYPE_CHECKING:
    from sim.experiment.autoreps import AutoReplications
    from sim.experiment.sweep import SweepResult



def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    p = sub.add_parser(
        "sweep", help="run a scenario at many values of one or more levers",
        description="Run a scenario at every point of a design over one or more levers "
                    "(--vary PATH=SPEC), every point on the same seed and replications "
                    "(common random numbers); write a table of every metric per point "
                    "with 95% confidence intervals, the per-replication table and the "
                    "curves of the chosen metrics against the lever.")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--vary", action="append", metavar="PATH=SPEC",
                   help="a lever: dotted scenario path and its values, a range start:stop:step "
                        "(inclusive, e.g. staff.examiners.headcount=20:60:5) or a list "
                        "(20,30,45); for --design lhs a range lo:hi. Repeat for a grid "
                        "(required, except with --resume)")
    p.add_argument("--design", choices=("grid", "lhs"), default=None,
                   help="grid: every combination (default); lhs: a Latin hypercube of "
                        "--samples points over the ranges")
    p.add_argument("--samples", type=positive_int, help="points of an LHS design")
    add_replication_arguments(p, "the scenario's run.replications")
    p.add_argument("--metrics", nargs="+", metavar="NAME",
                   help="metrics to plot, print and (with --reps auto) control (default: "
                        "lab_wait_p90_days backlog_devices_end identified_examination_within_365d_share "
                        "days_at_risk_first_year_examination_mean); the tables have every metric")
    p.add_argument("--target", action="append", default=None, metavar="METRIC=VALUE",
                   help="a target line on a metric's curve, e.g. lab_wait_p90_days=90 "
                        "(shares as fractions: identified_contact_within_90d_share=0.8)")
    p.add_argument("--seed", type=seed_int, help="base seed (default: the scenario's)")
    p.add_argument("--workers", type=workers_int,
                   help="parallel worker processes (default: one per CPU)")
    p.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                   help="where replications run (default: local processes)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (implies --backend dask)")
    p.add_argument("--out", type=Path,
                   help="results folder (default: results/<scenario name>-sweep)")
    p.add_argument("--format", choices=("auto", "parquet", "csv"), default=None,
                   help="table format (default: parquet where pyarrow is installed, else csv)")
    add_resume_argument(p, "sweep")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG curves")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_metrics(names: list[str]) -> None:
    """Refuse unknown metric names, suggesting the nearest."""
    check_metric_names(names, "--metrics/--target")


def parse_targets(texts: list[str] | None) -> dict[str, float]:
    """``METRIC=VALUE`` options as a mapping."""
    targets: dict[str, float] = {}
    for text in texts or []:
        name, sep, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number):
            raise UserError(f"--target {text}: expected METRIC=VALUE, e.g. lab_wait_p90_days=90")
        targets[name.strip()] = number
    check_metrics(list(targets))
    return targets


def render_table(result: SweepResult, metrics: list[str]) -> str:
    """The chosen metrics per point: mean +/- half-width of the 95% interval."""
    from sim.experiment.sweep import t_half_width

    rows = [[*result.levers, *metrics]]
    for point, est in zip(result.points, result.estimates(), strict=True):
        cells = [f"{v:g}" if isinstance(v, float) else str(v) for v in point.values()]
        for name in metrics:
            e = est[name]
            hw = t_half_width(e)
            half = "" if math.isnan(hw) else f" ± {fmt_number(hw)}"
            cells.append(f"{fmt_number(e.mean)}{half}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def point_key(point: int, scenario_sha256: str) -> str:
    """The journal key of a sweep point: its index and its scenario's hash."""
    return f"point {point} {scenario_sha256}"


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim sweep``."""
    from sim.config.loader import scenario_hash
    from sim.experiment import make_backend
    from sim.experiment.autoreps import DEFAULT_METRICS, DEFAULT_MIN_BATCH
    from sim.experiment.backends import available_cpus
    from sim.experiment.design import DesignError, design_points, parse_levers, point_scenarios
    from sim.experiment.sweep import (
        PointReplication,
        as_summary,
        from_summary,
        run_sweep,
        run_sweep_auto,
    )
    from sim.results.folder import ResultsFolderError, StagedFolder
    from sim.results.journal import Journal
    from sim.results.provenance import host_facts_later, manifest, package_version
    from sim.results.resume import still_unfinished, write_start_manifest
    from sim.results.sweep_folder import write_sweep_outputs
    from sim.results.tables import default_format

    stored = stored_settings_for(args, "sweep")
    restore_replications(args, stored)
    restore(args, stored, {"vary": "vary", "design": "design", "samples": "samples",
                           "seed": "seed", "metrics": "metrics", "format": "table_format"})
    if args.target is None and stored.get("targets"):
        args.target = [f"{k}={v!r}" for k, v in stored["targets"].items()]
    if not args.vary:
        raise UserError("fbsim sweep needs at least one lever: --vary PATH=SPEC, e.g. "
                        "--vary staff.examiners.headcount=20:60:5")
    design = args.design or "grid"
    scenario = load(args.scenario)
    seed = scenario.run.seed if args.seed is None else args.seed
    metrics = list(dict.fromkeys(args.metrics or DEFAULT_METRICS))
    check_metrics(metrics)
    targets = parse_targets(args.target)
    metrics += [m for m in targets if m not in metrics]
    try:
        levers = parse_levers(args.vary, design)
        points = design_points(levers, design, args.samples, seed, scenario)
        scenarios = point_scenarios(scenario, points)
    except DesignError as exc:
        raise UserError(str(exc)) from None
    backend_name = "dask" if args.scheduler else args.backend
    workers = args.workers or available_cpus()
    rule = precision_rule(args, min_batch=DEFAULT_MIN_BATCH)
    reps = args.reps if rule is None else rule.initial
    reps = reps or scenario.run.replications
    if rule is None and reps < 2:
        print("warning: with 1 replication per point there are no confidence intervals",
              file=err)
    table_format = default_format() if args.format in (None, "auto") else args.format
    if table_format == "parquet" and default_format() != "parquet":
        raise UserError("--format parquet needs pyarrow: pip install pyarrow (or use --format csv)")
    keys = [point_key(i, scenario_hash(s)) for i, s in enumerate(scenarios)]
    settings = {"command": "sweep", "scenario_sha256": scenario_hash(scenario),
                "points_sha256": [k.rsplit(" ", 1)[1] for k in keys],
                "vary": list(args.vary), "design": design, "samples": args.samples,
                "seed": seed,
                "replications": reps if rule is None else {
                    "auto": True, "precision": rule.precision, "initial": rule.initial,
                    "max_reps": rule.max_reps, "metrics": metrics},
                "metrics": metrics, "targets": targets, "table_format": table_format,
                "package_version": package_version()}
    cap = reps if rule is None else rule.max_reps
    try:
        backend = make_backend(backend_name, workers, args.scheduler)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    out_dir = results_folder(args, Path("results") / f"{scenario.name}-sweep", settings, err)
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    how_many = (f"replications added until +/-{rule.precision:.1%} (at most {rule.max_reps})"
                if rule is not None else f"{reps} replications each")
    print(f"fbsim sweep: {scenario.name} ({args.scenario}), {len(points)} points "
          f"({design}), {how_many}, seed {seed}, {backend.name} x{backend.workers}",
          file=out)
    t0 = time.perf_counter()
    report = None if args.quiet else progress(err, t0, "runs", eta=True)

    def checked(state: AutoReplications) -> None:
        if not args.quiet:
            print(f"  after {state.replications} replications per point: "
                  f"{describe_outcome(state)}", file=err)

    # main() reports on it if interrupted, with the command that continues the sweep.
    args.staged = staged = StagedFolder(out_dir, resumable=True, resume=args.resume is not None)
    args.resume_command = resume_command(["sweep", args.scenario], out_dir)
    try:
        with staged as staging, Journal(staging) as journal:
            finished = {i: {r: from_summary(i, e.summary)
                            for r, e in journal.finished(key).items() if r < cap}
                        for i, key in enumerate(keys)}
            reused = sum(len(done) for done in finished.values())
            if args.resume is None:
                write_start_manifest(staging, settings, {
                    "scenario": scenario.name, "scenario_file": str(args.scenario),
                    "resume_with": args.resume_command})
            else:
                print(resuming_line(staging, reused, cap * len(points) if rule is None
                                    else None, "runs (point x replication)"), file=out)

            def record(rep: PointReplication) -> None:
                journal.append(keys[rep.point], as_summary(rep))

            if rule is None:
                result = run_sweep(scenario, points, reps, seed, backend, on_result=report,
                                   scenarios=scenarios, finished=finished, record=record)
            else:
                result = run_sweep_auto(scenario, points, seed, metrics, rule, backend,
                                        on_result=report, on_check=checked,
                                        scenarios=scenarios, finished=finished, record=record)
            result.specs = list(args.vary)
            result.design = design
            extra = {"command": "sweep", "design": design, "vary": list(args.vary),
                     "samples": args.samples, "points": len(points),
                     "runs": len(points) * result.replications,
                     "events": sum(r.events for reps_ in result.runs for r in reps_),
                     "metrics": metrics, "targets": targets,
                     "table_format": table_format,
                     "replication_control": (None if result.auto is None
                                             else result.auto.to_dict())}
            if reused:
                extra["resumed"] = {"replications_reused": reused}
            meta = still_unfinished(manifest(scenario, seed, result.replications,
                                             time.perf_counter() - t0, backend.name,
                                             backend.workers, str(args.scenario), started,
                                             extra, host), settings)
            write_sweep_outputs(staging, result, meta, metrics, targets,
                                plots=not args.no_plots, fmt=table_format)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise write_failed(exc, out_dir, staged, args.resume_command) from None
    print("", file=out)
    print(render_table(result, metrics), file=out)
    if result.auto is not None:
        print(f"\n{describe_outcome(result.auto)}.", file=out)
    print(f"\n{len(points)} points x {result.replications} replications (95% intervals, common "
          f"random numbers). Results in {out_dir}/ (sweep_points, sweep_replications, "
          f"summary.json, manifest.json{'' if args.no_plots else ', sweep_curves.png'}); "
          f"{time.perf_counter() - t0:.1f} s.", file=out)
    return EXIT_OK
