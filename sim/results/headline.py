"""The headline table of a run, grouped by question, with footnotes; as text or as rows.

Built from the metric estimates of ``summary.json`` (or of a live
:class:`~sim.experiment.runner.ExperimentResult`), so the printed table of ``fbsim run``
and the table of ``fbsim report`` are the same. Each row has a plain label, the mean and
95% interval in display units (percent, £m), the unit and which way is better. Two kinds
of footnote explain what a bare number would hide:

- where a median and a 90th percentile tell different stories (most items quick, a long
  tail), the footnote says so in words, with the waits by risk class where the stage
  orders its queue by risk;
- where a metric is undefined in some replications, the footnote says why.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

from sim.analysis.stage_waits import metric_name, parse_metric_name
from sim.config.schema import RISK_LEVELS
from sim.results.presentation import (
    GROUPS,
    direction_text,
    display_unit,
    format_value,
    metric_unit,
    nan_reason,
    presentation,
    stage_label,
    stage_unit,
)

#: A tail is worth a footnote when the P90 is this many times the median and this many
#: days longer.
TAIL_RATIO, TAIL_DAYS = 5.0, 7.0
#: Footnotes are wrapped to this many characters (a terminal's width).
FOOTNOTE_WIDTH = 96


@dataclass(frozen=True)
class Row:
    """One line of the headline table (text in display units)."""

    name: str
    label: str
    mean: str
    ci: str
    unit: str
    direction: str
    notes: tuple[int, ...] = ()


@dataclass
class Headline:
    """The grouped table and its footnotes."""

    groups: list[tuple[str, list[Row]]] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)


def _metric(metrics: dict[str, Any], name: str) -> float:
    entry = metrics.get(name)
    value = None if entry is None else entry.get("mean")
    return math.nan if value is None else float(value)


def _days(x: float) -> str:
    return format_value(x, "days")


def _tail_story(metrics: dict[str, Any], median_name: str, p90_name: str,
                stage: str | None) -> str | None:
    """A footnote where the median and P90 of a wait differ a lot; None otherwise."""
    median, p90 = _metric(metrics, median_name), _metric(metrics, p90_name)
    if math.isnan(median) or math.isnan(p90):
        return None
    if not (p90 > TAIL_RATIO * max(median, 1e-9) and p90 - median >= TAIL_DAYS):
        return None
    label = presentation(median_name).label.rsplit(",", 1)[0]
    if stage is None:
        return (f"{label}: the median is {_days(median)} days but the 90th percentile is "
                f"{_days(p90)} days. Most are quick, but a long tail is slow: one in ten takes "
                f"longer than {_days(p90)} days. The mean over replications is shown.")
    noun = stage_unit(stage)
    text = (f"{label}: the median wait is {_days(median)} days but the 90th percentile is "
            f"{_days(p90)} days. Most {noun} reach {stage_label(stage)} almost at once, while a "
            f"tail waits long: one in ten waits more than {_days(p90)} days.")
    by_class = [(risk, _metric(metrics, metric_name(stage, risk, "median_days")),
                 _metric(metrics, metric_name(stage, risk, "p90_days"))) for risk in RISK_LEVELS]
    known = [(r, m, p) for r, m, p in by_class if not math.isnan(m)]
    if len(known) >= 2:
        parts = ", ".join(f"{r.replace('_', ' ')} {_days(m)}" for r, m, _ in known)
        text += f" By the risk the work was graded at, the median wait in days is: {parts}."
        first, last = known[0], known[-1]
        if last[1] > TAIL_RATIO * max(first[1], 1e-9) and last[1] - first[1] >= TAIL_DAYS:
            text += (f" The queue takes higher-risk {noun} first, so the long waits fall on "
                     f"{last[0].replace('_', ' ')}-risk work.")
    return text


def _route_of(name: str) -> str:
    """The route of a per-route metric (``..._<route>_...``), or ``""``."""
    from sim.results.presentation import MODEL_ROUTES

    for route in MODEL_ROUTES:
        if f"_{route}_" in name or name.endswith(f"_{route}"):
            return route
    return ""


def _started_share_name(name: str) -> str:
    """The stage-wait metric of the share started that goes with wait metric ``name``."""
    parsed = parse_metric_name(name)
    if parsed is not None:
        return metric_name(parsed[0], parsed[1], "started_share")
    if name.startswith("lab_wait"):
        return metric_name("lab_examination", "all", "started_share")
    if name.startswith("upload_wait"):
        return metric_name("database_upload", "all", "started_share")
    return ""


def _pairs(names: list[str]) -> list[tuple[str, str, str | None]]:
    """(median metric, P90 metric, stage or None) pairs present in ``names``."""
    present = set(names)
    out: list[tuple[str, str, str | None]] = []
    for name in names:
        if name.endswith("_median_days"):
            p90 = name[: -len("_median_days")] + "_p90_days"
            if p90 in present:
                stage = ("lab_examination" if name.startswith("lab_wait") else
                         "database_upload" if name.startswith("upload_wait") else None)
                out.append((name, p90, stage))
        parsed = parse_metric_name(name)
        if parsed is not None and parsed[1] == "all" and parsed[2] == "median_days":
            p90 = metric_name(parsed[0], "all", "p90_days")
            if p90 in present and presentation(p90).printed:
                out.append((name, p90, parsed[0]))
    return out


def headline(metrics: dict[str, Any], replications: int, arrows: bool = True,
             printed_only: bool = True) -> Headline:
    """The grouped headline table of a run.

    Parameters
    ----------
    metrics : dict
        ``summary.json``'s ``metrics``: name -> {mean, ci95_low, ci95_high, unit,
        replications_defined, ...}.
    replications : int
        Replications run.
    arrows : bool
        Directions as ``↓ better`` (True) or ``lower better``.
    printed_only : bool
        Only metrics marked for the printed table (False: every metric).
    """
    out = Headline()
    notes_of: dict[str, list[int]] = {}

    def note(name: str, text: str) -> None:
        out.footnotes.append(text)
        notes_of.setdefault(name, []).append(len(out.footnotes))

    names = [n for n in metrics if not printed_only or presentation(n).printed]
    for median, p90, stage in _pairs(list(metrics)):
        if median in names:
            story = _tail_story(metrics, median, p90, stage)
            if story is not None:
                note(p90, story)
    for name in names:
        defined = metrics[name].get("replications_defined", replications)
        reason = nan_reason(name, int(defined), replications)
        route = _route_of(name)
        if reason is not None and route and _metric(metrics, f"children_{route}") == 0:
            reason = "no child on this route in the window, so nothing to measure"
        if reason is not None:
            started = _metric(metrics, _started_share_name(name))
            extra = ("" if math.isnan(started) else
                     f" (by the end, {100 * started:.0f}% of them had started)")
            note(name, f"{presentation(name).label}: {reason}{extra}.")
    rows: dict[str, list[Row]] = {g: [] for g in GROUPS}
    for name in names:
        entry = metrics[name]
        unit = metric_unit(name, entry.get("unit"))
        shown = presentation(name)
        mean = _metric(metrics, name)
        low, high = entry.get("ci95_low"), entry.get("ci95_high")
        ci = ("n/a" if low is None or high is None
              else f"[{format_value(low, unit)}, {format_value(high, unit)}]")
        rows.setdefault(shown.group, []).append(Row(
            name, shown.label, format_value(mean, unit), ci, display_unit(unit),
            direction_text(shown.direction, arrows), tuple(notes_of.get(name, ()))))
    out.groups = [(GROUPS.get(g, g), r) for g, r in rows.items() if r]
    return out


def render_text(table: Headline, superscripts: bool = True) -> str:
    """The headline table as aligned plain text, group by group, footnotes below."""
    marks = "⁰¹²³⁴⁵⁶⁷⁸⁹"

    def mark(notes: tuple[int, ...]) -> str:
        if not notes:
            return ""
        if superscripts:
            return " " + ",".join("".join(marks[int(d)] for d in str(n)) for n in notes)
        return " " + "".join(f"[{n}]" for n in notes)

    header = ("", "mean", "95% CI", "unit", "")
    lines_rows: list[tuple[str, ...] | str] = []
    for title, rows in table.groups:
        lines_rows.append(title)
        lines_rows.extend(("  " + r.label + mark(r.notes), r.mean, r.ci, r.unit, r.direction)
                          for r in rows)
    cells = [r for r in lines_rows if isinstance(r, tuple)]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(5)]
    lines = []
    for item in [header, *lines_rows]:
        if isinstance(item, str):
            lines.append(item)
            continue
        lines.append("  ".join(c.rjust(w) if i == 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(item, widths, strict=True))).rstrip())
    if table.footnotes:
        lines.append("")
        for i, text in enumerate(table.footnotes, 1):
            lead = mark((i,)).strip()
            lines.extend(textwrap.wrap(text, width=FOOTNOTE_WIDTH, initial_indent=f"{lead} ",
                                       subsequent_indent=" " * (len(lead) + 1)))
    return "\n".join(lines)


def headline_frame(table: Headline) -> Any:
    """The headline table as a pandas DataFrame (group, label, mean, 95% CI, unit, better).

    Footnotes are attached as the frame's ``attrs["footnotes"]``.
    """
    import pandas as pd

    rows = [{"group": title, "metric": r.label, "mean": r.mean, "95% CI": r.ci, "unit": r.unit,
             "better": r.direction, "notes": ",".join(map(str, r.notes))}
            for title, group in table.groups for r in group]
    frame = pd.DataFrame(rows)
    frame.attrs["footnotes"] = list(table.footnotes)
    return frame
