"""The standard figures of a run as PNG: the pixels ``savefig`` would draw, drawn once, in
this process or in worker processes that leave nothing behind when the command is stopped.

The interruption tests start ``python -m sim run --workers 2`` in a session of its own, wait
until its worker processes are drawing the figures (matplotlib's font engine is loaded into
them), signal the run as a user would and look in /proc for anything of that session still
running.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.results.folder import incomplete_path
from tests.conftest import MINI

from .test_cli import run_cli
from .test_interrupts import assert_nothing_left_running, running_in_session, workers_of

ROOT = Path(__file__).resolve().parents[1]
posix_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.name != "posix",
                                reason="reads processes from /proc")
PNGS = ("time_to_identification.png", "backlog_devices.png", "backlog_by_stage.png",
        "wait_ecdf.png", "staff.png")


@pytest.fixture(scope="module")
def mini_path(tmp_path_factory) -> Path:
    data = copy.deepcopy(MINI)
    data["run"]["horizon_days"] = 150
    path = tmp_path_factory.mktemp("scenario") / "mini.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def tables_dir(mini_path, tmp_path_factory) -> Path:
    """A run of the mini scenario with its tables and without plots."""
    out_dir = tmp_path_factory.mktemp("runs") / "res"
    code, _, err = run_cli("run", str(mini_path), "--reps", "3", "--workers", "1", "--quiet",
                           "--no-plots", "--out", str(out_dir))
    assert code == 0, err
    return out_dir


def _pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _savefig(fig, dpi: float) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def test_png_bytes_are_the_pixels_savefig_draws(tables_dir):
    from PIL import Image

    from sim.plots.run_plots import DPI, png_bytes, run_figures

    figures = run_figures(tables_dir)
    # Fresh figures for savefig: matplotlib's constrained layout starts from where the
    # last draw left the axes, so a second draw of a figure can differ by a pixel.
    fresh = run_figures(tables_dir)
    assert list(figures) == list(PNGS)
    for name, fig in figures.items():
        ours = png_bytes(fig)
        assert np.array_equal(_pixels(ours), _pixels(_savefig(fresh[name], DPI))), name
        image = Image.open(io.BytesIO(ours))
        assert image.mode == "RGB", name  # opaque: no alpha channel to store
        assert round(image.info["dpi"][0]) == DPI and "Matplotlib" in image.info["Software"]
    assert fig.dpi == 100 and type(fig.canvas).__name__ == "FigureCanvasBase"  # as it was


def test_a_figure_with_transparency_keeps_its_alpha_channel():
    from matplotlib.figure import Figure
    from PIL import Image

    from sim.plots.run_plots import DPI, png_bytes

    def draw() -> Figure:
        fig = Figure(figsize=(3, 2), layout="constrained")
        fig.patch.set_alpha(0.0)
        fig.add_subplot().plot([0, 1], [1, 0])
        return fig

    ours = png_bytes(draw())
    assert Image.open(io.BytesIO(ours)).mode == "RGBA"
    assert np.array_equal(_pixels(ours), _pixels(_savefig(draw(), DPI)))


def test_figures_drawn_by_workers_are_the_bytes_drawn_here(tables_dir, monkeypatch):
    import sim.experiment.backends
    from sim.plots.run_plots import RUN_FIGURES, run_pngs

    monkeypatch.setattr(sim.experiment.backends, "available_cpus", lambda: 2)
    here = run_pngs(tables_dir, workers=1)
    assert list(here) == list(PNGS) == list(RUN_FIGURES)
    assert run_pngs(tables_dir, workers=2) == here


def test_every_figure_is_handed_to_a_worker():
    from sim.plots.run_plots import _DRAW, _LONGEST_FIRST, RUN_FIGURES

    assert sorted(_LONGEST_FIRST) == sorted(_DRAW) == sorted(RUN_FIGURES)
    assert len(set(_LONGEST_FIRST)) == len(_LONGEST_FIRST)


def test_workers_give_the_errors_of_a_folder_without_figures(tmp_path):
    from sim.plots.run_plots import run_pngs

    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no identify_curve or waiting_timeseries"):
        run_pngs(tmp_path, unfinished=True, workers=2)


def test_replications_by_day_are_the_pivot_table():
    from sim.plots.figures import _by_replication

    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        part = pd.DataFrame({
            "replication": rng.integers(0, 5, n), "day": rng.integers(0, 8, n) * 7.0,
            "value": np.where(rng.random(n) < 0.3, np.nan, rng.random(n))})
        if part["value"].isna().all():
            continue
        wide = part.pivot_table(index="replication", columns="day", values="value",
                                aggfunc="first")
        days, curves = _by_replication(part, "value")
        assert np.array_equal(days, wide.columns.to_numpy(float))
        assert np.array_equal(curves, wide.to_numpy(float), equal_nan=True)


# --- stopping a command while workers draw ----------------------------------------------------

def _drawing(pid: int) -> bool:
    """Whether process ``pid`` has loaded matplotlib's font engine (it is drawing)."""
    try:
        return "ft2font" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err, text=True,
                                start_new_session=True)


def _when_workers_draw(proc: subprocess.Popen[str], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(_drawing(pid) for pid in workers_of(proc.pid)):
        assert proc.poll() is None, f"it ended before its workers drew: {log.read_text()}"
        assert time.monotonic() < deadline, "no worker process drew a figure"
        time.sleep(0.005)


@pytest.fixture
def reaper():
    """Kill, by pid, whatever is left of the sessions a test started (a failing test too)."""
    sessions: list[int] = []
    yield sessions
    for sid in sessions:
        for pid in running_in_session(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@posix_proc
@pytest.mark.parametrize(("sig", "to_group"), [(signal.SIGINT, True), (signal.SIGTERM, False),
                                               (signal.SIGKILL, False)],
                         ids=["ctrl-c-in-a-terminal", "sigterm", "sigkill"])
def test_stopping_a_run_while_workers_draw_its_figures_leaves_no_process_and_no_png(
        mini_path, tmp_path, reaper, sig, to_group):
    out = tmp_path / "res"
    log = tmp_path / "err.txt"
    proc = _start(["run", str(mini_path), "--reps", "2", "--workers", "2", "--out", str(out),
                   "--quiet"], tmp_path, log)
    reaper.append(proc.pid)
    _when_workers_draw(proc, log)
    if to_group:
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C reaches the whole group
    else:
        os.kill(proc.pid, sig)
    proc.wait(timeout=20)
    assert_nothing_left_running(proc.pid)  # killed: the workers saw their lifeline close
    assert not out.exists()
    err = log.read_text()
    if sig == signal.SIGKILL:
        # Its replications are kept for --resume; the figures, drawn before anything is
        # written, are not there, whole or in part.
        kept = incomplete_path(out)
        assert (kept / "manifest.json").is_file() and not list(kept.glob("*.png*")), err
    else:
        assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
        assert "Traceback" not in err and "no results were written" in err, err
