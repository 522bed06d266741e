"""The results folder of a sweep.

- ``sweep_points.{parquet,csv}``: one row per point and metric (mean, 95% CI, half-width,
  replications), every metric the replications report;
- ``sweep_replications.{parquet,csv}``: one row per point and replication, every metric;
- ``summary.json``: the points, each with the chosen metrics' estimates, and what the
  replication control did;
- ``manifest.json``: provenance, the ``--vary`` specs and the design;
- ``scenario.yaml``: the base scenario;
- ``sweep_curves.png``: the chosen metrics against the lever (:func:`sim.plots.sweep.sweep_curves`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.results.atomic import write_atomic, write_json
from sim.results.tables import csv_writer, parquet_writer

if TYPE_CHECKING:
    from sim.experiment.sweep import SweepResult

SWEEP_TABLES = ("sweep_points", "sweep_replications")
SWEEP_FIGURE = "sweep_curves.png"


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def sweep_summary_dict(result: SweepResult, metrics: Sequence[str],
                       targets: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The summary.json of a sweep: per point, the estimates of ``metrics``."""
    from sim.experiment.sweep import t_half_width
    from sim.results.summary import unit_and_description

    points = []
    for i, (point, est) in enumerate(zip(result.points, result.estimates(), strict=True)):
        shown = {}
        for name in metrics:
            e = est[name]
            shown[name] = {"mean": _num(e.mean), "ci95_low": _num(e.ci_low),
                           "ci95_high": _num(e.ci_high), "half_width": _num(t_half_width(e)),
                           "replications_defined": e.n, "unit": unit_and_description(name)[0]}
        points.append({"point": i, "levers": dict(point), "metrics": shown})
    return {"scenario": result.scenario.name, "design": result.design,
            "levers": result.levers, "vary": list(result.specs), "seed": result.seed,
            "replications": result.replications, "points": points,
            "targets": dict(targets or {}),
            "replication_control": None if result.auto is None else result.auto.to_dict(),
            "tables": {"sweep_points": "every metric per point",
                       "sweep_replications": "every metric per point and replication"}}


def write_sweep_outputs(folder: Path, result: SweepResult, manifest: dict[str, Any],
                        metrics: Sequence[str], targets: Mapping[str, float] | None = None,
                        plots: bool = True, fmt: str = "csv") -> None:
    """Write a sweep's tables, summary, manifest, base scenario and curves into ``folder``."""
    frames = {"sweep_points": result.to_frame(),
              "sweep_replications": result.replications_frame()}
    for name in SWEEP_TABLES:
        if fmt == "parquet":
            write_atomic(folder / f"{name}.parquet", parquet_writer(frames[name]), binary=True)
        else:
            write_atomic(folder / f"{name}.csv", csv_writer(frames[name]))
    write_json(folder / "summary.json", sweep_summary_dict(result, metrics, targets))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(result.scenario.model_dump(mode="json"), Dumper=dumper, sort_keys=False)
    write_atomic(folder / "scenario.yaml", lambda f: f.write(text))
    write_json(folder / "manifest.json", manifest)
    if plots:
        from sim.plots.run_plots import png_bytes
        from sim.plots.sweep import sweep_curves

        fig = sweep_curves(frames["sweep_points"], result.scenario.name, metrics, result.levers,
                           targets, result.design, result.replications)
        data = png_bytes(fig)
        write_atomic(folder / SWEEP_FIGURE, lambda f: f.write(data), binary=True)
