"""``fbsim validate``: check scenario files and print each stage's traffic intensity."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TextIO

from sim.cli.common import EXIT_BAD_INPUT, EXIT_OK, UserError, load, overload, print_error
from sim.config import ScenarioError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    validate = sub.add_parser("validate", help="check scenario files without running them",
                              description="Validate scenario files and report each stage's "
                                          "traffic intensity (offered load / capacity).")
    validate.add_argument("files", nargs="+", type=Path, help="scenario YAML files")
    validate.add_argument("--strict", action="store_true",
                          help="exit 2 when a stage is overloaded (rho >= 1)")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim validate``."""
    from sim.analysis.load import offered_load

    status = EXIT_OK
    for path in args.files:
        try:
            scenario = load(path)
        except (ScenarioError, UserError) as exc:
            print_error(exc, err)
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
            when = overload(row, last)
            if when is not None:
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
