"""``fbsim compare``: options against a base on common random numbers, into a results folder.

Every arm runs the same seed and replication indices through one backend map
(:func:`sim.experiment.compare.run_arms`). The folder (:mod:`sim.results.compare_folder`)
holds the paired differences of every metric, each arm's replications and curves, and
plots. The base and the options must agree on the run settings that decide what is
measured (:data:`sim.experiment.compare.PAIRED_RUN_SETTINGS`), unless
``--allow-different-run-settings`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sim.cli.common import (
    ENVIRONMENT_ERRNOS,
    EXIT_OK,
    UserError,
    fmt_number,
    load,
    non_negative_int,
    progress,
    workers_int,
)
from sim.cli.replication_args import (
    add_replication_arguments,
    check_metric_names,
    describe_outcome,
    precision_metrics,
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
    from sim.experiment.compare import MultiComparison

#: Longest default folder name before the options are counted instead of named.
MAX_FOLDER_NAME = 100


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    comp = sub.add_parser("compare", help="compare scenarios on common random numbers",
                          description="Run a base scenario and options with the same seed and "
                                      "replications; print paired differences (option - base) "
                                      "with 95% confidence intervals (p-values Holm-adjusted "
                                      "across several options) and write them, every arm's "
                                      "replications and plots to a results folder.")
    comp.add_argument("base", type=Path, help="the base scenario")
    comp.add_argument("options", nargs="+", type=Path, help="scenarios to compare with the base")
    add_replication_arguments(comp, "the base's", precision_metrics=True)
    comp.add_argument("--precision-floor", action="append", default=None, metavar="METRIC=VALUE",
                      help="with --reps auto: a difference in METRIC is precise enough once its "
                           "95%% half-width is within VALUE (in the metric's unit, e.g. "
                           "lab_wait_p90_days=2), whatever its mean: a difference near zero "
                           "cannot reach a relative precision")
    comp.add_argument("--seed", type=non_negative_int, help="base seed (default: the base's)")
    comp.add_argument("--workers", type=workers_int,
                      help="parallel worker processes (default: one per CPU)")
    comp.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                      help="where replications run (default: local processes)")
    comp.add_argument("--scheduler", metavar="ADDRESS",
                      help="Dask scheduler address, e.g. tcp://host:8786 (implies --backend dask)")
    comp.add_argument("--metrics", nargs="+", metavar="NAME",
                      help="metrics to show and plot (default: the headline ones; the folder "
                           "has every metric)")
    comp.add_argument("--out", type=Path,
                      help="results folder (default: results/BASE-vs-OPTION...)")
    comp.add_argument("--allow-different-run-settings", action="store_true",
                      help="compare even when the scenarios differ in start date, horizon or "
                           "warm-up (the differences then mix the change with the calendar)")
    add_resume_argument(comp, "comparison")
    comp.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    comp.add_argument("--quiet", action="store_true", help="no progress bar")


#: The metrics shown without ``--metrics``: the children by route (as the printed summary
#: of ``fbsim run``; the pooled time to identify is left out because it hides the children
#: found only on devices), the lab and upload, cost. The folder has every metric.
HEADLINE = ("days_at_risk_first_year_contact_mean", "identified_contact_within_90d_share",
            "days_at_risk_first_year_examination_mean",
            "identified_examination_within_365d_share", "identified_depicted_within_365d_share",
            "children_not_identified_end", "time_to_safeguard_median_days",
            "child_days_at_risk", "lab_wait_median_days", "lab_wait_p90_days",
            "upload_wait_p90_days", "backlog_devices_end", "cost_total_gbp")


def default_folder_name(labels: list[str]) -> str:
    """``BASE-vs-OPT1-OPT2``; ``BASE-vs-N-options`` when that would be too long."""
    name = f"{labels[0]}-vs-{'-'.join(labels[1:])}"
    if len(name) <= MAX_FOLDER_NAME:
        return name
    return f"{labels[0][:MAX_FOLDER_NAME - 20]}-vs-{len(labels) - 1}-options"


def resolve_notes(rows: list[dict[str, Any]], replications: int) -> list[str]:
    """A note for each shown difference whose interval includes zero and needs more replications.

    ``rows`` are :meth:`~sim.experiment.compare.MultiComparison.difference_rows`; the
    note gives the replications a paired t interval would need to exclude zero at the
    observed difference and SD, when that is more than were run.
    """
    notes = []
    for row in rows:
        need = row["replications_to_resolve"]
        if row["significant"] or math.isnan(need) or need <= row["replications"]:
            continue
        notes.append(f"note: to resolve {row['metric']} for {row['option']} (difference "
                     f"{fmt_number(row['difference'])}, SD {fmt_number(row['sd_difference'])}), "
                     f"about {int(need):,} replications would be needed; {replications} were run")
    return notes


def print_differences(comparison: MultiComparison, names: list[str], out: TextIO) -> list[str]:
    """Print each option's table; return the notes on differences too few replications resolve."""
    rows = comparison.difference_rows(names)
    holm = comparison.holm
    base = comparison.labels[0]
    for label, option in zip(comparison.labels[1:], comparison.options, strict=True):
        print(f"\n{label} - {base}", file=out)
        header = ["metric", "base", label, "difference", "95% CI of difference", ""]
        table: list[list[str]] = [[*header, "Holm"] if holm else header]
        for row in (r for r in rows if r["option"] == label):
            cells = [row["metric"], fmt_number(row["base_mean"]), fmt_number(row["option_mean"]),
                     fmt_number(row["difference"]),
                     f"[{fmt_number(row['ci95_low'])}, {fmt_number(row['ci95_high'])}]",
                     "*" if row["significant"] else ""]
            table.append([*cells, "*" if row["significant_holm"] else ""] if holm else cells)
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        for cells in table:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip(),
                  file=out)
        pair = comparison.pair(comparison.options.index(option))
        ratio = pair.child_days_saved_per_million_gbp()
        cost = next((r for r in comparison.difference_rows(["cost_total_gbp"])
                     if r["option"] == label), None)
        if cost is not None and cost["difference"] != 0 and not math.isnan(ratio.value):
            ci = ("" if math.isnan(ratio.ci_low)
                  else f", 95% CI [{fmt_number(ratio.ci_low)}, {fmt_number(ratio.ci_high)}]")
            print(f"extra cost {fmt_number(cost['difference'] / 1e6)} £m; child-days at risk "
                  f"saved per £1m: {fmt_number(ratio.value)}{ci}", file=out)
    print("\n* the 95% interval excludes zero", file=out)
    if holm:
        print(f"Holm: the difference holds after Holm's adjustment of the p-values per metric "
              f"across the {len(comparison.options)} options (family-wise error 5%)", file=out)
    return resolve_notes(rows, len(comparison.base.replications))


def parse_floors(texts: list[str] | None) -> dict[str, float]:
    """``--precision-floor METRIC=VALUE`` options as a mapping (VALUE >= 0, finite)."""
    floors: dict[str, float] = {}
    for text in texts or []:
        name, sep, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip() or not math.isfinite(number) or number < 0:
            raise UserError(f"--precision-floor {text}: expected METRIC=VALUE with VALUE >= 0 "
                            f"in the metric's unit, e.g. lab_wait_p90_days=2")
        floors[name.strip()] = number
    check_metric_names(list(floors), "--precision-floor")
    return floors


def unresolved_lines(auto: AutoReplications) -> list[str]:
    """One line per controlled difference that did not reach the precision, saying why."""
    lines = []
    for key, q in auto.quantities.items():
        if q.status == "undefined":
            lines.append(f"not resolved: {key}: defined in only {q.n} replication(s), so it "
                         f"has no interval (skipped)")
        elif q.status == "not met":
            near_zero = abs(q.mean) < q.half_width
            why = ("its interval includes zero: a difference near zero cannot reach a relative "
                   "precision; give --precision-floor METRIC=VALUE to accept an absolute "
                   "half-width" if near_zero else
                   f"needs a half-width of {fmt_number(q.target)}, about "
                   f"{math.ceil(q.n * (q.half_width / q.target) ** 2):,} replications")
            lines.append(f"not resolved: {key}: {fmt_number(q.mean)} +/- "
                         f"{fmt_number(q.half_width)}; {why}")
    return lines


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim compare``."""
    from dataclasses import replace

    from sim.analysis.metrics import METRICS
    from sim.config.loader import scenario_hash
    from sim.experiment import make_backend
    from sim.experiment.autoreps import DEFAULT_MIN_BATCH
    from sim.experiment.backends import available_cpus
    from sim.experiment.compare import (
        arm_labels,
        compare_many,
        compare_many_auto,
        difference_key,
        run_setting_differences,
    )
    from sim.results.compare_folder import write_compare_outputs
    from sim.results.folder import ResultsFolderError, StagedFolder
    from sim.results.journal import Journal, Summaries
    from sim.results.provenance import host_facts_later, manifest, package_version
    from sim.results.resume import still_unfinished, write_start_manifest

    stored = stored_settings_for(args, "compare")
    restore_replications(args, stored)
    restore(args, stored, {"seed": "seed", "metrics": "metrics"})
    base = load(args.base)
    options = [load(p) for p in args.options]
    names = list(args.metrics or HEADLINE)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    rule = precision_rule(args, min_batch=DEFAULT_MIN_BATCH)
    floors = parse_floors(args.precision_floor)
    if floors and rule is None:
        raise UserError("--precision-floor only applies with --reps auto")
    controlled = precision_metrics(args) if rule is not None else []
    labels = arm_labels([base, *options])
    if rule is not None:
        rule = replace(rule, absolute={difference_key(label, labels[0], m): v for label in labels[1:]
                                       for m, v in floors.items()})
    reps = rule.initial if rule is not None else args.reps or base.run.replications
    if reps < 2:
        raise UserError("compare needs at least 2 replications for confidence intervals "
                        "(--reps 2 or more)")
    seed = base.run.seed if args.seed is None else args.seed
    differ = [line for path, option in zip(args.options, options, strict=True)
              for line in (f"{path}: {d}" for d in run_setting_differences(base, option))]
    if differ and not args.allow_different_run_settings:
        raise UserError("the scenarios differ in run settings that decide what is measured, so "
                        "a paired difference would mix the change with the calendar:\n  "
                        + "\n  ".join(differ) + "\nset them equal, or give "
                        "--allow-different-run-settings to compare anyway")
    for line in differ:
        print(f"warning: comparing despite different run settings: {line}", file=err)
    hashes = [scenario_hash(s) for s in (base, *options)]
    settings = {"command": "compare", "scenario_sha256": hashes[0],
                "options_sha256": hashes[1:], "seed": seed,
                "replications": reps if rule is None else {
                    "auto": True, "precision": rule.precision, "initial": rule.initial,
                    "max_reps": rule.max_reps, "metrics": controlled, "floors": floors},
                "metrics": names, "package_version": package_version()}
    cap = reps if rule is None else rule.max_reps
    backend_name = "dask" if args.scheduler else args.backend
    workers = args.workers or max(1, min(available_cpus(), reps * (1 + len(options))))
    try:
        backend = make_backend(backend_name, workers, args.scheduler)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    out_dir = results_folder(args, Path("results") / default_folder_name(labels), settings, err)
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    how_many = (f"{reps} replications each" if rule is None else
                f"replications added until the differences are within +/-{rule.precision:.1%} "
                f"(at most {rule.max_reps})")
    print(f"fbsim compare: base {labels[0]}, {len(options)} option(s), {how_many}, seed {seed} "
          f"(common random numbers), {backend.name} x{backend.workers}", file=out)
    t0 = time.perf_counter()
    # main() reports on it if interrupted, with the command that continues the comparison.
    args.staged = staged = StagedFolder(out_dir, resumable=True, resume=args.resume is not None)
    args.resume_command = resume_command(["compare", args.base, *args.options], out_dir)
    report = None if args.quiet else progress(err, t0)

    def checked(state: AutoReplications) -> None:
        if not args.quiet:
            print(f"  after {state.replications} replications: "
                  f"{describe_outcome(state, 'difference')}", file=err)

    try:
        with staged as staging, Journal(staging) as journal:
            unique = list(dict.fromkeys(hashes))
            # Each read from the journal as the run takes it, not all held at once.
            finished = {k: Summaries({i: e for i, e in journal.finished(k).items() if i < cap})
                        for k in unique}
            reused = sum(len(done) for done in finished.values())
            if args.resume is None:
                write_start_manifest(staging, settings, {
                    "base": labels[0], "options": labels[1:],
                    "resume_with": args.resume_command})
            else:
                print(resuming_line(staging, reused, cap * len(unique) if rule is None
                                    else None, "replications (all arms)"), file=out)

            def record(key: str, summary: Any) -> None:
                journal.append(key, summary)

            if rule is None:
                comparison = compare_many(base, options, reps, seed, backend, report,
                                          finished=finished, record=record)
            else:
                comparison = compare_many_auto(base, options, seed, rule, controlled, backend,
                                               report, checked, finished=finished,
                                               record=record)
                reps = len(comparison.base.replications)
            notes = resolve_notes(comparison.difference_rows(names),
                                  len(comparison.base.replications))
            if comparison.auto is not None:
                notes += unresolved_lines(comparison.auto)
            wall = time.perf_counter() - t0
            facts = host()
            paths = [args.base, *args.options]
            arms = [{"role": "base" if i == 0 else "option", "label": label,
                     **manifest(arm.scenario, seed, reps, wall, backend.name, backend.workers,
                                str(path), started, host=lambda: facts)}
                    for i, (label, arm, path) in enumerate(zip(labels, comparison.arms, paths,
                                                               strict=True))]
            extra: dict[str, Any] = {
                "command": "compare", "options": labels[1:],
                "multiple_comparisons": "holm" if comparison.holm else "none",
                "run_setting_differences": differ, "arms": arms}
            if comparison.auto is not None:
                extra["replication_control"] = comparison.auto.to_dict()
            if reused:
                extra["resumed"] = {"replications_reused": reused}
            meta = still_unfinished(manifest(base, seed, reps, wall, backend.name,
                                             backend.workers, str(args.base), started, extra,
                                             host=lambda: facts), settings)
            write_compare_outputs(staging, comparison, names, meta, notes, differ,
                                  plots=not args.no_plots)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        raise write_failed(exc, out_dir, staged, args.resume_command) from None
    print_differences(comparison, names, out)  # after the results are in place
    for note in notes:
        print(note, file=out)
    if comparison.auto is not None:
        print(f"\n{describe_outcome(comparison.auto, 'difference')}.", file=out)
    print(f"\nResults in {out_dir}/ (differences.csv, summary.json, manifest.json, every "
          f"arm's tables, *.png); {time.perf_counter() - t0:.1f} s.", file=out)
    return EXIT_OK
