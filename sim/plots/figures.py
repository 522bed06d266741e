"""Figures built from results tables. Each function draws on an axes and returns it.

No pyplot: figures are :class:`matplotlib.figure.Figure` objects, so nothing global is
touched and plotting works without a display. Statistics come from
:mod:`sim.analysis`; these functions only draw.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.stats import fan

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _dates(start: dt.date, days: np.ndarray) -> np.ndarray:
    return np.datetime64(start, "D") + np.round(np.asarray(days)).astype("timedelta64[D]")


def backlog_fan(ax: Axes, days: np.ndarray, curves: np.ndarray, start: dt.date,
                title: str, ylabel: str = "devices waiting") -> Axes:
    """Fan chart of a backlog across replications: median, 50% and 90% bands.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    days : numpy.ndarray
        Sample days since the start of the run.
    curves : numpy.ndarray
        Shape (replications, days): the backlog per replication.
    start : datetime.date
        Calendar date of day 0.
    title, ylabel : str
        Labels.
    """
    q05, q25, q50, q75, q95 = fan(curves)
    x = _dates(start, days)
    ax.fill_between(x, q05, q95, color="tab:blue", alpha=0.18, linewidth=0, label="90% of replications")
    ax.fill_between(x, q25, q75, color="tab:blue", alpha=0.35, linewidth=0, label="50% of replications")
    ax.plot(x, q50, color="tab:blue", linewidth=1.8, label="median")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def identification_curve(ax: Axes, days: np.ndarray, mean: np.ndarray, low: np.ndarray,
                         high: np.ndarray, label: str = "", color: str = "tab:red") -> Axes:
    """Cumulative share of children at risk identified by days since referral.

    Kaplan–Meier based (children not yet identified are censored, not dropped); the
    band is a 95% confidence band across replications.
    """
    ax.step(days, mean, where="post", color=color, linewidth=1.8, label=label or "mean")
    if not np.all(np.isnan(low)):
        ax.fill_between(days, low, high, step="post", color=color, alpha=0.2, linewidth=0,
                        label="95% CI" if not label else None)
    for marker in (7, 30, 90):
        ax.axvline(marker, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xlabel("days since referral")
    ax.set_ylabel("share of children at risk identified")
    ax.set_ylim(0, 1)
    ax.set_xlim(days[0], days[-1])
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("Time to identification of children at risk")
    return ax
