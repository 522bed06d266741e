"""What ``fbsim plan`` and ``fbsim sensitivity`` share to be resumable.

(:mod:`sim.cli.resuming` does the same for ``run``, ``compare`` and ``sweep``, which also
restore the options a resumed command leaves out; these two check them instead.)

Both stage in ``NAME.incomplete`` (:class:`~sim.results.folder.StagedFolder` with
``resumable=True``), journal every replication as it finishes
(:mod:`sim.decision.journal_store`) and, with ``--resume DIR``, check that the command
gives the settings the run started with (:func:`sim.results.resume.check_settings`),
read the journal back into the evaluator's store and run only what is missing. On an
interruption :func:`sim.cli.main` prints ``args.resume_command``, the command that
continues the run.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sim.cli.common import ENVIRONMENT_ERRNOS, UserError, describe_os_error

T = TypeVar("T")


def add_resume_option(p: argparse.ArgumentParser, command: str) -> None:
    """``--resume DIR``."""
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help=f"continue the {command} run that was interrupted or killed while "
                        f"writing DIR (the results folder or its DIR.incomplete folder): "
                        f"replications it finished are not run again and the results are "
                        f"those of an uninterrupted run; give the command it started with "
                        f"(it is printed when a run stops)")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (an input file's identity in the resume settings)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def number_text(value: float) -> str:
    """A float as an option value the parsers read back to the same number."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def command_line(words: Sequence[str], options: Sequence[tuple[str, object]],
                 flags: Sequence[str] = ()) -> str:
    """``fbsim WORDS --OPTION VALUE ... FLAGS``, quoted for a POSIX shell; None values left out."""
    parts = list(words)
    for name, value in options:
        if value is None:
            continue
        parts += [name, number_text(value) if isinstance(value, float) else str(value)]
    parts += list(flags)
    return " ".join(shlex.quote(p) for p in parts)


def stored_settings_for(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of the run ``--resume`` names (UserError if none, or another command's)."""
    from sim.cli import resuming

    return resuming.stored_settings_for(args, str(args.command))


def target_folder(args: argparse.Namespace, default: Path, err: TextIO,
                  settings: Mapping[str, Any]) -> Path:
    """Where the run writes: ``--resume``'s folder once its settings match, else ``--out``'s.

    Raises
    ------
    UserError
        When there is nothing to resume there, its settings differ from ``settings`` (the
        message lists each difference), or fbsim may not write the folder.
    """
    from sim.cli.plan import results_folder
    from sim.results.folder import (
        ResultsFolderError,
        check_writable,
        incomplete_path,
        resume_target,
    )
    from sim.results.resume import check_settings

    if args.resume is None:
        return results_folder(args.out, default, err)
    stored_settings_for(args)  # there is an unfinished run there, and --out agrees
    out_dir = resume_target(args.resume)
    try:
        check_settings(incomplete_path(out_dir), settings)
        check_writable(out_dir)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    return out_dir


def run_resumable(args: argparse.Namespace, out_dir: Path, settings: Mapping[str, Any],
                  about: Mapping[str, Any], backend: Any, seed: int,
                  on_result: Callable[[int, int], None] | None, out: TextIO,
                  work: Callable[[Any, Path], T]) -> T:
    """Run ``work(evaluator, staging)`` in the resumable staging folder of ``out_dir``.

    A fresh run writes the start manifest (``settings``, and ``about`` with
    ``resume_with``: ``args.resume_command``); a resumed one reads the journal into the
    evaluator's store and removes whatever else the stopped session had begun to write.
    Every new replication is journaled before the next is taken. ``work`` writes the
    outputs (its manifest through :func:`sim.results.resume.still_unfinished`); they are
    published when it returns. ``args.staged`` is set for :func:`sim.cli.main`'s report
    of an interruption.
    """
    from sim.decision.evaluate import Evaluator
    from sim.decision.journal_store import clear_outputs, journaled_store, store_recorder
    from sim.results.folder import ResultsFolderError, StagedFolder, replications_done
    from sim.results.journal import Journal
    from sim.results.resume import write_start_manifest

    resume = args.resume is not None
    args.staged = staged = StagedFolder(out_dir, resumable=True, resume=resume)
    try:
        with staged as staging, Journal(staging) as journal:
            store = journaled_store(staging) if resume else {}
            if resume:
                clear_outputs(staging)
                done = sum(len(reps) for reps in store.values())
                print(f"resuming {staging}: {replications_done(done)}, not run again",
                      file=out)
            else:
                write_start_manifest(staging, settings,
                                     {**about, "resume_with": args.resume_command})
            evaluator = Evaluator(backend, seed, store=store, on_result=on_result,
                                  on_store=store_recorder(journal))
            return work(evaluator, staging)
    except ResultsFolderError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        kept = (f"; {replications_done(staged.kept_replications)} kept in {staged.staging}: "
                f"continue with: {args.resume_command}" if staged.kept else "")
        raise UserError(f"cannot write results to {out_dir}: {describe_os_error(exc)}; nothing "
                        f"was written there{kept}") from None


def resumed_facts(result: Any) -> dict[str, Any]:
    """The manifest's record of a resumption (empty for an uninterrupted run)."""
    reused = int(getattr(result, "replications_reused", 0))
    return {"resumed": {"replications_reused": reused}} if reused else {}
