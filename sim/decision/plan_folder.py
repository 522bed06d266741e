"""The results folder of ``fbsim plan``: tables of every plan tried, the choice, a plot.

Written into a staging folder by :class:`sim.results.folder.StagedFolder` (the caller
opens it), so the rules of :mod:`sim.results.folder` hold: fbsim writes only where it
may, an interrupted run leaves nothing half written, and the manifest lists every file.

Files: ``summary.json`` (the choice, its cost and targets with intervals, the
guarantee, the runners-up, the settings), ``plans.csv`` (every plan screened),
``targets.csv`` (the chosen plan against each target), ``replications.csv`` (every
replication run), ``scenario.yaml`` (the scenario as given), ``chosen_plan.yaml`` (the
chosen plan's scenario, ready for ``fbsim run``), ``levers.yaml`` (the levers file as
read) and ``cost_vs_target.png``.

Everything but ``manifest.json`` is a function of the inputs and the replications'
values: how long the run took, where and in how many sessions (a resumed run) is in the
manifest only, so a resumed run writes the same files, byte for byte, as an
uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.results.atomic import write_atomic, write_json

if TYPE_CHECKING:
    import pandas as pd

    from sim.analysis.stats import Estimate
    from sim.config.schema import Scenario
    from sim.decision.planning import PlanResult


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def estimate_dict(e: Estimate) -> dict[str, Any]:
    """An estimate as JSON: mean, 95% interval, replications."""
    return {"mean": _num(e.mean), "ci95_low": _num(e.ci_low), "ci95_high": _num(e.ci_high),
            "replications": e.n}


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """A DataFrame as CSV, atomically, floats at full (round-trip) precision."""
    write_atomic(path, lambda f: frame.to_csv(f, index=False, float_format=None,
                                               lineterminator="\n"))


def write_scenario(path: Path, scenario: Scenario) -> None:
    """A resolved scenario as YAML (loadable by ``fbsim run``)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(scenario.model_dump(mode="json"), Dumper=dumper, sort_keys=False)
    write_atomic(path, lambda f: f.write(text))


def plan_summary(result: PlanResult) -> dict[str, Any]:
    """The summary.json content of a plan run."""
    lv = result.levers
    chosen = result.chosen

    def plan_entry(plan: Any) -> dict[str, Any]:
        est = result.confirmed[plan]
        return {"plan": lv.label(plan), "settings": lv.settings(plan),
                "outcome": result.outcome(plan), "cost_gbp": estimate_dict(est.cost),
                "targets": {t.metric: estimate_dict(e)
                            for t, e in zip(result.targets, est.targets, strict=True)}}

    s = result.settings
    return {
        "scenario": lv.scenario.name,
        "levers_file": lv.source,
        "targets": [{"metric": t.metric, "op": t.op, "value": t.value, "tolerance": t.tolerance}
                    for t in result.targets],
        "chosen": plan_entry(chosen) if chosen is not None else None,
        "runners_up": [plan_entry(p) for p in result.runners_up()],
        "guarantee": result.guarantee(),
        "confidence": 1 - s.alpha,
        "cost_tolerance_gbp": result.cost_tolerance_gbp,
        "budget_gbp": s.budget_gbp,
        "cost_source": "the simulation's cost_total_gbp per replication (staff employed, training "
                       "places, devices outsourced, at the scenario's unit costs) plus cost_gbp of "
                       "switches priced in the levers file",
        "as_given": {"settings": lv.reference, "cost_gbp": estimate_dict(result.reference.cost),
                     "targets": {t.metric: estimate_dict(e) for t, e in
                                 zip(result.targets, result.reference.targets, strict=True)}},
        "search": {"method": result.log.method, "why": result.log.why,
                   "plans_screened": len(result.log.screens), "plan_space": lv.size,
                   "screen_replications": s.screen_replications},
        "shortlist": [lv.label(p) for p in result.shortlist],
        "seed": s.seed,
        "first_stage": s.first_stage,
        "max_replications": s.max_replications,
        "replications_run": result.replications_total,
    }


def save_cost_plot(path: Path, result: PlanResult, scenario: str = "") -> None:
    """``cost_vs_target.png``: every plan's cost against the first target."""
    from io import BytesIO

    import numpy as np
    from matplotlib.figure import Figure

    from sim.plots.decision import cost_against_target

    target = result.targets[0]
    cost, value, low, high, outcome = [], [], [], [], []
    for plan, screen in result.log.screens.items():
        est = result.confirmed.get(plan)
        c, v = (est.cost, est.targets[0]) if est is not None else (screen.cost, screen.targets[0])
        cost.append(c.mean)
        value.append(v.mean)
        low.append(v.ci_low if est is not None else math.nan)
        high.append(v.ci_high if est is not None else math.nan)
        outcome.append(result.outcome(plan))
    fig = Figure(figsize=(7.5, 5))
    ax = fig.add_subplot()
    cost_against_target(ax, np.asarray(cost), np.asarray(value), outcome, target.value, target.op,
                        target.metric, np.asarray(low), np.asarray(high), scenario)
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    write_atomic(path, lambda f: f.write(buffer.getvalue()), binary=True)


def write_plan_folder(folder: Path, result: PlanResult, manifest: dict[str, Any], levers_text: str,
                      plots: bool = True) -> None:
    """Write every file of a plan run into ``folder`` (a staging folder); manifest last."""
    write_json(folder / "summary.json", plan_summary(result))
    write_frame(folder / "plans.csv", result.plans_frame())
    write_frame(folder / "targets.csv", result.targets_frame())
    write_frame(folder / "replications.csv", result.replications_frame())
    write_scenario(folder / "scenario.yaml", result.levers.scenario)
    if result.chosen is not None:
        write_scenario(folder / "chosen_plan.yaml", result.levers.scenario_for(result.chosen))
    write_atomic(folder / "levers.yaml", lambda f: f.write(levers_text))
    if plots:
        save_cost_plot(folder / "cost_vs_target.png", result, str(manifest.get("scenario", "")))
    write_json(folder / "manifest.json", manifest)
