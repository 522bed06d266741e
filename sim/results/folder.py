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
folder moved aside, the staging folder renamed into place and the old files removed,
with SIGINT and SIGTERM held back meanwhile (:func:`signals_deferred`), so a Ctrl-C
cannot leave the results half moved; an interrupted or failed run removes its own
staging folder and leaves any previous results untouched.

A run killed outright (SIGKILL, a power cut) cannot clean up: its staging folder
stays. The staging folder holds a lock (an ``flock`` on ``.fbsim-staging.lock``) for
as long as its run lives, so the next run beside it knows the folder's run has ended
and removes it, as long as it holds nothing but fbsim's own layout. A staging folder
is never mistaken for results: it is hidden, named ``*.partial`` and not sealed.

The target may not be the current folder or one holding it (``--out .``, ``--out
/``): a results folder is replaced as a whole on the next run.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from sim.results.atomic import umask

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
#: The lock file of a live staging folder (see the module docstring).
STAGING_LOCK = ".fbsim-staging.lock"
#: What a staging folder of a killed run may hold: the layout, half-written
#: temporary files (:func:`sim.results.atomic.write_atomic`) and the lock.
_STAGING_PATTERNS = (*_LEGACY_PATTERNS, re.compile(r"(.*/)?\.[^/]+\.tmp"),
                     re.compile(re.escape(STAGING_LOCK)))


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


def _holds_working_folder(out: Path) -> bool:
    """True when ``out`` is the current folder, one above it, or the root."""
    target = Path(os.path.abspath(out))
    if target == Path(target.anchor):
        return True
    try:
        cwd = Path.cwd().resolve()
        resolved = target.resolve()
    except OSError:  # the current folder was removed: nothing to hold
        return False
    return resolved == cwd or resolved in cwd.parents


def writable_problem(out: Path) -> str | None:
    """Why fbsim may not write a results folder at ``out``; None if it may."""
    if out.is_symlink():
        return f"{out} is a symbolic link; fbsim writes results only into a real folder"
    if out.exists() and not out.is_dir():
        return f"{out} exists and is not a folder; fbsim will not replace it"
    if _holds_working_folder(out):
        return (f"{out} is the current folder or holds it; a results folder is replaced as a "
                f"whole on the next run, so give it a folder of its own (e.g. --out results/NAME)")
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


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; they are delivered after it.

    The block runs with handlers that only note a signal; the previous handlers (the
    command line's, or Python's own) are put back afterwards and each noted signal is
    raised again, so it takes effect just after the block, as if it came then. (Blocking
    the signals in this thread would not do: another thread may take them.) Off the
    main thread, where handlers cannot be set, the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, _frame: noted.append(signum)) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)


def _lock(path: Path, create: bool) -> int | None:
    """An exclusive ``flock`` on ``path``: its descriptor, or None if held elsewhere or unsupported."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live run, or no locks on this file system
        os.close(fd)
        return None
    return fd


def remove_stale_staging(parent: Path, name: str) -> list[Path]:
    """Remove staging folders of ended runs for results folder ``name`` in ``parent``.

    A staging folder is removed only when its lock file is there and free (its run has
    ended) and it holds nothing but fbsim's own layout; any other is left alone.

    Returns
    -------
    list of pathlib.Path
        The folders removed.
    """
    removed = []
    for path in sorted(parent.glob(f".{glob.escape(name)}.*.partial")):
        lock = path / STAGING_LOCK
        if path.is_symlink() or not path.is_dir() or lock.is_symlink() or not lock.is_file():
            continue
        fd = _lock(lock, create=False)
        if fd is None:
            continue
        try:
            files, _ = _relative_files(path)
            if all(any(p.fullmatch(f) for p in _STAGING_PATTERNS) for f in files):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


class StagedFolder:
    """Context manager yielding a staging folder; publishes it to ``out`` on success.

    Parameters
    ----------
    out : pathlib.Path
        Final results folder. It must be writable by :func:`check_writable`, which is
        checked on entry (before any work) and again before publishing.

    Attributes
    ----------
    published : bool
        True once the results are in place at ``out``.

    Raises
    ------
    ResultsFolderError
        On entry, or on publishing, when fbsim may not write at ``out`` (including
        when the folder beside it cannot be written: read-only, missing permission).
    """

    def __init__(self, out: Path):
        self.out = out
        self.staging: Path | None = None
        self.published = False
        self._lock_fd: int | None = None

    def __enter__(self) -> Path:
        check_writable(self.out)
        parent = Path(os.path.abspath(self.out)).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_stale_staging(parent, self.out.name)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".partial",
                                                 dir=parent))
        except OSError as exc:
            where = exc.filename or parent
            raise ResultsFolderError(f"cannot write results to {self.out}: {where}: "
                                     f"{exc.strerror or exc}") from None
        with contextlib.suppress(OSError):  # a results folder, not a private temporary one
            self.staging.chmod(0o777 & ~umask())
        self._lock_fd = _lock(self.staging / STAGING_LOCK, create=True)
        return self.staging

    def _unlock(self) -> None:
        assert self.staging is not None
        if self._lock_fd is not None:
            (self.staging / STAGING_LOCK).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        staging = self.staging
        assert staging is not None
        if exc_type is not None:
            shutil.rmtree(staging, ignore_errors=True)  # made by this run, in __enter__
            self._unlock_quietly()
            return
        with signals_deferred():
            self._publish(staging)

    def _unlock_quietly(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _publish(self, staging: Path) -> None:
        old: Path | None = None
        try:
            check_writable(self.out)  # someone may have written there while we ran
            self._unlock()
            seal(staging)
            if self.out.is_dir() and not any(self.out.iterdir()):
                self.out.rmdir()
            if self.out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", suffix=".old",
                                            dir=staging.parent))
                old.rmdir()  # a unique name for the previous results, free for the rename
                self.out.rename(old)
            staging.rename(self.out)
            self.published = True
        except BaseException:
            if old is not None and old.exists() and not self.out.exists():
                old.rename(self.out)  # put the previous results back
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            self._unlock_quietly()
            raise
        if old is not None:
            _remove_own(old)
