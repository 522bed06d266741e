"""``fbsim plan``: the cheapest plan that meets the targets, with a stated guarantee."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import time
from pathlib import Path
from typing import Any, TextIO

from sim.cli.common import (
    EXIT_OK,
    UserError,
    fmt_number,
    int_at_least,
    load,
    non_negative_int,
    positive_int,
)
from sim.cli.decision_resume import (
    add_resume_option,
    command_line,
    file_sha256,
    resumed_facts,
    run_resumable,
    target_folder,
)


def gbp_amount(text: str) -> float:
    """An argparse type: pounds, as ``2500000``, ``2.5m``, ``250k`` or ``£2.5m``."""
    match = re.fullmatch(r"\s*£?\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected an amount in pounds (e.g. 2500000, 2.5m, "
                                         f"250k), got {text!r}")
    value = float(match.group(1).replace(",", "").replace("_", ""))
    value *= {"": 1.0, "k": 1e3, "m": 1e6}[match.group(2).lower()]
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse type: a confidence level in (0.5, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.5 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0.5 and 1, got {text!r}")
    return value


def chosen_backend(args: argparse.Namespace) -> str:
    """``--backend`` (``dask`` with ``--scheduler``); refuses dask without its extra."""
    name = "dask" if args.scheduler else str(args.backend)
    if name == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError("the dask backend needs the 'dask' extra: pip install "
                            "'forensic-backlog-sim[dask]'") from None
    return name


def results_folder(out: Path | None, default: Path, err: TextIO) -> Path:
    """``--out`` if fbsim may write there, else the default (or the next free NAME-2)."""
    from sim.results.folder import ResultsFolderError, check_writable, choose_out

    try:
        if out is not None:
            check_writable(out)
            return out
        chosen = choose_out(default)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    if chosen != default:
        print(f"note: {default} holds files fbsim did not write, so results go to {chosen}",
              file=err)
    return chosen


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    p = sub.add_parser(
        "plan", help="find the cheapest plan that meets targets, with a guarantee",
        description="Search the plan space of a levers file on common random numbers, then "
                    "confirm the cheapest plan that meets every target with a feasibility check "
                    "(Batur & Kim 2010) and a selection procedure (Kim & Nelson 2001) that bound "
                    "the chance of a wrong answer. Writes a results folder.")
    p.add_argument("scenario", type=Path, help="the scenario the levers act on")
    p.add_argument("--levers", type=Path, required=True, metavar="FILE",
                   help="levers file: decision variables, their settings and costs "
                        "(docs/planning.md)")
    p.add_argument("--target", action="append", required=True, metavar="METRIC<=VALUE",
                   help="a target on a metric's mean, METRIC<=VALUE or METRIC>=VALUE "
                        "(repeat for several; the first is the plot's main target)")
    p.add_argument("--tolerance", action="append", metavar="METRIC=AMOUNT",
                   help="margin by which a plan must meet a target to be sure to be found "
                        "(default 2%% of the target value)")
    p.add_argument("--budget", type=gbp_amount, metavar="GBP",
                   help="leave out plans whose cost over the window is above this (e.g. 85m)")
    p.add_argument("--cost-tolerance", type=gbp_amount, metavar="GBP",
                   help="cost differences below this do not matter (default: half the cost of "
                        "the cheapest lever step)")
    p.add_argument("--confidence", type=probability, default=0.95,
                   help="probability the guarantee holds (default 0.95)")
    p.add_argument("--screen-reps", type=int_at_least(2), default=5,
                   help="replications per plan in the search (default 5)")
    p.add_argument("--first-stage", type=int_at_least(2), default=10,
                   help="replications per plan before the confirmation's first decision "
                        "(default 10)")
    p.add_argument("--max-reps", type=int_at_least(2), default=200,
                   help="cap on replications per plan in each confirmation phase (default 200)")
    p.add_argument("--max-plans", type=positive_int, default=60,
                   help="plans the search may screen; a grid when the space is no larger "
                        "(default 60)")
    p.add_argument("--shortlist", type=positive_int, default=4,
                   help="plans the confirmation looks at (default 4)")
    add_run_options(p, "plan")
    add_resume_option(p, "plan")


def add_run_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options ``plan`` and ``sensitivity`` share: seed, where to run, where to write."""
    p.add_argument("--seed", type=non_negative_int, help="base seed (default: the scenario's)")
    p.add_argument("--workers", type=positive_int, help="parallel worker processes")
    p.add_argument("--backend", choices=("processes", "serial", "dask"), default="processes",
                   help="where replications run (default: local processes)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (implies --backend dask)")
    p.add_argument("--out", type=Path,
                   help=f"results folder (default: results/{command}-<scenario>)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNGs")
    p.add_argument("--quiet", action="store_true", help="no progress messages")


def _gbp(x: float) -> str:
    return "n/a" if math.isnan(x) else f"£{x / 1e6:,.3f}m"


def _interval(low: float, high: float, fmt: object = fmt_number) -> str:
    if math.isnan(low):
        return "n/a"
    assert callable(fmt)
    return f"[{fmt(low)}, {fmt(high)}]"


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim plan``."""
    from sim.analysis.metrics import METRICS
    from sim.decision.evaluate import backend_for_session
    from sim.decision.inputfile import InputFileError
    from sim.decision.levers import load_levers
    from sim.decision.planning import PlanSettings
    from sim.decision.targets import TargetError, make_targets
    from sim.experiment.backends import available_cpus

    scenario = load(args.scenario)
    try:
        targets = make_targets(args.target, args.tolerance, METRICS)
        levers = load_levers(args.levers, scenario)
    except (TargetError, InputFileError) as exc:
        raise UserError(str(exc)) from None
    seed = scenario.run.seed if args.seed is None else args.seed
    workers = args.workers or available_cpus()
    settings = PlanSettings(seed=seed, screen_replications=args.screen_reps,
                            max_plans=args.max_plans, shortlist_size=args.shortlist,
                            alpha=1.0 - args.confidence, first_stage=args.first_stage,
                            max_replications=max(args.max_reps, args.first_stage),
                            cost_tolerance_gbp=args.cost_tolerance, budget_gbp=args.budget)
    resume_settings = plan_resume_settings(scenario, args.levers, targets, settings)
    out_dir = target_folder(args, Path("results") / f"plan-{scenario.name}", err,
                            resume_settings)
    args.resume_command = plan_command(args, seed, out_dir)
    levers_text = args.levers.read_text(encoding="utf-8")
    backend_name = chosen_backend(args)
    t0 = time.perf_counter()
    with backend_for_session(backend_name, workers, args.scheduler) as backend:
        result = _run(args, scenario, levers, targets, settings, backend, out_dir, levers_text,
                      resume_settings, out, err)
    _print_result(result, out)
    reused = (f" ({result.replications_reused} of them from the interrupted run)"
              if result.replications_reused else "")
    print(f"\nResults in {out_dir}/ (summary.json, plans.csv, targets.csv, replications.csv, "
          f"chosen_plan.yaml, cost_vs_target.png); {result.replications_total} replications"
          f"{reused}, {time.perf_counter() - t0:.1f} s", file=out)
    return EXIT_OK


def plan_resume_settings(scenario: Any, levers_file: Path, targets: Any, settings: Any
                         ) -> dict[str, Any]:
    """What a resumed plan run must share with the run it continues (JSON-ready).

    Everything that decides which replications run and what is made of them: the
    scenario, the levers file's bytes, the targets and tolerances, and every setting of
    the search and the confirmation.
    """
    from sim.config import scenario_hash
    from sim.results.provenance import package_version

    s = settings
    return {"command": "plan", "scenario_sha256": scenario_hash(scenario),
            "levers_sha256": file_sha256(levers_file),
            "targets": [{"metric": t.metric, "op": t.op, "value": t.value,
                         "tolerance": t.tolerance} for t in targets],
            "seed": s.seed, "confidence": 1.0 - s.alpha, "screen_replications":
            s.screen_replications, "first_stage": s.first_stage,
            "max_replications": s.max_replications, "max_plans": s.max_plans,
            "shortlist": s.shortlist_size, "budget_gbp": s.budget_gbp,
            "cost_tolerance_gbp": s.cost_tolerance_gbp,
            "package_version": package_version()}


def plan_command(args: argparse.Namespace, seed: int, out_dir: Path) -> str:
    """The ``fbsim plan ... --resume`` command that continues this run."""
    from sim.results.folder import incomplete_path

    options: list[tuple[str, object]] = [("--levers", args.levers)]
    options += [("--target", t) for t in args.target]
    options += [("--tolerance", t) for t in args.tolerance or []]
    options += [("--budget", args.budget), ("--cost-tolerance", args.cost_tolerance),
                ("--confidence", float(args.confidence)), ("--screen-reps", args.screen_reps),
                ("--first-stage", args.first_stage), ("--max-reps", args.max_reps),
                ("--max-plans", args.max_plans), ("--shortlist", args.shortlist),
                ("--seed", seed), ("--scheduler", args.scheduler),
                ("--resume", incomplete_path(out_dir))]
    return command_line(["fbsim", "plan", str(args.scenario)], options,
                        ["--no-plots"] if args.no_plots else [])


def _run(args: argparse.Namespace, scenario: Any, levers: Any, targets: Any, settings: Any,
         backend: Any, out_dir: Path, levers_text: str, resume_settings: dict[str, Any],
         out: TextIO, err: TextIO) -> Any:
    """Search, confirm and write the results folder; returns the PlanResult."""
    from sim.decision.plan_folder import write_plan_folder
    from sim.decision.planning import find_plan
    from sim.results.provenance import host_facts_later, manifest
    from sim.results.resume import still_unfinished

    seed = settings.seed
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    print(f"fbsim plan: {scenario.name} ({args.scenario}), levers {args.levers}: "
          f"{len(levers.levers)} levers, {levers.size:,} plans; seed {seed}, "
          f"{backend.name} x{backend.workers}", file=out)
    for t in targets:
        print(f"  target: {t}", file=out)
    t0 = time.perf_counter()
    last = [t0]
    count = [0]

    def progress(_done: int, _total: int) -> None:
        count[0] += 1
        now = time.perf_counter()
        if not args.quiet and now - last[0] >= 5.0:
            last[0] = now
            print(f"  {count[0]} replications run ({now - t0:.0f} s)", file=err)

    def work(evaluator: Any, staging: Path) -> Any:
        result = find_plan(scenario, levers, targets, settings, evaluator=evaluator)
        meta = manifest(scenario, seed, result.replications_total, time.perf_counter() - t0,
                        backend.name, backend.workers, str(args.scenario), started,
                        {"command": "plan", "levers_file": str(args.levers),
                         "targets": [str(t) for t in targets], **resumed_facts(result)}, host)
        write_plan_folder(staging, result, still_unfinished(meta, resume_settings),
                          levers_text, plots=not args.no_plots)
        return result

    return run_resumable(args, out_dir, resume_settings,
                         {"scenario": scenario.name, "scenario_file": str(args.scenario)},
                         backend, seed, progress, out, work)


def _print_result(result: object, out: TextIO) -> None:
    from sim.decision.planning import PlanResult

    assert isinstance(result, PlanResult)
    lv = result.levers
    print(f"\nsearch: {result.log.why}", file=out)
    print(f"shortlist: {'; '.join(lv.label(p) for p in result.shortlist) or '(none)'}", file=out)
    chosen = result.chosen
    if chosen is None:
        print("\nNo plan was shown to meet every target.", file=out)
        closest = sorted(result.log.screens.values(), key=lambda s: s.shortfall(result.targets))[:3]
        for s in closest:
            means = ", ".join(f"{t.metric} {fmt_number(e.mean)}"
                              for t, e in zip(result.targets, s.targets, strict=True))
            print(f"  closest: {lv.label(s.plan)}: {means}, cost {_gbp(s.cost.mean)}", file=out)
    else:
        est = result.confirmed[chosen]
        print(f"\nchosen plan: {lv.label(chosen)}", file=out)
        print(f"  cost over the window: {_gbp(est.cost.mean)} "
              f"(95% CI {_interval(est.cost.ci_low, est.cost.ci_high, _gbp)}); as given: "
              f"{_gbp(result.reference.cost.mean)}", file=out)
        rows = [("target", "estimate", "95% CI", "replications")]
        for t, e in zip(result.targets, est.targets, strict=True):
            rows.append((f"{t.metric} {t.op} {t.value:g}", fmt_number(e.mean),
                         _interval(e.ci_low, e.ci_high), str(e.n)))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                  file=out)
    if result.runners_up():
        print("\nrunners-up:", file=out)
        for plan in result.runners_up():
            est = result.confirmed[plan]
            print(f"  {lv.label(plan)}: {result.outcome(plan)}, cost {_gbp(est.cost.mean)}", file=out)
    print("\nguarantee:", file=out)
    for line in result.guarantee().splitlines():
        print(f"  {line}", file=out)
