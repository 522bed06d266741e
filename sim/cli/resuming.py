"""``--resume DIR`` on the command line: shared by ``fbsim run``, ``compare`` and ``sweep``.

A resumable command stages its results in ``DIR.incomplete`` with the settings that
decide its replications (:mod:`sim.results.resume`) and journals every finished
replication (:mod:`sim.results.journal`). With ``--resume`` it reads those settings
back (:func:`stored_settings_for`), takes the options the user left out from them
(:func:`restore_replications` and the command's own), refuses to go on if any differs
(:func:`results_folder`), and runs only the replications not in the journal.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.cli.common import UserError, describe_os_error
from sim.cli.replication_args import AUTO

#: The resumable commands.
RESUMABLE = ("run", "compare", "sweep")


def add_resume_argument(p: argparse.ArgumentParser, what: str = "run") -> None:
    """Add ``--resume DIR`` to a command's parser."""
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help=f"continue the {what} that was interrupted or killed while writing DIR "
                        f"(the results folder or its DIR.incomplete folder): only the "
                        f"replications it had not finished are run; options left out are "
                        f"those it started with, and the scenarios and the options that "
                        f"decide the results must be those it started with")


def stored_settings_for(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The settings the unfinished run of ``--resume`` started with ({} without ``--resume``).

    Raises
    ------
    UserError
        With ``--out`` naming another folder, with no unfinished run at the folder, or
        with one another command started.
    """
    from sim.results.folder import ResultsFolderError, incomplete_path, resume_target
    from sim.results.resume import stored_settings

    if args.resume is None:
        return {}
    target = resume_target(args.resume)
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(target):
        raise UserError(f"--out {args.out} and --resume {args.resume} name different folders; "
                        f"a resumed run writes its results where it started (leave out --out)")
    staging = incomplete_path(target)
    if not staging.exists():
        finished = (target / "manifest.json").is_file()
        raise UserError(f"--resume {args.resume}: there is no unfinished run at {staging}"
                        + (f"; {target} holds a finished run (run without --resume to replace "
                           f"it)" if finished else ""))
    try:
        stored = stored_settings(staging)
    except ResultsFolderError as exc:
        raise UserError(f"--resume {args.resume}: {exc}") from None
    started = stored.get("command", "run")
    if started != command:
        raise UserError(f"--resume {args.resume}: {staging} holds an unfinished 'fbsim "
                        f"{started}', not an 'fbsim {command}'; continue it with "
                        f"'fbsim {started} ... --resume {staging}'")
    return stored


def restore_replications(args: argparse.Namespace, stored: Mapping[str, Any]) -> None:
    """Take ``--reps`` (and with ``auto`` its rule's options) from ``stored`` when left out.

    Only when ``--reps`` is left out: given, every option is the user's, and a
    difference from the stored settings is refused later.
    """
    reps = stored.get("replications")
    if args.reps is not None or reps is None:
        return
    if not isinstance(reps, dict):
        args.reps = int(reps)
        return
    args.reps = AUTO
    for option, key in (("precision", "precision"), ("max_reps", "max_reps"),
                        ("initial_reps", "initial"), ("precision_metrics", "metrics"),
                        ("precision_floor", "floors")):
        if hasattr(args, option) and getattr(args, option) is None and key in reps:
            value = reps[key]
            if option == "precision_floor":
                value = [f"{k}={v!r}" for k, v in dict(value).items()] or None
            setattr(args, option, value)


def restore(args: argparse.Namespace, stored: Mapping[str, Any],
            options: Mapping[str, str]) -> None:
    """Set each option (``dest -> settings key``) left out (None) to its stored value."""
    for dest, key in options.items():
        if getattr(args, dest, None) is None and stored.get(key) is not None:
            setattr(args, dest, stored[key])


def results_folder(args: argparse.Namespace, default_out: Path, settings: Mapping[str, Any],
                   err: Any) -> Path:
    """Where the command writes: the resumed folder (settings checked), ``--out`` or a free default.

    Raises
    ------
    UserError
        When fbsim may not write there, or the unfinished run to resume was started
        with other settings (each difference named).
    """
    from sim.results.folder import (
        ResultsFolderError,
        check_writable,
        choose_out,
        incomplete_path,
        resume_target,
    )
    from sim.results.resume import check_settings

    try:
        if args.resume is not None:
            out_dir: Path = resume_target(args.resume)
            check_settings(incomplete_path(out_dir), settings)
            check_writable(out_dir)
            return out_dir
        if args.out is not None:
            check_writable(args.out)
            return Path(args.out)
        out_dir = choose_out(default_out)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    if out_dir != default_out:
        print(f"note: {default_out} holds files fbsim did not write, so results go to "
              f"{out_dir}", file=err)
    return out_dir


def resume_command(words: Sequence[str | Path], out_dir: Path) -> str:
    """``fbsim WORDS... --resume OUT.incomplete``, quoted for a shell."""
    from sim.results.folder import incomplete_path

    return " ".join(["fbsim", *(shlex.quote(str(w)) for w in words), "--resume",
                     shlex.quote(str(incomplete_path(out_dir)))])


def write_failed(exc: OSError, out_dir: Path, staged: Any, how: str) -> UserError:
    """The message of a results folder that could not be written (disk full, permissions)."""
    from sim.results.folder import replications_done

    kept = (f"; {replications_done(staged.kept_replications)} kept in {staged.staging}: "
            f"continue with: {how}" if staged.kept else "")
    return UserError(f"cannot write results to {out_dir}: {describe_os_error(exc)}; nothing "
                     f"was written there{kept}")


def resuming_line(staging: Path, done: int, total: int | None, noun: str) -> str:
    """``resuming DIR: 3 of 6 replications were finished, 3 to run`` (no total: auto)."""
    if total is None:
        return (f"resuming {staging}: {done} {noun} were finished; more are added until the "
                f"precision is met")
    return f"resuming {staging}: {done} of {total} {noun} were finished, {total - done} to run"
