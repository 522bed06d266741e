"""The house style of fbsim's figures: one palette, one time axis, titles that name the scenario.

- Colours are the Okabe–Ito palette (Okabe & Ito 2008), distinguishable with the common
  colour-vision deficiencies; series keep their colour across figures (a route, a pool).
- Every figure is a :class:`matplotlib.figure.Figure` made here (no pyplot, no global
  state), titled with the scenario and what is shown; every axis names its unit.
- Times since an event (days since referral, days waited) use :func:`days_since_axis`: a
  ``log(1 + days)`` scale, so the first days and the whole year are both readable, with
  ticks in words (1 day, 1 week, 90 days, 1 year).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Okabe–Ito colours, in the order series take them (black is kept for reference lines).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
REFERENCE = "#000000"
GRID_ALPHA = 0.3
#: Ticks of the days-since axis and their words.
DAY_TICKS: tuple[tuple[float, str], ...] = (
    (0, "0"), (1, "1 day"), (7, "1 week"), (30, "30 days"), (90, "90 days"),
    (365, "1 year"), (730, "2 years"), (1826, "5 years"), (3652, "10 years"))


def colour(i: int) -> str:
    """The ``i``-th series colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def new_figure(width: float = 8.0, height: float = 4.5) -> Figure:
    """A blank figure of the house style (constrained layout, white background)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    fig.set_facecolor("white")
    return fig


def title(fig: Figure, scenario: str, what: str, note: str = "") -> None:
    """Title a figure with the scenario and what it shows; ``note`` goes below in small print."""
    fig.suptitle(f"{scenario}: {what}", fontsize="large", x=0.01, ha="left")
    if note:
        fig.text(0.01, 0.005, note, fontsize="small", color="#444444", ha="left", va="bottom")


def _forward(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))


def _inverse(y: np.ndarray) -> np.ndarray:
    return np.expm1(y)


def days_since_axis(ax: Axes, max_days: float, label: str) -> None:
    """A ``log(1 + days)`` x axis from 0 to ``max_days``, with ticks in words."""
    ax.set_xscale("function", functions=(_forward, _inverse))
    ax.set_xlim(0, max_days)
    ticks = [(d, t) for d, t in DAY_TICKS if d <= max_days * 1.001]
    ax.set_xticks([d for d, _ in ticks], [t for _, t in ticks])
    ax.set_xlabel(label)


def mark_days(ax: Axes, days: tuple[float, ...], words: dict[float, str] | None = None) -> None:
    """Dashed vertical reference lines at ``days``, each labelled just above the axes."""
    words = words or {}
    for d in days:
        ax.axvline(d, color=REFERENCE, linewidth=0.8, linestyle="--", alpha=0.6)
        ax.annotate(words.get(d, f"{d:g} days"), xy=(d, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize="small", color="#333333")


def style_axes(ax: Axes) -> None:
    """Grid and spines of the house style."""
    ax.grid(alpha=GRID_ALPHA)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
