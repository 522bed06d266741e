"""``fbsim compare``: options against a base on common random numbers."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TextIO

from sim.cli.common import (
    EXIT_OK,
    UserError,
    fmt_number,
    load,
    non_negative_int,
    replications_int,
    workers_int,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    comp = sub.add_parser("compare", help="compare scenarios on common random numbers",
                          description="Run a base scenario and options with the same seed and "
                                      "replications; print paired differences (option - base) "
                                      "with 95% confidence intervals.")
    comp.add_argument("base", type=Path, help="the base scenario")
    comp.add_argument("options", nargs="+", type=Path, help="scenarios to compare with the base")
    comp.add_argument("--reps", type=replications_int, help="replications (default: the base's)")
    comp.add_argument("--seed", type=non_negative_int, help="base seed (default: the base's)")
    comp.add_argument("--workers", type=workers_int, help="parallel worker processes")
    comp.add_argument("--metrics", nargs="+", metavar="NAME",
                      help="metrics to show (default: the headline ones)")


HEADLINE = ("time_to_identify_median_days", "time_to_identify_p90_days",
            "identified_within_30d_share", "time_to_safeguard_median_days", "child_days_at_risk",
            "child_days_at_risk_contact",
            "lab_wait_median_days", "backlog_devices_end", "cost_total_gbp")



def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim compare``."""
    from sim.analysis.metrics import METRICS
    from sim.experiment import make_backend
    from sim.experiment.backends import available_cpus
    from sim.experiment.compare import compare

    base = load(args.base)
    options = [load(p) for p in args.options]
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
            rows.append((name, fmt_number(d.base.mean), fmt_number(d.option.mean),
                         fmt_number(d.difference.mean),
                         f"[{fmt_number(d.difference.ci_low)}, {fmt_number(d.difference.ci_high)}]",
                         "*" if d.significant else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                  file=out)
        ratio = comparison.child_days_saved_per_million_gbp()
        cost = diffs["cost_total_gbp"]
        if cost.difference.mean != 0 and not math.isnan(ratio.value):
            ci = ("" if math.isnan(ratio.ci_low)
                  else f", 95% CI [{fmt_number(ratio.ci_low)}, {fmt_number(ratio.ci_high)}]")
            print(f"extra cost {fmt_number(cost.difference.mean / 1e6)} £m; child-days at risk saved "
                  f"per £1m: {fmt_number(ratio.value)}{ci}", file=out)
    print("\n* the interval excludes zero", file=out)
    return EXIT_OK
