"""Logs written during a replication, and the records it returns.

A station's log is a ``bytearray`` of packed rows, one per service start; it becomes
numpy columns only when the replication ends, by a view of its buffer. Packed rows
store the numbers themselves rather than pointers to boxed Python floats scattered
over the heap: a quarter of the memory, and the conversion at the end no longer
chases a pointer per value (see ``bench/RESULTS.md``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAN = math.nan


#: A station-log row: its fields, in buffer order, with their types.
LOG_DTYPE = np.dtype([("entity", "<i8"), ("priority", "<i8"), ("queued_priority", "<i8"),
                      ("arrive", "<f8"), ("start", "<f8"), ("end", "<f8"),
                      ("service", "<f8"), ("tier", "<i8")])
LOG_FIELDS: tuple[str, ...] = tuple(LOG_DTYPE.names or ())
#: Packs one row (little-endian, no padding: the layout of LOG_DTYPE).
LOG_ROW = struct.Struct("<qqqddddq")
#: Packs the ``end`` of a row, at ``row offset + END_OFFSET``.
LOG_END = struct.Struct("<d")
END_OFFSET = LOG_DTYPE.fields["end"][1] if LOG_DTYPE.fields else 0


class StationLog:
    """One row per service at a station: who, when it arrived, started, ended.

    Rows are packed one after another into a ``bytearray`` (``data``) in the layout
    of :data:`LOG_DTYPE`, so logging a service start is one ``pack`` and one append.
    The columns are read as numpy arrays through attributes of the same names:
    ``entity``; ``priority``, the case's priority when service started;
    ``queued_priority``, its priority when it joined the queue, which ordered the
    queue; ``tier`` (int64); ``arrive``, ``start``, ``end``, ``service`` (float64
    days; NaN where not happened).
    """

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def started(self, entity: int, priority: int, arrive: float, start: float,
                service: float, tier: int, queued_priority: int | None = None) -> int:
        """Log a service start; returns the byte offset of its ``end`` in :attr:`data`."""
        at = len(self.data) + END_OFFSET
        self.data += LOG_ROW.pack(entity, priority, priority if queued_priority is None
                                  else queued_priority, arrive, start, NAN, service, tier)
        return at

    def ended(self, at: int, end: float) -> None:
        """Set the ``end`` of the row whose end is at byte offset ``at``."""
        LOG_END.pack_into(self.data, at, end)

    def waiting(self, entity: int, priority: int, arrive: float,
                queued_priority: int | None = None) -> None:
        """Log an item still waiting when the run ends (start and end unknown)."""
        self.data += LOG_ROW.pack(entity, priority, priority if queued_priority is None
                                  else queued_priority, arrive, NAN, NAN, NAN, -1)

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as a new numpy array (int64 or float64)."""
        return np.frombuffer(self.data, dtype=LOG_DTYPE)[name].copy()

    def __getattr__(self, name: str) -> np.ndarray:
        if name in LOG_FIELDS:
            return self.column(name)
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.data) // LOG_DTYPE.itemsize


Table = dict[str, np.ndarray]


@dataclass
class Records:
    """Everything one replication produced.

    Attributes
    ----------
    replication : int
        Replication index.
    seed : int
        Base seed of the experiment.
    tables : dict of str to Table
        Tidy tables as columns: ``stage_visits``, ``cases``, ``devices``, ``children``,
        ``stage_timeseries``, ``staff_timeseries``, ``staff_tier_timeseries``, ``workforce``
        and ``training_cohorts`` (documented in ``docs/results-tables.md``).
    conservation : dict
        Per station: arrived, completed, waiting, in service at the end (the lab also
        counts ``outsourced``).
    time_averages : dict
        Per station: time-averaged number waiting and in system over the run, and the
        arrival rate, for Little's law.
    events : int
        Service visits times three (arrival, start, end), as counted by ``bench/``.
    window : tuple of float
        ``(warmup_day, end_day)``: statistics cover referrals in this window.
    """

    replication: int
    seed: int
    tables: dict[str, Table]
    conservation: dict[str, dict[str, int]]
    time_averages: dict[str, dict[str, float]]
    events: int
    window: tuple[float, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def frame(self, name: str) -> Any:
        """Table ``name`` as a pandas DataFrame with a ``replication`` column."""
        import pandas as pd

        df = pd.DataFrame(self.tables[name])
        df.insert(0, "replication", self.replication)
        return df


class ConservationError(RuntimeError):
    """Counts do not balance at a stage: the model lost or invented work."""
