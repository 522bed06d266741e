"""The replications of a run, held compactly: metrics in columns, curves off the heap.

A run of 100,000 replications cannot keep 100,000
:class:`~sim.analysis.metrics.ReplicationSummary` objects: each holds a hundred metrics
as a Python dict and a few dozen curves and time series, some 36 KB. A
:class:`ReplicationStore` takes each summary as it comes back, in any order, and keeps

- its metrics as numpy float64 columns, one per metric name, a row per replication
  (row ``replication - first``, so the order of the tables never depends on the order
  the workers finish in);
- its index, events and seconds as columns too;
- every curve and time series (and the conservation counts) as a fixed-width row of a
  :class:`~sim.analysis.spill.RowFile`, one per curve name: in memory while a run's
  curves take less than :data:`SPILL_BYTES`, in an anonymous temporary file after that.

It is a read-only :class:`~collections.abc.Sequence` of summaries in replication order,
each rebuilt when asked for, equal bit for bit to the one added, so code that loops over
replications keeps working. The run-level statistics and tables read its columns
(:meth:`~ReplicationStore.metric`) and blocks of curve points
(:meth:`~ReplicationStore.curve_band`, :meth:`~ReplicationStore.waiting_chunks`)
instead, so their memory does not grow with the number of replications either.

Anything a summary holds that does not fit this layout (a curve of another length than
the others under its name, a metric that is not a float or an integer) is kept as it
is, for that replication only, and read back from there.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import numpy as np

from sim.analysis import stats
from sim.analysis.metrics import ReplicationSummary
from sim.analysis.spill import RowFile, StackedArray
from sim.analysis.summary_layout import (
    Layout,
    as_float,
    conservation_layout,
    conservation_values,
    is_compact_int,
    same_array,
)

#: Curves held in memory, in bytes, before a store moves them to temporary files.
SPILL_BYTES = 4 * 1024 * 1024
#: Replications rebuilt or written per block when a store is read through.
ROWS_PER_BLOCK = 256
#: Rows of the long waiting table per chunk (:meth:`ReplicationStore.waiting_chunks`).
CHUNK_ROWS = 65536
#: Dict fields of a summary whose values are curves or series, one per key.
_ARRAY_FIELDS = ("identified_curves", "wait_curves", "waiting")

#: A curve's name: (summary field, key in that field; "" for a plain array field).
Key = tuple[str, str]
_CURVE: Key = ("identified_curve", "")
_DAYS: Key = ("timeseries_days", "")
_CONSERVATION: Key = ("conservation", "")
_MISSING = object()


class ReplicationStore(Sequence[ReplicationSummary]):
    """Replication summaries of one scenario, by replication index, held compactly.

    Parameters
    ----------
    first : int
        The lowest replication index it will hold (row 0).
    spill_bytes : int, optional
        Bytes of curves kept in memory before they move to temporary files
        (0: on disk from the start); default :data:`SPILL_BYTES`.
    """

    def __init__(self, first: int = 0, spill_bytes: int | None = None):
        self.first = int(first)
        self.spill_bytes = SPILL_BYTES if spill_bytes is None else int(spill_bytes)
        self._count = 0
        self._end = 0  # one past the highest row filled
        self._capacity = 0
        self._filled = np.zeros(0, dtype=bool)
        self._layout = np.zeros(0, dtype=np.int32)
        self._events = np.zeros(0, dtype=np.int64)
        self._seconds = np.zeros(0, dtype=np.float64)
        # Metrics: a row per metric name, a column per replication, so each metric's
        # values are contiguous (written to Parquet without a copy).
        self._values = np.zeros((0, 0))
        self._columns: dict[str, int] = {}  # metric name -> its row of _values
        self._layouts: list[Layout] = []
        self._layout_ids: dict[Layout, int] = {}
        self._layout_columns: list[np.ndarray] = []  # per layout: its metrics' columns
        self._layout_count: list[int] = []  # per layout: replications of that layout
        self._layout_first: list[int] = []  # per layout: its first (lowest) row
        self._slots: dict[Key, RowFile] = {}
        self._odd: dict[Key, dict[int, Any]] = {}
        self._on_disk = self.spill_bytes <= 0
        self._rows_cache: np.ndarray | None = None

    @classmethod
    def of(cls, summaries: Iterable[ReplicationSummary],
           spill_bytes: int | None = None) -> ReplicationStore:
        """A store of ``summaries`` (distinct replication indices, any order)."""
        items = summaries if isinstance(summaries, Sequence) else list(summaries)
        first = min((int(s.replication) for s in items), default=0)
        store = cls(first, spill_bytes)
        for s in items:
            store.add(s)
        return store

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReplicationStore.of, (list(self), self.spill_bytes))

    def __repr__(self) -> str:
        where = "on disk" if self._on_disk else "in memory"
        return (f"ReplicationStore({self._count} replications from {self.first}, "
                f"{len(self._slots)} curves {where})")

    # ------------------------------------------------------------------ adding

    def add(self, summary: ReplicationSummary) -> None:
        """Keep ``summary`` at its replication's row.

        Raises
        ------
        ValueError
            If its replication is below ``first`` or already held.
        """
        row = int(summary.replication) - self.first
        if row < 0:
            raise ValueError(f"replication {summary.replication} is below this store's first "
                             f"replication {self.first}")
        if row < self._end and self._filled[row]:
            raise ValueError(f"replication {summary.replication} is already in the store")
        self._grow(row + 1)
        metrics = summary.metrics
        kinds = set(map(type, metrics.values()))
        compact = kinds <= {float, int}
        ints: frozenset[str] = frozenset()
        if compact and int in kinds:
            ints = frozenset(k for k, v in metrics.items() if type(v) is int)
            compact = all(is_compact_int(metrics[k]) for k in ints)
            ints = ints if compact else frozenset()
        all_curve = summary.identified_curves.get("all")
        curve_is_all = all_curve is not None and same_array(summary.identified_curve,
                                                             all_curve)
        if not curve_is_all:
            self._put(row, _CURVE, summary.identified_curve)
        self._put(row, _DAYS, summary.timeseries_days)
        for field in _ARRAY_FIELDS:
            values = getattr(summary, field)
            for key, array in values.items():
                self._put(row, (field, key), array)
        conservation = conservation_layout(summary.conservation)
        flat = None if conservation is None else conservation_values(summary.conservation)
        if flat is None:
            conservation = None
            self._odd.setdefault(_CONSERVATION, {})[row] = summary.conservation
        else:
            self._put(row, _CONSERVATION, flat)
        for name, column, value in (("events", self._events, summary.events),
                                    ("seconds", self._seconds, summary.seconds)):
            exact = (is_compact_int(value) if name == "events" else type(value) is float)
            if exact:
                column[row] = value
            else:
                self._odd.setdefault((name, ""), {})[row] = value
        layout = Layout(tuple(metrics), ints, curve_is_all, tuple(summary.identified_curves),
                         tuple(summary.wait_curves), tuple(summary.waiting), conservation)
        layout_id = self._layout_ids.get(layout)
        if layout_id is None:
            layout_id = self._new_layout(layout, row)
        self._layout_count[layout_id] += 1
        self._layout_first[layout_id] = min(self._layout_first[layout_id], row)
        columns = self._layout_columns[layout_id]
        if compact:
            self._values[columns, row] = np.fromiter(metrics.values(), dtype=float,
                                                     count=columns.size)
        else:  # kept as given; the columns get what reads as a float
            self._odd.setdefault(("metrics", ""), {})[row] = metrics
            self._values[columns, row] = [as_float(v) for v in metrics.values()]
        self._layout[row] = layout_id
        self._filled[row] = True
        self._count += 1
        self._end = max(self._end, row + 1)
        self._rows_cache = None
        if not self._on_disk and sum(s.memory_bytes for s in self._slots.values()) \
                > self.spill_bytes:
            self._spill()

    def extend(self, summaries: Iterable[ReplicationSummary]) -> None:
        """:meth:`add` each of ``summaries``."""
        for s in summaries:
            self.add(s)

    def _grow(self, rows: int) -> None:
        if rows <= self._capacity:
            return
        capacity = max(rows, 2 * self._capacity, 16)

        def grown(a: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full(capacity, fill, dtype=a.dtype)
            out[:a.size] = a
            return out

        self._filled = grown(self._filled, False)
        self._layout = grown(self._layout, -1)
        self._events = grown(self._events, 0)
        self._seconds = grown(self._seconds, 0.0)
        self._values = self._resized(len(self._columns), capacity)
        self._capacity = capacity

    def _resized(self, names: int, capacity: int) -> np.ndarray:
        out = np.full((names, capacity), math.nan)
        out[:self._values.shape[0], :self._values.shape[1]] = self._values
        return out

    def _new_layout(self, layout: Layout, row: int) -> int:
        """Register a layout not seen before (and any metric new with it); its id."""
        new = [name for name in layout.metrics if name not in self._columns]
        if new:
            for name in new:
                self._columns[name] = len(self._columns)
            self._values = self._resized(len(self._columns), self._capacity)
        layout_id = self._layout_ids[layout] = len(self._layouts)
        self._layouts.append(layout)
        self._layout_columns.append(np.asarray([self._columns[n] for n in layout.metrics],
                                               dtype=np.intp))
        self._layout_count.append(0)
        self._layout_first.append(row)
        return layout_id

    def _put(self, row: int, key: Key, value: Any) -> None:
        slot = self._slots.get(key)
        fits = (isinstance(value, np.ndarray) and value.ndim == 1
                and value.dtype.kind in "biuf")
        if fits and slot is None:
            slot = self._slots[key] = RowFile(value.dtype, value.size, self._on_disk)
        if fits and slot is not None and slot.dtype == value.dtype and slot.width == value.size:
            slot.write(row, value)
        else:
            self._odd.setdefault(key, {})[row] = value

    def _spill(self) -> None:
        for slot in self._slots.values():
            slot.spill()
        self._on_disk = True

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._count

    def rows(self) -> np.ndarray:
        """Row of each replication held, in replication order."""
        if self._rows_cache is None:
            self._rows_cache = (np.arange(self._end) if self._count == self._end
                                else np.flatnonzero(self._filled[:self._end]))
        return self._rows_cache

    @overload
    def __getitem__(self, index: int) -> ReplicationSummary: ...

    @overload
    def __getitem__(self, index: slice) -> list[ReplicationSummary]: ...

    def __getitem__(self, index: int | slice) -> ReplicationSummary | list[ReplicationSummary]:
        if isinstance(index, slice):
            return list(self._summaries(self.rows()[index]))
        i = operator.index(index)
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(f"replication position {index} out of range ({self._count} held)")
        return next(self._summaries(self.rows()[i:i + 1]))

    def __iter__(self) -> Iterator[ReplicationSummary]:
        return self._summaries(self.rows())

    def _summaries(self, rows: np.ndarray) -> Iterator[ReplicationSummary]:
        """The summaries of ``rows`` (ascending), rebuilt a block at a time."""
        for start in range(0, rows.size, ROWS_PER_BLOCK):
            part = rows[start:start + ROWS_PER_BLOCK]
            lo, hi = int(part[0]), int(part[-1]) + 1
            blocks = {key: slot.read(lo, hi) for key, slot in self._slots.items()}
            for row in part.tolist():
                yield self._rebuild(row, blocks, lo)

    def _array(self, row: int, key: Key, blocks: Mapping[Key, np.ndarray], lo: int) -> Any:
        odd = self._odd.get(key)
        if odd is not None and row in odd:
            return odd[row]
        return blocks[key][row - lo].copy()

    def _rebuild(self, row: int, blocks: Mapping[Key, np.ndarray], lo: int
                 ) -> ReplicationSummary:
        layout = self._layouts[int(self._layout[row])]
        metrics = self._odd.get(("metrics", ""), {}).get(row, _MISSING)
        if metrics is _MISSING:
            values = self._values[self._layout_columns[int(self._layout[row])], row].tolist()
            metrics = dict(zip(layout.metrics, values, strict=True))
            for name in layout.int_metrics:
                metrics[name] = int(metrics[name])
        arrays = {field: {key: self._array(row, (field, key), blocks, lo)
                          for key in getattr(layout, field)} for field in _ARRAY_FIELDS}
        curve = (arrays["identified_curves"]["all"] if layout.curve_is_all
                 else self._array(row, _CURVE, blocks, lo))
        if layout.conservation is None:
            conservation = self._odd[_CONSERVATION][row]
        else:
            flat = self._array(row, _CONSERVATION, blocks, lo).tolist()
            conservation, at = {}, 0
            for stage, names in layout.conservation:
                conservation[stage] = dict(zip(names, flat[at:at + len(names)], strict=True))
                at += len(names)
        scalars = {}
        for name, column in (("events", self._events), ("seconds", self._seconds)):
            value = self._odd.get((name, ""), {}).get(row, _MISSING)
            scalars[name] = column[row].item() if value is _MISSING else value
        return ReplicationSummary(
            self.first + row, metrics, curve, self._array(row, _DAYS, blocks, lo),
            arrays["waiting"], conservation, scalars["events"], scalars["seconds"],
            identified_curves=arrays["identified_curves"], wait_curves=arrays["wait_curves"])

    # ------------------------------------------------------------------ columns

    def replication_indices(self) -> np.ndarray:
        """Replication indices held, in order (int64)."""
        return (self.rows() + self.first).astype(np.int64)

    def _scalar(self, name: str, column: np.ndarray) -> np.ndarray:
        rows = self.rows()
        odd = self._odd.get((name, ""))
        if not odd:
            return column[rows]
        return np.asarray([odd[r] if r in odd else column[r].item() for r in rows.tolist()])

    def events(self) -> np.ndarray:
        """Events of each replication, in order (as ``numpy.asarray`` of the summaries' values)."""
        return self._scalar("events", self._events)

    def seconds(self) -> np.ndarray:
        """Wall seconds of each replication, in order."""
        return self._scalar("seconds", self._seconds)

    def metric_names(self) -> list[str]:
        """Every metric any replication reports, in the order they first appear."""
        return self.keys("metrics")

    def _replications_with(self, name: str, field: str = "metrics") -> int:
        return sum(n for lay, n in zip(self._layouts, self._layout_count, strict=True)
                   if name in getattr(lay, field))

    def has_metric(self, name: str) -> bool:
        """Whether any replication reports ``name``."""
        return self._replications_with(name) > 0

    def metric(self, name: str, strict: bool = False) -> np.ndarray:
        """Values of ``name`` by replication, as floats: NaN where a replication lacks it.

        The same numbers as ``numpy.asarray([r.metrics.get(name, nan) for r in store],
        dtype=float)``. With ``strict``, a replication without it raises KeyError (as
        ``r.metrics[name]`` would).
        """
        if strict and self._replications_with(name) < self._count:
            raise KeyError(name)
        column = self._columns.get(name)
        if column is None:
            return np.full(self._count, math.nan)
        values = (self._values[column, :self._count].copy() if self._count == self._end
                  else self._values[column, self.rows()])
        odd = self._odd.get(("metrics", ""))
        if odd:
            for i, row in enumerate(self.rows().tolist()):
                if row in odd:
                    values[i] = float(odd[row].get(name, math.nan))
        return values

    def metric_column(self, name: str) -> np.ndarray:
        """``numpy.asarray([r.metrics.get(name, nan) for r in store])``: its dtype as well.

        Possibly a read-only view of the store's own column.
        """
        if self._odd.get(("metrics", "")):
            return np.asarray([r.metrics.get(name, math.nan) for r in self])
        column = self._columns.get(name)
        if column is not None and self._count == self._end:
            values = self._values[column, :self._count]  # a view: no copy of a long column
            values.flags.writeable = False
        else:
            values = self.metric(name)
        if self._count and self._replications_with(name, "int_metrics") == self._count:
            return values.astype(np.int64)
        return values

    def metric_for(self, name: str, replications: range) -> np.ndarray:
        """Values of ``name`` (NaN where missing) in the replications ``replications``."""
        wanted = np.asarray(replications, dtype=np.int64) - self.first
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self._end
                            or not self._filled[wanted].all()):
            raise KeyError(f"replications {replications} are not all in the store")
        column = self._columns.get(name)
        values = (np.full(wanted.size, math.nan) if column is None
                  else self._values[column, wanted])
        odd = self._odd.get(("metrics", ""))
        if odd:
            for i, row in enumerate(wanted.tolist()):
                if row in odd:
                    values[i] = float(odd[row].get(name, math.nan))
        return values

    # ------------------------------------------------------------------ curves

    def first_keys(self, field: str) -> list[str]:
        """The keys of ``field`` (e.g. ``identified_curves``) in the first replication."""
        if not self._count:
            return []
        return list(getattr(self._layouts[int(self._layout[self.rows()[0]])], field))

    def keys(self, field: str) -> list[str]:
        """Every key of ``field`` any replication has, in the order they first appear."""
        first: dict[str, tuple[int, int]] = {}
        for layout, count, row in zip(self._layouts, self._layout_count, self._layout_first,
                                      strict=True):
            for rank, key in enumerate(getattr(layout, field) if count else ()):
                if key not in first or (row, rank) < first[key]:
                    first[key] = (row, rank)
        return sorted(first, key=first.__getitem__)

    def _curve_key(self, layout: Layout, field: str, key: str, fallback: bool) -> Key | None:
        """Where a replication of ``layout`` keeps curve ``(field, key)``; None: not at all."""
        if field == "identified_curve" or (field == "identified_curves" and key not in
                                           layout.identified_curves and fallback):
            return ("identified_curves", "all") if layout.curve_is_all else _CURVE
        return (field, key) if key in getattr(layout, field) else None

    def _matrix(self, field: str, key: str, fill_width: int | None, fallback: bool = False,
                max_bytes: int | None = None) -> StackedArray:
        """The (replications, points) array of one curve, stacked in replication order.

        Each replication gives its curve ``(field, key)``; one without it gives NaN
        (``fill_width`` points; None: KeyError) or, with ``fallback``, its
        ``identified_curve`` (as :func:`sim.results.summary.identify_curve_columns` does).

        Raises
        ------
        ValueError
            If the curves differ in length (they cannot be stacked).
        """
        rows = self.rows()
        per_layout = [self._curve_key(lay, field, key, fallback) for lay in self._layouts]
        choices = sorted({k for k in per_layout if k is not None})
        code = np.asarray([-1 if k is None else choices.index(k) for k in per_layout] or [0])
        source = code[self._layout[rows]] if rows.size else np.zeros(0, dtype=int)
        widths = set()
        odd_rows: dict[int, np.ndarray] = {}
        for c, k in enumerate(choices):
            used = np.flatnonzero(source == c)
            odd = self._odd.get(k, {})
            if k in self._slots and any(int(rows[i]) not in odd for i in used.tolist()):
                widths.add(self._slots[k].width)
            for i in used.tolist():
                if int(rows[i]) in odd:
                    value = np.asarray(odd[int(rows[i])])
                    widths.add(value.size if value.ndim == 1 else -1)
                    odd_rows[i] = value
        if (source == -1).any():
            if fill_width is None:
                raise KeyError(f"a replication has no {field} {key!r}")
            widths.add(fill_width)
        if len(widths) > 1 or -1 in widths:
            raise ValueError(f"the {field} {key!r} of the replications differ in length "
                             f"({sorted(widths)}); they cannot be stacked")
        width = widths.pop() if widths else (fill_width or 0)
        slots = [self._slots.get(k) for k in choices]

        def rows_block(start: int, stop: int) -> np.ndarray:
            out = np.full((stop - start, width), math.nan)
            for at in range(start, stop, ROWS_PER_BLOCK * 4):
                end = min(at + ROWS_PER_BLOCK * 4, stop)
                part, here = rows[at:end], source[at:end]
                for c, slot in enumerate(slots):
                    pick = np.flatnonzero(here == c)
                    if pick.size and slot is not None:
                        lo = int(part[pick[0]])
                        block = slot.read(lo, int(part[pick[-1]]) + 1)
                        out[at - start + pick] = block[part[pick] - lo]
            for i, value in odd_rows.items():
                if start <= i < stop:
                    out[i - start] = value
            return out

        return StackedArray(rows_block, rows.size, width,
                       stats.BLOCK_BYTES if max_bytes is None else max_bytes)

    def curve_band(self, field: str, key: str, fill_width: int | None = None,
                   fallback: bool = False, level: float = 0.95,
                   max_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~sim.analysis.stats.band` of one curve stacked by replication.

        Equal, bit for bit, to ``band(numpy.vstack(curves))`` of the curves in
        replication order, with at most ``max_bytes`` of them (default
        :data:`sim.analysis.stats.BLOCK_BYTES`) in memory at a time: a larger array is
        transposed to a temporary file and read a block of points at a time.
        ``fill_width`` and ``fallback`` say what a replication without the curve gives
        (see :meth:`_matrix`).
        """
        with self._matrix(field, key, fill_width, fallback, max_bytes) as matrix:
            return stats.band_by_columns(matrix.read, matrix.width, matrix.rows, level,
                                         matrix.max_bytes)

    def series_mean(self, key: str, max_bytes: int | None = None) -> np.ndarray:
        """``numpy.mean(numpy.vstack([r.waiting[key] for r in store]), axis=0)``, by blocks."""
        with self._matrix("waiting", key, None, max_bytes=max_bytes) as matrix:
            return stats.mean_by_columns(matrix.read, matrix.width, matrix.rows,
                                         matrix.max_bytes)

    def series_ever_positive(self, key: str) -> bool:
        """Whether any replication's ``waiting[key]`` has a value above 0 (NaN ignored)."""
        matrix = self._matrix("waiting", key, None)
        step = ROWS_PER_BLOCK * 4
        return any((np.nan_to_num(matrix.rows_block(at, min(at + step, matrix.rows)),
                                  nan=0.0) > 0).any() for at in range(0, matrix.rows, step))

    def waiting_chunks(self, rows_per_chunk: int | None = None
                       ) -> Iterator[dict[str, np.ndarray]]:
        """The long table of :func:`sim.results.summary.waiting_columns`, in chunks.

        Columns ``replication``, ``day``, ``stage``, ``waiting``: for each replication in
        order, for each of its stages, its series on its sample days. The chunks
        (about ``rows_per_chunk`` rows each, default :data:`CHUNK_ROWS`; whole
        replications) put end to end are that table, dtypes included.

        Raises
        ------
        ValueError
            If no replication has a waiting time series.
        """
        keys = self.keys("waiting")
        if not keys:
            raise ValueError("no waiting time series to write")
        rows_per_chunk = CHUNK_ROWS if rows_per_chunk is None else rows_per_chunk
        days_types = [self._slots[_DAYS].dtype] if _DAYS in self._slots else []
        day_dtype = np.result_type(*days_types, *(np.asarray(v).dtype for v in
                                                  self._odd.get(_DAYS, {}).values()))
        value_types = [self._slots[("waiting", k)].dtype for k in keys
                       if ("waiting", k) in self._slots]
        value_dtype = np.result_type(*value_types, *(
            np.asarray(v).dtype for k in keys for v in self._odd.get(("waiting", k), {}).values()))
        wanted = [_DAYS, *(("waiting", k) for k in keys)]
        rows = self.rows()
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        count = 0
        for start in range(0, rows.size, ROWS_PER_BLOCK):
            block_rows = rows[start:start + ROWS_PER_BLOCK]
            lo, hi = int(block_rows[0]), int(block_rows[-1]) + 1
            blocks = {k: self._slots[k].read(lo, hi) for k in wanted if k in self._slots}
            for row in block_rows.tolist():
                stages = self._layouts[int(self._layout[row])].waiting
                if not stages:
                    continue
                days = np.asarray(self._array(row, _DAYS, blocks, lo))
                for stage in stages:
                    values = np.asarray(self._array(row, ("waiting", stage), blocks, lo))
                    parts.append((np.full(values.size, self.first + row, dtype=np.int64), days,
                                  np.full(values.size, stage, dtype=object), values))
                    count += values.size
                if count >= rows_per_chunk:
                    yield _chunk(parts, day_dtype, value_dtype)
                    parts, count = [], 0
        if parts:
            yield _chunk(parts, day_dtype, value_dtype)


def _chunk(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
           day_dtype: np.dtype, value_dtype: np.dtype) -> dict[str, np.ndarray]:
    names = ("replication", "day", "stage", "waiting")
    out = {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}
    out["day"] = out["day"].astype(day_dtype, copy=False)
    out["waiting"] = out["waiting"].astype(value_dtype, copy=False)
    return out

