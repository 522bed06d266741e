"""What every ``fbsim`` command shares: exit codes, user errors, loading, messages."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sim.config import ScenarioError, load_scenario
from sim.config.schema import Scenario

DEFAULT_SCENARIO = Path("scenarios") / "met-baseline.yaml"
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CHECK_FLAGGED = 3


class UserError(Exception):
    """A mistake in what the user asked for; printed without a traceback."""


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``, with a plain message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def progress(stream: TextIO, t0: float) -> Callable[[object, int, int], None]:
    """A progress reporter: a bar on a terminal, a line every tenth otherwise."""
    tty = stream.isatty()
    last_tenth = [-1]

    def report(_summary: object, done: int, total: int) -> None:
        elapsed = time.perf_counter() - t0
        if tty:
            width = 30
            filled = int(width * done / total)
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"replications, {elapsed:.1f} s")
            if done == total:
                stream.write("\n")
            stream.flush()
        else:
            tenth = int(10 * done / total)
            if tenth != last_tenth[0]:
                last_tenth[0] = tenth
                print(f"{done}/{total} replications done ({elapsed:.1f} s)", file=stream)

    return report


def load(path: Path) -> Scenario:
    """Load a scenario file, or raise :class:`UserError` if there is none."""
    if not path.exists():
        raise UserError(f"{path}: scenario file not found")
    return load_scenario(path)


def fmt_number(x: float) -> str:
    """A number for a table: three decimals below 10, one above; ``n/a`` for NaN."""
    if math.isnan(x):
        return "n/a"
    return f"{x:,.3f}" if abs(x) < 10 else f"{x:,.1f}"


def print_error(exc: BaseException, err: TextIO) -> None:
    """Print a user error (a scenario's problems one per line) without a traceback."""
    if isinstance(exc, ScenarioError):
        noun = "problem" if len(exc.problems) == 1 else "problems"
        print(f"error: the scenario has {len(exc.problems)} {noun}:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
    else:
        print(f"error: {exc}", file=err)
