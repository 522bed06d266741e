"""The figure of ``fbsim warmup``: each series, its batch means and the MSER-5 truncation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.plots.style import REFERENCE, colour, new_figure, style_axes, title
from sim.results.presentation import stage_label, stage_unit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.analysis.warmup import SeriesWarmup


def _label(series: str) -> str:
    if series == "backlog_devices":
        return "Devices waiting for triage or the lab"
    return f"{stage_label(series).capitalize()} ({stage_unit(series)} waiting)"


def warmup_figure(results: list[SeriesWarmup], scenario: str, replications: int) -> Figure:
    """One panel per series: the weekly series, its batch means, the warm-up cut away.

    Parameters
    ----------
    results : list of SeriesWarmup
        From :func:`sim.analysis.warmup.series_warmups`.
    scenario : str
        Scenario name, for the title.
    replications : int
        Replications averaged, for the title.
    """
    cols = min(2, len(results))
    rows = math.ceil(len(results) / cols)
    fig = new_figure(5.6 * cols, 3.0 * rows + 0.9)
    for i, r in enumerate(results):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot(r.days, r.values, color=colour(0), linewidth=0.9, alpha=0.7,
                label="weekly value, mean of replications" if i == 0 else None)
        batch_days = r.interval_days * r.result.batch
        centres = r.days[0] + batch_days * (np.arange(r.result.batch_means.size) + 0.5)
        ax.plot(centres, r.result.batch_means, "o", color=colour(1), markersize=3,
                label=f"means of {r.result.batch} weeks" if i == 0 else None)
        cut = r.warmup_days
        if cut > 0:
            ax.axvspan(r.days[0], r.days[0] + cut, color="#999999", alpha=0.2, linewidth=0,
                       label="warm-up (cut away)" if i == 0 else None)
        ax.axvline(r.days[0] + cut, color=REFERENCE, linewidth=1.0, linestyle="--")
        note = "" if r.result.settled else " — not settled: run longer"
        ax.set_title(f"{_label(r.series)}: {cut:g} days{note}", fontsize="medium", loc="left")
        ax.set_xlabel("day of the run")
        ax.set_ylabel("waiting (mean)")
        ax.set_ylim(bottom=0)
        style_axes(ax)
    fig.legend(loc="outside lower center", ncol=3, fontsize="small", frameon=False)
    title(fig, scenario, f"warm-up by MSER-5 ({replications} replications averaged)")
    return fig
