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

from sim.config.common import RISK_LEVELS
from sim.monitor.records import StationLog, Table

#: Risk level names, in priority order (the one source is sim.config.common).
RISK_NAMES = RISK_LEVELS

#: How each child can be found (its population for the per-route metrics): in contact
#: and found by research; in contact and not found by research (the warrant's to find);
#: known only from device content; depicted in first-generation material.
ROUTES_CHILD = ("research", "warrant", "examination", "depicted")
ROUTES_DEVICE = ("lab", "kiosk")
COHORTS = ("new", "backlog")
#: Age thresholds (days) of the backlog age buckets in the stage time series.
AGE_BUCKETS_DAYS = (90.0, 365.0)


def _arr(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def stage_visits(logs: dict[str, StationLog], entity_kind: dict[str, str],
                 case_of_device: np.ndarray, tier_names: dict[str, list[str]]) -> Table:
    """One row per entity per stage visit (waiting ones included, start = NaN)."""
    parts = [(name, log, len(log)) for name, log in logs.items() if len(log)]
    if not parts:
        return {k: np.empty(0) for k in _VISIT_COLUMNS}
    total = sum(n for _, _, n in parts)
    # Columns are allocated once and filled per station (no concatenation); text
    # columns are filled with one shared str object per station.
    out: Table = {k: np.empty(total, dtype=dtype) for k, dtype in _VISIT_COLUMNS.items()}
    i = 0
    for name, log, n in parts:
        sl = slice(i, i + n)
        i += n
        kind = entity_kind[name]
        out["stage"][sl] = name
        out["entity"][sl] = kind
        ids = out["entity_id"][sl]
        ids[:] = log.entity
        case_id = out["case_id"][sl]
        jobs = ids < 0  # other work at a shared stage: ids -1, -2, ...
        if kind == "device":
            case_id[:] = case_of_device[np.where(jobs, 0, ids)]
        elif kind == "child":
            case_id[:] = -1
        else:
            case_id[:] = ids
        if jobs.any():
            out["entity"][sl][jobs] = "job"
            case_id[jobs] = -1
            ids[jobs] = -ids[jobs] - 1
        out["priority"][sl] = log.priority
        out["queued_priority"][sl] = log.queued_priority
        arrive, start = out["arrive_day"][sl], out["start_day"][sl]
        arrive[:] = log.arrive
        start[:] = log.start
        out["end_day"][sl] = log.end
        np.subtract(start, arrive, out=out["wait_days"][sl])
        out["service_days"][sl] = log.service
        names = np.asarray([*tier_names.get(name, []), ""], dtype=object)
        out["staff_tier"][sl] = names[np.asarray(log.tier, dtype=np.int64)]
    return out


#: Columns of ``stage_visits`` and their dtypes.
_VISIT_COLUMNS: dict[str, type] = {
    "stage": object, "entity": object, "entity_id": np.int64, "case_id": np.int64,
    "priority": np.int64, "queued_priority": np.int64, "arrive_day": np.float64, "start_day": np.float64,
    "end_day": np.float64, "wait_days": np.float64, "service_days": np.float64,
    "staff_tier": object,
}


def _count_le(sorted_values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_values, grid, side="right")


def _sorted(values: np.ndarray) -> np.ndarray:
    # Log columns are in start order, so nearly sorted already: numpy's stable sort
    # (timsort for floats) finds the runs and is about ten times faster here than the
    # default quicksort. The sorted values are the same whichever sort made them.
    return np.sort(values, kind="stable")


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
        n_arrived = _count_le(_sorted(arrive), grid)
        n_started = _count_le(_sorted(start_inf), grid)
        n_ended = _count_le(_sorted(end_inf), grid)
        out["day"].append(grid)
        out["stage"].append(np.full(grid.size, name, dtype=object))
        out["waiting"].append(n_arrived - n_started)
        out["in_service"].append(n_started - n_ended)
        for a in AGE_BUCKETS_DAYS:
            # Items that waited longer than a: count t in [arrive + a, start).
            long = start_inf - arrive > a
            old = (_count_le(_sorted(arrive[long] + a), grid)
                   - _count_le(_sorted(start_inf[long]), grid))
            out[f"waiting_over_{int(a)}d"].append(old)
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in out.items()}


def nan_if_missing(x: float) -> float:
    """Return x unchanged (NaN marks 'not happened by the end of the run')."""
    return x if x == x else math.nan
