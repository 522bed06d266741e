"""Resuming a run: its settings, written when it starts and checked when it resumes.

A resumable run stages in ``NAME.incomplete`` (:class:`sim.results.folder.StagedFolder`
with ``resumable=True``). When it starts it writes there a manifest saying
``"complete": false`` with the settings that decide its replications
(:func:`write_start_manifest`); each finished replication goes into the folder's journal
(:mod:`sim.results.journal`, through :func:`recorder`). ``--resume`` reads the settings
back (:func:`stored_settings`), refuses to go on if they differ from the command's
(:func:`check_settings`), takes the finished replications from the journal and removes
every table file no journal record vouches for (:func:`remove_unrecorded_tables`); only
the others are run again. The same settings and the same replication indices give the
same tables, byte for byte, so the results are those of an uninterrupted run.

What the settings must hold is the caller's choice: whatever, if changed, would change a
replication's tables or the set of replications (for ``fbsim run``: the scenario's hash,
seed, replications, table set and format, and fbsim's version). How the run is carried
out (backend, workers, progress, plots) may differ between the sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.results.atomic import write_json
from sim.results.folder import (
    COMPLETE_KEY,
    MANIFEST,
    WRITTEN_BY,
    WRITTEN_BY_KEY,
    ResultsFolderError,
    _read_manifest,
    _relative_files,
)
from sim.results.journal import Entry, Journal

if TYPE_CHECKING:
    from sim.analysis.metrics import ReplicationSummary

#: Manifest key of an unfinished run's settings.
SETTINGS_KEY = "resume_settings"


class ResumeMismatchError(ResultsFolderError):
    """The run kept to resume was started with other settings than the command gives."""


def write_start_manifest(folder: Path, settings: Mapping[str, Any],
                         about: Mapping[str, Any] | None = None) -> None:
    """Write the manifest of an unfinished run: ``"complete": false`` and its settings.

    Parameters
    ----------
    folder : pathlib.Path
        The run's unfinished folder.
    settings : mapping
        What a resumed run must match (JSON-ready values).
    about : mapping, optional
        Other facts for a reader (scenario name and file, how to resume it).
    """
    write_json(folder / MANIFEST, {
        WRITTEN_BY_KEY: WRITTEN_BY, COMPLETE_KEY: False, **(about or {}),
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        SETTINGS_KEY: dict(settings)})


def still_unfinished(manifest: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` (a run's final one) marked unfinished, with the run's settings.

    A run writes its final manifest before it publishes; until then the folder is still
    an unfinished run's, resumable if it is killed, and publishing marks it complete
    (:func:`sim.results.folder.seal`). The settings stay in the published manifest: they
    say what decided its replications.
    """
    return {**manifest, COMPLETE_KEY: False, SETTINGS_KEY: dict(settings)}


def stored_settings(folder: Path) -> dict[str, Any]:
    """The settings an unfinished run in ``folder`` was started with.

    Raises
    ------
    ResultsFolderError
        If ``folder`` is not the folder of an unfinished fbsim run.
    """
    manifest = _read_manifest(folder) if folder.is_dir() and not folder.is_symlink() else None
    if (manifest is None or manifest.get(WRITTEN_BY_KEY) != WRITTEN_BY
            or manifest.get(COMPLETE_KEY) is not False
            or not isinstance(manifest.get(SETTINGS_KEY), dict)):
        raise ResultsFolderError(f"{folder} is not the folder of an unfinished fbsim run (its "
                                 f"manifest.json does not say so); there is nothing to resume")
    return dict(manifest[SETTINGS_KEY])


def setting_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """One line per setting that differs: ``name: X when it started, Y now``."""
    return [f"{name}: {stored.get(name)!r} when it started, {wanted.get(name)!r} now"
            for name in dict.fromkeys([*stored, *wanted]) if stored.get(name) != wanted.get(name)]


def check_settings(folder: Path, wanted: Mapping[str, Any]) -> None:
    """Raise :class:`ResumeMismatchError` unless the run in ``folder`` has settings ``wanted``."""
    differences = setting_differences(stored_settings(folder), wanted)
    if differences:
        raise ResumeMismatchError(
            f"cannot resume {folder}: it was started with other settings, so its finished "
            f"replications would not be those of this run ({'; '.join(differences)}); "
            f"resume it with the scenario and options it was started with, or delete "
            f"{folder} to start again")


def remove_unrecorded_tables(folder: Path, kept: Iterable[Entry]) -> int:
    """Delete the table files under ``folder/tables`` that no record of ``kept`` lists.

    They belong to replications that were running when the run stopped (whole or half
    written); those replications run again and write them anew. Half-written temporary
    files go too. Call only on a folder whose files are all fbsim's (the staging folder
    checks that on entry).

    Returns
    -------
    int
        How many files were removed.
    """
    keep = {name for entry in kept for name in entry.files}
    removed = 0
    files, _ = _relative_files(folder)
    for name in files:
        path = folder / name
        if (name.startswith("tables/") and name not in keep and path.is_file()
                and not path.is_symlink()):
            path.unlink()
            removed += 1
    return removed


def replication_files(table_dir: Path, replication: int) -> list[Path]:
    """The table files of one replication under ``table_dir`` (``TABLE/rep-NNNNN.*``)."""
    if not table_dir.is_dir():
        return []
    return sorted(p for p in table_dir.glob(f"*/rep-{replication:05d}.*")
                  if p.is_file() and not p.name.endswith(".tmp"))


def recorder(journal: Journal, key: str, table_dir: Path | None
             ) -> Callable[[ReplicationSummary], None]:
    """A callback that journals each finished replication of ``key`` with its table files."""
    def record(summary: ReplicationSummary) -> None:
        files = [] if table_dir is None else replication_files(table_dir, summary.replication)
        journal.append(key, summary, files)

    return record
