"""Figures of a run, each drawn from results tables (pandas DataFrames) into a new Figure.

Every function takes the tables it needs and the scenario's name and returns a
:class:`matplotlib.figure.Figure` in the house style (:mod:`sim.plots.style`); none
touches pyplot or any global state, so they work without a display and in parallel.
Statistics come from :mod:`sim.analysis` (bands, fans); these functions only draw.
Routes, stages and pools are read from the tables, never from a fixed list.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.stats import fan
from sim.plots.style import (
    REFERENCE,
    colour,
    days_since_axis,
    mark_days,
    new_figure,
    style_axes,
    title,
)
from sim.results.presentation import STAGES, route_label, stage_label, stage_unit

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Reference marks on the time-to-identify axis (the days of the headline shares).
IDENTIFY_MARKS_DAYS = (7.0, 30.0, 90.0, 365.0)
#: Reference marks on wait axes: the FOI bands of the lab wait.
WAIT_MARKS_DAYS = (90.0, 365.0)
_WORDS = {7.0: "7 days", 30.0: "30 days", 90.0: "90 days", 365.0: "1 year"}
#: The route drawn first and in black where present.
ALL_ROUTES = "all"


def _dates(start: dt.date, days: np.ndarray) -> np.ndarray:
    return np.datetime64(start, "D") + np.round(np.asarray(days, dtype=float)).astype(
        "timedelta64[D]")


def _band_note(low: np.ndarray, high: np.ndarray, scale: float = 100.0, unit: str = "pp") -> str:
    half = np.nanmax((high - low) / 2.0) if np.any(~np.isnan(low)) else math.nan
    return "" if math.isnan(half) else f" (at most ±{scale * half:.1f} {unit})"


def identification_by_route(curve: pd.DataFrame, scenario: str) -> Figure:
    """Share of children identified by days since referral, one curve per route.

    Parameters
    ----------
    curve : pandas.DataFrame
        ``identify_curve``: ``days_since_referral``, ``identified_share_mean``,
        ``ci95_low``, ``ci95_high`` and optionally ``route`` (one curve per route).
    scenario : str
        Scenario name, for the title.

    Notes
    -----
    Kaplan–Meier based: children not yet identified when the run ends are censored, not
    dropped. The band is a 95% confidence band across replications; its largest
    half-width is given in the legend, since with many replications it is thin.
    """
    fig = new_figure(8.5, 4.8)
    ax = fig.add_subplot()
    routes = list(dict.fromkeys(curve["route"])) if "route" in curve else [ALL_ROUTES]
    routes.sort(key=lambda r: r != ALL_ROUTES)
    empty = []
    for i, route in enumerate(routes):
        part = curve[curve["route"] == route] if "route" in curve else curve
        days = part["days_since_referral"].to_numpy(float)
        mean = part["identified_share_mean"].to_numpy(float)
        if np.all(np.isnan(mean)):
            empty.append(route_label(route))  # no child on this route: nothing to draw
            continue
        low, high = part["ci95_low"].to_numpy(float), part["ci95_high"].to_numpy(float)
        c = REFERENCE if route == ALL_ROUTES and len(routes) > 1 else colour(i)
        ax.step(days, 100 * mean, where="post", color=c, linewidth=2.0,
                label=f"{route_label(route)}, 95% CI{_band_note(low, high)}")
        if np.any(~np.isnan(low)):
            ax.fill_between(days, 100 * low, 100 * high, step="post", color=c, alpha=0.3,
                            linewidth=0)
            for edge in (low, high):
                ax.step(days, 100 * edge, where="post", color=c, linewidth=0.6, alpha=0.8)
    max_days = float(curve["days_since_referral"].max())
    days_since_axis(ax, max_days, "days since referral (log scale)")
    mark_days(ax, tuple(d for d in IDENTIFY_MARKS_DAYS if d <= max_days), _WORDS)
    ax.set_ylabel("children identified (%)")
    ax.set_ylim(0, 100)
    style_axes(ax)
    if empty:  # said in the legend, where the reader looks for the route
        ax.plot([], [], " ", label=f"no child {', '.join(empty)} in this run")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2, fontsize="small",
              frameon=False)
    title(fig, scenario, "time to identify children at risk, by route")
    return fig


def _fan_on(ax: Axes, x: np.ndarray, curves: np.ndarray, c: str, label: bool) -> None:
    q05, q25, q50, q75, q95 = fan(curves)
    ax.fill_between(x, q05, q95, color=c, alpha=0.18, linewidth=0,
                    label="90% of replications" if label else None)
    ax.fill_between(x, q25, q75, color=c, alpha=0.38, linewidth=0,
                    label="50% of replications" if label else None)
    ax.plot(x, q50, color=c, linewidth=1.8, label="median" if label else None)


def _by_replication(part: pd.DataFrame, values: str) -> tuple[np.ndarray, np.ndarray]:
    """Column ``values`` of a time series as days (sorted) and one row per replication.

    The same as ``part.pivot_table(index="replication", columns="day", values=values,
    aggfunc="first")``, in numpy: the first value of each replication and day, NaN
    where there is none, and no replication or day without any value.
    """
    reps, row = np.unique(part["replication"].to_numpy(), return_inverse=True)
    days, col = np.unique(part["day"].to_numpy(float), return_inverse=True)
    value = part[values].to_numpy(float)
    ok = np.flatnonzero(~np.isnan(value))
    _, first = np.unique(row[ok] * days.size + col[ok], return_index=True)
    ok = ok[first]
    wide = np.full((reps.size, days.size), np.nan)
    wide[row[ok], col[ok]] = value[ok]
    rows, cols = np.isin(np.arange(reps.size), row[ok]), np.isin(np.arange(days.size), col[ok])
    return days[cols], wide[rows][:, cols]


def _curves(waiting: pd.DataFrame, stage: str) -> tuple[np.ndarray, np.ndarray]:
    return _by_replication(waiting[waiting["stage"] == stage], "waiting")


def stages_holding_work(waiting: pd.DataFrame) -> list[str]:
    """Stages of ``waiting_timeseries`` where anything ever waited, in pipeline order.

    Stages :data:`~sim.results.presentation.STAGES` does not know come last, in table order.
    """
    held = waiting.groupby("stage", sort=False)["waiting"].max()
    found = [str(s) for s, top in held.items() if top > 0 and s != "backlog_devices"]
    order = {s: i for i, s in enumerate(STAGES)}
    return sorted(found, key=lambda s: order.get(s, len(order)))


def backlog_fans(waiting: pd.DataFrame, scenario: str, start: dt.date) -> Figure | None:
    """Fan charts of the items waiting at each stage that holds work, one panel per stage.

    Parameters
    ----------
    waiting : pandas.DataFrame
        ``waiting_timeseries``: ``replication``, ``day``, ``stage``, ``waiting``.
    scenario : str
        Scenario name.
    start : datetime.date
        Calendar date of day 0.

    Returns
    -------
    Figure or None
        None when no stage ever held work.
    """
    stages = stages_holding_work(waiting)
    if not stages:
        return None
    cols = min(3, len(stages))
    rows = math.ceil(len(stages) / cols)
    fig = new_figure(4.3 * cols, 2.9 * rows + 0.8)
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(rows, cols, i + 1)
        days, curves = _curves(waiting, stage)
        _fan_on(ax, _dates(start, days), curves, colour(0), label=i == 0)
        ax.set_title(stage_label(stage).capitalize(), fontsize="medium")
        ax.set_ylabel(f"{stage_unit(stage)} waiting")
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
        style_axes(ax)
    fig.legend(loc="outside lower center", ncol=3, fontsize="small", frameon=False)
    n = int(waiting["replication"].nunique())
    title(fig, scenario, f"items waiting at each stage that holds work ({n} replications)")
    return fig


def backlog_total_fan(waiting: pd.DataFrame, scenario: str, start: dt.date) -> Figure | None:
    """Fan chart of the forensic backlog (devices waiting for triage or the lab)."""
    if not (waiting["stage"] == "backlog_devices").any():
        return None
    days, curves = _curves(waiting, "backlog_devices")
    fig = new_figure(8.5, 4.5)
    ax = fig.add_subplot()
    _fan_on(ax, _dates(start, days), curves, colour(0), label=True)
    ax.set_ylabel("devices waiting for triage or examination")
    ax.set_xlabel("date")
    ax.set_ylim(bottom=0)
    style_axes(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=3, fontsize="small",
              frameon=False)
    title(fig, scenario, f"the forensic backlog ({len(curves)} replications)")
    return fig


def wait_ecdfs(wait_curves: pd.DataFrame, scenario: str,
               stages: tuple[str, ...] = ("lab_examination", "database_upload")) -> Figure | None:
    """Share of items whose service had started, by days waited, at the given stages.

    One panel per stage present, one curve per group (all items, and each risk class
    where the stage orders its queue by risk), with 90-day and one-year marks.
    Kaplan–Meier based, so items still waiting at the end count as not yet started.
    """
    present = [s for s in stages if (wait_curves["stage"] == s).any()]
    if not present:
        return None
    fig = new_figure(5.2 * len(present), 4.6)
    for i, stage in enumerate(present):
        ax = fig.add_subplot(1, len(present), i + 1)
        part = wait_curves[wait_curves["stage"] == stage]
        groups = list(dict.fromkeys(part["group"]))
        groups.sort(key=lambda g: g != "all")
        max_days = 0.0
        for j, group in enumerate(groups):
            g = part[part["group"] == group]
            ok = ~np.isnan(g["started_share_mean"].to_numpy(float))
            if not ok.any():
                continue
            days = g["wait_days"].to_numpy(float)[ok]
            mean = g["started_share_mean"].to_numpy(float)[ok]
            max_days = max(max_days, float(days.max()))
            c = REFERENCE if group == "all" else colour(j - 1)
            name = "all" if group == "all" else group.replace("_", " ")
            ax.step(days, 100 * mean, where="post", color=c, linewidth=2.2 if group == "all"
                    else 1.4, label=name)
            low = g["ci95_low"].to_numpy(float)[ok]
            if np.any(~np.isnan(low)):
                ax.fill_between(days, 100 * low, 100 * g["ci95_high"].to_numpy(float)[ok],
                                step="post", color=c, alpha=0.2, linewidth=0)
        days_since_axis(ax, max(max_days, 400.0), "days waited (log scale)")
        mark_days(ax, WAIT_MARKS_DAYS, _WORDS)
        ax.set_ylim(-1, 101)
        ax.set_ylabel(f"{stage_unit(stage)} started (%)")
        ax.set_title(stage_label(stage).capitalize(), fontsize="medium", loc="left")
        style_axes(ax)
        ax.legend(loc="lower right", fontsize="small", title="queued as")
    title(fig, scenario, "how long work waited before it was started (mean over replications, "
                         "95% band)")
    return fig


def staff_panels(staff: pd.DataFrame, scenario: str, start: dt.date) -> Figure | None:
    """Utilisation and staff in training per pool over time (median and 90% of replications).

    Parameters
    ----------
    staff : pandas.DataFrame
        ``staff_timeseries``: ``replication``, ``day``, ``pool``, ``utilisation``,
        ``in_training``.
    """
    if staff.empty:
        return None
    # The first sample has no interval before it (busy time 0 by construction).
    staff = staff[staff["day"] > staff["day"].min()]
    pools = list(dict.fromkeys(staff["pool"]))
    training = "in_training" in staff and bool((staff["in_training"] > 0).any())
    fig = new_figure(11, 6.2 if training else 4.2)
    util = fig.add_subplot(2 if training else 1, 1, 1)
    train = fig.add_subplot(2, 1, 2, sharex=util) if training else None
    for i, pool in enumerate(pools):
        part = staff[staff["pool"] == pool]
        for ax, column, scale in ((util, "utilisation", 100.0), (train, "in_training", 1.0)):
            if ax is None or column not in part:
                continue
            days, wide = _by_replication(part, column)
            x = _dates(start, days)
            q = fan(scale * wide, (0.05, 0.5, 0.95))
            ax.fill_between(x, q[0], q[2], color=colour(i), alpha=0.15, linewidth=0)
            ax.plot(x, q[1], color=colour(i), linewidth=1.5,
                    label=str(pool) if ax is util else None)
    util.axhline(100, color=REFERENCE, linewidth=0.8, linestyle="--")
    util.set_ylabel("utilisation (% of staff\non duty busy)")
    util.set_ylim(0, 105)
    style_axes(util)
    if train is not None:
        train.set_ylabel("staff in training (people)")
        train.set_ylim(bottom=0)
        style_axes(train)
    (train or util).set_xlabel("date")
    fig.legend(loc="outside right upper", fontsize="small", title="pool", frameon=False)
    title(fig, scenario, "staff: how busy each pool is" + (", and who is in training"
                                                           if train is not None else ""),
          "Lines: median over replications; bands: 90% of replications."
          + ("" if train is not None else " Nobody is in training in this scenario."))
    return fig


def comparison_differences(diffs: pd.DataFrame, base: str, note: str = "") -> Figure:
    """Paired differences (option − base) with 95% intervals, one panel per metric.

    A forest plot: one row and one colour per option, the same in every panel.

    Parameters
    ----------
    diffs : pandas.DataFrame
        One row per option and metric: ``option``, ``label`` (the metric in words),
        ``unit``, ``difference``, ``ci95_low``, ``ci95_high``, ``direction``
        (``lower``/``higher``/``""``: which way is better); optionally
        ``significant_holm`` (bool): a filled marker where it is True, hollow otherwise.
    base : str
        Name of the base scenario.
    note : str
        Small print under the figure (e.g. how the p-values were adjusted).
    """
    metrics = list(dict.fromkeys(diffs["label"]))
    options = list(dict.fromkeys(diffs["option"]))
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = new_figure(4.2 * cols, 0.5 + (0.45 * len(options) + 1.3) * rows + (0.3 if note else 0))
    y = np.arange(len(options))[::-1]
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        part = diffs[diffs["label"] == metric].set_index("option").reindex(options)
        mean = part["difference"].to_numpy(float)
        err = np.nan_to_num(np.vstack([mean - part["ci95_low"].to_numpy(float),
                                       part["ci95_high"].to_numpy(float) - mean]))
        filled = (part["significant_holm"].fillna(False).to_numpy(bool)
                  if "significant_holm" in part else np.ones(len(options), bool))
        for k in range(len(options)):
            c = colour(k)
            ax.errorbar(mean[k:k + 1], y[k:k + 1], xerr=err[:, k:k + 1], fmt="o", color=c,
                        capsize=3, markerfacecolor=c if filled[k] else "white")
        ax.axvline(0, color=REFERENCE, linewidth=0.8)
        ax.set_yticks(y, options if i % cols == 0 else [""] * len(options))
        direction = str(part["direction"].iloc[0])
        better = {"lower": " (← better)", "higher": " (better →)"}.get(direction, "")
        ax.set_xlabel(f"{part['unit'].iloc[0]}{better}", fontsize="small")
        ax.set_title(metric, fontsize="small", loc="left")
        ax.set_ylim(-0.7, len(options) - 0.3)
        style_axes(ax)
    title(fig, base, "options against the base (paired differences, 95% CI)")
    if note:  # as a label of the figure, so that the layout makes room for it
        fig.supxlabel(note, fontsize="small", color="#444444", x=0.01, ha="left")
    return fig


def _identification_compare_on(ax: Axes, curves: dict[str, pd.DataFrame], route: str) -> float:
    """Draw route ``route`` of each scenario's ``identify_curve`` on ``ax``; the last day."""
    max_days = 0.0
    for i, (name, curve) in enumerate(curves.items()):
        part = curve[curve["route"] == route] if "route" in curve else curve
        days = part["days_since_referral"].to_numpy(float)
        if days.size == 0:
            continue
        max_days = max(max_days, float(days.max()))
        low, high = part["ci95_low"].to_numpy(float), part["ci95_high"].to_numpy(float)
        c = REFERENCE if i == 0 else colour(i - 1)
        # The base dashed and on top: where an option coincides with it, both show.
        ax.step(days, 100 * part["identified_share_mean"].to_numpy(float), where="post",
                color=c, linewidth=1.6 if i == 0 else 2.2, linestyle="--" if i == 0 else "-",
                zorder=3 if i == 0 else 2, label=f"{name}{' (base)' if i == 0 else ''}")
        if np.any(~np.isnan(low)):
            ax.fill_between(days, 100 * low, 100 * high, step="post", color=c, alpha=0.25,
                            linewidth=0)
    ax.set_ylim(0, 100)
    style_axes(ax)
    return max_days


def identification_compare(curves: dict[str, pd.DataFrame], route: str = ALL_ROUTES) -> Figure:
    """Time-to-identify curves of several scenarios on one axis (route ``route``).

    Parameters
    ----------
    curves : dict of str to pandas.DataFrame
        Scenario name -> its ``identify_curve`` table; the first is the base.
    route : str
        The route to draw (``all`` by default; tables without routes have only ``all``).
    """
    fig = new_figure(8.5, 4.6)
    ax = fig.add_subplot()
    max_days = _identification_compare_on(ax, curves, route)
    days_since_axis(ax, max_days, "days since referral (log scale)")
    mark_days(ax, tuple(d for d in IDENTIFY_MARKS_DAYS if d <= max_days), _WORDS)
    ax.set_ylabel(f"children identified (%), {route_label(route)}")
    ax.legend(loc="lower right", fontsize="small")
    title(fig, next(iter(curves)), "time to identify, options against the base")
    return fig


def identification_compare_by_route(curves: dict[str, pd.DataFrame]) -> Figure | None:
    """:func:`identification_compare` for all children and each route, one panel each.

    Routes where no scenario has a child (all NaN) are left out; None when no route has
    one (a scenario without children, such as the teaching queues).
    """
    first = next(iter(curves.values()))
    routes = list(dict.fromkeys(first["route"])) if "route" in first else [ALL_ROUTES]
    routes.sort(key=lambda r: r != ALL_ROUTES)
    routes = [r for r in routes if any(
        c[c["route"] == r]["identified_share_mean"].notna().any() if "route" in c
        else r == ALL_ROUTES for c in curves.values())]
    if not routes:
        return None
    cols = min(3, len(routes))
    rows = math.ceil(len(routes) / cols)
    fig = new_figure(4.4 * cols, 3.2 * rows + 0.9)
    for i, route in enumerate(routes):
        ax = fig.add_subplot(rows, cols, i + 1)
        max_days = _identification_compare_on(ax, curves, route)
        days_since_axis(ax, max_days, "days since referral (log scale)")
        ax.tick_params(axis="x", labelsize="x-small")
        ax.set_title(route_label(route).capitalize(), fontsize="medium")
        ax.set_ylabel("children identified (%)")
        if i == 0:
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center",
                       ncol=min(4, len(curves)), fontsize="small", frameon=False)
    title(fig, next(iter(curves)), "time to identify by route, options against the base "
                                   "(95% bands)")
    return fig


def backlog_compare(waiting: dict[str, pd.DataFrame], start: dt.date) -> Figure | None:
    """The forensic backlog over time of several scenarios: median and middle 50%.

    Parameters
    ----------
    waiting : dict of str to pandas.DataFrame
        Scenario name -> its ``waiting_timeseries``; the first is the base (black).
    start : datetime.date
        Calendar date of day 0.

    Returns
    -------
    Figure or None
        None when no table has the ``backlog_devices`` series.
    """
    fig = new_figure(8.5, 4.6)
    ax = fig.add_subplot()
    drawn = False
    for i, (name, table) in enumerate(waiting.items()):
        if not (table["stage"] == "backlog_devices").any():
            continue
        days, curves = _curves(table, "backlog_devices")
        _, q25, q50, q75, _ = fan(curves)
        c = REFERENCE if i == 0 else colour(i - 1)
        x = _dates(start, days)
        ax.fill_between(x, q25, q75, color=c, alpha=0.2, linewidth=0)
        ax.plot(x, q50, color=c, linewidth=1.6 if i == 0 else 2.0,
                linestyle="--" if i == 0 else "-", zorder=3 if i == 0 else 2,
                label=f"{name}{' (base)' if i == 0 else ''}")
        drawn = True
    if not drawn:
        return None
    ax.set_ylabel("devices waiting for triage or examination")
    ax.set_xlabel("date")
    ax.tick_params(axis="x", labelrotation=30, labelsize="small")
    ax.set_ylim(bottom=0)
    style_axes(ax)
    ax.legend(loc="upper left", fontsize="small")
    title(fig, next(iter(waiting)), "the forensic backlog, options against the base",
          "Lines: median over replications; bands: the middle 50% of replications.")
    return fig
