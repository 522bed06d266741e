"""``fbsim run``: replications of one scenario, written to a results folder."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sim.cli.common import (
    DEFAULT_SCENARIO,
    ENVIRONMENT_ERRNOS,
    EXIT_OK,
    UserError,
    can_encode,
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
from sim.cli.resuming import (
    add_resume_argument,
    restore_replications,
    results_folder,
    resume_command,
    resuming_line,
    stored_settings_for,
    write_failed,
)
from sim.cli.warm_up import END_OF_RUN_MODULES, warm_up
from sim.forkserver import available_cpus, start_early


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
    add_resume_argument(run, "run")
    run.add_argument("--tables", choices=("standard", "full", "all", "none"),
                     help="per-replication tables: 'standard' (default: cases, devices, "
                          "children, time series), 'full' (also the per-visit event log "
                          "stage_visits, ten times the size; 'all' is the same) or 'none'")
    run.add_argument("--format", choices=("auto", "parquet", "csv"),
                     help="table format (default: parquet where pyarrow is installed, "
                          "else csv)")
    run.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def on_result(report: Callable[[Any, int, int], None] | None,
              warm: Callable[[], object] | None, workers: int
              ) -> Callable[[Any, int, int], None] | None:
    """The progress report, which also starts ``warm`` once a worker has no task left."""
    if warm is None:
        return report

    def done(summary: Any, finished: int, total: int) -> None:
        if report is not None:
            report(summary, finished, total)
        if total - finished < workers:  # the last replications are running
            warm()

    return done


def _on_local_processes(args: argparse.Namespace) -> bool:
    """Whether the run will most likely start local worker processes."""
    reps = args.reps
    return (not args.scheduler and args.backend == "processes" and args.workers != 1
            and not (isinstance(reps, int) and reps < 2) and available_cpus() > 1)


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim run``."""
    if _on_local_processes(args):
        # The workers' fork server imports the model while this process reads the
        # scenario and prepares its folder (sim.forkserver).
        start_early(figures=not args.no_plots)
    from sim.config.loader import scenario_hash
    from sim.experiment import make_backend, run_experiment
    from sim.experiment.autoreps import (
        DEFAULT_MIN_BATCH,
        AutoReplications,
        run_experiment_auto,
    )
    from sim.results.folder import (
        ResultsFolderError,
        StagedFolder,
    )
    from sim.results.headline import headline, render_text
    from sim.results.journal import Journal, Summaries
    from sim.results.provenance import host_facts_later, manifest, package_version
    from sim.results.resume import (
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
    stored = stored_settings_for(args, "run")
    restore_replications(args, stored)
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
    out_dir = results_folder(args, Path("results") / scenario.name, settings, err)
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
    args.resume_command = resume_command(["run", path], out_dir)
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
                print(resuming_line(staging, len(finished), reps if rule is None else None,
                                    "replications"), file=out)
            report = on_result(None if args.quiet else progress(err, t0),
                               warm_up(END_OF_RUN_MODULES) if table_format == "parquet"
                               else None, backend.workers)
            done = Summaries(finished)  # each read from the journal as the run takes it
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
            extra: dict[str, Any] = {"events": int(result.store.events().sum()),
                                     "tables": table_set, "table_format": table_format}
            if rule is not None:
                extra["replication_control"] = result.extra["replication_control"]
            if finished:
                extra["resumed"] = {"replications_reused": len(finished)}
            meta = still_unfinished(manifest(scenario, seed, reps, time.perf_counter() - t0,
                                             backend.name, backend.workers, str(path), started,
                                             extra, host), settings)
            # The run's CPUs draw the figures too, each in a worker of its own.
            plot_workers = backend.workers if backend.name == "processes" else 1
            write_run_outputs(staging, result, meta, plots=not args.no_plots, fmt=table_format,
                              plot_workers=plot_workers)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise write_failed(exc, out_dir, staged, args.resume_command) from None
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
