"""Columnar logs written during a replication, and the records it returns.

Logs are plain Python lists appended once per service start, the cheapest thing to do
inside the event loop; they become numpy columns only when the replication ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAN = math.nan


class StationLog:
    """One row per service at a station: who, when it arrived, started, ended."""

    __slots__ = ("arrive", "end", "entity", "priority", "service", "start", "tier")

    def __init__(self) -> None:
        self.entity: list[int] = []
        self.priority: list[int] = []
        self.arrive: list[float] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.service: list[float] = []
        self.tier: list[int] = []

    def started(self, entity: int, priority: int, arrive: float, start: float,
                service: float, tier: int) -> int:
        """Log a service start; returns the row, whose ``end`` is set on completion."""
        self.entity.append(entity)
        self.priority.append(priority)
        self.arrive.append(arrive)
        self.start.append(start)
        self.end.append(NAN)
        self.service.append(service)
        self.tier.append(tier)
        return len(self.end) - 1

    def waiting(self, entity: int, priority: int, arrive: float) -> None:
        """Log an item still waiting when the run ends (start and end unknown)."""
        self.entity.append(entity)
        self.priority.append(priority)
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
        ``stage_timeseries``, ``staff_timeseries``.
    conservation : dict
        Per station: arrived, completed, waiting, in service at the end.
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
