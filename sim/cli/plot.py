"""``fbsim plot DIR``: redraw the standard figures of a results folder from its tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from sim.cli.common import EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    plot = sub.add_parser("plot", help="redraw the plots of a results folder",
                          description="Redraw the standard PNG figures of a results folder "
                                      "written by 'fbsim run' from its tables (time to "
                                      "identify by route, backlog fan charts, wait curves, "
                                      "staff). The figures are written into the folder and "
                                      "listed in its manifest.")
    plot.add_argument("folder", type=Path, help="a results folder written by fbsim run")


def own_results_folder(folder: Path) -> None:
    """Raise :class:`UserError` unless ``folder`` is a results folder fbsim wrote, whole.

    fbsim adds files only to a folder it wrote that holds nothing else, so that what it
    lists in the manifest as its own is exactly what it wrote.
    """
    from sim.results.folder import foreign_files, incomplete_path, incomplete_problem

    if not folder.is_dir():
        hint = ""
        if incomplete_path(folder).is_dir():
            hint = (f" (its run did not finish: continue it with 'fbsim run SCENARIO --resume "
                    f"{folder}')")
        raise UserError(f"{folder}: no such results folder{hint}")
    problem = incomplete_problem(folder)
    if problem is not None:
        raise UserError(problem)
    extra = foreign_files(folder)
    if extra is None:
        raise UserError(f"{folder} is not a results folder written by fbsim (no fbsim "
                        f"manifest.json)")
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise UserError(f"{folder} holds files fbsim did not write ({shown}); fbsim adds files "
                        f"only to a results folder that holds nothing else: move them out first")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim plot``."""
    from sim.plots.run_plots import save_run_plots
    from sim.results.folder import seal

    folder: Path = args.folder
    own_results_folder(folder)
    try:
        written = save_run_plots(folder)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    seal(folder)
    for path in written:
        print(path, file=out)
    return EXIT_OK
