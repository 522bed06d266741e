"""The results folder of ``fbsim compare``: differences, every arm's replications, plots.

Written into a staging folder by :class:`sim.results.folder.StagedFolder` (the caller
opens it), so the rules of :mod:`sim.results.folder` hold. Files:

- ``summary.json``: the settings, how p-values were adjusted, every arm's metrics
  (mean and 95% CI, as ``fbsim run``'s summary), the paired differences, the notes
  printed (replications too few to resolve a difference, run settings that differ,
  differences ``--reps auto`` could not resolve) and what replication control did
  (``replication_control``, None for a fixed count);
- ``manifest.json``: provenance of the comparison and of every arm's scenario
  (:func:`sim.results.provenance.manifest`);
- ``differences.csv``: one row per (option, metric), the columns of
  :data:`sim.experiment.compare.DIFFERENCE_COLUMNS`, full precision;
- ``replication_metrics.csv``, ``identify_curve.csv``, ``waiting_timeseries.csv``: the
  tables of :mod:`sim.results.summary` for every arm, with a ``scenario`` column first;
- ``differences.png`` (a forest plot of the chosen metrics), ``time_to_identification.png``
  and ``backlog_devices.png`` (base and options overlaid).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.results.atomic import write_atomic, write_json
from sim.results.tables import chunks_csv_writer, csv_writer

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from sim.experiment.compare import MultiComparison
    from sim.experiment.runner import ExperimentResult

#: The PNG files of a comparison, with a caption each.
COMPARE_FIGURES = {
    "differences.png": "Paired differences option − base of the chosen metrics, with 95% "
                       "intervals; a filled marker is a difference that holds after the "
                       "Holm adjustment across the options.",
    "time_to_identification.png": "Share of children identified by days since referral, "
                                  "all children and per route: base (black) and options.",
    "backlog_devices.png": "Devices waiting for triage or lab examination over time: base "
                           "(black) and options, median and middle 50% of replications.",
}


def _num(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def holm_note(options: int) -> str:
    """How the p-values of a comparison with ``options`` options were adjusted, in words."""
    if options > 1:
        return (f"p-values Holm-adjusted per metric across the {options} options (family-wise "
                f"error 5%); the 95% intervals are not adjusted")
    return "one option: no adjustment for multiple comparisons"


def _with_scenario(label: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame.insert(0, "scenario", label)
    return frame


#: The per-arm tables of a comparison, in the order they are written.
ARM_TABLES = ("replication_metrics", "identify_curve", "waiting_timeseries")


def arm_tables(comparison: MultiComparison, names: Sequence[str] = ARM_TABLES
               ) -> dict[str, pd.DataFrame]:
    """``replication_metrics``, ``identify_curve`` and ``waiting_timeseries`` of every arm.

    ``names`` picks some of them (the long ``waiting_timeseries`` is written by
    :func:`waiting_chunks`, a chunk at a time; only the figures need it whole).
    """
    import pandas as pd

    from sim.results.summary import identify_curve_frame, metrics_frame, waiting_frame

    readers: dict[str, Callable[[ExperimentResult], pd.DataFrame]] = {
        "replication_metrics": metrics_frame, "identify_curve": identify_curve_frame,
        "waiting_timeseries": waiting_frame}
    return {name: pd.concat([_with_scenario(label, readers[name](arm)) for label, arm
                             in zip(comparison.labels, comparison.arms, strict=True)],
                            ignore_index=True)
            for name in names}


def waiting_chunks(comparison: MultiComparison) -> Iterator[dict[str, Any]]:
    """The ``waiting_timeseries`` of :func:`arm_tables` a chunk of replications at a time.

    Arm by arm, with the ``scenario`` column first: put end to end, the chunks are that
    table (its CSV text is the same). Raises ValueError at once if an arm has no
    waiting time series.
    """
    import numpy as np

    from sim.results.summary import waiting_chunks as arm_chunks

    per_arm = [(label, arm_chunks(arm)) for label, arm
               in zip(comparison.labels, comparison.arms, strict=True)]

    def chunks() -> Iterator[dict[str, Any]]:
        for label, parts in per_arm:
            for part in parts:
                rows = len(part["replication"])
                yield {"scenario": np.full(rows, label, dtype=object), **part}

    return chunks()


def display_differences(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Difference rows in display units (shares in points, pounds in millions) for plotting."""
    import pandas as pd

    from sim.results.presentation import display_unit, metric_unit, presentation

    out = []
    for row in rows:
        unit = metric_unit(row["metric"], row["unit"])
        scale = 1e-6 if unit == "GBP" else 100.0 if unit == "share" else 1.0
        shown = "percentage points" if unit == "share" else display_unit(unit)
        out.append({"option": row["option"], "label": presentation(row["metric"]).label,
                    "unit": shown, "direction": presentation(row["metric"]).direction,
                    "difference": row["difference"] * scale,
                    "ci95_low": row["ci95_low"] * scale, "ci95_high": row["ci95_high"] * scale,
                    "significant_holm": row["significant_holm"]})
    return pd.DataFrame(out)


def compare_figures(comparison: MultiComparison, shown: Sequence[str],
                    tables: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    """The figures of a comparison, keyed by file name (a figure with nothing to draw is left out)."""
    from sim.plots.figures import (
        backlog_compare,
        comparison_differences,
        identification_compare_by_route,
    )

    figures: dict[str, Figure | None] = {}
    rows = [r for r in comparison.difference_rows(shown) if not math.isnan(r["difference"])]
    if rows:
        figures["differences.png"] = comparison_differences(
            display_differences(rows), comparison.labels[0],
            holm_note(len(comparison.options)).capitalize()
            + ". Filled: significant after adjustment; hollow: not.")
    by_arm = {name: {label: part.drop(columns="scenario")
                     for label, part in table.groupby("scenario", sort=False)}
              for name, table in tables.items()}
    curves = {label: by_arm["identify_curve"][label] for label in comparison.labels
              if label in by_arm["identify_curve"]}
    if curves:
        figures["time_to_identification.png"] = identification_compare_by_route(curves)
    waiting = {label: by_arm["waiting_timeseries"][label] for label in comparison.labels
               if label in by_arm["waiting_timeseries"]}
    if waiting:
        figures["backlog_devices.png"] = backlog_compare(waiting,
                                                         comparison.base.scenario.run.start_date)
    return {k: v for k, v in figures.items() if v is not None}


def compare_summary(comparison: MultiComparison, shown: Sequence[str], notes: Sequence[str],
                    setting_differences: Sequence[str]) -> dict[str, Any]:
    """The summary.json content of a comparison."""
    from sim.results.summary import summary_dict

    differences: dict[str, dict[str, Any]] = {}
    for row in comparison.difference_rows():
        differences.setdefault(row["option"], {})[row["metric"]] = {
            k: _num(v) for k, v in row.items() if k not in ("option", "metric")}
    arms = {}
    for i, (label, arm) in enumerate(zip(comparison.labels, comparison.arms, strict=True)):
        arms[label] = {"role": "base" if i == 0 else "option", "scenario": arm.scenario.name,
                       "metrics": summary_dict(arm)["metrics"]}
    return {"base": comparison.labels[0], "options": comparison.labels[1:],
            "replications": len(comparison.base.replications), "seed": comparison.base.seed,
            "confidence": comparison.level,
            "multiple_comparisons": "holm" if comparison.holm else "none",
            "multiple_comparisons_note": holm_note(len(comparison.options)),
            "metrics_shown": list(shown), "notes": list(notes),
            "run_setting_differences": list(setting_differences),
            "replication_control": (None if comparison.auto is None
                                    else comparison.auto.to_dict()),
            "differences": differences, "arms": arms}


def write_compare_outputs(folder: Path, comparison: MultiComparison, shown: Sequence[str],
                          manifest: dict[str, Any], notes: Sequence[str] = (),
                          setting_differences: Sequence[str] = (), plots: bool = True) -> None:
    """Write a comparison's results folder into ``folder`` (a staging folder).

    Parameters
    ----------
    folder : pathlib.Path
        Where to write.
    comparison : MultiComparison
        The run.
    shown : sequence of str
        The metrics printed and plotted.
    manifest : dict
        Provenance, with every arm's (written last).
    notes, setting_differences : sequence of str
        What was printed about too few replications and differing run settings.
    plots : bool
        Draw the PNG plots.
    """
    import pandas as pd

    from sim.experiment.compare import DIFFERENCE_COLUMNS

    write_json(folder / "summary.json", compare_summary(comparison, shown, notes,
                                                        setting_differences))
    rows = comparison.difference_rows()
    write_atomic(folder / "differences.csv",
                 csv_writer(pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))))
    tables = arm_tables(comparison, ARM_TABLES[:2])
    for name, frame in tables.items():
        write_atomic(folder / f"{name}.csv", csv_writer(frame))
    # The long table, a chunk of replications at a time (the figures read it whole).
    write_atomic(folder / "waiting_timeseries.csv", chunks_csv_writer(waiting_chunks(comparison)))
    if plots:
        tables.update(arm_tables(comparison, ARM_TABLES[2:]))
        from sim.plots.run_plots import png_bytes, write_png

        for file_name, fig in compare_figures(comparison, shown, tables).items():
            write_png(folder / file_name, png_bytes(fig))
    write_json(folder / "manifest.json", manifest)
