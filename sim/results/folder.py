"""The results folder of a run: written only where fbsim may write, staged, never lossy.

fbsim writes a results folder only into

- a path that does not exist yet, or
- a folder that fbsim itself wrote earlier: its ``manifest.json`` says so
  (``"written_by": "fbsim"``) and lists every file in it, and the folder holds nothing
  else. Folders written before the list existed are recognised by their manifest's
  provenance keys and by holding only files of the layout fbsim writes.

Anything else (a user's own folder, a results folder someone added a file to, an
existing file) is refused with :class:`ResultsFolderError` *before* the run starts;
:func:`choose_out` offers the next free ``NAME-2``, ``NAME-3`` … instead when the
user did not name the folder. Nothing here deletes a file that is not listed in an
fbsim manifest or that fbsim did not create in this run.

A run writes into a fresh hidden staging folder beside the target
(``.NAME.XXXX.partial``). Only when everything is written is the previous fbsim
folder moved aside, the staging folder renamed into place and the old files removed;
an interrupted or failed run removes its own staging folder and leaves any previous
results untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

#: Manifest key and value that mark a folder as written by fbsim.
WRITTEN_BY_KEY, WRITTEN_BY = "written_by", "fbsim"
#: Manifest key listing every file of the folder (POSIX paths relative to it).
FILES_KEY = "files"
MANIFEST = "manifest.json"
#: Keys every fbsim manifest has had, used to recognise folders written before
#: :data:`FILES_KEY` existed.
_LEGACY_KEYS = frozenset({"scenario_sha256", "package_version", "seed", "replications"})
#: Files of the layout earlier fbsim versions wrote (relative POSIX paths).
_LEGACY_PATTERNS = (
    re.compile(r"(summary|manifest)\.json"),
    re.compile(r"scenario\.yaml"),
    re.compile(r"[a-z0-9_]+\.(csv|png)"),
    re.compile(r"tables/[a-z0-9_]+/rep-\d{5}\.(csv|parquet)"),
)


class ResultsFolderError(Exception):
    """fbsim may not write results at this path; the message says why and what to do."""


def _relative_files(root: Path) -> tuple[list[str], list[str]]:
    """Files and folders below ``root`` as sorted relative POSIX paths (no symlink follow)."""
    files: list[str] = []
    dirs: list[str] = []
    for here, subdirs, names in os.walk(root, followlinks=False):
        rel = Path(here).relative_to(root)
        for d in subdirs:
            path = Path(here) / d
            (files if path.is_symlink() else dirs).append((rel / d).as_posix())
        files.extend((rel / n).as_posix() for n in names)
    return sorted(files), sorted(dirs)


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > 64 * 1024 * 1024:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def foreign_files(folder: Path) -> list[str] | None:
    """Entries of ``folder`` that fbsim did not write; None if it is not an fbsim folder.

    Returns
    -------
    list of str or None
        None when ``folder`` has no fbsim manifest; otherwise the relative paths of
        files (and folders) not accounted for by it, empty when fbsim wrote everything.
    """
    manifest = _read_manifest(folder)
    if manifest is None:
        return None
    files, dirs = _relative_files(folder)
    if manifest.get(WRITTEN_BY_KEY) == WRITTEN_BY and isinstance(manifest.get(FILES_KEY), list):
        own = {str(f) for f in manifest[FILES_KEY]}
        own_dirs = {p.rsplit("/", i)[0] for p in own for i in range(1, p.count("/") + 1)}
        extra = [f for f in files if f not in own] + [d for d in dirs if d not in own_dirs]
        return sorted(extra)
    if set(manifest) >= _LEGACY_KEYS:
        extra = [f for f in files if not any(p.fullmatch(f) for p in _LEGACY_PATTERNS)]
        extra += [d for d in dirs if not re.fullmatch(r"tables(/[a-z0-9_]+)?", d)]
        return sorted(extra)
    return None


def _describe(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def writable_problem(out: Path) -> str | None:
    """Why fbsim may not write a results folder at ``out``; None if it may."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        return f"{out} exists and is not a folder; fbsim will not replace it"
    if not out.exists():
        parent = next((p for p in out.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            return f"{parent} is a file, so {out} cannot be made"
        return None
    extra = foreign_files(out)
    if extra is None:
        if not any(out.iterdir()):
            return None  # an empty folder: nothing to lose
        return (f"{out} exists and was not written by fbsim (no fbsim manifest.json); "
                f"fbsim never replaces a folder it did not write")
    if extra:
        return (f"{out} is an earlier fbsim results folder, but it also holds files fbsim did "
                f"not write ({_describe(extra)}); move them out first, or choose another --out")
    return None


def check_writable(out: Path) -> None:
    """Raise :class:`ResultsFolderError` unless fbsim may write results at ``out``."""
    problem = writable_problem(out)
    if problem is not None:
        raise ResultsFolderError(problem)


def choose_out(default: Path, limit: int = 1000) -> Path:
    """``default`` if fbsim may write there, else the first free ``default-2``, ``-3`` ….

    Used when the user did not name the folder; an explicit ``--out`` is checked with
    :func:`check_writable` instead, so it is never silently changed.
    """
    if writable_problem(default) is None:
        return default
    for k in range(2, limit + 2):
        candidate = default.with_name(f"{default.name}-{k}")
        if writable_problem(candidate) is None:
            return candidate
    raise ResultsFolderError(f"no free results folder next to {default} (tried {limit}); "
                             f"name one with --out")


def seal(folder: Path) -> None:
    """Mark ``folder`` as fbsim's: its manifest gets the marker and the list of its files.

    Called once every other file is written; the manifest (written last) lists itself.
    """
    from sim.results.atomic import write_json

    manifest = _read_manifest(folder) or {}
    files, _ = _relative_files(folder)
    manifest[WRITTEN_BY_KEY] = WRITTEN_BY
    manifest[FILES_KEY] = sorted({*files, MANIFEST})
    write_json(folder / MANIFEST, manifest)


def _remove_own(folder: Path) -> None:
    """Delete an fbsim folder that was moved aside: only what its manifest lists.

    Anything else (there should be nothing: it was checked before the run and again
    before publishing) is left where it is, and so is the folder then.
    """
    manifest = _read_manifest(folder) or {}
    listed = manifest.get(FILES_KEY)
    if manifest.get(WRITTEN_BY_KEY) == WRITTEN_BY and isinstance(listed, list):
        names = [str(n) for n in listed]
    else:  # a legacy fbsim folder, already checked to hold only its own layout
        names, _ = _relative_files(folder)
    for name in names:
        path = folder / name
        if path.is_file() and not path.is_symlink() and folder in path.parents:
            path.unlink()
    # Remove now-empty folders, deepest first; a folder that still holds anything stays.
    _, dirs = _relative_files(folder)
    for d in sorted(dirs, key=lambda s: s.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            (folder / d).rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


class StagedFolder:
    """Context manager yielding a staging folder; publishes it to ``out`` on success.

    Parameters
    ----------
    out : pathlib.Path
        Final results folder. It must be writable by :func:`check_writable`, which is
        checked on entry (before any work) and again before publishing.

    Raises
    ------
    ResultsFolderError
        On entry, or on publishing, when fbsim may not write at ``out``.
    """

    def __init__(self, out: Path):
        self.out = out
        self.staging: Path | None = None

    def __enter__(self) -> Path:
        check_writable(self.out)
        parent = self.out.parent
        parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".partial",
                                             dir=parent))
        return self.staging

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        staging = self.staging
        assert staging is not None
        if exc_type is not None:
            shutil.rmtree(staging, ignore_errors=True)  # made by this run, in __enter__
            return
        try:
            check_writable(self.out)  # someone may have written there while we ran
            seal(staging)
            if not self.out.exists():
                staging.rename(self.out)
                return
            if self.out.is_dir() and not any(self.out.iterdir()):
                self.out.rmdir()
                staging.rename(self.out)
                return
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".old",
                                        dir=self.out.parent))
            old.rmdir()  # a unique name for the previous results, free for the rename
            self.out.rename(old)
            staging.rename(self.out)
            _remove_own(old)
        except BaseException:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            raise
