"""The results folder of ``fbsim sensitivity``: indices, samples, lever effects, rankings.

Files: ``summary.json`` (method, sizes, the top parameters per output, lever effects),
``sensitivity_indices.csv`` (every output x parameter), ``samples.csv`` (every sample
point as run, with every output), ``lever_effects.csv``, ``scenario.yaml``,
``parameters.yaml`` (the file as read) and one ranking PNG per output
(``ranking_<output>.png``). Written into a :class:`~sim.results.folder.StagedFolder`.
As for ``fbsim plan``, only ``manifest.json`` says how long and where the run ran.
"""

from __future__ import annotations

import math
import re
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.decision.plan_folder import write_frame, write_scenario
from sim.results.atomic import write_atomic, write_json

if TYPE_CHECKING:
    from sim.config.schema import Scenario
    from sim.decision.sensitivity import SensitivityResult


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def ranking_key(method: str) -> tuple[str, str, str | None]:
    """The index ranked, its half-width column and the index drawn over it."""
    return ("mu_star", "mu_star_conf", None) if method == "morris" else ("ST", "ST_conf", "S1")


def sensitivity_summary(result: SensitivityResult) -> dict[str, Any]:
    """The summary.json content of a sensitivity run."""
    key, conf, _ = ranking_key(result.method)
    ranked: dict[str, list[dict[str, Any]]] = {}
    for output, values in result.indices.items():
        order = sorted(range(len(result.parameter_names)),
                       key=lambda i: -(values[key][i] if not math.isnan(values[key][i]) else -1))
        ranked[output] = [{"parameter": result.parameter_names[i], key: _num(values[key][i]),
                           conf: _num(values[conf][i])} for i in order]
    effects = result.lever_effects_frame().to_dict(orient="records")
    return {"scenario": result.spec.base_data.get("name"), "parameters_file": result.spec.source,
            "method": result.method, "samples": result.samples,
            "points": int(result.points.shape[0]),
            "replications_per_point": result.settings.replications,
            "parameters": [{"name": p.name, "path": p.path, "low": p.low, "high": p.high,
                            "integer": p.integer} for p in result.spec.parameters],
            "metrics": list(result.spec.metrics), "levers": list(result.spec.levers),
            "ranking_by": key, "ranking": ranked,
            "lever_effects": [{k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
                              for row in effects],
            "seed": result.settings.seed, "replications_run": result.replications_total}


def ranking_file_name(output: str) -> str:
    """The ranking plot's file name for an output (``ranking_<output>.png``)."""
    return "ranking_" + re.sub(r"[^a-z0-9_]+", "_", output.lower()).strip("_") + ".png"


def write_png(path: Path, data: bytes) -> None:
    """Write PNG bytes atomically."""
    write_atomic(path, lambda f: f.write(data), binary=True)


def save_rankings(folder: Path, result: SensitivityResult) -> list[Path]:
    """One ranking bar chart per output; returns the files written."""
    import numpy as np
    from matplotlib.figure import Figure

    from sim.plots.decision import sensitivity_ranking

    key, conf, second = ranking_key(result.method)
    label = {"mu_star": "Morris mu* (change over the whole range, output's unit)",
             "ST": "Sobol total-order index"}[key]
    written = []
    for output, values in result.indices.items():
        fig = Figure(figsize=(7, 0.45 * len(result.parameter_names) + 1.6))
        ax = fig.add_subplot()
        sensitivity_ranking(ax, result.parameter_names, values[key], values[conf], label,
                            f"What moves {output}", None if second is None else values[second],
                            "first-order index" if second else "")
        if np.isnan(values[key]).all():
            ax.text(0.5, 0.5, "undefined at some sample point", transform=ax.transAxes,
                    ha="center")
        buffer = BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        path = folder / ranking_file_name(output)
        write_png(path, buffer.getvalue())
        written.append(path)
    return written


def write_sensitivity_folder(folder: Path, result: SensitivityResult, scenario: Scenario,
                             manifest: dict[str, Any], params_text: str, plots: bool = True) -> None:
    """Write every file of a sensitivity run into ``folder``; manifest last."""
    write_json(folder / "summary.json", sensitivity_summary(result))
    write_frame(folder / "sensitivity_indices.csv", result.indices_frame())
    write_frame(folder / "samples.csv", result.samples_frame())
    if result.spec.levers:
        write_frame(folder / "lever_effects.csv", result.lever_effects_frame())
    write_scenario(folder / "scenario.yaml", scenario)
    write_atomic(folder / "parameters.yaml", lambda f: f.write(params_text))
    if plots:
        save_rankings(folder, result)
    write_json(folder / "manifest.json", manifest)
