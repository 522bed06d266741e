"""``fbsim sensitivity``: which uncertain assumptions move the metrics and a lever's effect."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from pathlib import Path
from typing import TextIO

from sim.cli.common import EXIT_OK, UserError, fmt_number, int_at_least, load, positive_int
from sim.cli.decision_resume import (
    add_resume_option,
    command_line,
    file_sha256,
    resumed_facts,
    run_resumable,
    target_folder,
)
from sim.cli.plan import add_run_options, chosen_backend


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    p = sub.add_parser(
        "sensitivity", help="global sensitivity of metrics and lever effects (SALib)",
        description="Vary the uncertain assumptions of a parameters file over their ranges "
                    "(Morris screening for many parameters, Sobol indices for few), run every "
                    "sample point on the same replications, and rank the assumptions by how much "
                    "they move each metric and each lever's effect. Writes a results folder.")
    p.add_argument("scenario", type=Path, help="the scenario the parameters belong to")
    p.add_argument("--params", type=Path, required=True, metavar="FILE",
                   help="parameters file: ranges, metrics, levers (docs/planning.md)")
    p.add_argument("--method", choices=("morris", "sobol"),
                   help="default: the file's, else Morris from 6 parameters, Sobol below")
    p.add_argument("--samples", type=int_at_least(2),
                   help="Morris trajectories (default 10) or Sobol base samples, a power of two "
                        "(default 32)")
    p.add_argument("--reps", type=positive_int, default=2,
                   help="replications per sample point (default 2)")
    add_run_options(p, "sensitivity")
    add_resume_option(p, "sensitivity")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim sensitivity``."""
    from sim.analysis.metrics import METRICS
    from sim.config import scenario_hash
    from sim.decision.evaluate import Evaluator, backend_for_session
    from sim.decision.inputfile import InputFileError
    from sim.decision.sensitivity import (
        SensitivityResult,
        SensitivitySettings,
        choose_method,
        require_salib,
        run_sensitivity,
    )
    from sim.decision.sensitivity_folder import ranking_key, write_sensitivity_folder
    from sim.decision.uncertain import load_uncertain
    from sim.experiment.backends import available_cpus
    from sim.results.folder import incomplete_path
    from sim.results.provenance import host_facts_later, manifest, package_version
    from sim.results.resume import still_unfinished

    try:
        require_salib()
    except ImportError as exc:
        raise UserError(str(exc)) from None
    scenario = load(args.scenario)
    try:
        spec = load_uncertain(args.params, scenario, METRICS)
    except InputFileError as exc:
        raise UserError(str(exc)) from None
    seed = scenario.run.seed if args.seed is None else args.seed
    settings = SensitivitySettings(seed=seed, method=args.method, samples=args.samples,
                                   replications=args.reps)
    try:
        method, samples = choose_method(spec, settings)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    resume_settings = {"command": "sensitivity", "scenario_sha256": scenario_hash(scenario),
                       "parameters_sha256": file_sha256(args.params), "method": method,
                       "samples": samples, "replications_per_point": args.reps,
                       "levels": settings.levels, "seed": seed,
                       "package_version": package_version()}
    out_dir = target_folder(args, Path("results") / f"sensitivity-{scenario.name}", err,
                            resume_settings)
    args.resume_command = command_line(
        ["fbsim", "sensitivity", str(args.scenario)],
        [("--params", args.params), ("--method", method), ("--samples", samples),
         ("--reps", args.reps), ("--seed", seed), ("--scheduler", args.scheduler),
         ("--resume", incomplete_path(out_dir))], ["--no-plots"] if args.no_plots else [])
    params_text = args.params.read_text(encoding="utf-8")
    backend_name = chosen_backend(args)
    started = dt.datetime.now(dt.UTC)
    host = host_facts_later()
    t0 = time.perf_counter()
    with backend_for_session(backend_name, args.workers or available_cpus(),
                             args.scheduler) as backend:
        print(f"fbsim sensitivity: {scenario.name} ({args.scenario}), {len(spec.parameters)} "
              f"parameters, {method} ({samples} samples), {args.reps} replications per point, "
              f"{len(spec.levers)} lever(s); seed {seed}, {backend.name} x{backend.workers}",
              file=out)
        last = [t0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if not args.quiet and (now - last[0] >= 5.0 or done == total):
                last[0] = now
                print(f"  {done}/{total} replications ({now - t0:.0f} s)", file=err)

        def work(evaluator: Evaluator, staging: Path) -> SensitivityResult:
            result = run_sensitivity(scenario, spec, settings, evaluator)
            meta = manifest(scenario, seed, result.replications_total,
                            time.perf_counter() - t0, backend.name, backend.workers,
                            str(args.scenario), started,
                            {"command": "sensitivity", "parameters_file": str(args.params),
                             "method": method, "samples": samples, **resumed_facts(result)},
                            host)
            write_sensitivity_folder(staging, result, scenario,
                                     still_unfinished(meta, resume_settings), params_text,
                                     plots=not args.no_plots)
            return result

        result = run_resumable(args, out_dir, resume_settings,
                               {"scenario": scenario.name, "scenario_file": str(args.scenario)},
                               backend, seed, progress, out, work)
    key, conf, _ = ranking_key(method)
    for output, values in result.indices.items():
        print(f"\n{output}: parameters by {key} (95% half-width)", file=out)
        order = sorted(range(len(result.parameter_names)),
                       key=lambda i: -(values[key][i] if not math.isnan(values[key][i]) else -1))
        for i in order:
            print(f"  {result.parameter_names[i]:<28} {fmt_number(values[key][i]):>12}  "
                  f"± {fmt_number(values[conf][i])}", file=out)
    if spec.levers:
        print("\nlever effects (lever - base, paired, at every sample point):", file=out)
        for row in result.lever_effects_frame().to_dict(orient="records"):
            sign = ("same sign at every point" if row["same_sign_everywhere"]
                    else f"positive at {row['share_positive']:.0%}, negative at "
                         f"{row['share_negative']:.0%} of points")
            print(f"  {row['lever']} on {row['metric']}: mean {fmt_number(row['effect_mean'])}, "
                  f"range [{fmt_number(row['effect_min'])}, {fmt_number(row['effect_max'])}]; "
                  f"{sign}", file=out)
    print(f"\nResults in {out_dir}/ (summary.json, sensitivity_indices.csv, samples.csv, "
          f"ranking_*.png); {result.replications_total} replications, "
          f"{time.perf_counter() - t0:.1f} s", file=out)
    return EXIT_OK
