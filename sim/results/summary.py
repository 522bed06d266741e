"""Run-level outputs: summary.json, per-replication metrics and curves, plots.

The CSV files are written from numpy columns (:func:`sim.results.tables.columns_csv_writer`),
so writing a run's outputs imports neither pandas nor, without plots, matplotlib. The
``*_frame`` functions return the same tables as pandas DataFrames for analysis.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from sim.analysis.metrics import IDENTIFY_GRID_DAYS, METRICS
from sim.analysis.stats import Estimate, band
from sim.results.atomic import write_atomic, write_json
from sim.results.tables import columns_csv_writer

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiment.runner import ExperimentResult

Columns = dict[str, np.ndarray]


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def summary_dict(result: ExperimentResult) -> dict[str, Any]:
    """The summary.json content: every metric's mean and 95% CI, with its unit."""
    metrics: dict[str, Any] = {}
    for name, est in result.estimates().items():
        metrics[name] = {
            "mean": _num(est.mean), "ci95_low": _num(est.ci_low), "ci95_high": _num(est.ci_high),
            "unit": METRICS[name].unit, "sd": _num(est.sd),
            "replications_defined": est.n, "description": METRICS[name].description,
        }
    return {"scenario": result.scenario.name, "replications": len(result.replications),
            "seed": result.seed, "metrics": metrics}


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


def waiting_frame(result: ExperimentResult) -> pd.DataFrame:
    """:func:`waiting_columns` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(waiting_columns(result))


def write_run_outputs(folder: Path, result: ExperimentResult, manifest: dict[str, Any],
                      plots: bool = True) -> None:
    """Write summary.json, manifest.json, scenario.yaml, curve tables and plots."""
    write_json(folder / "summary.json", summary_dict(result))
    # libyaml's emitter where PyYAML has it: the same text (every shipped scenario
    # checked), four times faster than PyYAML's own.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    scenario_yaml = yaml.dump(result.scenario.model_dump(mode="json"), Dumper=dumper,
                              sort_keys=False)
    write_atomic(folder / "scenario.yaml", lambda f: f.write(scenario_yaml))
    for name, columns in (("replication_metrics.csv", metrics_columns(result)),
                          ("identify_curve.csv", identify_curve_columns(result)),
                          ("waiting_timeseries.csv", waiting_columns(result))):
        write_atomic(folder / name, columns_csv_writer(columns))
    if plots:
        from sim.plots.run_plots import save_run_plots

        save_run_plots(folder, result)
    write_json(folder / "manifest.json", manifest)


def estimates_table(estimates: dict[str, Estimate]) -> list[tuple[str, str, str, str]]:
    """Rows (metric, mean, 95% CI, unit) formatted for printing."""
    def fmt(x: float) -> str:
        if math.isnan(x):
            return "n/a"
        return f"{x:,.3f}" if abs(x) < 10 else f"{x:,.1f}"

    rows = []
    for name, est in estimates.items():
        ci = "n/a" if math.isnan(est.ci_low) else f"[{fmt(est.ci_low)}, {fmt(est.ci_high)}]"
        note = "" if est.n == est.n_total else f" ({est.n}/{est.n_total} reps)"
        rows.append((name, fmt(est.mean), ci + note, METRICS[name].unit))
    return rows
