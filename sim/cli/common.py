"""What every ``fbsim`` command shares: exit codes, user errors, loading, messages."""

from __future__ import annotations

import argparse
import errno
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sim.config import ScenarioError, load_scenario
from sim.config.limits import MAX_REPLICATIONS
from sim.config.schema import Scenario

if TYPE_CHECKING:
    from sim.analysis.load import StageLoad

DEFAULT_SCENARIO = Path("scenarios") / "met-baseline.yaml"
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CHECK_FLAGGED = 3
#: Stopped by SIGTERM, and standard output or error closed by its reader: what a
#: process ended by SIGTERM or SIGPIPE reports (128 + the signal number).
EXIT_TERMINATED, EXIT_PIPE_CLOSED = 143, 141
#: Errors of the machine a command runs on, not of fbsim: reported as the path and
#: the cause, with exit status 2.
ENVIRONMENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EFBIG", "EIO", "ENAMETOOLONG", "ENOTDIR",
    "EISDIR", "EEXIST", "ENOENT", "EMFILE", "ENFILE", "EXDEV", "EBUSY", "ELOOP", "ENOTEMPTY",
    "ETXTBSY", "ENOMEM", "ENODEV", "ENXIO", "ESTALE") if hasattr(errno, name))


class UserError(Exception):
    """A mistake in what the user asked for; printed without a traceback."""


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [``minimum``, ``maximum``], with a plain message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum:,}, got {value:,}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
#: ``--reps``: at most the scenario schema's ``run.replications`` maximum.
replications_int = int_at_least(1, MAX_REPLICATIONS)
#: ``--workers``: far more than any one machine has cores.
workers_int = int_at_least(1, 1024)
#: ``--seed``: numpy's SeedSequence takes any non-negative integer; this keeps it
#: printable and storable in JSON.
seed_int = int_at_least(0, 2**63 - 1)


def eta_text(elapsed: float, done: int, total: int) -> str:
    """``, about 42 s left`` from the pace so far ('' when finished or nothing is done)."""
    if done <= 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    if left >= 5400:
        return f", about {left / 3600:.1f} h left"
    return f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"


def progress(stream: TextIO, t0: float, noun: str = "replications", eta: bool = True
             ) -> Callable[[object, int, int], None]:
    """A progress reporter: a bar on a terminal, a line every tenth otherwise.

    ``noun`` names what is counted; ``eta`` adds the time left at the pace so far.
    """
    tty = stream.isatty()
    last_tenth = [-1]

    def report(_summary: object, done: int, total: int) -> None:
        elapsed = time.perf_counter() - t0
        left = eta_text(elapsed, done, total) if eta else ""
        if tty:
            width = 30
            filled = int(width * done / total)
            stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"{noun}, {elapsed:.1f} s{left}" + ("\033[K" if eta else ""))
            if done == total:
                stream.write("\n")
            stream.flush()
        else:
            tenth = int(10 * done / total)
            if tenth != last_tenth[0]:
                last_tenth[0] = tenth
                print(f"{done}/{total} {noun} done ({elapsed:.1f} s{left})", file=stream)

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


def overload(row: StageLoad, last: StageLoad) -> str | None:
    """When a staffed stage is overloaded (rho >= 1); None if never.

    ``from the start`` or ``by the end of the horizon``, from the stage's load at the
    start (``row``) and at the end (``last``).
    """
    if row.pool is None or max(row.rho_pool, last.rho_pool) < 1.0:
        return None
    return "from the start" if row.rho_pool >= 1.0 else "by the end of the horizon"


def overload_warnings(scenario: Scenario) -> list[str]:
    """One line per overloaded stage, as ``fbsim validate`` flags them."""
    from sim.analysis.load import offered_load

    lines = []
    for row, last in zip(offered_load(scenario), offered_load(scenario, scenario.run.end_day),
                         strict=True):
        when = overload(row, last)
        if when is not None:
            lines.append(f"warning: stage {row.stage} (pool {row.pool}) is overloaded {when} "
                         f"(rho {row.rho_pool:.3f} at the start, {last.rho_pool:.3f} at the end; "
                         f">= 1 means its backlog can only grow)")
    return lines


def describe_os_error(exc: OSError) -> str:
    """``path: cause`` of an error of the machine (e.g. ``/mnt/x: No space left on device``)."""
    cause = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {cause}" if paths else cause


def can_encode(stream: TextIO, text: str) -> bool:
    """Whether ``stream`` can write ``text`` (arrows, £) in its encoding."""
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def print_error(exc: BaseException, err: TextIO) -> None:
    """Print a user error (a scenario's problems one per line) without a traceback."""
    if isinstance(exc, ScenarioError):
        noun = "problem" if len(exc.problems) == 1 else "problems"
        print(f"error: the scenario has {len(exc.problems)} {noun}:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
    else:
        print(f"error: {exc}", file=err)
