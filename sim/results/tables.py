"""Per-replication tables on disk: ``tables/<table>/rep-<index>.<format>``.

Each replication's tables are written by the worker that ran it, one file per table
per replication, atomically; so a run streams to disk and memory does not grow with
the number of replications. :func:`read_table` concatenates them back for analysis.

CSV files are written straight from the numpy columns by :func:`columns_csv_writer`,
byte for byte as ``DataFrame.to_csv(index=False)`` writes them (``tests/test_csv_writer.py``
checks this), but faster and without importing pandas. pandas is imported only to
write Parquet or to read tables back.

Floats keep full precision: each is written as the shortest text that reads back to
the same double (Python's ``repr``, as pandas writes them), so a day column late in a
long run is exact, not rounded to 0.1 or 1 day as six significant digits would be.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from sim.results.atomic import write_atomic

if TYPE_CHECKING:
    import pandas as pd

    from sim.monitor.records import Records

FORMATS = ("csv", "parquet")
#: Which tables each ``--tables`` choice writes: ``standard`` (the default) leaves out the
#: per-visit event log, which is most of a run's size and writing time; ``full`` has it.
TABLE_SETS = ("standard", "full", "none")
#: Tables only ``full`` writes.
FULL_ONLY_TABLES = ("stage_visits",)


def default_format() -> str:
    """``parquet`` where pyarrow is installed, else ``csv`` (found without importing it)."""
    import importlib.util

    return "parquet" if importlib.util.find_spec("pyarrow") is not None else "csv"


def tables_in_set(names: list[str], table_set: str) -> list[str]:
    """The tables of ``names`` that ``table_set`` (one of :data:`TABLE_SETS`) writes."""
    if table_set not in TABLE_SETS:
        raise ValueError(f"unknown table set {table_set!r}; expected one of {TABLE_SETS}")
    if table_set == "none":
        return []
    return [n for n in names if table_set == "full" or n not in FULL_ONLY_TABLES]


def table_path(root: Path, table: str, replication: int, fmt: str) -> Path:
    """Where table ``table`` of replication ``replication`` lives."""
    return root / table / f"rep-{replication:05d}.{fmt}"


def write_replication_tables(records: Records, root: Path, fmt: str = "csv",
                             table_set: str = "full") -> None:
    """Write the tables of ``records`` that ``table_set`` names below ``root``.

    Parameters
    ----------
    records : Records
        One replication's output.
    root : pathlib.Path
        The ``tables`` folder.
    fmt : str
        ``csv`` (default) or ``parquet`` (needs pyarrow).
    table_set : str
        ``full`` (default: every table), ``standard`` (all but :data:`FULL_ONLY_TABLES`)
        or ``none``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")
    for name in tables_in_set(list(records.tables), table_set):
        table = records.tables[name]
        path = table_path(root, name, records.replication, fmt)
        rows = len(next(iter(table.values()))) if table else 0
        columns = {"replication": np.full(rows, records.replication, dtype=np.int64), **table}
        if fmt == "csv":
            write_atomic(path, columns_csv_writer(columns))
        else:
            write_atomic(path, columns_parquet_writer(columns), binary=True)


#: Strings that CSV never quotes: no delimiter, quote or line break.
_PLAIN = re.compile(r'[^,"\r\n]*')
#: numpy dtype kinds :func:`write_columns_csv` formats itself (float, integer, boolean, text).
_KINDS = "fiubOU"
#: Rows formatted at a time, to bound memory on large tables.
_CHUNK_ROWS = 20_000


def _csv_cells(arr: np.ndarray) -> tuple[list[str], bool]:
    """A column as CSV cells the way pandas writes it; and whether none needs quoting.

    Floats are written with ``repr`` (the shortest text that reads back to the same
    value; float32 columns as numpy writes them, in their own precision), NaN as an
    empty cell; integers and booleans as ``str`` does; in text (object) columns None
    and NaN are empty cells and anything else is written with ``str``.
    """
    kind = arr.dtype.kind
    if kind == "f":
        cells: list[str] = (list(map(float.__repr__, arr.tolist())) if arr.dtype.itemsize == 8
                            else arr.astype(str).tolist())
        for i in np.flatnonzero(np.isnan(arr)).tolist():
            cells[i] = ""
        return cells, True
    if kind in "iub":
        return list(map(str, arr.tolist())), True
    cells = ["" if v is None or (isinstance(v, float) and v != v) else str(v)
             for v in arr.tolist()]
    return cells, all(_PLAIN.fullmatch(c) for c in set(cells))


def write_columns_csv(f: IO[str], columns: Mapping[str, Any]) -> None:
    """Write equal-length numpy columns as CSV to the text file ``f``.

    The output is identical to ``pandas.DataFrame(columns).to_csv(f, index=False)``.
    Columns of floats, integers, booleans and text (None or NaN for missing text) are
    formatted here; any other column type hands the table to pandas.
    """
    names, arrays = _csv_columns(columns)
    if not arrays or any(a.dtype.kind not in _KINDS for a in arrays):
        import pandas as pd

        pd.DataFrame(dict(columns)).to_csv(f, index=False)
        return
    _write_csv_header(f, names)
    _write_csv_rows(f, arrays, len(names) > 1)


def write_column_chunks_csv(f: IO[str], chunks: Iterable[Mapping[str, Any]]) -> None:
    """Write a table given as chunks of rows (each as for :func:`write_columns_csv`) as CSV.

    The same text as :func:`write_columns_csv` of the chunks put end to end (each row is
    formatted alone), with one chunk in memory at a time. The chunks must have the same
    columns; an empty iterable writes nothing. A chunk with a column type this module
    does not format hands the whole table to pandas.
    """
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        return
    names, arrays = _csv_columns(first)
    if not arrays or any(a.dtype.kind not in _KINDS for a in arrays):
        parts = [first, *iterator]
        write_columns_csv(f, {n: np.concatenate([np.asarray(p[n]) for p in parts])
                              for n in first})
        return
    _write_csv_header(f, names)
    joinable = len(names) > 1
    _write_csv_rows(f, arrays, joinable)
    for chunk in iterator:
        chunk_names, chunk_arrays = _csv_columns(chunk)
        if chunk_names != names:
            raise ValueError(f"chunk columns {chunk_names} differ from the first chunk's {names}")
        if any(a.dtype.kind not in _KINDS for a in chunk_arrays):
            raise TypeError("a later chunk has a column type the first chunk did not have")
        _write_csv_rows(f, chunk_arrays, joinable)


def _csv_columns(columns: Mapping[str, Any]) -> tuple[list[str], list[np.ndarray]]:
    names = [str(name) for name in columns]
    arrays = [np.asarray(v) for v in columns.values()]
    if len({a.shape for a in arrays}) > 1 or any(a.ndim != 1 for a in arrays):
        raise ValueError(f"columns must be one-dimensional and of equal length, got shapes "
                         f"{[a.shape for a in arrays]}")
    return names, arrays


def _write_csv_header(f: IO[str], names: list[str]) -> None:
    # Rows with two or more cells none of which needs quoting are joined directly, several
    # times faster than csv.writer and the same text (csv.writer only treats a row of
    # one empty cell specially).
    if len(names) > 1 and all(_PLAIN.fullmatch(n) for n in names):
        f.write(",".join(names) + os.linesep)
    else:
        csv.writer(f, lineterminator=os.linesep).writerow(names)


def _write_csv_rows(f: IO[str], arrays: list[np.ndarray], joinable: bool) -> None:
    writer = csv.writer(f, lineterminator=os.linesep)
    rows = len(arrays[0])
    for start in range(0, rows, _CHUNK_ROWS):
        formatted = [_csv_cells(a[start:start + _CHUNK_ROWS]) for a in arrays]
        cells = [c for c, _ in formatted]
        if joinable and all(plain for _, plain in formatted):
            f.write(os.linesep.join(map(",".join, zip(*cells, strict=True))) + os.linesep)
        else:
            writer.writerows(zip(*cells, strict=True))


def columns_csv_writer(columns: Mapping[str, Any]) -> Callable[[IO[Any]], None]:
    """A writer of ``columns`` as CSV (floats in full precision) for :func:`write_atomic`."""

    def write(f: IO[Any]) -> None:
        write_columns_csv(f, columns)

    return write


def csv_writer(df: pd.DataFrame) -> Callable[[IO[Any]], None]:
    """A writer of the DataFrame ``df`` as CSV (floats in full precision) for :func:`write_atomic`.

    Same output as :func:`columns_csv_writer` on the frame's columns.
    """

    def write(f: IO[Any]) -> None:
        df.to_csv(f, index=False)

    return write


def _utf8_or_none(v: Any) -> bytes | None:
    """A text cell as UTF-8; None and NaN (missing) as None."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    return str(v).encode("utf-8")


def _arrow_array(values: Any) -> Any:
    """A numpy column as a pyarrow array, built from its buffers.

    ``pyarrow.array`` imports pandas on first use (to recognise pandas objects), which
    would cost every worker process a third of a second; building arrays from buffers
    does not. Floats are float64 (NaN kept as NaN), integers int64, booleans bool; text
    (object or str columns) is UTF-8 with None, and NaN in text columns, as nulls.
    """
    import pyarrow as pa

    a = np.asarray(values)
    n = int(a.size)
    kind = a.dtype.kind
    if kind == "f":
        return pa.Array.from_buffers(pa.float64(), n, [None, pa.py_buffer(
            np.ascontiguousarray(a, dtype="<f8"))])
    if kind in "iu":
        return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(
            np.ascontiguousarray(a, dtype="<i8"))])
    if kind == "b":
        return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(
            np.packbits(a, bitorder="little"))])
    if kind not in "OU":
        raise TypeError(f"cannot write a column of dtype {a.dtype} as Parquet")
    # Each distinct text is encoded once and the rows index into those, by C-level maps
    # over the rows (a table's text columns have a handful of distinct values). Values
    # other than text and missing ones are encoded one by one: as dictionary keys, 1
    # and True (say) would be taken for one another.
    cells = a.tolist()
    codes: dict[Any, Any] = dict.fromkeys(cells)
    distinct = list(codes)
    if not all(v is None or type(v) is str or (type(v) is float and v != v)
               for v in distinct):
        codes = {}
        distinct = cells
        index = np.arange(n, dtype=np.intp)
    else:
        for i, v in enumerate(distinct):
            codes[v] = i  # a NaN is found again by identity: it is the same object
        index = np.fromiter(map(codes.__getitem__, cells), dtype=np.intp, count=n)
    encoded = [_utf8_or_none(v) for v in distinct]
    valid = np.asarray([e is not None for e in encoded], dtype=bool)[index]
    lengths = np.asarray([len(e) if e is not None else 0 for e in encoded],
                         dtype=np.int64)[index]
    offsets = np.zeros(n + 1, dtype="<i4")
    np.cumsum(lengths, out=offsets[1:])
    pieces = [e if e is not None else b"" for e in encoded]
    data = b"".join(map(pieces.__getitem__, index.tolist()))
    nulls = n - int(valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(pa.string(), n, [bitmap, pa.py_buffer(offsets),
                                                  pa.py_buffer(data)], null_count=nulls)


#: zstd level of the Parquet tables (1: fastest; higher levels gain a few per cent).
PARQUET_ZSTD_LEVEL = 1


#: Rows per Parquet row group: pyarrow's default (``write_table``'s for a table of fewer
#: rows is one group of them all), given explicitly so a table written in chunks
#: (:func:`chunks_parquet_writer`) has the same groups as one written whole.
ROW_GROUP_ROWS = 1024 * 1024


def _parquet_options(names: list[str], values: list[np.ndarray]) -> dict[str, Any]:
    """Compression and encodings of a table's columns (the same for a whole and a chunked one)."""
    # Floats are split into byte streams (exponents and leading mantissa bytes then
    # compress: a quarter smaller than plain on the devices table), identifiers
    # counting up are delta-encoded, everything else (text, flags, counts)
    # dictionary-encoded.
    encoding = {n: "BYTE_STREAM_SPLIT" for n, v in zip(names, values, strict=True)
                if v.dtype.kind == "f"}
    encoding.update({n: "DELTA_BINARY_PACKED" for n, v in zip(names, values, strict=True)
                     if n.endswith("_id") and v.dtype.kind in "iu"})
    # zstd level 1: measured on a baseline replication's tables, level 9 took 7 times
    # as long (0.36 s against 0.05 s) for files 2.6% smaller (bench/RESULTS.md).
    return {"compression": "zstd", "compression_level": PARQUET_ZSTD_LEVEL,
            "column_encoding": encoding,
            "use_dictionary": [n for n in names if n not in encoding]}


def _arrow_table(columns: Mapping[str, Any]) -> Any:
    import pyarrow as pa

    names = [str(k) for k in columns]
    arrays = [_arrow_array(v) for v in columns.values()]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError("columns must be of equal length")
    return pa.Table.from_arrays(arrays, names=names)


def columns_parquet_writer(columns: Mapping[str, Any]) -> Callable[[IO[Any]], None]:
    """A writer of equal-length numpy columns as Parquet for :func:`write_atomic`.

    Written by pyarrow straight from the columns (no pandas, :func:`_arrow_array`),
    zstd-compressed. Floats are stored as the float64 values themselves, so they read
    back exactly.
    """

    def write(f: IO[Any]) -> None:
        import pyarrow.parquet as pq

        names = [str(k) for k in columns]
        values = [np.asarray(v) for v in columns.values()]
        pq.write_table(_arrow_table(columns), f, row_group_size=ROW_GROUP_ROWS,
                       **_parquet_options(names, values))

    return write


def chunks_parquet_writer(chunks: Iterable[Mapping[str, Any]]) -> Callable[[IO[Any]], None]:
    """A writer, for :func:`write_atomic`, of a table given as chunks of rows, as Parquet.

    The same file as :func:`columns_parquet_writer` of the chunks put end to end: each
    chunk becomes Arrow arrays as it comes (pyarrow writes a table of several chunks as
    it writes one of a single chunk, page for page), and they are written a row group of
    :data:`ROW_GROUP_ROWS` at a time, as each fills; so at most one group's rows are in
    memory, in Arrow's form. The chunks must have the same columns and dtypes; the
    iterable is consumed once, when the file is written.
    """

    def write(f: IO[Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        iterator = iter(chunks)
        first = next(iterator, None)
        if first is None:
            raise ValueError("no rows to write")
        names = [str(k) for k in first]
        values = [np.asarray(v) for v in first.values()]
        dtypes = [v.dtype for v in values]
        options = _parquet_options(names, values)
        held = [_arrow_table(first)]
        rows = held[0].num_rows
        writer: Any = None
        try:
            for chunk in iterator:
                chunk_values = [np.asarray(v) for v in chunk.values()]
                if [str(k) for k in chunk] != names or [v.dtype for v in chunk_values] != dtypes:
                    raise ValueError("the chunks of a table must have the same columns and dtypes")
                held.append(_arrow_table(chunk))
                rows += held[-1].num_rows
                while rows >= ROW_GROUP_ROWS:
                    table = pa.concat_tables(held)
                    if writer is None:
                        writer = pq.ParquetWriter(f, table.schema, **options)
                    writer.write_table(table.slice(0, ROW_GROUP_ROWS),
                                       row_group_size=ROW_GROUP_ROWS)
                    held, rows = [table.slice(ROW_GROUP_ROWS)], rows - ROW_GROUP_ROWS
            if writer is None:  # one group or less
                if rows == 0:
                    columns_parquet_writer(first)(f)  # exactly as an empty table written whole
                    return
                pq.write_table(pa.concat_tables(held), f, row_group_size=ROW_GROUP_ROWS,
                               **options)
            elif rows:
                writer.write_table(pa.concat_tables(held), row_group_size=ROW_GROUP_ROWS)
        finally:
            if writer is not None:
                writer.close()

    return write


def chunks_csv_writer(chunks: Iterable[Mapping[str, Any]]) -> Callable[[IO[Any]], None]:
    """A writer of a table given as chunks of rows as CSV (:func:`write_column_chunks_csv`)."""

    def write(f: IO[Any]) -> None:
        write_column_chunks_csv(f, chunks)

    return write


def parquet_writer(df: pd.DataFrame) -> Callable[[IO[Any]], None]:
    """A writer of ``df`` as Parquet for :func:`write_atomic`."""

    def write(f: IO[Any]) -> None:
        df.to_parquet(f, index=False)

    return write


def _check_finished(results_dir: Path, unfinished: bool) -> None:
    if not unfinished:
        from sim.results.folder import check_finished

        check_finished(results_dir)


def read_table(results_dir: str | Path, table: str, unfinished: bool = False) -> pd.DataFrame:
    """All replications of ``table`` from a results folder, as one DataFrame.

    Parameters
    ----------
    results_dir : str or pathlib.Path
        A folder written by ``fbsim run``.
    table : str
        ``cases``, ``devices``, ``children``, ``stage_timeseries``, ``staff_timeseries``
        … (``docs/results-tables.md``); ``stage_visits`` only where the run wrote it
        (``fbsim run --tables full``). Parquet or CSV, whichever the run wrote.
    unfinished : bool
        Read the folder of a run that has not finished too (fbsim itself, drawing a run's
        plots before it publishes them); by default such a folder is refused.

    Raises
    ------
    sim.results.folder.IncompleteRunError
        If ``results_dir`` holds a run that did not finish (``--resume`` it).
    """
    import pandas as pd

    _check_finished(Path(results_dir), unfinished)
    folder = Path(results_dir) / "tables" / table
    files = sorted(folder.glob("rep-*.*"))
    if not files:
        hint = (" (the per-visit log is written only by 'fbsim run --tables full')"
                if table in FULL_ONLY_TABLES else "")
        raise FileNotFoundError(f"no tables named {table!r} under {folder}{hint}")
    frames = [pd.read_csv(f) if f.suffix == ".csv" else pd.read_parquet(f) for f in files]
    return pd.concat(frames, ignore_index=True)


def read_run_table(results_dir: str | Path, name: str, unfinished: bool = False
                   ) -> pd.DataFrame:
    """A run-level table of a results folder (``identify_curve``, ``replication_metrics`` …).

    Read from its Parquet or CSV file, whichever the run wrote; ``unfinished`` as for
    :func:`read_table`.
    """
    import pandas as pd

    folder = Path(results_dir)
    _check_finished(folder, unfinished)
    for suffix, read in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return read(path)
    raise FileNotFoundError(f"no table {name!r} (.parquet or .csv) in {folder}")
