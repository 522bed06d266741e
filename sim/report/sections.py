"""The report's sections for folders other than a run's: sweep, comparison, plan, sensitivity.

Each ``*_html`` function takes the folder's ``summary.json`` (as a dict) and the folder,
and returns HTML: a readable table (labels, units and directions from
:mod:`sim.results.presentation`) and the folder's own figures, embedded as PNG data
URIs (the PNGs the command drew; a folder written with ``--no-plots`` says so).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.results.presentation import (
    direction_text,
    display_unit,
    format_value,
    metric_unit,
    presentation,
)

#: Files that say what kind of results folder a folder is, checked in this order.
KIND_FILES = (("sweep", ("sweep_points.parquet", "sweep_points.csv")),
              ("compare", ("differences.csv",)),
              ("plan", ("plans.csv",)),
              ("sensitivity", ("sensitivity_indices.csv",)))


def folder_kind(path: Path) -> str:
    """``sweep``, ``compare``, ``plan``, ``sensitivity`` or ``run``: which command wrote it."""
    for kind, names in KIND_FILES:
        if any((path / name).is_file() for name in names):
            return kind
    return "run"


def _e(text: object) -> str:
    return html.escape(str(text))


def png_figure(path: Path, caption: str) -> str:
    """A PNG file of the folder as an embedded figure; a note when it was not drawn."""
    if not path.is_file():
        return (f"<p class=muted>{_e(path.name)} was not drawn (the command ran with "
                f"--no-plots).</p>")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def _estimate(e: Mapping[str, Any] | None, unit: str) -> str:
    """``mean [low, high]`` in the unit's display form."""
    if not e or e.get("mean") is None:
        return "n/a"
    mean = format_value(_num(e["mean"]), unit)
    low, high = _num(e.get("ci95_low")), _num(e.get("ci95_high"))
    if math.isnan(low) or math.isnan(high):
        return mean
    return f"{mean} [{format_value(low, unit)}, {format_value(high, unit)}]"


def _header(name: str, unit: str) -> str:
    p = presentation(name)
    shown = display_unit(unit)
    arrow = direction_text(p.direction)
    extra = ", ".join(x for x in (shown, arrow) if x)
    return f"{_e(p.label)}" + (f"<br><span class=muted>{_e(extra)}</span>" if extra else "")


def _lever_label(path: str) -> str:
    """``staff.examiners.headcount`` -> ``examiners headcount``."""
    words = path.split(".")
    return " ".join(words[1:] if words[0] in ("staff", "stages", "demand") and len(words) > 1
                    else words).replace("_", " ")


def sweep_html(summary: Mapping[str, Any], folder: Path) -> str:
    """The points of a sweep (chosen metrics, 95% intervals) and its curves."""
    points: Sequence[Mapping[str, Any]] = summary.get("points") or []
    levers = list(summary.get("levers") or (points[0]["levers"] if points else {}))
    metrics = list(points[0]["metrics"]) if points else []
    units = {m: metric_unit(m, points[0]["metrics"][m].get("unit")) for m in metrics}
    reps = summary.get("replications")
    design = summary.get("design", "grid")
    parts = ["<h2>Sweep</h2>",
             f"<p>{len(points)} points ({_e(design)} design over "
             f"{_e(', '.join(_lever_label(v) for v in levers))}), every point on the same seed "
             f"({_e(summary.get('seed'))}) and replications (common random numbers)"
             + (f", {_e(reps)} replications each" if isinstance(reps, int) else "")
             + ". Each cell is the mean and its 95% interval; n/a where the metric is "
               "undefined in every replication. Every metric is in the sweep_points table.</p>",
             "<table><thead><tr>"
             + "".join(f"<th>{_e(_lever_label(v))}</th>" for v in levers)
             + "".join(f"<th>{_header(m, units[m])}</th>" for m in metrics)
             + "</tr></thead><tbody>"]
    for point in points:
        cells = "".join(f"<td class=num>{_e(point['levers'].get(v))}</td>" for v in levers)
        cells += "".join(f"<td class=num>{_e(_estimate(point['metrics'].get(m), units[m]))}</td>"
                         for m in metrics)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    control = summary.get("replication_control")
    if isinstance(control, Mapping) and control.get("outcome"):
        parts.append(f"<p class=muted>Replications: {_e(control['outcome'])}.</p>")
    parts.append(png_figure(folder / "sweep_curves.png",
                            "The chosen metrics against the lever, with 95% bands."))
    return "\n".join(parts)


def _difference_text(x: float, unit: str) -> str:
    if math.isnan(x):
        return "n/a"
    scale = 100.0 if unit == "share" else 1e-6 if unit == "GBP" else 1.0
    return f"{x * scale:+,.3g}"


def _difference_unit(unit: str) -> str:
    return {"share": "points", "GBP": "£m"}.get(unit, unit)


def compare_html(summary: Mapping[str, Any], folder: Path) -> str:
    """The paired differences of a comparison, with the Holm flag, and its figures."""
    from sim.results.compare_folder import COMPARE_FIGURES

    shown = list(summary.get("metrics_shown") or [])
    base = str(summary.get("base", "base"))
    parts = ["<h2>Options against the base</h2>",
             f"<p>Base <b>{_e(base)}</b>; options "
             f"{_e(', '.join(map(str, summary.get('options') or [])))}; "
             f"{_e(summary.get('replications'))} replications each on seed "
             f"{_e(summary.get('seed'))}, paired by replication (common random numbers). "
             f"Differences are option − base with 95% intervals; shares in percentage points, "
             f"money in £m. {_e(summary.get('multiple_comparisons_note', ''))}.</p>"]
    for option, rows in (summary.get("differences") or {}).items():
        parts.append(f"<h3>{_e(option)} − {_e(base)}</h3>")
        parts.append("<table><thead><tr><th>metric</th><th>base</th><th>option</th>"
                     "<th>difference</th><th>95% CI</th><th>unit</th><th></th>"
                     "<th>p (Holm)</th><th>holds after Holm</th></tr></thead><tbody>")
        for name in [m for m in shown if m in rows] or list(rows):
            r = rows[name]
            unit = metric_unit(name, r.get("unit"))
            low, high = _num(r.get("ci95_low")), _num(r.get("ci95_high"))
            ci = ("n/a" if math.isnan(low) or math.isnan(high) else
                  f"[{_difference_text(low, unit)}, {_difference_text(high, unit)}]")
            p_holm = _num(r.get("p_holm"))
            holds = "yes" if r.get("significant_holm") else "no"
            parts.append(
                f"<tr><td>{_e(presentation(name).label)}</td>"
                f"<td class=num>{_e(format_value(_num(r.get('base_mean')), unit))}</td>"
                f"<td class=num>{_e(format_value(_num(r.get('option_mean')), unit))}</td>"
                f"<td class=num>{_e(_difference_text(_num(r.get('difference')), unit))}</td>"
                f"<td class=num>{_e(ci)}</td><td>{_e(_difference_unit(unit))}</td>"
                f"<td>{_e(direction_text(presentation(name).direction))}</td>"
                f"<td class=num>{_e('n/a' if math.isnan(p_holm) else f'{p_holm:.3g}')}</td>"
                f"<td>{holds}</td></tr>")
        parts.append("</tbody></table>")
    notes = list(summary.get("notes") or []) + list(summary.get("run_setting_differences") or [])
    if notes:
        parts.append("<ul class=muted>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    for file_name, caption in COMPARE_FIGURES.items():
        parts.append(png_figure(folder / file_name, caption))
    return "\n".join(parts)


def _gbp(e: Mapping[str, Any] | None) -> str:
    return _estimate(e, "GBP") + " £m" if e and e.get("mean") is not None else "n/a"


def plan_html(summary: Mapping[str, Any], folder: Path) -> str:
    """The chosen plan, its cost and targets, the runners-up, the guarantee and the plot."""
    targets = list(summary.get("targets") or [])
    parts = ["<h2>The plan</h2>",
             "<p>Targets: " + "; ".join(
                 f"{_e(presentation(t['metric']).label)} {_e(t['op'])} {_e(t['value'])} "
                 f"(tolerance {_e(t['tolerance'])})" for t in targets) + ".</p>"]
    chosen = summary.get("chosen")
    entries = ([chosen] if chosen else []) + list(summary.get("runners_up") or [])
    as_given = summary.get("as_given") or {}
    if chosen:
        parts.append(f"<p>Chosen plan: <b>{_e(chosen['plan'])}</b>, cost over the reporting "
                     f"window {_e(_gbp(chosen.get('cost_gbp')))} (as given: "
                     f"{_e(_gbp(as_given.get('cost_gbp')))}).</p>")
    else:
        parts.append("<p><b>No plan was shown to meet every target.</b></p>")
    units = {t["metric"]: metric_unit(t["metric"]) for t in targets}
    parts.append("<table><thead><tr><th>plan</th><th>outcome</th><th>cost (£m)</th>"
                 + "".join(f"<th>{_header(t['metric'], units[t['metric']])}</th>"
                           for t in targets) + "</tr></thead><tbody>")
    rows = [("as given", "today", as_given)] + [(e["plan"], e["outcome"], e) for e in entries]
    for label, outcome, e in rows:
        cells = "".join(f"<td class=num>{_e(_estimate((e.get('targets') or {}).get(m), u))}</td>"
                        for m, u in units.items())
        parts.append(f"<tr><td>{_e(label)}</td><td>{_e(outcome)}</td>"
                     f"<td class=num>{_e(_estimate(e.get('cost_gbp'), 'GBP'))}</td>{cells}</tr>")
    parts.append("</tbody></table>")
    parts.append("<h3>The guarantee</h3>" + "".join(
        f"<p>{_e(line)}</p>" for line in str(summary.get("guarantee", "")).splitlines()))
    search = summary.get("search") or {}
    if search.get("why"):
        parts.append(f"<p class=muted>Search: {_e(search['why'])}; "
                     f"{_e(summary.get('replications_run'))} replications in all.</p>")
    parts.append(png_figure(folder / "cost_vs_target.png",
                            "Cost against the main target over every plan tried; the chosen "
                            "plan starred."))
    return "\n".join(parts)


def sensitivity_html(summary: Mapping[str, Any], folder: Path) -> str:
    """The ranking of the parameters per output, the lever effects and the ranking plots."""
    from sim.decision.sensitivity_folder import ranking_file_name

    key = str(summary.get("ranking_by", "mu_star"))
    parts = ["<h2>Sensitivity</h2>",
             f"<p>{_e(summary.get('method'))} over {len(summary.get('parameters') or [])} "
             f"uncertain parameters, {_e(summary.get('points'))} sample points, "
             f"{_e(summary.get('replications_per_point'))} replication(s) per point on common "
             f"random numbers; parameters ranked by {_e(key)}.</p>"]
    for output, ranked in (summary.get("ranking") or {}).items():
        parts.append(f"<h3>{_e(output)}</h3><table><thead><tr><th>parameter</th>"
                     f"<th>{_e(key)}</th><th>95% half-width</th></tr></thead><tbody>")
        conf = next((k for k in (ranked[0] if ranked else {}) if k.endswith("_conf")), "")
        for row in ranked:
            value, half = _num(row.get(key)), _num(row.get(conf))
            parts.append(f"<tr><td>{_e(row['parameter'])}</td>"
                         f"<td class=num>{'n/a' if math.isnan(value) else f'{value:,.3g}'}</td>"
                         f"<td class=num>{'n/a' if math.isnan(half) else f'{half:,.3g}'}</td>"
                         f"</tr>")
        parts.append("</tbody></table>")
        parts.append(png_figure(folder / ranking_file_name(output), f"What moves {output}"))
    effects = list(summary.get("lever_effects") or [])
    if effects:
        parts.append("<h3>Lever effects</h3><table><thead><tr><th>lever</th><th>metric</th>"
                     "<th>mean effect</th><th>range over the points</th><th>same sign at "
                     "every point</th></tr></thead><tbody>")
        for r in effects:
            low, high = _num(r.get("effect_min")), _num(r.get("effect_max"))
            mean = _num(r.get("effect_mean"))
            parts.append(f"<tr><td>{_e(r['lever'])}</td><td>{_e(r['metric'])}</td>"
                         f"<td class=num>{'n/a' if math.isnan(mean) else f'{mean:+,.3g}'}</td>"
                         f"<td class=num>[{low:+,.3g}, {high:+,.3g}]</td>"
                         f"<td>{'yes' if r.get('same_sign_everywhere') else 'no'}</td></tr>")
        parts.append("</tbody></table>")
    return "\n".join(parts)


#: The section of each kind of folder.
SECTIONS = {"sweep": sweep_html, "compare": compare_html, "plan": plan_html,
            "sensitivity": sensitivity_html}
