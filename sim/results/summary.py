"""Run-level outputs: summary.json, per-replication metrics and curves, plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.analysis.metrics import IDENTIFY_GRID_DAYS, METRICS
from sim.analysis.stats import Estimate, band
from sim.experiment.runner import ExperimentResult
from sim.results.atomic import write_atomic, write_json
from sim.results.tables import csv_writer


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


def metrics_frame(result: ExperimentResult) -> pd.DataFrame:
    """One row per replication, one column per metric."""
    rows = [{"replication": r.replication, **r.metrics, "events": r.events,
             "seconds": r.seconds} for r in result.replications]
    return pd.DataFrame(rows)


def identify_curve_frame(result: ExperimentResult) -> pd.DataFrame:
    """Share identified by day since referral: mean and 95% band across replications."""
    curves = np.vstack([r.identified_curve for r in result.replications])
    mean, low, high = band(curves)
    return pd.DataFrame({"days_since_referral": IDENTIFY_GRID_DAYS, "identified_share_mean": mean,
                         "ci95_low": low, "ci95_high": high})


def waiting_frame(result: ExperimentResult) -> pd.DataFrame:
    """Items waiting per stage over time, long format with a replication column."""
    frames = []
    for r in result.replications:
        for stage, values in r.waiting.items():
            frames.append(pd.DataFrame({"replication": r.replication, "day": r.timeseries_days,
                                        "stage": stage, "waiting": values}))
    return pd.concat(frames, ignore_index=True)


def write_run_outputs(folder: Path, result: ExperimentResult, manifest: dict[str, Any],
                      plots: bool = True) -> None:
    """Write summary.json, manifest.json, scenario.yaml, curve tables and plots."""
    write_json(folder / "summary.json", summary_dict(result))
    scenario_yaml = yaml.safe_dump(result.scenario.model_dump(mode="json"), sort_keys=False)
    write_atomic(folder / "scenario.yaml", lambda f: f.write(scenario_yaml))
    for name, frame in (("replication_metrics.csv", metrics_frame(result)),
                        ("identify_curve.csv", identify_curve_frame(result)),
                        ("waiting_timeseries.csv", waiting_frame(result))):
        write_atomic(folder / name, csv_writer(frame))
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
