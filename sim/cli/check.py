"""``fbsim check``: a scenario's stages against their queueing-theory approximations."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from sim.cli.common import (
    EXIT_CHECK_FLAGGED,
    EXIT_OK,
    UserError,
    load,
    non_negative_int,
    replications_int,
    workers_int,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    check = sub.add_parser("check", help="check a scenario against queueing theory",
                           description="Run a few replications and compare each stage's simulated "
                                       "waits with its queueing approximation (M/M/c, or M/G/c by "
                                       "Allen-Cunneen), plus a Little's-law check; flags large "
                                       "disagreements and unstable stages.")
    check.add_argument("scenario", type=Path, help="scenario YAML file")
    check.add_argument("--reps", type=replications_int, default=5, help="replications (default: 5)")
    check.add_argument("--seed", type=non_negative_int, help="base seed (default: the scenario's)")
    check.add_argument("--workers", type=workers_int, help="parallel worker processes")
    check.add_argument("--tolerance", type=float, default=0.25,
                       help="relative difference of mean waits flagged (default: 0.25)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim check``: exit 0 when no stage is flagged, 3 when some are."""
    from functools import partial

    from sim.analysis.check import check_scenario
    from sim.experiment import make_backend
    from sim.experiment.backends import available_cpus
    from sim.model.replication import run_replication

    scenario = load(args.scenario)
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
