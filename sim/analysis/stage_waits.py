"""Waits at every queueing stage of one replication, censoring-aware.

For each stage that has a queue (a staff pool), the wait of every item that joined it in
the measured window (after any warm-up) is taken from ``stage_visits``: ``start_day -
arrive_day`` where service began, and ``end - arrive_day``, *censored*, where the item was
still waiting when the run ended. Kaplan–Meier then gives the median and P90 (NaN when
the curve never reaches the share: fewer than half, or 90%, had started), the share
started by each day (:data:`WAIT_GRID_DAYS`), and the restricted mean: the area under the
survival curve up to the longest wait observed, which equals the plain mean when nothing
is censored and is a lower bound when items still wait.

Waits are given for all items of a stage (group ``all``) and, where the stage orders its
queue by risk (discipline ``priority`` or ``deadline``), per priority class (the graded
risk the item queued with: ``very_high`` … ``low``). Where a stage serves more than one
kind of entity (the lab's IIOC devices and other exhibits), each kind is a group too.

Stage names come from the table, never from a fixed list, so new stages are included as
they appear. Metric names are ``stage_wait.<stage>.<group>.<statistic>``
(:func:`metric_name`, :func:`parse_metric_name`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.analysis.survival import kaplan_meier_sorted, quantile, survival_at
from sim.config.schema import RISK_LEVELS, Scenario
from sim.monitor.records import Records

#: First part of every stage-wait metric name.
PREFIX = "stage_wait"
#: Statistics per stage and group: unit and meaning.
STATISTICS: dict[str, tuple[str, str]] = {
    "mean_days": ("days", "mean wait (Kaplan–Meier restricted mean; a lower bound while items "
                          "still wait)"),
    "median_days": ("days", "median wait (Kaplan–Meier)"),
    "p90_days": ("days", "90th percentile of the wait (Kaplan–Meier)"),
    "started_share": ("share", "share of the items that joined the queue in the window whose "
                               "service had started by the end of the run"),
    "arrivals": ("items", "items that joined the queue in the window"),
}
#: Days at which the share of items started is evaluated: fine over the first week, daily
#: to a month, weekly to ten years. Points beyond the longest wait observed are NaN.
WAIT_GRID_DAYS = np.concatenate([np.arange(0.0, 7.0, 0.25), np.arange(7.0, 30.0, 1.0),
                                 np.arange(30.0, 3653.0, 7.0)])
#: The group of all items of a stage.
ALL = "all"
#: The discipline that does not order a queue by risk.
FIFO = "fifo"


def metric_name(stage: str, group: str, statistic: str) -> str:
    """The metric name of ``statistic`` (a key of :data:`STATISTICS`) for a stage and group."""
    return f"{PREFIX}.{stage}.{group}.{statistic}"


def parse_metric_name(name: str) -> tuple[str, str, str] | None:
    """``(stage, group, statistic)`` of a stage-wait metric name; None for other names."""
    parts = name.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or parts[3] not in STATISTICS:
        return None
    return parts[1], parts[2], parts[3]


@dataclass(frozen=True)
class StageWaits:
    """Stage waits of one replication.

    Attributes
    ----------
    metrics : dict of str to float
        Keyed by :func:`metric_name`.
    curves : dict of str to numpy.ndarray
        Keyed ``"<stage>.<group>"``: share of items started within each day of
        :data:`WAIT_GRID_DAYS` (1 − Kaplan–Meier survival), NaN beyond the longest wait
        observed.
    """

    metrics: dict[str, float]
    curves: dict[str, np.ndarray]


def _queue_settings(scenario: Scenario, stage: str) -> tuple[bool, str | None]:
    """Whether ``stage`` has a queue, and its discipline.

    The discipline is None when the scenario has no stage of that name: a new stage is
    assumed to queue, ordered as its data show.
    """
    stages = scenario.stages
    if stage == "kiosk":
        kiosk = stages.device_triage.kiosk
        return (kiosk is not None and kiosk.pool is not None), stages.device_triage.discipline
    cfg = getattr(stages, stage, None)
    if cfg is None or not hasattr(cfg, "pool"):
        return True, None
    return cfg.pool is not None, cfg.discipline


def _class_name(priority: int) -> str:
    return RISK_LEVELS[priority] if 0 <= priority < len(RISK_LEVELS) else f"class_{priority}"


def _one_group(wait: np.ndarray, started: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Statistics and curve of one group's waits (``started`` False: censored).

    ``wait`` is sorted (stably, with ``started`` in the same order): see
    :func:`sim.analysis.survival.kaplan_meier_sorted`.
    """
    n = wait.size
    stats = dict.fromkeys(STATISTICS, math.nan)
    stats["arrivals"] = float(n)
    if n == 0:
        return stats, np.full(WAIT_GRID_DAYS.size, np.nan)
    times, surv = kaplan_meier_sorted(wait, started)
    tau = float(wait[-1])  # the largest: wait is sorted
    # Area under S on [0, tau]: 1 until the first event, then each step's level times its
    # length, the last step running to tau.
    if times.size:
        steps = np.diff(np.append(times, max(tau, float(times[-1]))))
        stats["mean_days"] = float(times[0] + np.sum(surv * steps))
    else:
        stats["mean_days"] = tau  # nothing started: every item waited at least tau
    stats["median_days"] = quantile(times, surv, 0.5)
    stats["p90_days"] = quantile(times, surv, 0.9)
    stats["started_share"] = float(np.count_nonzero(started)) / n
    curve = 1.0 - survival_at(times, surv, WAIT_GRID_DAYS)
    curve[tau < WAIT_GRID_DAYS] = np.nan
    return stats, curve


def _runs(values: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of each distinct value of a text column that comes in long runs."""
    if values.size == 0:
        return {}
    cut = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], cut])
    stops = np.concatenate([cut, [values.size]])
    out: dict[str, list[np.ndarray]] = {}
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        out.setdefault(str(values[a]), []).append(np.arange(a, b))
    return {k: np.concatenate(v) for k, v in out.items()}


def stage_waits(records: Records, scenario: Scenario) -> StageWaits:
    """Wait statistics and curves of every queueing stage of one replication.

    Parameters
    ----------
    records : Records
        One replication's output (its ``stage_visits`` table and window).
    scenario : Scenario
        The scenario it ran: which stages have a queue and how they order it.
    """
    start, end = records.window
    visits = records.tables["stage_visits"]
    metrics: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    if not len(visits.get("stage", ())):
        return StageWaits(metrics, curves)
    for stage, rows in _runs(np.asarray(visits["stage"], dtype=object)).items():
        has_queue, discipline = _queue_settings(scenario, stage)
        if not has_queue:
            continue
        arrive = np.asarray(visits["arrive_day"], dtype=float)[rows]
        in_window = arrive >= start
        rows, arrive = rows[in_window], arrive[in_window]
        begin = np.asarray(visits["start_day"], dtype=float)[rows]
        started = ~np.isnan(begin)
        wait = np.maximum(np.where(started, begin, end) - arrive, 0.0)
        groups: dict[str, np.ndarray] = {ALL: np.ones(rows.size, dtype=bool)}
        priority = np.asarray(visits["queued_priority"], dtype=np.int64)[rows]
        # Every risk class where the scenario orders the queue by risk (so each replication
        # has the same metrics); the classes present where the stage is not in the scenario.
        if discipline is None:
            classes = np.unique(priority).tolist()
            classes = classes if len(classes) > 1 else []
        else:
            classes = [] if discipline == FIFO else list(range(len(RISK_LEVELS)))
        for k in classes:
            groups[_class_name(int(k))] = priority == k
        kinds = np.asarray(visits["entity"], dtype=object)[rows]
        kind_names = sorted({str(k) for k in set(kinds.tolist())})
        if len(kind_names) > 1:
            for kind in kind_names:
                groups[kind] = kinds == kind
        # Sorted once: each group's rows taken in this order are that group sorted
        # stably, as kaplan_meier() would sort them.
        order = np.argsort(wait, kind="stable")
        wait, started = wait[order], started[order]
        for group, mask in groups.items():
            sorted_mask = mask[order]
            stats, curve = _one_group(wait[sorted_mask], started[sorted_mask])
            for stat, value in stats.items():
                metrics[metric_name(stage, group, stat)] = value
            curves[f"{stage}.{group}"] = curve
    return StageWaits(metrics, curves)
