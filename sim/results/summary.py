"""Run-level outputs: summary.json, per-replication metrics and curves, plots.

The run-level tables (``replication_metrics``, ``identify_curve``, ``wait_curves``,
``waiting_timeseries``) are written from numpy columns as Parquet or CSV
(:func:`sim.results.tables.columns_parquet_writer`, :func:`~sim.results.tables.columns_csv_writer`),
so writing a run's outputs imports neither pandas nor, without plots, matplotlib. The
``*_frame`` functions return the same tables as pandas DataFrames for analysis.

They read the run's :class:`~sim.analysis.replication_store.ReplicationStore`, not a list
of summaries: metrics by column, curve bands a block of points at a time, and the long
``waiting_timeseries`` a chunk of replications at a time (:func:`waiting_chunks`), which
:func:`write_run_outputs` writes as it comes; so writing them takes memory that does not
grow with the replications beyond the metrics' own columns (and, in Parquet, one row
group of the long table). The files are those the list-based code wrote, byte for byte
(``tests/test_memory_bounded.py``).

``summary.json`` holds every metric of :data:`sim.analysis.metrics.METRICS` and the stage
waits of :mod:`sim.analysis.stage_waits` (``stage_wait.<stage>.<group>.<statistic>``),
each with its mean, 95% interval, unit and description, and a ``note`` saying why where
it is undefined in some replications.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from sim.analysis.metrics import IDENTIFY_GRID_DAYS, METRICS
from sim.analysis.stage_waits import STATISTICS, WAIT_GRID_DAYS, parse_metric_name
from sim.analysis.stats import Estimate, mean_ci
from sim.results.atomic import write_atomic, write_json
from sim.results.presentation import nan_reason
from sim.results.tables import (
    chunks_csv_writer,
    chunks_parquet_writer,
    columns_csv_writer,
    columns_parquet_writer,
)

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiment.runner import ExperimentResult

Columns = dict[str, np.ndarray]


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def unit_and_description(name: str) -> tuple[str, str]:
    """Unit and meaning of a metric of :data:`METRICS` or of a stage wait."""
    if name in METRICS:
        return METRICS[name].unit, METRICS[name].description
    parsed = parse_metric_name(name)
    if parsed is not None:
        stage, group, stat = parsed
        unit, meaning = STATISTICS[stat]
        who = "all items" if group == "all" else f"items of group '{group}'"
        return unit, f"{stage}: {meaning}, {who} joining the queue in the window"
    return "", ""


def all_estimates(result: ExperimentResult, level: float = 0.95) -> dict[str, Estimate]:
    """Mean and CI of every metric.

    Those of :data:`METRICS` first, then every other metric the replications report (the
    stage waits), in the order they first appear.
    """
    out = dict(result.estimates(level))
    store = result.store
    for name in store.metric_names():
        if name in out:
            continue
        unit = unit_and_description(name)[0]
        bounds = (0.0, 1.0) if unit == "share" else (0.0, math.inf)
        out[name] = mean_ci(store.metric(name), level, bounds)
    return out


def summary_dict(result: ExperimentResult) -> dict[str, Any]:
    """The summary.json content: every metric's mean and 95% CI, with its unit."""
    metrics: dict[str, Any] = {}
    for name, est in all_estimates(result).items():
        unit, description = unit_and_description(name)
        metrics[name] = {
            "mean": _num(est.mean), "ci95_low": _num(est.ci_low), "ci95_high": _num(est.ci_high),
            "unit": unit, "sd": _num(est.sd),
            "replications_defined": est.n, "description": description,
        }
        reason = nan_reason(name, est.n, est.n_total)
        if reason is not None:
            metrics[name]["note"] = reason
    out = {"scenario": result.scenario.name, "replications": len(result.store),
           "seed": result.seed, "metrics": metrics}
    if "replication_control" in result.extra:  # --reps auto (sim.experiment.autoreps)
        out["replication_control"] = result.extra["replication_control"]
    return out


def metrics_columns(result: ExperimentResult) -> Columns:
    """One row per replication, one column per metric (and events, seconds)."""
    store = result.store
    return {"replication": store.replication_indices(),
            **{name: store.metric_column(name) for name in store.metric_names()},
            "events": store.events(), "seconds": store.seconds()}


def identify_curve_columns(result: ExperimentResult) -> Columns:
    """Share identified by day since referral, per route and ``all``: mean and 95% band.

    Long format: one row per (route, day). A route with no child in a replication is
    left out of that replication's point (NaN), so each point has its own count. The
    routes are those of the first replication; one a replication lacks counts its
    pooled curve. The band is that of the curves stacked in replication order, read
    from the store a block of days at a time.
    """
    store = result.store
    if not len(store):
        raise ValueError("no replications")
    routes = store.first_keys("identified_curves") or ["all"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "route", "days_since_referral", "identified_share_mean", "ci95_low", "ci95_high")}
    for route in routes:
        if route == "all":
            mean, low, high = store.curve_band("identified_curve", "")
        else:
            mean, low, high = store.curve_band("identified_curves", route, fallback=True)
        parts["route"].append(np.full(IDENTIFY_GRID_DAYS.size, route, dtype=object))
        parts["days_since_referral"].append(IDENTIFY_GRID_DAYS)
        parts["identified_share_mean"].append(mean)
        parts["ci95_low"].append(low)
        parts["ci95_high"].append(high)
    return {k: np.concatenate(v) for k, v in parts.items()}


def wait_curves_columns(result: ExperimentResult) -> Columns:
    """Share of items started by day of waiting, per stage and group: mean and 95% band.

    From :mod:`sim.analysis.stage_waits` (Kaplan–Meier; NaN beyond the longest wait a
    replication observed; a replication without the curve counts NaN throughout).
    """
    store = result.store
    keys = store.keys("wait_curves")
    grid = WAIT_GRID_DAYS
    parts = []
    for key in keys:
        mean, low, high = store.curve_band("wait_curves", key, fill_width=grid.size)
        parts.append((np.full(grid.size, key, dtype=object), mean, low, high))
    stage_group = [k.split(".", 1) for k in keys]
    n = grid.size
    return {"stage": np.repeat(np.asarray([s for s, _ in stage_group], dtype=object), n),
            "group": np.repeat(np.asarray([g for _, g in stage_group], dtype=object), n),
            "wait_days": np.tile(grid, len(parts)),
            "started_share_mean": (np.concatenate([p[1] for p in parts]) if parts
                                   else np.empty(0)),
            "ci95_low": np.concatenate([p[2] for p in parts]) if parts else np.empty(0),
            "ci95_high": np.concatenate([p[3] for p in parts]) if parts else np.empty(0)}


def waiting_chunks(result: ExperimentResult) -> Iterator[Columns]:
    """:func:`waiting_columns` in chunks of whole replications, in replication order.

    What :func:`write_run_outputs` writes, so the long table is never whole in memory.

    Raises
    ------
    ValueError
        If no replication has a waiting time series (before any chunk).
    """
    chunks = result.store.waiting_chunks()
    first = next(chunks)  # raises now if there is nothing to write

    def all_chunks() -> Iterator[Columns]:
        yield first
        yield from chunks

    return all_chunks()


def waiting_columns(result: ExperimentResult) -> Columns:
    """Items waiting per stage over time, long format with a replication column."""
    chunks = list(waiting_chunks(result))
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


def metrics_frame(result: ExperimentResult) -> pd.DataFrame:
    """One row per replication, one column per metric (a DataFrame of :func:`metrics_columns`)."""
    import pandas as pd

    return pd.DataFrame(metrics_columns(result))


def identify_curve_frame(result: ExperimentResult) -> pd.DataFrame:
    """:func:`identify_curve_columns` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(identify_curve_columns(result))


def wait_curves_frame(result: ExperimentResult) -> pd.DataFrame:
    """:func:`wait_curves_columns` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(wait_curves_columns(result))


def waiting_frame(result: ExperimentResult) -> pd.DataFrame:
    """:func:`waiting_columns` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(waiting_columns(result))


#: The run-level tables, in the order they are written.
RUN_TABLES = ("replication_metrics", "identify_curve", "wait_curves", "waiting_timeseries")


def write_run_outputs(folder: Path, result: ExperimentResult, manifest: dict[str, Any],
                      plots: bool = True, fmt: str = "csv", plot_workers: int = 1) -> None:
    """Write summary.json, manifest.json, scenario.yaml, run-level tables and plots.

    Parameters
    ----------
    folder : pathlib.Path
        The (staging) results folder; its per-replication tables, if any, are already
        written, and the plots are drawn from what is in it (as ``fbsim plot`` does).
    result : ExperimentResult
        The run.
    manifest : dict
        Provenance (:func:`sim.results.provenance.manifest`).
    plots : bool
        Draw the PNG plots.
    fmt : str
        ``csv`` or ``parquet``, for the run-level tables.
    plot_workers : int
        Worker processes that draw the plots (:func:`sim.plots.run_plots.run_pngs`).
    """
    write_json(folder / "summary.json", summary_dict(result))
    # libyaml's emitter where PyYAML has it: the same text (every shipped scenario
    # checked), four times faster than PyYAML's own.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    scenario_yaml = yaml.dump(result.scenario.model_dump(mode="json"), Dumper=dumper,
                              sort_keys=False)
    write_atomic(folder / "scenario.yaml", lambda f: f.write(scenario_yaml))
    tables: dict[str, Callable[[], Columns]] = {
        "replication_metrics": lambda: metrics_columns(result),
        "identify_curve": lambda: identify_curve_columns(result),
        "wait_curves": lambda: wait_curves_columns(result)}
    for name in RUN_TABLES:  # one table at a time; the long one streamed in chunks
        if name == "waiting_timeseries":
            chunks = waiting_chunks(result)
            if fmt == "parquet":
                write_atomic(folder / f"{name}.parquet", chunks_parquet_writer(chunks),
                             binary=True)
            else:
                write_atomic(folder / f"{name}.csv", chunks_csv_writer(chunks))
        elif fmt == "parquet":
            write_atomic(folder / f"{name}.parquet", columns_parquet_writer(tables[name]()),
                         binary=True)
        else:
            write_atomic(folder / f"{name}.csv", columns_csv_writer(tables[name]()))
    write_json(folder / "manifest.json", manifest)
    if plots:
        from sim.plots.run_plots import save_run_plots

        # Drawn before it is published.
        save_run_plots(folder, unfinished=True, workers=plot_workers)
