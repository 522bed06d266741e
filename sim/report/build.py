"""Build the HTML report of a results folder: words, headline table, figures, checklist.

The page has no script and loads nothing: styles are inline and every figure is a PNG
data URI, so it opens the same anywhere, offline, and can be archived as one file.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.analysis.paired import paired_difference
from sim.analysis.stats import mean_ci
from sim.plots.run_plots import RUN_FIGURES, png_bytes, run_figures
from sim.report.stress import checklist
from sim.report.words import scenario_sentences
from sim.results.headline import Headline, headline
from sim.results.presentation import (
    PRESENTATION,
    direction_text,
    display_unit,
    format_value,
    metric_unit,
    presentation,
)
from sim.results.tables import read_run_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Metrics compared between folders, where both have them.
COMPARED = ("time_to_identify_median_days", "identified_within_30d_share",
            "depicted_identified_within_365d_share", "child_days_at_risk",
            "lab_wait_median_days", "lab_wait_p90_days", "backlog_devices_end", "cost_total_gbp")
#: Per-route metrics compared where present (the model's per-route children): names with
#: these starts that are not in the fixed table but follow a route rule.
COMPARED_PATTERNS = ("time_to_identify_", "identified_")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:70rem;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.group td{font-weight:600;background:#f3f3f3}
figure{margin:1.2rem 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9rem;color:#444} .muted{color:#555;font-size:.9rem}
ol.notes{font-size:.9rem;color:#333}
"""


@dataclass
class Folder:
    """What the report reads from one results folder."""

    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    scenario: dict[str, Any]

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.manifest.get("scenario") or self.summary.get("scenario") or self.path.name)


def read_folder(path: Path) -> Folder:
    """Read the manifest, summary and scenario of a results folder.

    Raises
    ------
    FileNotFoundError
        If the folder has no summary.json or manifest.json.
    sim.results.folder.IncompleteRunError
        If the folder holds a run that did not finish.
    """
    from sim.results.folder import check_finished

    check_finished(path)

    def load_json(name: str) -> dict[str, Any]:
        file = path / name
        if not file.is_file():
            raise FileNotFoundError(f"{path} has no {name}; is it a results folder of "
                                    f"'fbsim run'?")
        data = json.loads(file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    scenario_file = path / "scenario.yaml"
    scenario = (yaml.safe_load(scenario_file.read_text(encoding="utf-8")) or {}
                if scenario_file.is_file() else {})
    return Folder(path, load_json("manifest.json"), load_json("summary.json"), scenario)


def _e(text: object) -> str:
    return html.escape(str(text))


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _figure(fig: Figure, caption: str) -> str:
    return f"<figure>{_img(fig, caption)}<figcaption>{_e(caption)}</figcaption></figure>"


def headline_html(table: Headline) -> str:
    """The grouped headline table as HTML, footnotes as a numbered list below."""
    rows = ["<table><thead><tr><th></th><th>mean</th><th>95% CI</th><th>unit</th><th></th>"
            "</tr></thead><tbody>"]
    for title, group in table.groups:
        rows.append(f'<tr class="group"><td colspan="5">{_e(title)}</td></tr>')
        for r in group:
            marks = ("<sup>" + ",".join(f'<a href="#note-{n}">{n}</a>' for n in r.notes)
                     + "</sup>") if r.notes else ""
            rows.append(f"<tr><td>{_e(r.label)}{marks}</td><td class=num>{_e(r.mean)}</td>"
                        f"<td class=num>{_e(r.ci)}</td><td>{_e(r.unit)}</td>"
                        f"<td>{_e(r.direction)}</td></tr>")
    rows.append("</tbody></table>")
    if table.footnotes:
        rows.append('<ol class="notes">' + "".join(
            f'<li id="note-{i}">{_e(t)}</li>' for i, t in enumerate(table.footnotes, 1)) + "</ol>")
    return "\n".join(rows)


def _per_rep(folder: Folder) -> pd.DataFrame | None:
    try:
        return read_run_table(folder.path, "replication_metrics").set_index("replication")
    except FileNotFoundError:
        return None


def comparison_frame(base: Folder, option: Folder) -> tuple[pd.DataFrame, bool]:
    """Differences option − base of the compared metrics, and whether they are paired.

    Paired by replication (common random numbers) when both folders were run with the
    same seed and share replications; otherwise the difference of two independent means
    with a Welch-style interval is not attempted, and only the two means are given.
    """
    import pandas as pd

    a, b = _per_rep(base), _per_rep(option)
    paired = (a is not None and b is not None and base.manifest.get("seed") ==
              option.manifest.get("seed") and len(a.index.intersection(b.index)) >= 2)
    names = [n for n in base.summary.get("metrics", {})
             if n in option.summary.get("metrics", {})
             and (n in COMPARED or (n.startswith(COMPARED_PATTERNS) and n not in PRESENTATION
                                    and presentation(n).known))]
    rows = []
    for name in names:
        unit = metric_unit(name, base.summary["metrics"][name].get("unit"))
        if paired and a is not None and b is not None and name in a and name in b:
            common = a.index.intersection(b.index)
            d = paired_difference(a.loc[common, name].to_numpy(float),
                                  b.loc[common, name].to_numpy(float)).difference
        else:
            d = mean_ci([math.nan])
        base_mean = base.summary["metrics"][name].get("mean")
        option_mean = option.summary["metrics"][name].get("mean")
        scale = 1e-6 if unit == "GBP" else 100.0 if unit == "share" else 1.0
        rows.append({"option": option.name, "metric": name, "label": presentation(name).label,
                     "unit": display_unit(unit), "direction": presentation(name).direction,
                     "base": base_mean, "option_mean": option_mean,
                     "difference": d.mean * scale, "ci95_low": d.ci_low * scale,
                     "ci95_high": d.ci_high * scale, "raw_unit": unit})
    return pd.DataFrame(rows), paired


def _comparison_html(base: Folder, options: list[Folder]) -> str:
    import pandas as pd

    from sim.plots.figures import comparison_differences, identification_compare

    parts = ["<h2>Options against the base</h2>"]
    frames = []
    for option in options:
        frame, paired = comparison_frame(base, option)
        frames.append(frame)
        how = ("paired by replication on common random numbers (same seed)" if paired else
               "not paired (different seeds or replications): only the two means are shown")
        parts.append(f"<h3>{_e(option.name)} − {_e(base.name)}</h3><p class=muted>"
                     f"Differences {how}.</p>")
        parts.append("<table><thead><tr><th>metric</th><th>base</th><th>option</th>"
                     "<th>difference</th><th>95% CI</th><th>unit</th><th></th></tr></thead>"
                     "<tbody>")
        for r in frame.to_dict("records"):
            low, high, diff = (_nan(r["ci95_low"]), _nan(r["ci95_high"]),
                               _nan(r["difference"]))
            ci = "n/a" if math.isnan(low) else f"[{low:,.3g}, {high:,.3g}]"
            unit = str(r["raw_unit"])
            parts.append(
                f"<tr><td>{_e(r['label'])}</td>"
                f"<td class=num>{_e(format_value(_nan(r['base']), unit))}</td>"
                f"<td class=num>{_e(format_value(_nan(r['option_mean']), unit))}</td>"
                f"<td class=num>{_e('n/a' if math.isnan(diff) else f'{diff:+,.3g}')}</td>"
                f"<td class=num>{_e(ci)}</td><td>{_e(r['unit'])}</td>"
                f"<td>{_e(direction_text(str(r['direction'])))}</td></tr>")
        parts.append("</tbody></table>")
    both = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not both.empty and both["difference"].notna().any():
        parts.append(_figure(comparison_differences(both.dropna(subset=["difference"]),
                                                    base.name),
                             "Paired differences option − base with 95% intervals; a bar "
                             "crossing zero is no clear difference."))
    curves = {}
    for f in [base, *options]:
        with contextlib.suppress(FileNotFoundError):
            curves[f.name] = read_run_table(f.path, "identify_curve")
    if len(curves) >= 2:
        parts.append(_figure(identification_compare(curves),
                             "Time to identify, all children: the base (black) and the "
                             "options, with 95% bands."))
    return "\n".join(parts)


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def build_report(path: Path, compare_with: list[Path] | None = None) -> str:
    """The HTML report of the results folder ``path``.

    Parameters
    ----------
    path : pathlib.Path
        A results folder written by ``fbsim run``, ``sweep``, ``compare``, ``plan`` or
        ``sensitivity`` (:func:`sim.report.sections.folder_kind`).
    compare_with : list of pathlib.Path, optional
        Other results folders of ``fbsim run``, shown as options against this one.

    Raises
    ------
    ValueError
        If ``compare_with`` is given for a folder that is not a run's.
    """
    from sim.report.sections import SECTIONS, folder_kind

    kind = folder_kind(path)
    if kind != "run" and compare_with:
        raise ValueError(f"{path} holds the results of fbsim {kind}; --compare adds options "
                         f"to the results of fbsim run only")
    folder = read_folder(path)
    options = [read_folder(p) for p in compare_with or []]
    m = folder.manifest
    reps = int(folder.summary.get("replications") or m.get("replications") or 0)
    seed = int(folder.summary.get("seed") or m.get("seed") or 0)
    what = {"run": "run", "sweep": "sweep", "compare": "comparison", "plan": "plan",
            "sensitivity": "sensitivity run"}[kind]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>fbsim report: {_e(folder.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(folder.name)}</h1>",
        f'<p class="muted">fbsim {_e(m.get("package_version", "?"))}, {what} started '
        f'{_e(m.get("started_utc", "?"))}; results folder {_e(path.name)}.</p>',
    ]
    if folder.scenario:
        words = scenario_sentences(folder.scenario, reps, seed)
        if kind in ("plan", "sensitivity"):  # replications differ by plan or point
            words = [w for w in words if not w.startswith("Results are the mean")]
        title = "The scenario" if kind == "run" else "The base scenario"
        parts += [f"<h2>{title}</h2>", "<p>" + " ".join(_e(s) for s in words) + "</p>"]
    elif isinstance(m.get("arms"), list):
        parts += ["<h2>The scenarios</h2>", "<ul>" + "".join(
            f"<li>{_e(a.get('role', ''))}: {_e(a.get('label') or a.get('scenario'))} "
            f"({_e(a.get('scenario_file'))}, SHA-256 {_e(str(a.get('scenario_sha256'))[:16])}…)"
            f"</li>" for a in m["arms"] if isinstance(a, dict)) + "</ul>"]
    parts.append("<p class=muted>fbsim is a planning model built from aggregate public figures "
                 "and stated assumptions. It compares options under those assumptions; it does "
                 "not predict what will happen to any individual child.</p>")
    if kind == "run":
        parts += ["<h2>Headline results</h2>",
                  headline_html(headline(folder.summary.get("metrics", {}), reps)),
                  "<h2>Figures</h2>"]
        for file_name, fig in run_figures(path).items():
            parts.append(_figure(fig, RUN_FIGURES.get(file_name, file_name)))
        if options:
            parts.append(_comparison_html(folder, options))
    else:
        parts.append(SECTIONS[kind](folder.summary, path))
    parts.append("<h2>STRESS-DES checklist</h2><p class=muted>Strengthening the reporting of "
                 "empirical simulation studies (Monks et al. 2019, Journal of Simulation "
                 "13:55–67), filled from this folder's manifest and scenario.</p>")
    parts.append("<table><thead><tr><th>section</th><th>item</th><th>this run</th></tr>"
                 "</thead><tbody>")
    for section, item, text in checklist(m, folder.scenario, path):
        parts.append(f"<tr><td>{_e(section)}</td><td>{_e(item)}</td><td>{_e(text)}</td></tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"
