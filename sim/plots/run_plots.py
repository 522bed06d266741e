"""The standard PNG plots of a run, written into its results folder."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.metrics import IDENTIFY_GRID_DAYS
from sim.analysis.stats import band
from sim.plots.figures import backlog_fan, identification_curve
from sim.results.atomic import write_atomic

if TYPE_CHECKING:
    from sim.experiment.runner import ExperimentResult

STAGE_TITLES = {
    "intake": "Intake and research", "enforcement": "Enforcement (warrant)",
    "safeguarding": "Safeguarding (social care)", "device_triage": "Device triage (hub)",
    "kiosk": "Kiosk", "lab_examination": "Lab examination", "image_grading": "Image grading",
    "database_upload": "Database upload", "victim_identification": "Victim identification",
}


def _save(fig: Figure, path: Path) -> None:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    write_atomic(path, lambda f: f.write(buffer.getvalue()), binary=True)


def save_run_plots(folder: Path, result: ExperimentResult) -> list[Path]:
    """Write backlog fan charts and the time-to-identification curve as PNG files.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    reps = result.replications
    start = result.scenario.run.start_date
    days = reps[0].timeseries_days
    name = result.scenario.name
    written = []

    fig = Figure(figsize=(9, 4.5))
    curves = np.vstack([r.waiting["backlog_devices"] for r in reps])
    backlog_fan(fig.add_subplot(), days, curves, start,
                f"{name}: devices waiting for triage or lab examination ({len(reps)} replications)")
    path = folder / "backlog_devices.png"
    _save(fig, path)
    written.append(path)

    stages = [s for s in STAGE_TITLES if s in reps[0].waiting]
    cols = 3
    rows = (len(stages) + cols - 1) // cols
    fig = Figure(figsize=(13, 3.2 * rows))
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(rows, cols, i + 1)
        backlog_fan(ax, days, np.vstack([r.waiting[stage] for r in reps]), start,
                    STAGE_TITLES[stage], ylabel="waiting")
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
        if i:
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
    fig.suptitle(f"{name}: items waiting at each stage")
    fig.tight_layout()
    path = folder / "backlog_by_stage.png"
    _save(fig, path)
    written.append(path)

    fig = Figure(figsize=(8, 4.5))
    mean, low, high = band(np.vstack([r.identified_curve for r in reps]))
    identification_curve(fig.add_subplot(), IDENTIFY_GRID_DAYS, mean, low, high)
    path = folder / "time_to_identification.png"
    _save(fig, path)
    written.append(path)
    return written
