"""Run-level outputs: summary.json, per-replication metrics and curves, plots.

The run-level tables (``replication_metrics``, ``identify_curve``, ``wait_curves``,
``waiting_timeseries``) are written from numpy columns as Parquet or CSV
(:func:`sim.results.tables.columns_parquet_writer`, :func:`~sim.results.tables.columns_csv_writer`),
so writing a run's outputs imports neither pandas nor, without plots, matplotlib. The
``*_frame`` functions return the same tables as pandas DataFrames for analysis.

``summary.json`` holds every metric of :data:`sim.analysis.metrics.METRICS` and the stage
waits of :mod:`sim.analysis.stage_waits` (``stage_wait.<stage>.<group>.<statistic>``),
each with its mean, 95% interval, unit and description, and a ``note`` saying why where
it is undefined in some replications.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from sim.analysis.metrics import IDENTIFY_GRID_DAYS, METRICS
from sim.analysis.stage_waits import STATISTICS, WAIT_GRID_DAYS, parse_metric_name
from sim.analysis.stats import Estimate, band, mean_ci
from sim.results.atomic import write_atomic, write_json
from sim.results.presentation import nan_reason
from sim.results.tables import columns_csv_writer, columns_parquet_writer

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
    extra: dict[str, None] = {}
    for r in result.replications:
        extra.update(dict.fromkeys(n for n in r.metrics if n not in out))
    for name in extra:
        unit = unit_and_description(name)[0]
        bounds = (0.0, 1.0) if unit == "share" else (0.0, math.inf)
        out[name] = mean_ci([r.metrics.get(name, math.nan) for r in result.replications],
                            level, bounds)
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
    out = {"scenario": result.scenario.name, "replications": len(result.replications),
           "seed": result.seed, "metrics": metrics}
    if "replication_control" in result.extra:  # --reps auto (sim.experiment.autoreps)
        out["replication_control"] = result.extra["replication_control"]
    return out


def metrics_columns(result: ExperimentResult) -> Columns:
    """One row per replication, one column per metric (and events, seconds)."""
    reps = result.replications
    names: dict[str, None] = {}
    for r in reps:
        names.update(dict.fromkeys(r.metrics))
    nan = math.nan
    return {"replication": np.asarray([r.replication for r in reps]),
            **{name: np.asarray([r.metrics.get(name, nan) for r in reps]) for name in names},
            "events": np.asarray([r.events for r in reps]),
            "seconds": np.asarray([r.seconds for r in reps])}


def _banded(key: str, per_rep: list[np.ndarray | None], grid: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Key column and mean/low/high band of one curve over replications (None: missing)."""
    nan = np.full(grid.size, np.nan)
    mean, low, high = band(np.vstack([nan if c is None else c for c in per_rep]))
    return np.full(grid.size, key, dtype=object), mean, low, high


def identify_curve_columns(result: ExperimentResult) -> Columns:
    """Share identified by day since referral, per route and ``all``: mean and 95% band.

    Long format: one row per (route, day). A route with no child in a replication is
    left out of that replication's point (NaN), so each point has its own count.
    """
    reps = result.replications
    routes = list(reps[0].identified_curves) if reps and reps[0].identified_curves else ["all"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        "route", "days_since_referral", "identified_share_mean", "ci95_low", "ci95_high")}
    for route in routes:
        curves = np.vstack([r.identified_curves.get(route, r.identified_curve)
                            if route != "all" else r.identified_curve for r in reps])
        mean, low, high = band(curves)
        parts["route"].append(np.full(IDENTIFY_GRID_DAYS.size, route, dtype=object))
        parts["days_since_referral"].append(IDENTIFY_GRID_DAYS)
        parts["identified_share_mean"].append(mean)
        parts["ci95_low"].append(low)
        parts["ci95_high"].append(high)
    return {k: np.concatenate(v) for k, v in parts.items()}


def wait_curves_columns(result: ExperimentResult) -> Columns:
    """Share of items started by day of waiting, per stage and group: mean and 95% band.

    From :mod:`sim.analysis.stage_waits` (Kaplan–Meier; NaN beyond the longest wait a
    replication observed).
    """
    reps = result.replications
    keys: dict[str, None] = {}
    for r in reps:
        keys.update(dict.fromkeys(r.wait_curves))
    parts = [_banded(key, [r.wait_curves.get(key) for r in reps], WAIT_GRID_DAYS)
             for key in keys]
    stage_group = [k.split(".", 1) for k in keys]
    n = WAIT_GRID_DAYS.size
    return {"stage": np.repeat(np.asarray([s for s, _ in stage_group], dtype=object), n),
            "group": np.repeat(np.asarray([g for _, g in stage_group], dtype=object), n),
            "wait_days": np.tile(WAIT_GRID_DAYS, len(parts)),
            "started_share_mean": (np.concatenate([p[1] for p in parts]) if parts
                                   else np.empty(0)),
            "ci95_low": np.concatenate([p[2] for p in parts]) if parts else np.empty(0),
            "ci95_high": np.concatenate([p[3] for p in parts]) if parts else np.empty(0)}


def waiting_columns(result: ExperimentResult) -> Columns:
    """Items waiting per stage over time, long format with a replication column."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for r in result.replications:
        days = np.asarray(r.timeseries_days)
        for stage, values in r.waiting.items():
            values = np.asarray(values)
            parts.append((np.full(values.size, r.replication, dtype=np.int64), days,
                          np.full(values.size, stage, dtype=object), values))
    if not parts:
        raise ValueError("no waiting time series to write")
    return {name: np.concatenate([p[i] for p in parts])
            for i, name in enumerate(("replication", "day", "stage", "waiting"))}


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
    tables = {"replication_metrics": metrics_columns(result),
              "identify_curve": identify_curve_columns(result),
              "wait_curves": wait_curves_columns(result),
              "waiting_timeseries": waiting_columns(result)}
    for name in RUN_TABLES:
        if fmt == "parquet":
            write_atomic(folder / f"{name}.parquet", columns_parquet_writer(tables[name]),
                         binary=True)
        else:
            write_atomic(folder / f"{name}.csv", columns_csv_writer(tables[name]))
    write_json(folder / "manifest.json", manifest)
    if plots:
        from sim.plots.run_plots import save_run_plots

        # Drawn before it is published.
        save_run_plots(folder, unfinished=True, workers=plot_workers)
