"""Ctrl-C and SIGTERM as one clean interruption of an ``fbsim`` command.

The first SIGINT (Ctrl-C) or SIGTERM raises :class:`Interrupted` in the main thread,
wherever the command is; the code it unwinds through stops the worker processes and
removes the run's staging folder. Any further SIGINT or SIGTERM is ignored while that
clean-up runs, so pressing Ctrl-C again cannot break it half way (the worker
processes are killed and waited for, which takes well under a second). Publishing a
results folder holds the signals back until it is done
(:func:`sim.results.folder.signals_deferred`), so it is never cut in two.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

#: The signals that interrupt a command.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (a ``KeyboardInterrupt`` for SIGINT's sake)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def interruptible(restore: bool = True) -> Iterator[None]:
    """Within the block, the first SIGINT or SIGTERM raises :class:`Interrupted`; later ones wait.

    Parameters
    ----------
    restore : bool
        Put the previous handlers back on leaving (a call from a notebook or a test).
        False (the ``fbsim`` process, which ends on leaving) ignores the signals from
        then on, so a Ctrl-C during the interpreter's exit neither prints a traceback
        nor kills it.
    """
    if not _in_main_thread():  # signal handlers can only be set from the main thread
        yield
        return
    stopping = [False]

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stopping[0]:
            return  # already stopping: let the clean-up finish
        stopping[0] = True
        raise Interrupted(signum)

    previous: dict[int, Any] = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        stopping[0] = True
        for s, h in previous.items():
            # Ignored, not left to a Python handler: the interpreter resets those to the
            # default at exit, and a late Ctrl-C would then kill it while it finishes.
            signal.signal(s, h if restore else signal.SIG_IGN)
