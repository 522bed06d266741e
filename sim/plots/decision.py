"""Figures of decisions: cost against a target over the plans tried, and sensitivity rankings.

Like :mod:`sim.plots.figures`, each function draws on an axes it is given and returns it;
the numbers come from :mod:`sim.decision`, nothing is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Colour of each confirmation outcome in :func:`cost_against_target`.
OUTCOME_COLOURS = {"screened": "0.65", "misses a target": "tab:red",
                   "undecided (cap)": "tab:orange", "meets targets": "tab:blue",
                   "chosen": "tab:green"}


def cost_against_target(ax: Axes, cost_gbp: np.ndarray, value: np.ndarray, outcome: Sequence[str],
                        target: float, op: str, metric: str, value_low: np.ndarray | None = None,
                        value_high: np.ndarray | None = None, scenario: str = "") -> Axes:
    """Each plan's cost (x, £m) against its estimate of the main target (y).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    cost_gbp, value : numpy.ndarray
        One point per plan.
    outcome : sequence of str
        Each plan's outcome (a key of :data:`OUTCOME_COLOURS`).
    target : float
        The target value (a horizontal line).
    op : str
        ``<=`` or ``>=``: which side of the line meets the target (shaded).
    metric : str
        The target's metric, for the axis label.
    value_low, value_high : numpy.ndarray, optional
        A 95% interval per plan (NaN where there is none).
    scenario : str
        The scenario's name, for the title.
    """
    from sim.analysis.metrics import METRICS
    from sim.results.presentation import display_unit, metric_unit, presentation

    x = np.asarray(cost_gbp, dtype=float) / 1e6
    y = np.asarray(value, dtype=float)
    outcomes = np.asarray(list(outcome), dtype=object)
    ax.axhline(target, color="black", linewidth=1.0, linestyle="--", label=f"target {op} {target:g}")
    lo, hi = float(np.nanmin([*y, target])), float(np.nanmax([*y, target]))
    pad = 0.05 * (hi - lo or 1.0)
    ax.axhspan(*(sorted((target, lo - pad if op == "<=" else hi + pad))), color="tab:green",
               alpha=0.07, linewidth=0)
    for name, colour in OUTCOME_COLOURS.items():
        rows = outcomes == name
        if not rows.any():
            continue
        if value_low is not None and value_high is not None:
            low = np.asarray(value_low, dtype=float)[rows]
            high = np.asarray(value_high, dtype=float)[rows]
            ok = ~np.isnan(low) & ~np.isnan(high)
            if ok.any():
                ax.errorbar(x[rows][ok], y[rows][ok],
                            yerr=[y[rows][ok] - low[ok], high[ok] - y[rows][ok]], fmt="none",
                            ecolor=colour, elinewidth=1.0, capsize=2)
        ax.scatter(x[rows], y[rows], s=110 if name == "chosen" else 28,
                   marker="*" if name == "chosen" else "o", color=colour, zorder=3,
                   edgecolors="black" if name == "chosen" else "none", label=name)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("cost over the reporting window (£m)")
    info = METRICS.get(metric)
    raw = metric_unit(metric, info.unit if info is not None else None)
    # Values are plotted as estimated: shares as fractions, money in pounds.
    unit = {"share": "share, 0-1", "GBP": "£"}.get(raw, display_unit(raw))
    label = presentation(metric).label if presentation(metric).known else metric
    ax.set_ylabel(f"{label} ({unit})" if unit else label)
    ax.set_title(f"{scenario + ': ' if scenario else ''}plans tried, cost against the main target")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def sensitivity_ranking(ax: Axes, names: Sequence[str], values: np.ndarray, errors: np.ndarray,
                        xlabel: str, title: str, second: np.ndarray | None = None,
                        second_label: str = "") -> Axes:
    """Horizontal bars ranking parameters by an index (largest at the top).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    names : sequence of str
        Parameter names.
    values, errors : numpy.ndarray
        The index per parameter and its 95% half-width (NaN for none).
    xlabel, title : str
        Labels.
    second : numpy.ndarray, optional
        A second index drawn as thin bars over the first (e.g. Sobol first-order over
        total-order), labelled ``second_label``.
    """
    v = np.asarray(values, dtype=float)
    order = np.argsort(np.nan_to_num(v, nan=-np.inf))
    y = np.arange(len(order))
    err = np.asarray(errors, dtype=float)[order]
    ax.barh(y, v[order], xerr=np.where(np.isnan(err), 0.0, err), color="tab:blue", alpha=0.75,
            capsize=2, label=xlabel if second is not None else None)
    if second is not None:
        ax.barh(y, np.asarray(second, dtype=float)[order], height=0.35, color="tab:orange",
                label=second_label)
        ax.legend(loc="lower right", fontsize="small")
    ax.set_yticks(y, [names[i] for i in order])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return ax
