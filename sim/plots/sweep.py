"""Wait-time curves of a sweep: chosen metrics against the lever, with 95% bands and targets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from sim.plots.style import REFERENCE, colour, new_figure, style_axes, title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Lines of a two-lever grid beyond which the second lever is shown as a scatter instead.
MAX_LINES = 7


def _label(metric: str) -> tuple[str, float]:
    """Axis label of a metric (plain words and unit) and the factor its values are shown with."""
    import textwrap

    from sim.results.presentation import presentation
    from sim.results.summary import unit_and_description

    unit = unit_and_description(metric)[0]
    shown = presentation(metric)
    words = shown.label if shown.known else metric
    if unit == "share":
        return textwrap.fill(f"{words} (%)", 40), 100.0
    return textwrap.fill(f"{words} ({unit})" if unit else words, 40), 1.0


def pd_is_integer(column: pd.Series) -> bool:
    """Whether a lever column holds whole numbers only (a headcount)."""
    import pandas as pd

    return bool(pd.api.types.is_integer_dtype(column))


def _value_text(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _line(ax: Axes, part: pd.DataFrame, lever: str, factor: float, c: str, label: str) -> None:
    part = part.sort_values(lever)
    x = part[lever].to_numpy(float)
    mean = part["mean"].to_numpy(float) * factor
    low = part["ci_low"].to_numpy(float) * factor
    high = part["ci_high"].to_numpy(float) * factor
    ax.plot(x, mean, color=c, linewidth=1.8, marker="o", markersize=3.5, label=label)
    if np.any(~np.isnan(low)):
        ax.fill_between(x, low, high, color=c, alpha=0.25, linewidth=0)


def sweep_curves(points: pd.DataFrame, scenario: str, metrics: Sequence[str],
                 levers: Sequence[str], targets: Mapping[str, float] | None = None,
                 design: str = "grid", replications: int | None = None) -> Figure:
    """One panel per metric: its mean at each point against the first lever, with a 95% band.

    Parameters
    ----------
    points : pandas.DataFrame
        The tidy table of :meth:`sim.experiment.sweep.SweepResult.to_frame`: ``metric``,
        ``mean``, ``ci_low``, ``ci_high`` and a column per lever.
    scenario : str
        Scenario name, for the title.
    metrics : sequence of str
        Metrics to draw, one panel each.
    levers : sequence of str
        Lever paths; the first is the x axis.
    targets : mapping of str to float, optional
        Metric -> target value, drawn as a dashed line on its panel.
    design : str
        ``grid``: one line (with band) per value of the second lever, if any;
        ``lhs`` (or more than two levers): points with their 95% interval as error bars.
    replications : int, optional
        Replications per point, for the note.

    Notes
    -----
    A gap in a line is a point where the metric is undefined (e.g. a 90th percentile
    the waits never reach in an overloaded lab).
    """
    from matplotlib.ticker import MaxNLocator

    targets = dict(targets or {})
    lever = levers[0]
    second = levers[1] if len(levers) == 2 else None
    lines = (design == "grid" and len(levers) <= 2
             and (second is None or points[second].nunique() <= MAX_LINES))
    ncols = 1 if len(metrics) == 1 else 2
    nrows = math.ceil(len(metrics) / ncols)
    fig = new_figure(5.2 * ncols + 0.6, 3.4 * nrows + 0.9)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        part = points[points["metric"] == metric]
        label, factor = _label(metric)
        if part["mean"].isna().all():
            ax.text(0.5, 0.5, "undefined at every point", transform=ax.transAxes,
                    ha="center", va="center", color="#444444")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(lever)
            ax.set_ylabel(label, fontsize="small")
            continue
        if lines and second is None:
            _line(ax, part, lever, factor, colour(0), "mean, 95% CI")
        elif lines and second is not None:
            for i, value in enumerate(sorted(part[second].unique())):
                _line(ax, part[part[second] == value], lever, factor, colour(i),
                      f"{second} = {_value_text(value)}")
        else:
            mean = part["mean"].to_numpy(float) * factor
            err = np.vstack([mean - part["ci_low"].to_numpy(float) * factor,
                             part["ci_high"].to_numpy(float) * factor - mean])
            ax.errorbar(part[lever].to_numpy(float), mean, yerr=err, fmt="o", markersize=3.5,
                        color=colour(0), ecolor=colour(0), elinewidth=0.8, alpha=0.85,
                        label="mean, 95% CI")
        missing = sorted(set(part.loc[part["mean"].isna(), lever].tolist()))
        if missing:
            shown = ", ".join(_value_text(v) for v in missing[:6])
            more = "…" if len(missing) > 6 else ""
            ax.plot([], [], " ", label=f"undefined at {shown}{more}")
        low, high = float(points[lever].min()), float(points[lever].max())
        if high > low:
            pad = 0.03 * (high - low)
            ax.set_xlim(low - pad, high + pad)
        if metric in targets:
            ax.axhline(targets[metric] * factor, color=REFERENCE, linestyle="--",
                       linewidth=1.0, label=f"target {targets[metric] * factor:g}")
        ax.set_xlabel(lever)
        if pd_is_integer(points[lever]):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label, fontsize="small")
        style_axes(ax)
        ax.legend(fontsize="x-small", frameon=False)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    reps = f"{replications} replications per point" if replications else "replications"
    how = "" if lines else "; each point varies every lever"
    title(fig, scenario, f"sweep of {', '.join(levers)}\n(mean of {reps} on common random "
                         f"numbers, 95% CI{how})")
    return fig
