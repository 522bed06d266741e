"""``python -m sim`` and the ``fbsim`` console command: :func:`entry`."""

from __future__ import annotations

import gc
import sys


def entry() -> None:
    """Run the ``fbsim`` command line in this process, then exit with its status.

    The garbage collector is paused while the command starts up (imports, reading and
    validating the scenario): start-up makes objects that live as long as the process,
    so the collector's passes over them are wasted (about 8 ms here,
    ``bench/RESULTS.md``). :func:`sim.cli.main` resumes it when start-up is over.
    """
    gc.disable()
    from sim.cli import main

    sys.exit(main(exiting=True))


if __name__ == "__main__":
    entry()
