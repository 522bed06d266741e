"""The uncertain-parameters file of ``fbsim sensitivity``: ranges, outputs, lever effects.

::

    parameters:                        # the assumptions to vary, each over a range
      lab_hours_per_tb:
        path: stages.lab_examination.hours_per_tb
        range: [0.5, 1.5]
      growth:
        path: demand.annual_growth_rate
        range: [0.0, 0.08]
    metrics: [backlog_devices_end, identified_within_90d_share]
    levers:                            # optional: effects to test under every assumption
      plus_10_examiners:
        staff.examiners.headcount: {add: 10}    # or {multiply: 1.2}, or a plain value

A parameter is any numeric scenario key (a dotted path, down into distribution
parameters such as ``stages.lab_examination.service_by_device_type.phone.gamma.mean_hours``);
values are drawn uniformly over its range and rounded for whole-number keys. A lever
is a set of changes applied to each sampled scenario; its *effect* is the paired
difference, lever minus base, on the same random numbers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config import ScenarioError, scenario_from_dict
from sim.config.schema import Scenario
from sim.decision.inputfile import InputFile, KeyPath
from sim.decision.levers import get_key, set_key

_FILE_KEYS = ("parameters", "metrics", "levers", "method", "description")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,59}")


@dataclass(frozen=True)
class Parameter:
    """One uncertain assumption: a scenario key and its range."""

    name: str
    path: str
    low: float
    high: float
    integer: bool


@dataclass(frozen=True)
class Change:
    """One change a lever makes: set, add to or multiply a scenario key."""

    path: str
    op: str  # "set", "add" or "multiply"
    amount: Any

    def apply(self, data: dict[str, Any]) -> None:
        """Apply to a scenario's data (after the sampled parameters)."""
        if self.op == "set":
            set_key(data, self.path, self.amount)
            return
        current = get_key(data, self.path)
        value = current + self.amount if self.op == "add" else current * self.amount
        set_key(data, self.path, round(value) if isinstance(current, int) else value)


@dataclass
class UncertainSpec:
    """A parsed uncertain-parameters file."""

    parameters: tuple[Parameter, ...]
    metrics: tuple[str, ...]
    levers: dict[str, tuple[Change, ...]]
    method: str | None
    source: str
    base_data: dict[str, Any]

    def scenario_at(self, values: Mapping[str, float], lever: str | None = None) -> Scenario:
        """The scenario with the parameters at ``values`` (and a lever's changes)."""
        data = copy.deepcopy(self.base_data)
        for p in self.parameters:
            v = values[p.name]
            set_key(data, p.path, round(float(v)) if p.integer else float(v))
        for change in self.levers.get(lever, ()) if lever else ():
            change.apply(data)
        return scenario_from_dict(data, source=f"{self.source}: sample")


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def load_uncertain(path: Path, scenario: Scenario, known_metrics: Mapping[str, object]
                   ) -> UncertainSpec:
    """Read and check an uncertain-parameters file against its scenario."""
    file = InputFile(path, "parameters file")
    file.unknown_keys((), _FILE_KEYS)
    base = scenario.model_dump(mode="json")
    params: list[Parameter] = []
    raw = file.get(("parameters",))
    if not isinstance(raw, dict) or not raw:
        file.problem(("parameters",), "a parameters file needs 'parameters': name -> {path, range}",
                     show_value=False)
        file.raise_if_problems()
    assert isinstance(raw, dict)
    for name, entry in raw.items():
        at: KeyPath = ("parameters", name)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            file.problem(at, "a parameter name is a letter then letters, digits or '_'",
                         show_value=False)
            continue
        if not isinstance(entry, dict):
            file.problem(at, "a parameter is a mapping with 'path' and 'range'")
            continue
        file.unknown_keys(at, ("path", "range", "description"))
        key = entry.get("path")
        current = get_key(base, key) if isinstance(key, str) else None
        if not isinstance(key, str) or not _number(current):
            file.problem((*at, "path"), "not a numeric key of the scenario (give a dotted path to "
                         "a number, e.g. stages.lab_examination.hours_per_tb)")
            continue
        rng = entry.get("range")
        if (not isinstance(rng, list) or len(rng) != 2 or not all(_number(v) for v in rng)
                or not rng[0] < rng[1]):
            file.problem((*at, "range"), "give the range as [low, high] with low < high")
            continue
        p = Parameter(name, key, float(rng[0]), float(rng[1]), isinstance(current, int))
        for end in (p.low, p.high):
            data = copy.deepcopy(base)
            set_key(data, key, round(end) if p.integer else end)
            try:
                scenario_from_dict(data)
            except ScenarioError as exc:
                file.problem((*at, "range"), f"{end:g} gives an invalid scenario: "
                             f"{exc.problems[0].key_path}: {exc.problems[0].message}")
                break
        else:
            params.append(p)
    metrics = file.get(("metrics",))
    if metrics is None:
        metrics = ["backlog_devices_end"]
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        file.problem(("metrics",), "give a list of metric names")
        metrics = []
    for i, m in enumerate(metrics):
        if m not in known_metrics:
            file.problem(("metrics", i), "unknown metric (fbsim sensitivity --help lists them)")
    levers: dict[str, tuple[Change, ...]] = {}
    raw_levers = file.get(("levers",)) or {}
    if not isinstance(raw_levers, dict):
        file.problem(("levers",), "levers map a name to {dotted key: change}")
        raw_levers = {}
    for name, changes in raw_levers.items():
        at = ("levers", name)
        if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(changes, dict):
            file.problem(at, "a lever is a name mapped to {dotted scenario key: change}",
                         show_value=False)
            continue
        out: list[Change] = []
        for key, change in changes.items():
            where = (*at, key)
            current = get_key(base, str(key))
            if isinstance(change, dict):
                if len(change) != 1 or next(iter(change)) not in ("add", "multiply") or not _number(
                        next(iter(change.values()))):
                    file.problem(where, "a change is a value, {add: number} or {multiply: number}")
                    continue
                if not _number(current):
                    file.problem(where, "add and multiply need a numeric key of the scenario")
                    continue
                op, amount = next(iter(change.items()))
                out.append(Change(str(key), op, amount))
            else:
                out.append(Change(str(key), "set", change))
        if out:
            data = copy.deepcopy(base)
            for c in out:
                c.apply(data)
            try:
                scenario_from_dict(data)
            except ScenarioError as exc:
                file.problem(at, f"gives an invalid scenario: {exc.problems[0].key_path}: "
                             f"{exc.problems[0].message}", show_value=False)
                continue
            levers[name] = tuple(out)
    method = file.get(("method",))
    if method is not None and method not in ("morris", "sobol"):
        file.problem(("method",), "method is morris or sobol")
    names = [p.name for p in params]
    clash = set(names) & set(levers)
    if clash:
        file.problem(("levers",), f"names used for both a parameter and a lever: {sorted(clash)}",
                     show_value=False)
    file.raise_if_problems()
    return UncertainSpec(tuple(params), tuple(metrics), levers, method, str(path), base)
