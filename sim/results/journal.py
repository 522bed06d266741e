"""The journal of a run in progress: one record per finished replication, append-only.

A resumable run (``fbsim run``, and later ``compare`` and ``sweep``) keeps, in its
unfinished folder, a journal of every replication it has finished: the replication's
:class:`~sim.analysis.metrics.ReplicationSummary` (all a run needs of it to write its
run-level outputs) and the size of each table file it wrote. The main process appends
a record only once the worker has returned, that is, once every table of that
replication is in place; the table files and then the journal are flushed to disk
(``fsync``) before the next record, so a record in the journal means the replication is
complete, even after a power cut. A replication without a record is simply run again.

Records are keyed by ``(key, replication)``: the key names what was run (the scenario's
hash for ``fbsim run``; an option's or a point's name where a command runs several), so
one journal serves any command. A later record for the same key and replication
replaces an earlier one.

File format (:data:`JOURNAL`): a sequence of records, each ``MAGIC``, the payload's
length and CRC-32 (two little-endian unsigned 32-bit integers) and the payload, a
zlib-compressed JSON object. Floats are written as the shortest text that reads back
to the same double and arrays keep their dtype, so a summary read back is equal, bit
for bit, to the one written. No pickle: reading a journal runs no code. A record cut
short by a kill, or damaged, ends the journal there: it and anything after it are
dropped (those replications are run again) and the file is cut back before new
records are appended.

Memory: a journal of 100,000 replications is too large to hold its summaries. Reading
it checks every record and keeps, per record, only its key, replication, table files
and place in the file; :attr:`Entry.summary` reads the summary back from the file each
time it is asked for, and :class:`Summaries` offers the finished replications of a run
as a mapping that does the same, so a resumed run takes them one at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.analysis.metrics import ReplicationSummary

#: The journal's file name inside the unfinished folder.
JOURNAL = "replications.journal"
MAGIC = b"FBJ1"
_HEADER = struct.Struct("<4sII")
#: Largest payload read back (a summary is some 10 KB compressed).
_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024
_ARRAY = "__ndarray__"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {_ARRAY: value.dtype.str, "shape": list(value.shape),
                "data": value.ravel().tolist()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _ARRAY in value:
            return np.asarray(value["data"], dtype=np.dtype(value[_ARRAY])).reshape(
                value["shape"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def encode_summary(summary: ReplicationSummary) -> dict[str, Any]:
    """A replication summary as JSON-ready data (see :func:`decode_summary`)."""
    return {f.name: _encode(getattr(summary, f.name)) for f in dataclasses.fields(summary)}


def decode_summary(data: dict[str, Any]) -> ReplicationSummary:
    """The summary :func:`encode_summary` encoded, equal to it bit for bit."""
    from sim.analysis.metrics import ReplicationSummary

    names = {f.name for f in dataclasses.fields(ReplicationSummary)}
    return ReplicationSummary(**{k: _decode(v) for k, v in data.items() if k in names})


class JournalChangedError(OSError):
    """A journal record is no longer what it was when the journal was read."""


class Entry:
    """One finished replication in the journal.

    Attributes
    ----------
    key : str
        What was run (e.g. the scenario's hash).
    replication : int
        Replication index.
    files : dict of str to int
        Table files the replication wrote (POSIX paths relative to the folder) and their
        sizes in bytes.
    summary : ReplicationSummary
        Its summary: the one given, or read back from the journal file each time.
    """

    __slots__ = ("_summary", "_where", "files", "key", "replication")

    def __init__(self, key: str, replication: int, files: dict[str, int],
                 summary: ReplicationSummary | None = None,
                 where: tuple[Path, int, int, int] | None = None):
        if summary is None and where is None:
            raise ValueError("an entry needs its summary or where its record is")
        self.key = key
        self.replication = replication
        self.files = files
        self._summary = summary
        self._where = where  # (journal file, payload offset, payload length, CRC-32)

    def __repr__(self) -> str:
        return f"Entry(key={self.key!r}, replication={self.replication}, files={self.files!r})"

    @property
    def summary(self) -> ReplicationSummary:
        """The replication's summary (read from the journal file, not kept)."""
        if self._summary is not None:
            return self._summary
        assert self._where is not None
        path, offset, length, crc = self._where
        with open(path, "rb") as f:
            f.seek(offset)
            payload = f.read(length)
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise JournalChangedError(f"{path}: the record of replication {self.replication} "
                                      f"changed after the journal was read")
        return decode_summary(json.loads(zlib.decompress(payload))["summary"])

    def intact(self, folder: Path) -> bool:
        """True if every table file of the replication is in ``folder`` at its size."""
        for name, size in self.files.items():
            path = folder / name
            try:
                if path.is_symlink() or not path.is_file() or path.stat().st_size != size:
                    return False
            except OSError:
                return False
        return True


class Summaries(Mapping[int, "ReplicationSummary"]):
    """Replication index -> summary of journal entries, each read from the journal when asked.

    What a resumed run passes as its finished replications: none is held, so the run
    takes them one at a time into its store.
    """

    def __init__(self, entries: Mapping[int, Entry]):
        self._entries = entries

    def __getitem__(self, replication: int) -> ReplicationSummary:
        return self._entries[replication].summary

    def __contains__(self, replication: object) -> bool:
        return replication in self._entries

    def __iter__(self) -> Iterator[int]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _read(path: Path) -> tuple[list[Entry], int]:
    """The valid records of a journal file and the length in bytes they span.

    Read a record at a time; every record is decoded, to find where the valid ones end,
    but only its key, replication, files and place are kept.
    """
    entries: list[Entry] = []
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return entries, 0
    keys: dict[str, str] = {}  # one string per key, however many records share it
    at = 0
    with f:
        while True:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                break
            magic, length, crc = _HEADER.unpack(header)
            if magic != MAGIC or length > _MAX_PAYLOAD_BYTES:
                break
            payload = f.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            try:
                record = json.loads(zlib.decompress(payload))
                key = str(record["key"])
                files = {str(k): int(v) for k, v in record["files"].items()}
                replication = int(record["replication"])
                decode_summary(record["summary"])  # one that does not decode ends it here
            except (ValueError, KeyError, TypeError, AttributeError, zlib.error):
                break
            entries.append(Entry(keys.setdefault(key, key), replication, files,
                                 where=(path, at + _HEADER.size, length, crc)))
            at += _HEADER.size + length
    return entries, at


def journal_entries(folder: Path) -> list[Entry]:
    """The records of the journal in ``folder``, read only (none if it has no journal)."""
    path = folder / JOURNAL
    if path.is_symlink():
        return []
    return _read(path)[0]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal of the unfinished run in ``folder``, open for appending.

    Opening it reads the records already there and cuts off a damaged or partial tail.
    Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    folder : pathlib.Path
        The run's unfinished (staging) folder.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / JOURNAL
        if self.path.is_symlink():
            raise OSError(f"{self.path} is a symbolic link; fbsim writes its journal only "
                          f"as a file of its own")
        entries, length = _read(self.path)
        self._entries = {(e.key, e.replication): e for e in entries}
        self._keys = {e.key: e.key for e in entries}
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fd: int | None = os.open(self.path, flags, 0o666)
        if os.fstat(self._fd).st_size != length:
            os.ftruncate(self._fd, length)  # a record cut short by a kill, or damaged

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (the records are already on disk)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def finished(self, key: str) -> dict[int, Entry]:
        """The replications of ``key`` recorded, by index, whose tables are all intact."""
        return {rep: e for (k, rep), e in sorted(self._entries.items())
                if k == key and e.intact(self.folder)}

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, key: str, summary: ReplicationSummary, files: Iterable[Path] = ()) -> None:
        """Record that ``summary``'s replication of ``key`` is finished, durably.

        Parameters
        ----------
        key : str
            What was run.
        summary : ReplicationSummary
            The replication's summary.
        files : iterable of pathlib.Path
            The table files it wrote, inside the folder; flushed to disk first.
        """
        if self._fd is None:
            raise ValueError("the journal is closed")
        sizes = {}
        for path in files:
            _fsync(path)
            sizes[path.relative_to(self.folder).as_posix()] = path.stat().st_size
        record = {"key": key, "replication": summary.replication, "files": sizes,
                  "summary": encode_summary(summary)}
        payload = zlib.compress(json.dumps(record, separators=(",", ":")).encode(), 6)
        crc = zlib.crc32(payload)
        data = _HEADER.pack(MAGIC, len(payload), crc) + payload
        at = os.fstat(self._fd).st_size  # appended there (O_APPEND)
        written = os.write(self._fd, data)
        while written < len(data):  # a short write (a signal): finish it
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)
        # Where the record is, not the summary: a long run's summaries are not kept.
        self._entries[(key, summary.replication)] = Entry(
            self._keys.setdefault(key, key), int(summary.replication), sizes,
            where=(self.path, at + _HEADER.size, len(payload), crc))
