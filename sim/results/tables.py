"""Per-replication tables on disk: ``tables/<table>/rep-<index>.<format>``.

Each replication's tables are written by the worker that ran it, one file per table
per replication, atomically; so a run streams to disk and memory does not grow with
the number of replications. :func:`read_table` concatenates them back for analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from sim.monitor.records import Records
from sim.results.atomic import write_atomic

FORMATS = ("csv", "parquet")


def table_path(root: Path, table: str, replication: int, fmt: str) -> Path:
    """Where table ``table`` of replication ``replication`` lives."""
    return root / table / f"rep-{replication:05d}.{fmt}"


def write_replication_tables(records: Records, root: Path, fmt: str = "csv") -> None:
    """Write every table of ``records`` below ``root``.

    Parameters
    ----------
    records : Records
        One replication's output.
    root : pathlib.Path
        The ``tables`` folder.
    fmt : str
        ``csv`` (default) or ``parquet`` (needs pyarrow).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")
    for name in records.tables:
        df = records.frame(name)
        path = table_path(root, name, records.replication, fmt)
        if fmt == "csv":
            write_atomic(path, csv_writer(df))
        else:
            write_atomic(path, parquet_writer(df), binary=True)


def csv_writer(df: pd.DataFrame) -> Callable[[IO[Any]], None]:
    """A writer of ``df`` as CSV (six significant digits) for :func:`write_atomic`."""

    def write(f: IO[Any]) -> None:
        df.to_csv(f, index=False, float_format="%.6g")

    return write


def parquet_writer(df: pd.DataFrame) -> Callable[[IO[Any]], None]:
    """A writer of ``df`` as Parquet for :func:`write_atomic`."""

    def write(f: IO[Any]) -> None:
        df.to_parquet(f, index=False)

    return write


def read_table(results_dir: str | Path, table: str) -> pd.DataFrame:
    """All replications of ``table`` from a results folder, as one DataFrame.

    Parameters
    ----------
    results_dir : str or pathlib.Path
        A folder written by ``fbsim run``.
    table : str
        ``stage_visits``, ``cases``, ``devices``, ``children``, ``stage_timeseries`` or
        ``staff_timeseries``.
    """
    folder = Path(results_dir) / "tables" / table
    files = sorted(folder.glob("rep-*.*"))
    if not files:
        raise FileNotFoundError(f"no tables named {table!r} under {folder}")
    frames = [pd.read_csv(f) if f.suffix == ".csv" else pd.read_parquet(f) for f in files]
    return pd.concat(frames, ignore_index=True)
