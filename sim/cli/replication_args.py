"""``--reps N|auto``, ``--precision``, ``--max-reps``: replication control on the command line.

Shared by the commands that run replications (``run``, ``sweep``, ``compare``): a fixed
number of replications, or ``auto`` for the sequential rule of
:mod:`sim.experiment.autoreps`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sim.cli.common import UserError, replications_int
from sim.config.limits import MAX_REPLICATIONS

if TYPE_CHECKING:
    from sim.experiment.autoreps import AutoReplications, PrecisionRule

AUTO = "auto"
#: Defaults of the rule: initial replications, cap, relative precision.
DEFAULT_INITIAL, DEFAULT_MAX_REPS, DEFAULT_PRECISION = 10, 200, 0.05


def replications_or_auto(text: str) -> int | str:
    """An argparse type: a number of replications, or ``auto``."""
    if text.strip().lower() == AUTO:
        return AUTO
    try:
        return replications_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or 'auto')") from None


def relative_precision(text: str) -> float:
    """An argparse type: a relative half-width in (0, 1), e.g. 0.05."""
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.05 or 5%, "
                                         f"got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.05 is +/-5% of the "
                                         f"mean), got {text}")
    return value


def add_replication_arguments(p: argparse.ArgumentParser, default: str,
                              precision_metrics: bool = False) -> None:
    """Add ``--reps``, ``--precision``, ``--max-reps`` and ``--initial-reps`` to ``p``.

    ``precision_metrics`` adds ``--precision-metrics NAME...`` too (for commands without
    a ``--metrics`` of their own).
    """
    p.add_argument("--reps", type=replications_or_auto, metavar="N|auto",
                   help=f"replications, at most {MAX_REPLICATIONS:,}, or 'auto': add "
                        f"replications until the 95%% interval of each chosen metric is within "
                        f"--precision of its mean (default: {default})")
    p.add_argument("--precision", type=relative_precision, default=None,
                   help=f"with --reps auto: relative half-width of the 95%% intervals "
                        f"(default {DEFAULT_PRECISION}, i.e. +/-5%%)")
    p.add_argument("--max-reps", type=replications_int, default=None,
                   help=f"with --reps auto: at most this many replications "
                        f"(default {DEFAULT_MAX_REPS})")
    p.add_argument("--initial-reps", type=replications_int, default=None,
                   help=f"with --reps auto: replications before the first check "
                        f"(default {DEFAULT_INITIAL})")
    if precision_metrics:
        p.add_argument("--precision-metrics", nargs="+", metavar="NAME", default=None,
                       help="with --reps auto: the metrics that must reach the precision "
                            "(default: lab_wait_p90_days backlog_devices_end "
                            "identified_examination_within_365d_share "
                            "days_at_risk_first_year_examination_mean)")


def check_metric_names(names: list[str], option: str) -> None:
    """Refuse names that are neither a metric nor a stage wait, suggesting the nearest."""
    import difflib

    from sim.analysis.metrics import METRICS
    from sim.analysis.stage_waits import parse_metric_name

    for name in names:
        if name not in METRICS and parse_metric_name(name) is None:
            close = difflib.get_close_matches(name, list(METRICS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(f"{option}: unknown metric {name!r}{hint} (the metrics are "
                            f"listed in docs/results-tables.md)")


def precision_metrics(args: argparse.Namespace) -> list[str]:
    """The metrics ``--reps auto`` controls: ``--precision-metrics`` or the defaults."""
    from sim.experiment.autoreps import DEFAULT_METRICS

    names = list(getattr(args, "precision_metrics", None) or DEFAULT_METRICS)
    check_metric_names(names, "--precision-metrics")
    return names


def precision_rule(args: argparse.Namespace, min_batch: int = 1) -> PrecisionRule | None:
    """The rule of ``--reps auto`` (None for a fixed ``--reps``); refuses stray options."""
    from sim.experiment.autoreps import PrecisionRule

    if args.reps != AUTO:
        given = [name for name, value in (("--precision", args.precision),
                                          ("--max-reps", args.max_reps),
                                          ("--initial-reps", args.initial_reps))
                 if value is not None]
        if getattr(args, "precision_metrics", None):
            given.append("--precision-metrics")
        if given:
            raise UserError(f"{', '.join(given)} only apply with --reps auto")
        return None
    initial = args.initial_reps or DEFAULT_INITIAL
    cap = args.max_reps or max(DEFAULT_MAX_REPS, initial)
    if initial < 2:
        raise UserError("--initial-reps must be at least 2 (an interval needs two replications)")
    if cap < initial:
        raise UserError(f"--max-reps {cap} is below --initial-reps {initial}")
    return PrecisionRule(precision=args.precision or DEFAULT_PRECISION, initial=initial,
                         max_reps=cap, min_batch=min_batch)


def describe_outcome(auto: AutoReplications, name: str = "metric") -> str:
    """One line: how many replications, why it stopped, and the worst precision reached."""
    worst = auto.worst()
    rule = auto.rule
    if auto.stopped == "precision":
        head = (f"{auto.replications} replications reached +/-{rule.precision:.1%} "
                f"(95% intervals) for every chosen {name}")
    elif auto.stopped == "running":
        met = sum(q.status == "met" for q in auto.quantities.values())
        head = (f"{met} of {len(auto.quantities)} within +/-{rule.precision:.1%}, adding "
                f"replications")
    else:
        head = (f"stopped at the cap of {rule.max_reps} replications before every chosen {name} "
                f"reached +/-{rule.precision:.1%}")
    if worst is not None:
        key, q = worst
        head += f"; widest: {key} +/-{q.relative:.1%} of its mean"
    skipped = [k for k, q in auto.quantities.items() if q.status == "undefined"]
    if skipped:
        head += f"; {len(skipped)} undefined (skipped)"
    return head
