"""The standard figures of a results folder, drawn from its tables; and saving them as PNG.

``fbsim run`` draws them once the tables are written, and ``fbsim plot DIR`` redraws them
for any results folder, from the same tables, with the same code: what a folder shows
depends only on what is in it. A figure whose tables the folder lacks (the staff panels
of a ``--tables none`` run) is left out, never drawn empty.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.plots.figures import (
    backlog_fans,
    backlog_total_fan,
    identification_by_route,
    staff_panels,
    wait_ecdfs,
)
from sim.results.atomic import write_atomic
from sim.results.tables import read_run_table, read_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The PNG files of a run, in the order a report shows them, with a caption each.
RUN_FIGURES: dict[str, str] = {
    "time_to_identification.png": "Share of children identified by days since referral, per "
                                  "route (Kaplan–Meier; children not yet identified are "
                                  "censored). Dashed lines mark 7 and 30 days, 90 days and a "
                                  "year.",
    "backlog_devices.png": "Devices waiting for triage or lab examination: median and the "
                           "middle 50% and 90% of replications.",
    "backlog_by_stage.png": "Items waiting at each stage that holds work (stages that never "
                            "hold work are left out).",
    "wait_ecdf.png": "Share of devices whose lab examination (and database upload) had "
                     "started, by days waited, for all devices and per risk class.",
    "staff.png": "Utilisation of each staff pool and the staff in training over time.",
}
DPI = 110


def folder_facts(folder: Path) -> tuple[str, dt.date]:
    """Scenario name and start date of a results folder (manifest and scenario.yaml)."""
    manifest: dict[str, Any] = {}
    path = folder / "manifest.json"
    if path.is_file():
        manifest = json.loads(path.read_text(encoding="utf-8"))
    scenario: dict[str, Any] = {}
    path = folder / "scenario.yaml"
    if path.is_file():
        scenario = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = str(manifest.get("scenario") or scenario.get("name") or folder.name)
    start = scenario.get("run", {}).get("start_date", "2026-01-01")
    start_date = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    return name, start_date


def _warmup_days(folder: Path) -> float:
    path = folder / "scenario.yaml"
    if not path.is_file():
        return 0.0
    scenario = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return float(scenario.get("run", {}).get("warmup_days") or 0.0)


def _maybe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except FileNotFoundError:
        return None


def run_figures(folder: Path, unfinished: bool = False) -> dict[str, Figure]:
    """The standard figures of a results folder, keyed by their PNG file name.

    ``unfinished`` draws them from the folder of a run not yet published too
    (:func:`sim.results.tables.read_table`).

    Raises
    ------
    FileNotFoundError
        If the folder has none of the tables a figure is drawn from.
    sim.results.folder.IncompleteRunError
        If the folder holds a run that did not finish, unless ``unfinished``.
    """
    name, start = folder_facts(folder)
    warmup = _warmup_days(folder)
    figures: dict[str, Figure | None] = {}
    curve = _maybe(lambda: read_run_table(folder, "identify_curve", unfinished))
    waiting = _maybe(lambda: read_run_table(folder, "waiting_timeseries", unfinished))
    waits = _maybe(lambda: read_run_table(folder, "wait_curves", unfinished))
    staff = _maybe(lambda: read_table(folder, "staff_timeseries", unfinished))
    if curve is None and waiting is None:
        raise FileNotFoundError(f"{folder} has no identify_curve or waiting_timeseries table; "
                                f"is it a results folder of 'fbsim run'?")
    if curve is not None:
        children = None
        if "route" not in curve or set(curve["route"]) == {"all"}:
            # A model without per-route curves: the routes come from the children table.
            children = _maybe(lambda: read_table(folder, "children", unfinished))
        if children is not None and not children.empty:
            from sim.analysis.routes import identify_curves_by_route

            curve = identify_curves_by_route(children, warmup)
        figures["time_to_identification.png"] = identification_by_route(curve, name)
    if waiting is not None:
        figures["backlog_devices.png"] = backlog_total_fan(waiting, name, start)
        figures["backlog_by_stage.png"] = backlog_fans(waiting, name, start)
    if waits is not None:
        figures["wait_ecdf.png"] = wait_ecdfs(waits, name)
    if staff is not None:
        figures["staff.png"] = staff_panels(staff, name, start)
    return {k: v for k, v in figures.items() if v is not None}


def png_bytes(fig: Figure) -> bytes:
    """A figure as PNG bytes."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _bytes_writer(data: bytes) -> Callable[[Any], None]:
    def write(f: Any) -> None:
        f.write(data)

    return write


def write_png(path: Path, data: bytes) -> None:
    """Write PNG bytes to ``path`` atomically."""
    write_atomic(path, _bytes_writer(data), binary=True)


def save_run_plots(folder: Path, unfinished: bool = False) -> list[Path]:
    """Write the standard figures of ``folder`` into it as PNG files (``unfinished``: above).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    written = []
    for file_name, fig in run_figures(folder, unfinished).items():
        path = folder / file_name
        write_atomic(path, _bytes_writer(png_bytes(fig)), binary=True)
        written.append(path)
    return written
