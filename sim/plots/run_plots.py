"""The standard figures of a results folder, drawn from its tables; and saving them as PNG.

``fbsim run`` draws them once the tables are written, and ``fbsim plot DIR`` redraws them
for any results folder, from the same tables, with the same code: what a folder shows
depends only on what is in it. A figure whose tables the folder lacks (the staff panels
of a ``--tables none`` run) is left out, never drawn empty. ``fbsim run`` draws them in
worker processes of its own, one per worker of the run (:func:`run_pngs`): its CPUs are
free by then. ``fbsim plot``, ``fbsim report`` and calls from Python draw them in the
calling process unless ``workers`` says otherwise.
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
    import pandas as pd
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
#: libyaml's parser where PyYAML has it (the same documents, several times faster).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _scenario(folder: Path) -> dict[str, Any]:
    path = folder / "scenario.yaml"
    if not path.is_file():
        return {}
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}


def _facts(folder: Path, scenario: dict[str, Any]) -> tuple[str, dt.date]:
    manifest: dict[str, Any] = {}
    path = folder / "manifest.json"
    if path.is_file():
        manifest = json.loads(path.read_text(encoding="utf-8"))
    name = str(manifest.get("scenario") or scenario.get("name") or folder.name)
    start = scenario.get("run", {}).get("start_date", "2026-01-01")
    start_date = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    return name, start_date


def folder_facts(folder: Path) -> tuple[str, dt.date]:
    """Scenario name and start date of a results folder (manifest and scenario.yaml)."""
    return _facts(folder, _scenario(folder))


def _maybe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except FileNotFoundError:
        return None


class _Source:
    """What a folder's figures are drawn from: its scenario's facts, and tables read once."""

    def __init__(self, folder: Path, unfinished: bool):
        self.folder, self.unfinished = folder, unfinished
        scenario = _scenario(folder)
        self.name, self.start = _facts(folder, scenario)
        self.warmup_days = float(scenario.get("run", {}).get("warmup_days") or 0.0)
        self._read: dict[str, Any] = {}

    def run_table(self, name: str) -> pd.DataFrame | None:
        """Run-level table ``name``, or None where the folder has none."""
        if name not in self._read:
            self._read[name] = _maybe(lambda: read_run_table(self.folder, name,
                                                             self.unfinished))
        return self._read[name]

    def table(self, name: str) -> pd.DataFrame | None:
        """All replications of table ``name``, or None where the folder has none."""
        key = f"tables/{name}"
        if key not in self._read:
            self._read[key] = _maybe(lambda: read_table(self.folder, name, self.unfinished))
        return self._read[key]


def _identification(src: _Source) -> Figure | None:
    curve = src.run_table("identify_curve")
    if curve is None:
        return None
    if "route" not in curve or set(curve["route"]) == {"all"}:
        # A model without per-route curves: the routes come from the children table.
        children = src.table("children")
        if children is not None and not children.empty:
            from sim.analysis.routes import identify_curves_by_route

            curve = identify_curves_by_route(children, src.warmup_days)
    return identification_by_route(curve, src.name)


def _backlog_devices(src: _Source) -> Figure | None:
    waiting = src.run_table("waiting_timeseries")
    return None if waiting is None else backlog_total_fan(waiting, src.name, src.start)


def _backlog_by_stage(src: _Source) -> Figure | None:
    waiting = src.run_table("waiting_timeseries")
    return None if waiting is None else backlog_fans(waiting, src.name, src.start)


def _wait_ecdf(src: _Source) -> Figure | None:
    waits = src.run_table("wait_curves")
    return None if waits is None else wait_ecdfs(waits, src.name)


def _staff(src: _Source) -> Figure | None:
    staff = src.table("staff_timeseries")
    return None if staff is None else staff_panels(staff, src.name, src.start)


#: How each figure of :data:`RUN_FIGURES` is drawn (None: its tables are not there).
_DRAW: dict[str, Callable[[_Source], Figure | None]] = {
    "time_to_identification.png": _identification,
    "backlog_devices.png": _backlog_devices,
    "backlog_by_stage.png": _backlog_by_stage,
    "wait_ecdf.png": _wait_ecdf,
    "staff.png": _staff,
}


def _check_drawable(folder: Path, unfinished: bool) -> None:
    """Raise as :func:`run_figures` does when the folder cannot be drawn."""
    if not unfinished:
        from sim.results.folder import check_finished

        check_finished(folder)
    if not any((folder / f"{name}{suffix}").is_file()
               for name in ("identify_curve", "waiting_timeseries")
               for suffix in (".parquet", ".csv")):
        raise FileNotFoundError(f"{folder} has no identify_curve or waiting_timeseries table; "
                                f"is it a results folder of 'fbsim run'?")


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
    _check_drawable(folder, unfinished)
    src = _Source(folder, unfinished)
    figures = {file_name: draw(src) for file_name, draw in _DRAW.items()}
    return {k: v for k, v in figures.items() if v is not None}


def png_bytes(fig: Figure) -> bytes:
    """A figure as PNG bytes, at :data:`DPI` dots per inch.

    The pixels of ``fig.savefig(format="png", dpi=DPI)`` with matplotlib's default
    ``savefig.*`` settings (which are not read), drawn once instead of twice: ``savefig``
    of a figure with a layout engine first draws it with drawing switched off, to place
    its axes, and then again to render it; drawing on an Agg canvas places the axes and
    renders in one pass. A figure without transparency (every figure of the house style)
    is written without an alpha channel: the same pixels, a tenth fewer bytes, and
    quicker to compress. The figure's canvas and dpi are as they were afterwards.
    """
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image, PngImagePlugin

    canvas, dpi = fig.canvas, fig.get_dpi()
    try:
        fig.set_dpi(DPI)
        agg = FigureCanvasAgg(fig)  # becomes fig.canvas until restored below
        agg.draw()
        rgba = np.asarray(agg.buffer_rgba())
        image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA",
                                 0, 1)
        if bool((rgba[:, :, 3] == 255).all()):
            image = image.convert("RGB")
    finally:
        fig.set_dpi(dpi)
        fig.set_canvas(canvas)
    info = PngImagePlugin.PngInfo()  # what savefig writes
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, "
                              f"https://matplotlib.org/")
    buffer = BytesIO()
    image.save(buffer, format="png", dpi=(DPI, DPI), pnginfo=info)
    return buffer.getvalue()


def _bytes_writer(data: bytes) -> Callable[[Any], None]:
    def write(f: Any) -> None:
        f.write(data)

    return write


def write_png(path: Path, data: bytes) -> None:
    """Write PNG bytes to ``path`` atomically."""
    write_atomic(path, _bytes_writer(data), binary=True)


#: The figures by the time they take to draw, longest first: handed out to worker
#: processes in this order, so that the workers finish at about the same time.
_LONGEST_FIRST = ("backlog_by_stage.png", "wait_ecdf.png", "staff.png",
                  "time_to_identification.png", "backlog_devices.png")


def _png_of(task: tuple[Path, bool, str]) -> tuple[str, bytes | None]:
    """A worker's task: figure ``file_name`` of ``folder`` as PNG bytes (None: not drawn)."""
    folder, unfinished, file_name = task
    fig = _DRAW[file_name](_Source(folder, unfinished))
    return file_name, None if fig is None else png_bytes(fig)


def run_pngs(folder: Path, unfinished: bool = False, workers: int = 1) -> dict[str, bytes]:
    """The standard figures of ``folder`` as PNG bytes, keyed by file name.

    The figures of :func:`run_figures`, as :func:`png_bytes` gives them; ``unfinished``
    as there.

    Parameters
    ----------
    workers : int
        With more than one (and more than one CPU), the figures are drawn in that many
        worker processes at once (:class:`sim.experiment.backends.ProcessBackend`:
        workers that never outlive this process, stopped at once if it is interrupted),
        each reading the tables it needs. Only this process writes anything. The bytes
        are the same as drawn here, unless this process has changed matplotlib's
        ``rcParams`` (workers start from the defaults).

    Raises
    ------
    FileNotFoundError, sim.results.folder.IncompleteRunError
        As :func:`run_figures`.
    """
    from sim.experiment.backends import available_cpus

    _check_drawable(folder, unfinished)
    workers = min(workers, available_cpus(), len(_DRAW))
    if workers <= 1:
        src = _Source(folder, unfinished)
        drawn = {}
        for file_name, draw in _DRAW.items():
            fig = draw(src)
            drawn[file_name] = None if fig is None else png_bytes(fig)
    else:
        from sim.experiment.backends import ProcessBackend

        tasks = [(folder.resolve(), unfinished, name) for name in _LONGEST_FIRST]
        drawn = dict(ProcessBackend(workers).map_unordered(_png_of, tasks))
    return {name: data for name in _DRAW if (data := drawn.get(name)) is not None}


def save_run_plots(folder: Path, unfinished: bool = False, workers: int = 1) -> list[Path]:
    """Write the standard figures of ``folder`` into it as PNG files.

    ``unfinished`` and ``workers`` as for :func:`run_pngs`; the files are written once
    every figure is drawn, each atomically.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    written = []
    for file_name, data in run_pngs(folder, unfinished, workers).items():
        path = folder / file_name
        write_png(path, data)
        written.append(path)
    return written
