"""The ``fbsim`` command line: one module per command, this one dispatching to them.

Only this package reads ``argv`` or prints. Each command is a module with
``add_parser(sub)`` and ``command(args, out, err) -> int``, listed in :data:`COMMANDS`.
User mistakes (a bad scenario, a bad option) and errors of the machine (a read-only
or full disk, a folder that cannot be made) are reported as plain messages with exit
status 2, never a traceback. The first Ctrl-C or SIGTERM stops the command cleanly
(:mod:`sim.cli.signals`); a closed standard output (``fbsim validate ... | head -1``)
ends it quietly.
Exit status: 0 success, 1 internal error, 2 bad input or environment, 3 ``check``
flagged a stage, 130 interrupted (SIGINT), 141 output pipe closed, 143 terminated
(SIGTERM). ``fbsim`` with no command lists the commands on standard error and exits
with status 2 (no command is a usage error, as for any other missing argument);
``fbsim --help`` prints the same list on standard output and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from sim.cli.common import (
    ENVIRONMENT_ERRNOS,
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_TERMINATED,
    UserError,
    describe_os_error,
    print_error,
)
from sim.cli.signals import Interrupted, interruptible
from sim.config import ScenarioError

#: The commands, in the order ``fbsim --help`` lists them: name -> module under sim.cli.
COMMANDS = {"run": "sim.cli.run", "compare": "sim.cli.compare", "sweep": "sim.cli.sweep",
            "check": "sim.cli.check",
            "validate": "sim.cli.validate", "plan": "sim.cli.plan",
            "sensitivity": "sim.cli.sensitivity", "plot": "sim.cli.plot",
            "report": "sim.cli.report", "reference": "sim.cli.reference",
            "warmup": "sim.cli.warmup"}


#: Thread-count settings of the BLAS libraries numpy may be built with. fbsim never
#: uses BLAS: a replication is single-threaded, and replications run in parallel as
#: processes. Yet numpy's OpenBLAS starts a pool of threads when numpy is imported,
#: which costs every run and worker process tens of milliseconds on a small machine
#: (``bench/RESULTS.md``) and oversubscribes the cores when several workers do it.
BLAS_THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Ask numpy's BLAS for one thread, where the user has not chosen a number.

    Takes effect only before numpy is first imported in this process, and in the
    worker processes it starts (which inherit the environment).
    """
    for name in BLAS_THREAD_SETTINGS:
        os.environ.setdefault(name, "1")


def freeze_startup_heap() -> bool:
    """Exempt every object made so far from garbage collection; True if this call did it.

    Called once start-up is over (modules and classes imported, the scenario validated).
    Those objects live until the process ends, yet every full collection would scan them
    again, and the interpreter's last collection at exit spends tens of milliseconds on
    them (``bench/RESULTS.md``). :func:`gc.freeze` moves them to a permanent generation
    that no collection visits; objects made afterwards are collected as usual. Nothing
    is done (False) if some objects were already frozen, by the user or an earlier call.
    """
    if gc.get_freeze_count():
        return False
    gc.freeze()
    return True


class _Version(argparse.Action):
    """``--version``: looks the installed version up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from sim.results.provenance import package_version

        sys.stdout.write(f"fbsim {package_version()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fbsim``."""
    parser = argparse.ArgumentParser(
        prog="fbsim",
        description="Simulate the police forensic backlog for online child-abuse investigations "
                    "and estimate the time until children at risk are identified.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action=_Version, help="print fbsim's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None, *, exiting: bool = False) -> int:
    """The ``fbsim`` command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: the process's own).
    out, err : text stream, optional
        Where results and messages go (default: standard output and error).
    exiting : bool
        True when the process ends after this call (:func:`sim.__main__.entry`): objects
        frozen at the end of start-up (:func:`freeze_startup_heap`) then stay frozen,
        which spares the interpreter's last collection, and a garbage collector paused
        for start-up is resumed there. False (a call from a notebook or a test)
        unfreezes them before returning and leaves the collector as it is.
    """
    one_blas_thread()
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)  # usage, --help and option errors go to out/err
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command is None:
        err.write(parser.format_help())
        err.write("\nerror: name a command, e.g. 'fbsim run' (fbsim COMMAND --help for its "
                  "options)\n")
        return EXIT_BAD_INPUT
    froze = [False]
    resume_gc = exiting and not gc.isenabled()  # paused by entry() for start-up

    def started() -> None:
        froze[0] = freeze_startup_heap()
        if resume_gc:
            gc.enable()

    args.started = started
    if args.command != "run":
        started()  # the other commands have nothing to gain from waiting
    try:
        with interruptible(restore=not exiting):
            try:
                code = importlib.import_module(COMMANDS[args.command]).command(args, out, err)
                out.flush()  # here, so that a closed pipe is seen here
                return code
            except BrokenPipeError:
                _quiet(out, err)
                return EXIT_PIPE_CLOSED
            except KeyboardInterrupt as exc:
                return _interrupted(exc, args, err)
            except (ScenarioError, UserError) as exc:
                print_error(exc, err)
                return EXIT_BAD_INPUT
            except OSError as exc:
                if args.debug or exc.errno not in ENVIRONMENT_ERRNOS:
                    raise
                print(f"error: {describe_os_error(exc)}", file=err)
                return EXIT_BAD_INPUT
    except BrokenPipeError:  # standard error closed too, while reporting
        _quiet(out, err)
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt as exc:  # came while an error was being reported
        return _interrupted(exc, args, err)
    except Exception as exc:
        if args.debug:
            raise
        from sim.experiment.workers import WorkerDiedError

        if isinstance(exc, WorkerDiedError):
            print(f"error: {exc}; {_outcome(args, 'nothing was written')}", file=err)
            return EXIT_BAD_INPUT
        if isinstance(exc, MemoryError):
            print("error: this machine ran out of memory; try fewer --workers, a shorter "
                  "horizon or --tables none", file=err)
            return EXIT_BAD_INPUT
        print(f"internal error: {type(exc).__name__}: {exc}\n(run with --debug for a traceback; "
              f"please report it)", file=err)
        return EXIT_INTERNAL
    finally:
        if froze[0] and not exiting:
            gc.unfreeze()
        if resume_gc:
            gc.enable()  # start-up failed before it was over


def _interrupted(exc: KeyboardInterrupt, args: argparse.Namespace, err: TextIO) -> int:
    """Report an interruption in one line; the exit status for it."""
    terminated = isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM
    what = "terminated (SIGTERM)" if terminated else "interrupted"
    staged = getattr(args, "staged", None)
    if staged is None:
        done = "nothing was written"
    elif staged.published:
        done = f"the results had already been written to {staged.out}"
    else:
        done = _outcome(args, f"no results were written (anything already in {staged.out} is "
                              f"untouched)")
    lead = "\n" if _isatty(err) else ""  # end a progress bar's line
    with contextlib.suppress(OSError):
        print(f"{lead}{what}; {done}", file=err)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _outcome(args: argparse.Namespace, otherwise: str) -> str:
    """What a run that stopped early left: its kept unfinished folder, else ``otherwise``."""
    staged = getattr(args, "staged", None)
    if staged is None or not getattr(staged, "kept", False):
        return otherwise
    how = getattr(args, "resume_command", None) or f"--resume {staged.staging}"
    from sim.results.folder import replications_done

    return (f"no results were written; {replications_done(staged.kept_replications)} "
            f"{'is' if staged.kept_replications == 1 else 'are'} kept in {staged.staging} "
            f"(anything already in {staged.out} is untouched); continue with: {how}")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def _quiet(*streams: TextIO) -> None:
    """Point the process's standard streams among ``streams`` at /dev/null.

    After a closed pipe, so that the interpreter's last flush reports nothing.
    """
    for stream in streams:
        if stream not in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            continue
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
