"""Fixed-width rows of numbers kept off the Python heap: in memory while small, then on disk.

A :class:`RowFile` holds one row of ``width`` values of one dtype per replication (a
curve, a time series), written at the replication's row in any order and read back in
blocks of consecutive rows. It starts as a numpy array that grows by doubling; once
:meth:`RowFile.spill` is called (the owner decides when: see
:class:`sim.analysis.replication_store.ReplicationStore`) its rows live in an anonymous
temporary file instead (:func:`tempfile.TemporaryFile`: on POSIX the file has no name
from the moment it is made, so nothing is left behind however the process ends, even
killed), read with explicit reads into small buffers, so what a run keeps does not grow
its resident memory. A file-backed RowFile gathers up to :data:`PENDING_BYTES` of rows and
writes each run of consecutive rows at once.

Statistics across replications need the other direction, a point's values over every
replication: a :class:`StackedArray` stacks one curve's rows and, when that array is
larger than a block, transposes it once to a :class:`ColumnFile` (each column
contiguous on disk) so that a block of columns is one read.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Callable
from typing import IO

import numpy as np

#: Prefix of the temporary files (visible only where the platform cannot unlink an open file).
TEMP_PREFIX = "fbsim-replications-"
#: Bytes of rows assembled at a time when a :class:`StackedArray` is transposed to disk.
TRANSPOSE_BYTES = 4 * 1024 * 1024
#: Bytes of rows a file-backed RowFile gathers before it writes them (one write per run
#: of consecutive rows rather than one per row).
PENDING_BYTES = 64 * 1024


class RowFile:
    """Rows of ``width`` values of dtype ``dtype``, written by row index, read in blocks.

    Parameters
    ----------
    dtype : numpy.dtype
        Type of every value.
    width : int
        Values per row.
    on_disk : bool
        Start in a temporary file rather than in memory.
    """

    def __init__(self, dtype: np.dtype, width: int, on_disk: bool = False):
        self.dtype = np.dtype(dtype)
        self.width = int(width)
        self.row_bytes = self.dtype.itemsize * self.width
        self._memory: np.ndarray | None = np.empty((0, self.width), dtype=self.dtype)
        self._file: IO[bytes] | None = None
        self._pending: dict[int, bytes] = {}  # rows not yet written to the file
        if on_disk:
            self.spill()

    @property
    def on_disk(self) -> bool:
        """Whether the rows are in the temporary file."""
        return self._file is not None

    @property
    def memory_bytes(self) -> int:
        """Bytes of rows held in memory (0 once on disk)."""
        return 0 if self._memory is None else int(self._memory.nbytes)

    def write(self, row: int, values: np.ndarray) -> None:
        """Store ``values`` (``width`` values of this dtype) as row ``row``."""
        data = np.ascontiguousarray(values, dtype=self.dtype)
        if data.shape != (self.width,):
            raise ValueError(f"a row holds {self.width} values, got shape {data.shape}")
        if self._file is not None:
            self._pending[row] = data.tobytes()
            if len(self._pending) * max(self.row_bytes, 1) >= PENDING_BYTES:
                self._flush()
            return
        assert self._memory is not None
        if row >= self._memory.shape[0]:
            grown = np.empty((max(2 * self._memory.shape[0], row + 1, 16), self.width),
                             dtype=self.dtype)
            grown[:self._memory.shape[0]] = self._memory
            self._memory = grown
        self._memory[row] = data

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop - 1`` as a new array of shape ``(stop - start, width)``.

        Rows never written read as zeros.
        """
        count = max(stop - start, 0)
        out = np.zeros((count, self.width), dtype=self.dtype)
        if count == 0 or self.row_bytes == 0:
            return out
        if self._file is None:
            assert self._memory is not None
            have = min(stop, self._memory.shape[0]) - start
            if have > 0:
                out[:have] = self._memory[start:start + have]
            return out
        self._flush()
        self._pread_into(out.data.cast("B"), start * self.row_bytes)
        return out

    def spill(self) -> None:
        """Move the rows into an anonymous temporary file (no-op if already there)."""
        if self._file is not None:
            return
        self._file = tempfile.TemporaryFile(prefix=TEMP_PREFIX, buffering=0)  # noqa: SIM115
        # Closed when the RowFile goes, or at exit (its space is freed either way).
        self._closer = weakref.finalize(self, self._file.close)
        assert self._memory is not None
        if self._memory.size:
            self._pwrite(0, np.ascontiguousarray(self._memory).data.cast("B"))
        self._memory = None

    def close(self) -> None:
        """Release the file or the memory (the rows are gone)."""
        self._pending.clear()
        if self._file is not None:
            self._closer()
        self._memory = np.empty((0, self.width), dtype=self.dtype)
        self._file = None

    def _flush(self) -> None:
        """Write the pending rows, a run of consecutive rows at a time."""
        if not self._pending:
            return
        rows = sorted(self._pending)
        start = rows[0]
        for i, row in enumerate(rows):
            if i + 1 == len(rows) or rows[i + 1] != row + 1:
                run = b"".join(self._pending[r] for r in range(start, row + 1))
                self._pwrite(start * self.row_bytes, memoryview(run))
                if i + 1 < len(rows):
                    start = rows[i + 1]
        self._pending.clear()

    def _pwrite(self, offset: int, data: memoryview) -> None:
        assert self._file is not None
        self._file.seek(offset)
        done = 0
        while done < len(data):
            done += self._file.write(data[done:]) or 0

    def _pread_into(self, buffer: memoryview, offset: int) -> None:
        """Fill ``buffer`` from ``offset``; what lies beyond the end of the file stays as it is."""
        assert self._file is not None
        self._file.seek(offset)
        done = 0
        while done < len(buffer):
            got = self._file.readinto(buffer[done:])  # type: ignore[attr-defined]
            if not got:
                return
            done += got


class ColumnFile:
    """A (rows, width) float array written a block of rows at a time, read by columns.

    The transpose, on disk, of an array too large to hold: each column's values are
    contiguous in an anonymous temporary file, so a block of columns is one read. Use
    as a context manager (the file goes at the end) or call :meth:`close`.

    Parameters
    ----------
    rows, width : int
        Shape of the array.
    """

    def __init__(self, rows: int, width: int):
        self.rows = int(rows)
        self.width = int(width)
        self._file: IO[bytes] | None = tempfile.TemporaryFile(  # noqa: SIM115
            prefix=TEMP_PREFIX, buffering=0)
        self._closer = weakref.finalize(self, self._file.close)

    def __enter__(self) -> ColumnFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the file."""
        self._closer()
        self._file = None

    def write_rows(self, start: int, block: np.ndarray) -> None:
        """Store ``block`` (shape (n, width)) as rows ``start .. start + n - 1``."""
        assert self._file is not None
        columns = np.asarray(block, dtype=np.float64).T  # a row per column
        for j in range(self.width):
            data = np.ascontiguousarray(columns[j])
            self._file.seek((j * self.rows + start) * 8)
            view, done = data.data.cast("B"), 0
            while done < len(view):
                done += self._file.write(view[done:]) or 0

    def read(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start .. stop - 1`` as a new C-ordered array of shape (rows, stop - start)."""
        assert self._file is not None
        out = np.zeros((stop - start, self.rows))
        view, done = out.data.cast("B"), 0
        self._file.seek(start * self.rows * 8)
        while done < len(view):
            got = self._file.readinto(view[done:])  # type: ignore[attr-defined]
            if not got:
                break
            done += got
        return np.ascontiguousarray(out.T)


class StackedArray:
    """A (rows, width) float array assembled a block of rows at a time, read by columns.

    ``rows_block(start, stop)`` gives rows ``start .. stop - 1``. Held whole if it takes
    at most ``max_bytes``; else transposed once (:data:`TRANSPOSE_BYTES` of rows at a
    time) to a :class:`ColumnFile` and read from there a block of columns at a time (the
    shape :func:`sim.analysis.stats.band_by_columns` reads). Use as a context manager.
    """

    def __init__(self, rows_block: Callable[[int, int], np.ndarray], rows: int, width: int,
                 max_bytes: int):
        self.rows_block = rows_block
        self.rows = rows
        self.width = width
        self.max_bytes = max_bytes
        self._whole: np.ndarray | None = None
        self._columns: ColumnFile | None = None

    def __enter__(self) -> StackedArray:
        return self

    def __exit__(self, *_: object) -> None:
        if self._columns is not None:
            self._columns.close()
        self._whole = self._columns = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start .. stop - 1`` as a C-ordered array of shape (rows, stop - start)."""
        if self.rows * self.width * 8 <= self.max_bytes:
            if self._whole is None:
                self._whole = self.rows_block(0, self.rows)
            return np.ascontiguousarray(self._whole[:, start:stop])
        if self._columns is None:
            self._columns = ColumnFile(self.rows, self.width)
            step = max(1, TRANSPOSE_BYTES // (8 * self.width))
            for at in range(0, self.rows, step):
                self._columns.write_rows(at, self.rows_block(at, min(at + step, self.rows)))
        return self._columns.read(start, stop)
