"""What the simulation did at each station: waits, arrival rates and Little's law.

Pure functions of :class:`~sim.monitor.records.Records` (the ``stage_visits`` table and
the stations' time integrals); nothing here knows the scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sim.config.schema import RISK_LEVELS
from sim.monitor.records import Records

#: Groups of items besides ``all`` and the priority levels: the pipeline's own items
#: (cases, devices, children) and other-work jobs.
STREAMS = ("iioc", "other_work")


def visits(rec: Records, stage: str) -> dict[str, np.ndarray]:
    """The ``stage_visits`` rows of ``stage``, as columns."""
    t = rec.tables["stage_visits"]
    mask = t["stage"] == stage
    return {k: v[mask] for k, v in t.items()}


def little(rec: Records, stage: str) -> tuple[float, float, float]:
    """(L, lambda W of completed items, exact-identity relative error) on [0, T].

    ``L`` is the station's time-averaged number in system; the exact identity compares
    its time integral with the one rebuilt from the visit log (items still there at
    ``T`` count up to ``T``; backlog items from 0).
    """
    end = rec.window[1]
    avg = rec.time_averages.get(stage)
    if avg is None:
        return math.nan, math.nan, math.nan
    big_l = avg["mean_in_system"]
    v = visits(rec, stage)
    if v["arrive_day"].size == 0:
        return big_l, 0.0, (0.0 if big_l == 0 else math.inf)
    begin = np.clip(v["arrive_day"], 0.0, end)
    stop = np.where(np.isnan(v["end_day"]), end, np.minimum(v["end_day"], end))
    area = float(np.sum(stop - begin))
    exact = abs(big_l * end - area) / max(abs(area), 1e-12)
    done = ~np.isnan(v["end_day"]) & (v["arrive_day"] >= 0)
    w = float(np.mean(v["end_day"][done] - v["arrive_day"][done])) if done.any() else math.nan
    return big_l, avg["arrival_rate_per_day"] * w, exact


def sim_waits(records: Sequence[Records], stage: str
              ) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int]]:
    """Per replication: mean wait and arrival rate in the window, per group.

    Groups: ``all``, each priority level (the class an item queued in: a case's
    priority can rise while its devices wait, but the queue keeps the order it gave
    them on arrival), and the streams ``iioc`` (the pipeline's items) and
    ``other_work`` (jobs; tables without an ``entity`` column have none). Also the
    number of items with a known wait per group, over all replications.
    """
    groups = ["all", *RISK_LEVELS, *STREAMS]
    waits: dict[str, list[float]] = {g: [] for g in groups}
    rates: dict[str, list[float]] = {g: [] for g in groups}
    counts = dict.fromkeys(groups, 0)
    for rec in records:
        lo, hi = rec.window
        v = visits(rec, stage)
        inside = (v["arrive_day"] >= lo) & (v["arrive_day"] < hi)
        span = hi - lo if hi > lo else math.nan
        queued = v["queued_priority"]
        jobs = (v["entity"] == "job") if "entity" in v else np.zeros(queued.size, dtype=bool)
        masks = {"all": np.ones(queued.size, dtype=bool), "iioc": ~jobs, "other_work": jobs}
        masks.update({level: queued == k for k, level in enumerate(RISK_LEVELS)})
        started = inside & ~np.isnan(v["start_day"])
        for group in groups:
            sel = masks[group]
            rates[group].append(float((inside & sel).sum()) / span)
            wait = v["wait_days"][started & sel]
            waits[group].append(float(wait.mean()) if wait.size else math.nan)
            counts[group] += int(wait.size)
    return waits, rates, counts
