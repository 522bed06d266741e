"""``fbsim run``: replications of one scenario, written to a results folder."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import time
from pathlib import Path
from typing import Any, TextIO

from sim.cli.common import (
    DEFAULT_SCENARIO,
    ENVIRONMENT_ERRNOS,
    EXIT_OK,
    UserError,
    can_encode,
    describe_os_error,
    load,
    overload_warnings,
    progress,
    seed_int,
    workers_int,
)
from sim.cli.replication_args import (
    add_replication_arguments,
    describe_outcome,
    precision_metrics,
    precision_rule,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    run = sub.add_parser("run", help="run a scenario and write results",
                         description="Run replications of a scenario; print headline results "
                                     "with 95% confidence intervals and write tables and plots.")
    run.add_argument("scenario", nargs="?", default=None,
                     help=f"scenario YAML file (default: {DEFAULT_SCENARIO})")
    add_replication_arguments(run, "the scenario's", precision_metrics=True)
    run.add_argument("--seed", type=seed_int, help="base seed (default: the scenario's)")
    run.add_argument("--workers", type=workers_int,
                     help="parallel worker processes (default: one per CPU, at most --reps)")
    run.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                     help="where replications run (default: local processes)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://host:8786 (implies --backend dask)")
    run.add_argument("--out", type=Path, help="results folder (default: results/<scenario name>)")
    run.add_argument("--resume", type=Path, metavar="DIR",
                     help="continue the run that was interrupted or killed while writing DIR "
                          "(the results folder or its DIR.incomplete folder): only the "
                          "replications it had not finished are run; the scenario and the "
                          "options that decide the results must be those it started with")
    run.add_argument("--tables", choices=("standard", "full", "all", "none"),
                     help="per-replication tables: 'standard' (default: cases, devices, "
                          "children, time series), 'full' (also the per-visit event log "
                          "stage_visits, ten times the size; 'all' is the same) or 'none'")
    run.add_argument("--format", choices=("auto", "parquet", "csv"),
                     help="table format (default: parquet where pyarrow is installed, "
                          "else csv)")
    run.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim run``."""
    from sim.config.loader import scenario_hash
    from sim.experiment import make_backend, run_experiment
    from sim.experiment.autoreps import (
        DEFAULT_MIN_BATCH,
        AutoReplications,
        run_experiment_auto,
    )
    from sim.experiment.backends import available_cpus
    from sim.results.folder import (
        ResultsFolderError,
        StagedFolder,
        check_writable,
        choose_out,
        incomplete_path,
        replications_done,
        resume_target,
    )
    from sim.results.headline import headline, render_text
    from sim.results.journal import Journal
    from sim.results.provenance import host_facts_later, manifest, package_version
    from sim.results.resume import (
        check_settings,
        recorder,
        remove_unrecorded_tables,
        still_unfinished,
        write_start_manifest,
    )
    from sim.results.summary import summary_dict, write_run_outputs
    from sim.results.tables import default_format

    path = Path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    if args.scenario is None and not path.exists():
        raise UserError(f"no scenario given and the default {path} is not here; run from the "
                        f"project folder or name a scenario file")
    scenario = load(path)
    stored = _resume_settings(args) if args.resume is not None else {}
    if isinstance(stored.get("replications"), dict) and args.reps is None:
        raise UserError(f"the run in {args.resume} chose its replications with --reps auto; "
                        f"resume it with the same --reps auto options it started with "
                        f"({_auto_options(stored['replications'])})")
    rule = precision_rule(args, min_batch=DEFAULT_MIN_BATCH)
    metrics = precision_metrics(args) if rule is not None else []
    reps = (rule.initial if rule is not None
            else args.reps or stored.get("replications") or scenario.run.replications)
    seed = args.seed if args.seed is not None else stored.get("seed", scenario.run.seed)
    backend_name = "dask" if args.scheduler else args.backend
    workers = args.workers or max(1, min(available_cpus(), reps))
    table_set = "full" if args.tables == "all" else args.tables or stored.get("tables",
                                                                             "standard")
    fmt = args.format or stored.get("table_format", "auto")
    table_format = default_format() if fmt == "auto" else fmt
    if table_format == "parquet" and default_format() != "parquet":
        raise UserError("--format parquet needs pyarrow: pip install pyarrow (or use "
                        "--format csv)")
    settings = {"command": "run", "scenario_sha256": scenario_hash(scenario), "seed": seed,
                "replications": reps if rule is None else {
                    "auto": True, "precision": rule.precision, "initial": rule.initial,
                    "max_reps": rule.max_reps, "metrics": metrics},
                "tables": table_set, "table_format": table_format,
                "package_version": package_version()}
    try:
        backend = make_backend(backend_name, workers, args.scheduler)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    default_out = Path("results") / scenario.name
    try:
        if args.resume is not None:
            out_dir: Path = resume_target(args.resume)
            check_settings(incomplete_path(out_dir), settings)
            check_writable(out_dir)
        elif args.out is not None:
            out_dir = args.out
            check_writable(out_dir)
        else:
            out_dir = choose_out(default_out)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    if args.resume is None and out_dir != (args.out or default_out):
        print(f"note: {default_out} holds files fbsim did not write, so results go to "
              f"{out_dir}", file=err)
    for line in overload_warnings(scenario):
        print(line, file=err)
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    args.started()
    how_many = (f"{reps} replications" if rule is None else
                f"replications added until +/-{rule.precision:.1%} (at most {rule.max_reps})")
    print(f"fbsim run: {scenario.name} ({path}), {how_many}, seed {seed}, "
          f"{backend.name} x{backend.workers}", file=out)
    t0 = time.perf_counter()
    # main() reports on it if interrupted, with the command that continues the run.
    args.staged = staged = StagedFolder(out_dir, resumable=True, resume=args.resume is not None)
    args.resume_command = (f"fbsim run {shlex.quote(str(path))} --resume "
                           f"{shlex.quote(str(incomplete_path(out_dir)))}")
    try:
        with staged as staging, Journal(staging) as journal:
            table_dir = staging / "tables" if table_set != "none" else None
            key = settings["scenario_sha256"]
            cap = reps if rule is None else rule.max_reps
            finished = {i: e for i, e in journal.finished(key).items() if i < cap}
            if args.resume is None:
                write_start_manifest(staging, settings, {
                    "scenario": scenario.name, "scenario_file": str(path),
                    "resume_with": args.resume_command})
            else:
                remove_unrecorded_tables(staging, finished.values())
                state = (f"{len(finished)} of {reps} replications were finished, "
                         f"{reps - len(finished)} to run" if rule is None else
                         f"{len(finished)} replications were finished; more are added "
                         f"until the precision is met")
                print(f"resuming {staging}: {state}", file=out)
            report = None if args.quiet else progress(err, t0)
            done = {i: e.summary for i, e in finished.items()}
            record = recorder(journal, key, table_dir)
            if rule is None:
                result = run_experiment(
                    scenario, reps, seed, backend, table_dir=table_dir,
                    table_format=table_format, table_set=table_set, on_result=report,
                    finished=done, record=record)
            else:
                def checked(state: AutoReplications) -> None:
                    if not args.quiet:
                        print(f"  after {state.replications} replications: "
                              f"{describe_outcome(state)}", file=err)

                result = run_experiment_auto(scenario, seed, rule, metrics, backend, report,
                                             checked, table_dir=table_dir,
                                             table_format=table_format, table_set=table_set,
                                             finished=done, record=record)
                reps = len(result.replications)
            extra: dict[str, Any] = {"events": sum(r.events for r in result.replications),
                                     "tables": table_set, "table_format": table_format}
            if rule is not None:
                extra["replication_control"] = result.extra["replication_control"]
            if finished:
                extra["resumed"] = {"replications_reused": len(finished)}
            meta = still_unfinished(manifest(scenario, seed, reps, time.perf_counter() - t0,
                                             backend.name, backend.workers, str(path), started,
                                             extra, host), settings)
            write_run_outputs(staging, result, meta, plots=not args.no_plots, fmt=table_format)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        kept = (f"; {replications_done(staged.kept_replications)} kept in {staged.staging}: "
                f"continue with: {args.resume_command}" if staged.kept else "")
        raise UserError(f"cannot write results to {out_dir}: {describe_os_error(exc)}; nothing "
                        f"was written there{kept}") from None
    fancy = can_encode(out, "↓£⁰¹²³⁴⁵⁶⁷⁸⁹")
    metrics_table = summary_dict(result)["metrics"]
    table = headline(metrics_table, reps, arrows=fancy)
    print("", file=out)
    print(render_text(table, superscripts=fancy), file=out)
    shown = sum(len(rows) for _, rows in table.groups)
    print(f"\n{shown} of {len(metrics_table)} metrics shown; every one is in summary.json, with its "
          f"label and unit.", file=out)
    if rule is not None:
        auto = result.extra["auto"]
        assert isinstance(auto, AutoReplications)
        print(f"\n{describe_outcome(auto)}.", file=out)
    print(f"\nResults in {out_dir}/ (summary.json, manifest.json, tables/, *.png); "
          f"{time.perf_counter() - t0:.1f} s. 'fbsim report {out_dir}' makes a report.", file=out)
    return EXIT_OK


def _resume_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the run to resume (``--resume``) started with; UserError if there is none."""
    from sim.results.folder import ResultsFolderError, incomplete_path, resume_target
    from sim.results.resume import stored_settings

    target = resume_target(args.resume)
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(target):
        raise UserError(f"--out {args.out} and --resume {args.resume} name different folders; "
                        f"a resumed run writes its results where it started (leave out --out)")
    staging = incomplete_path(target)
    if not staging.exists():
        finished = (target / "manifest.json").is_file()
        raise UserError(f"--resume {args.resume}: there is no unfinished run at {staging}"
                        + (f"; {target} holds a finished run (run without --resume to replace "
                           f"it)" if finished else ""))
    try:
        return stored_settings(staging)
    except ResultsFolderError as exc:
        raise UserError(f"--resume {args.resume}: {exc}") from None


def _auto_options(stored: dict[str, Any]) -> str:
    """The ``--reps auto`` options a run started with, as a command line fragment."""
    return (f"--reps auto --precision {stored.get('precision')} --max-reps "
            f"{stored.get('max_reps')} --initial-reps {stored.get('initial')} "
            f"--precision-metrics {' '.join(stored.get('metrics', []))}")
