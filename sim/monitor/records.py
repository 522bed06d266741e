"""Columnar logs written during a replication, and the records it returns.

Logs are typed arrays (:class:`array.array`, list-like: ``append``, indexing, ``len``)
appended once per service start; they become numpy columns only when the replication
ends, by a plain copy of their buffer. Typed arrays store the numbers themselves rather
than pointers to boxed Python floats scattered over the heap: a quarter of the memory,
and the conversion at the end no longer chases a pointer per value (see
``bench/RESULTS.md``).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAN = math.nan


class StationLog:
    """One row per service at a station: who, when it arrived, started, ended.

    Each field is a column: an ``array('q')`` of 64-bit integers (``entity``; ``priority``,
    the case's priority when service started; ``queued_priority``, its priority when it
    joined the queue, which ordered the queue; ``tier``) or an ``array('d')`` of float64
    days (``arrive``, ``start``, ``end``, ``service``).
    """

    __slots__ = ("arrive", "end", "entity", "priority", "queued_priority", "service", "start",
                 "tier")

    def __init__(self) -> None:
        self.entity: array[int] = array("q")
        self.priority: array[int] = array("q")
        self.queued_priority: array[int] = array("q")
        self.arrive: array[float] = array("d")
        self.start: array[float] = array("d")
        self.end: array[float] = array("d")
        self.service: array[float] = array("d")
        self.tier: array[int] = array("q")

    def started(self, entity: int, priority: int, arrive: float, start: float,
                service: float, tier: int, queued_priority: int | None = None) -> int:
        """Log a service start; returns the row, whose ``end`` is set on completion."""
        self.entity.append(entity)
        self.priority.append(priority)
        self.queued_priority.append(priority if queued_priority is None else queued_priority)
        self.arrive.append(arrive)
        self.start.append(start)
        self.end.append(NAN)
        self.service.append(service)
        self.tier.append(tier)
        return len(self.end) - 1

    def waiting(self, entity: int, priority: int, arrive: float,
                queued_priority: int | None = None) -> None:
        """Log an item still waiting when the run ends (start and end unknown)."""
        self.entity.append(entity)
        self.priority.append(priority)
        self.queued_priority.append(priority if queued_priority is None else queued_priority)
        self.arrive.append(arrive)
        self.start.append(NAN)
        self.end.append(NAN)
        self.service.append(NAN)
        self.tier.append(-1)

    def __len__(self) -> int:
        return len(self.entity)


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
