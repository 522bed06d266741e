"""``fbsim reference``: the scenario reference, generated from the schema."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from sim.cli.common import EXIT_CHECK_FLAGGED, EXIT_OK, UserError

#: The first line of a generated reference: fbsim replaces only a file that starts so.
TITLE = "# Scenario reference"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add this command's parser to ``sub``."""
    ref = sub.add_parser("reference", help="print the scenario reference (every key)",
                         description="Print the scenario reference (every key of a scenario "
                                     "file with its type, unit, default, valid range and "
                                     "meaning), generated from this version's schema.")
    what = ref.add_mutually_exclusive_group()
    what.add_argument("--out", type=Path, metavar="FILE",
                      help="write it to FILE (a new file, or an earlier generated reference)")
    what.add_argument("--check", type=Path, metavar="FILE",
                      help="exit 3 if FILE is not the reference this version generates")


def command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``fbsim reference``."""
    from sim.config.reference import REGENERATE, scenario_reference, undescribed_keys

    missing = undescribed_keys()
    if missing:
        raise UserError("these scenario keys have no description in "
                        "sim/data/scenario_reference.yaml: " + ", ".join(missing))
    text = scenario_reference()
    if args.check is not None:
        try:
            current = args.check.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{args.check}: {exc.strerror or exc}") from None
        if current != text:
            print(f"{args.check} is out of date; regenerate it with '{REGENERATE}'", file=err)
            return EXIT_CHECK_FLAGGED
        print(f"{args.check} is up to date", file=out)
        return EXIT_OK
    if args.out is None:
        out.write(text)
        return EXIT_OK
    target: Path = args.out
    if target.exists():
        try:
            first = target.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            first = ""
        if not target.is_file() or first.strip() != TITLE:
            raise UserError(f"{target} exists and is not a scenario reference fbsim generated; "
                            f"fbsim will not overwrite it")
    from sim.results.atomic import write_atomic

    write_atomic(target, lambda f: f.write(text))
    print(target, file=out)
    return EXIT_OK
