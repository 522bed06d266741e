"""``fbsim report DIR``: one self-contained HTML report of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from sim.cli.common import EXIT_OK, UserError

REPORT_FILE = "report.html"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    rep = sub.add_parser("report", help="write an HTML report of a results folder",
                         description="Write one self-contained HTML file (figures embedded) "
                                     "describing a results folder: the scenario in plain "
                                     "words, the headline table with 95% intervals, the "
                                     "figures, options compared with it, and a STRESS-DES "
                                     "checklist. By default it is written into the folder "
                                     f"as {REPORT_FILE} and listed in its manifest.")
    rep.add_argument("folder", type=Path,
                     help="a results folder written by fbsim run, sweep, compare, plan or "
                          "sensitivity")
    rep.add_argument("--compare", nargs="+", type=Path, default=[], metavar="DIR",
                     help="other results folders to show as options against this one "
                          "(paired by replication where run with the same seed)")
    rep.add_argument("--out", type=Path,
                     help=f"write the report here instead (a new file; default: "
                          f"FOLDER/{REPORT_FILE})")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim report``."""
    from sim.cli.plot import own_results_folder
    from sim.report.build import build_report
    from sim.results.atomic import write_atomic
    from sim.results.folder import incomplete_problem, seal

    folder: Path = args.folder
    target: Path = args.out or folder / REPORT_FILE
    if args.out is None:
        own_results_folder(folder)
    elif target.exists() or target.is_symlink():
        raise UserError(f"{target} exists; fbsim writes a report only to a new file "
                        f"(or into the results folder, without --out)")
    elif not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder")
    for other in [folder, *args.compare]:
        problem = incomplete_problem(other)
        if problem is not None:
            raise UserError(problem)
    for other in args.compare:
        if not (other / "summary.json").is_file():
            raise UserError(f"{other}: not a results folder of fbsim run (no summary.json)")
    try:
        text = build_report(folder, args.compare)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    write_atomic(target, lambda f: f.write(text))
    if args.out is None:
        seal(folder)
    print(target, file=out)
    return EXIT_OK
