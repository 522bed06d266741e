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

A *resumable* run (``StagedFolder(out, resumable=True)``, what ``fbsim run`` uses)
stages instead in the visible folder ``NAME.incomplete`` beside the target, whose
``manifest.json`` says ``"complete": false`` and holds the run's settings, and whose
journal (:mod:`sim.results.journal`) lists the replications finished so far. An
interrupted or failed run keeps that folder when it has finished any replication (a
kill leaves it anyway), so ``--resume`` can continue it; one with nothing finished is
removed as before. It can never be taken for results: its name says so, its manifest
says so, it is never sealed, and every reader of results refuses it
(:func:`incomplete_problem`). A new run into the same target never deletes it: a free
``NAME.incomplete`` with nothing finished in it (a run killed before its first
replication) is cleared and reused, one with finished replications is refused with a
message saying how to resume it, and one whose run is still alive (its lock is held)
is refused. Stale ``*.partial`` folders are never removed while they hold a journal.
"""

from __future__ import annotations

import contextlib
import errno
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
from sim.results.journal import JOURNAL, journal_entries

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
#: Half-written temporary files (:func:`sim.results.atomic.write_atomic`).
_TEMPORARY = re.compile(r"(.*/)?\.[^/]+\.tmp")
#: What a staging folder of a killed run may hold: the layout, half-written
#: temporary files, the lock and the journal of a resumable run (and run-level tables
#: as Parquet, which the legacy layout did not have, and the YAML files of ``fbsim plan``
#: and ``fbsim sensitivity``: chosen_plan.yaml, levers.yaml, parameters.yaml).
_STAGING_PATTERNS = (*_LEGACY_PATTERNS, re.compile(r"[a-z0-9_]+\.parquet"), _TEMPORARY,
                     re.compile(r"[a-z0-9_]+\.yaml"),
                     re.compile(re.escape(STAGING_LOCK)), re.compile(re.escape(JOURNAL)))
#: Suffix of the folder where a resumable run stages (see the module docstring).
INCOMPLETE_SUFFIX = ".incomplete"
#: Manifest key saying whether the run finished (False only while it is unfinished).
COMPLETE_KEY = "complete"


#: How to continue an unfinished run of each resumable command (its scenarios named).
_RESUME_ARGUMENTS = {"run": "fbsim run SCENARIO", "sweep": "fbsim sweep SCENARIO",
                     "compare": "fbsim compare BASE OPTION..."}


class ResultsFolderError(Exception):
    """fbsim may not write results at this path; the message says why and what to do."""


class IncompleteRunError(ResultsFolderError):
    """The folder holds a run that did not finish; it is not results (resume it)."""


def incomplete_path(out: Path) -> Path:
    """Where a resumable run into ``out`` stages: ``NAME.incomplete`` beside it."""
    return out.with_name(out.name + INCOMPLETE_SUFFIX)


def resume_target(path: Path) -> Path:
    """The results folder a ``--resume`` path means: ``NAME`` for ``NAME`` or ``NAME.incomplete``."""
    if path.name.endswith(INCOMPLETE_SUFFIX) and len(path.name) > len(INCOMPLETE_SUFFIX):
        return path.with_name(path.name[:-len(INCOMPLETE_SUFFIX)])
    return path


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


def replications_done(n: int) -> str:
    """``1 replication done``, ``3 replications done``."""
    return f"{n} replication{'' if n == 1 else 's'} done"


def incomplete_problem(folder: Path) -> str | None:
    """Why ``folder`` is not results but an unfinished run; None if it is not one.

    An unfinished run's folder says ``"complete": false`` in its manifest; a folder
    named ``*.incomplete`` or holding a journal is taken for one too, whatever it says.
    """
    manifest = _read_manifest(folder)
    unfinished = (folder.name.endswith(INCOMPLETE_SUFFIX) or (folder / JOURNAL).exists()
                  or (manifest is not None and manifest.get(COMPLETE_KEY) is False))
    if not unfinished:
        return None
    done = len({(e.key, e.replication) for e in journal_entries(folder)})
    target = resume_target(folder)
    how = (manifest or {}).get("resume_with")  # the exact command that continues it
    if not isinstance(how, str) or not how.startswith("fbsim "):
        settings = (manifest or {}).get("resume_settings")
        command = settings.get("command") if isinstance(settings, dict) else None
        scenarios = _RESUME_ARGUMENTS.get(command if isinstance(command, str) else "run",
                                          _RESUME_ARGUMENTS["run"])
        how = f"{scenarios} --resume {target}"
    return (f"{folder} holds a run that did not finish ({replications_done(done)}), not "
            f"results; continue it with '{how}', which writes the results to {target}")


def check_finished(folder: Path) -> None:
    """Raise :class:`IncompleteRunError` if ``folder`` holds an unfinished run."""
    problem = incomplete_problem(folder)
    if problem is not None:
        raise IncompleteRunError(problem)


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
    if out.name.endswith(INCOMPLETE_SUFFIX):
        return (f"{out} is named like the folder of an unfinished run (*{INCOMPLETE_SUFFIX}); "
                f"results go to a folder without that ending (to continue a run, use --resume)")
    if _holds_working_folder(out):
        return (f"{out} is the current folder or holds it; a results folder is replaced as a "
                f"whole on the next run, so give it a folder of its own (e.g. --out results/NAME)")
    if not out.exists():
        parent = next((p for p in out.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            return f"{parent} is a file, so {out} cannot be made"
        return None
    if incomplete_problem(out) is not None:
        return incomplete_problem(out)
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


def seal(folder: Path, complete: bool = False) -> None:
    """Mark ``folder`` as fbsim's: its manifest gets the marker and the list of its files.

    Called once every other file is written; the manifest (written last) lists itself.
    ``complete`` also records ``"complete": true`` (a run's results, published).
    """
    from sim.results.atomic import write_json

    manifest = _read_manifest(folder) or {}
    files, _ = _relative_files(folder)
    manifest[WRITTEN_BY_KEY] = WRITTEN_BY
    if complete:
        manifest[COMPLETE_KEY] = True
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


class _LockHeldError(Exception):
    """The lock is held by a live run."""


def _lock(path: Path, create: bool, exclusive: bool = True, strict: bool = False) -> int | None:
    """An exclusive ``flock`` on ``path``: its descriptor, or None if held elsewhere or unsupported.

    ``create`` makes the file (only if new when ``exclusive``); ``strict`` raises
    :class:`_LockHeldError` when a live run holds the lock, and returns None only when the
    file system has no locks.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0)
    if create:
        flags |= os.O_CREAT | (os.O_EXCL if exclusive else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:  # held by a live run, or no locks on this file system
        os.close(fd)
        if strict and exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            raise _LockHeldError(str(path)) from None
        return None
    return fd


def _layout_problems(folder: Path) -> list[str]:
    """Entries of a staging folder that are not fbsim's staging layout (see the patterns)."""
    files, dirs = _relative_files(folder)
    return ([f for f in files if not any(p.fullmatch(f) for p in _STAGING_PATTERNS)]
            + [d for d in dirs if not re.fullmatch(r"tables(/[a-z0-9_]+)?", d)])


def _remove_staging(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Delete fbsim's own files of a staging folder (its layout), then the empty folders.

    A file of any other name stays, and so then does the folder; ``keep`` names files
    to leave (the lock of a folder about to be reused).
    """
    files, _ = _relative_files(folder)
    for name in files:
        path = folder / name
        if (name not in keep and any(p.fullmatch(name) for p in _STAGING_PATTERNS)
                and path.is_file() and not path.is_symlink()):
            path.unlink()
    _, dirs = _relative_files(folder)
    for d in sorted(dirs, key=lambda s: s.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            (folder / d).rmdir()
    if not keep:
        with contextlib.suppress(OSError):
            folder.rmdir()


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
        if journal_entries(path):  # finished replications: resumable work, never removed
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
    resumable : bool
        Stage in ``NAME.incomplete`` and keep it, if it has finished replications in its
        journal, when the run is interrupted or fails (see the module docstring).
    resume : bool
        Continue the unfinished run kept in ``NAME.incomplete`` (implies ``resumable``);
        the caller checks its settings first (:mod:`sim.results.resume`).

    Attributes
    ----------
    published : bool
        True once the results are in place at ``out``.
    kept : bool
        True when the run did not finish and its unfinished folder was kept to resume.
    kept_replications : int
        How many finished replications the kept folder holds.

    Raises
    ------
    ResultsFolderError
        On entry, or on publishing, when fbsim may not write at ``out`` (including
        when the folder beside it cannot be written: read-only, missing permission),
        or when ``NAME.incomplete`` is in use, holds an unfinished run (without
        ``resume``) or none (with ``resume``).
    """

    def __init__(self, out: Path, resumable: bool = False, resume: bool = False):
        self.out = out
        self.resumable = resumable or resume
        self.resume = resume
        self.staging: Path | None = None
        self.published = False
        self.kept = False
        self.kept_replications = 0
        self._lock_fd: int | None = None

    def __enter__(self) -> Path:
        check_writable(self.out)
        parent = Path(os.path.abspath(self.out)).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_stale_staging(parent, self.out.name)
            if self.resumable:
                self.staging = self._enter_incomplete()
                return self.staging
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

    def _enter_incomplete(self) -> Path:
        """Make, reuse or (``resume``) take over ``NAME.incomplete``, locked."""
        staging = incomplete_path(self.out)
        if staging.is_symlink() or (staging.exists() and not staging.is_dir()):
            raise ResultsFolderError(f"{staging} exists and is not a folder fbsim made; move "
                                     f"it away or choose another --out")
        if not staging.exists():
            if self.resume:
                raise ResultsFolderError(f"there is no unfinished run to resume at {staging}")
            staging.mkdir()
            self._lock_fd = _lock(staging / STAGING_LOCK, create=True)
            return staging
        # Read-only checks first: a folder that is not fbsim's is refused untouched (taking
        # the lock would write a file into it).
        self._refuse_foreign(staging)
        try:
            self._lock_fd = _lock(staging / STAGING_LOCK, create=True, exclusive=False,
                                  strict=True)
        except _LockHeldError:
            raise ResultsFolderError(f"another fbsim run is writing to {staging} now; wait "
                                     f"for it to end, or choose another --out") from None
        try:
            foreign = _layout_problems(staging)
            if foreign:
                raise ResultsFolderError(f"{staging} holds files fbsim did not write "
                                         f"({_describe(foreign)}); move them out first")
            done = journal_entries(staging)
            if not self.resume:
                if done:
                    raise ResultsFolderError(
                        f"{staging} holds an unfinished run into {self.out} "
                        f"({replications_done(len({(e.key, e.replication) for e in done}))}); "
                        f"continue it with --resume {staging} (same command and scenario), "
                        f"or delete {staging} to start again")
                _remove_staging(staging, keep=(STAGING_LOCK,))  # nothing finished in it
        except BaseException:
            self._unlock_quietly()
            raise
        return staging

    @staticmethod
    def _refuse_foreign(staging: Path) -> None:
        """Refuse ``NAME.incomplete`` if it holds files fbsim did not write there.

        Anything outside fbsim's staging layout is foreign; so is layout-named content
        without the unfinished run's manifest (a folder fbsim never made), apart from a
        lone lock left by a run killed before it wrote its manifest.
        """
        foreign = _layout_problems(staging)
        files, _ = _relative_files(staging)
        manifest = _read_manifest(staging)
        ours = manifest is not None and manifest.get(WRITTEN_BY_KEY) == WRITTEN_BY
        if not foreign and not ours:
            foreign = [f for f in files if f != STAGING_LOCK]
        if foreign:
            raise ResultsFolderError(f"{staging} holds files fbsim did not write "
                                     f"({_describe(foreign)}); move them out first")

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
            self._discard_or_keep(staging)
            self._unlock_quietly()
            return
        with signals_deferred():
            self._publish(staging)

    def _discard_or_keep(self, staging: Path) -> None:
        """After a failure: keep a resumable folder with finished work, else remove it."""
        if self.resumable:
            done = journal_entries(staging)
            if done:
                self.kept = True
                self.kept_replications = len({(e.key, e.replication) for e in done})
                return
            _remove_staging(staging)  # only fbsim's own files
        else:
            shutil.rmtree(staging, ignore_errors=True)  # made by this run, in __enter__

    def _unlock_quietly(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _publish(self, staging: Path) -> None:
        old: Path | None = None
        try:
            check_writable(self.out)  # someone may have written there while we ran
            if self.resumable:
                foreign = _layout_problems(staging)
                if foreign:
                    raise ResultsFolderError(f"{staging} holds files fbsim did not write "
                                             f"({_describe(foreign)}); move them out, then "
                                             f"--resume {staging} to publish the results")
            self._unlock()
            if self.resumable:  # the run's own state: the journal and stray temporaries
                for name in _relative_files(staging)[0]:
                    if name == JOURNAL or _TEMPORARY.fullmatch(name):
                        (staging / name).unlink(missing_ok=True)
            seal(staging, complete=True)
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
                self._discard_or_keep(staging)
            self._unlock_quietly()
            raise
        if old is not None:
            _remove_own(old)
