"""Turn the entities and station logs of a finished replication into tidy tables.

Everything here runs once per replication, after the clock stops, on numpy arrays.
The stage time series are derived exactly from the per-visit log (no sampling error):
an item waits at a stage on ``[arrive, start)`` and is in service on ``[start, end)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.monitor.records import StationLog, Table

RISK_NAMES = ("very_high", "high", "medium", "low")
ROUTES_CHILD = ("contact", "depicted")
ROUTES_DEVICE = ("lab", "kiosk")
COHORTS = ("new", "backlog")
#: Age thresholds (days) of the backlog age buckets in the stage time series.
AGE_BUCKETS_DAYS = (90.0, 365.0)


def _arr(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def stage_visits(logs: dict[str, StationLog], entity_kind: dict[str, str],
                 case_of_device: np.ndarray, tier_names: dict[str, list[str]]) -> Table:
    """One row per entity per stage visit (waiting ones included, start = NaN)."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "stage", "entity", "entity_id", "case_id", "priority", "arrive_day", "start_day",
        "end_day", "wait_days", "service_days", "staff_tier")}
    for name, log in logs.items():
        n = len(log)
        if n == 0:
            continue
        ids = np.asarray(log.entity, dtype=np.int64)
        kind = entity_kind[name]
        arrive, start, end = _arr(log.arrive), _arr(log.start), _arr(log.end)
        tiers = np.asarray(log.tier, dtype=np.int64)
        names = np.asarray([*tier_names.get(name, []), ""], dtype=object)
        cols["stage"].append(np.full(n, name, dtype=object))
        cols["entity"].append(np.full(n, kind, dtype=object))
        cols["entity_id"].append(ids)
        cols["case_id"].append(case_of_device[ids] if kind == "device" else
                               np.full(n, -1, dtype=np.int64) if kind == "child" else ids)
        cols["priority"].append(np.asarray(log.priority, dtype=np.int64))
        cols["arrive_day"].append(arrive)
        cols["start_day"].append(start)
        cols["end_day"].append(end)
        cols["wait_days"].append(start - arrive)
        cols["service_days"].append(_arr(log.service))
        cols["staff_tier"].append(names[tiers])
    if not cols["stage"]:
        return {k: np.empty(0) for k in cols}
    return {k: np.concatenate(v) for k, v in cols.items()}


def _count_le(sorted_values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, grid, side="right")


def stage_timeseries(logs: dict[str, StationLog], grid: np.ndarray) -> Table:
    """Waiting, in service and waiting longer than each age bucket, per stage and day.

    Parameters
    ----------
    logs : dict of str to StationLog
        Station logs, waiting items included.
    grid : numpy.ndarray
        Sample days.
    """
    out: dict[str, list[Any]] = {"day": [], "stage": [], "waiting": [], "in_service": []}
    for a in AGE_BUCKETS_DAYS:
        out[f"waiting_over_{int(a)}d"] = []
    for name, log in logs.items():
        arrive, start, end = _arr(log.arrive), _arr(log.start), _arr(log.end)
        start_inf = np.where(np.isnan(start), np.inf, start)
        end_inf = np.where(np.isnan(end), np.inf, end)
        n_arrived = _count_le(np.sort(arrive), grid)
        n_started = _count_le(np.sort(start_inf), grid)
        n_ended = _count_le(np.sort(end_inf), grid)
        out["day"].append(grid)
        out["stage"].append(np.full(grid.size, name, dtype=object))
        out["waiting"].append(n_arrived - n_started)
        out["in_service"].append(n_started - n_ended)
        for a in AGE_BUCKETS_DAYS:
            # Items that waited longer than a: count t in [arrive + a, start).
            long = start_inf - arrive > a
            old = _count_le(np.sort(arrive[long] + a), grid) - _count_le(np.sort(start_inf[long]), grid)
            out[f"waiting_over_{int(a)}d"].append(old)
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in out.items()}


def nan_if_missing(x: float) -> float:
    """Return x unchanged (NaN marks 'not happened by the end of the run')."""
    return x if x == x else math.nan
