"""The levers file: decision variables, their settings and what each costs.

A levers file lists the decisions a plan is made of, each a dotted scenario key with
the settings to try::

    levers:
      examiners:                             # a name for the tables
        path: staff.examiners.headcount
        values: {min: 43, max: 55, step: 2}  # or a list: [43, 46, 50]
      tools_course:
        path: training.examiner_tools.cohorts
        values: [0, 3, 6, 9]                 # 0: the course is not run
      automation:
        path: automation
        values: [off, on]
        cost_gbp: 400000                     # the scenario has no cost key for automation
    define:                                  # blocks the levers need that the scenario lacks
      training.examiner_tools: {pool: examiners, cohort_size: 5, ...}

Every lever must cost something, and the cost comes from the scenario's own cost key
(:data:`LEVER_KINDS`); a lever whose cost key is missing or zero is refused, never
treated as free. Only a switch on a block the scenario cannot price (automation) takes
its cost from the levers file, as ``cost_gbp`` over the run's reporting window.

The file is checked like a scenario: every problem is reported at once with the file,
line, key path, value and what was expected (:class:`~sim.decision.inputfile.InputFileError`).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config import ScenarioError, scenario_from_dict
from sim.config.schema import Scenario
from sim.decision.inputfile import InputFile, KeyPath

#: Plans are tuples of indices into each lever's values.
Plan = tuple[int, ...]

#: The decision variables fbsim can cost: path pattern -> (kind, cost key, what 0 means).
LEVER_KINDS: dict[str, tuple[str, str, str]] = {
    r"staff\.(?P<pool>[^.]+)\.headcount": (
        "headcount", "staff.{pool}.workforce.cost_per_fte_year_gbp", ""),
    r"training\.(?P<prog>[^.]+)\.(?P<key>cohorts|cohort_size)": (
        "training", "training.{prog}.cost_per_place_gbp", "the programme is not run"),
    r"outsourcing\.capacity_devices": (
        "outsourcing", "outsourcing.cost_per_device_gbp", "no outsourcing contract"),
    r"training\.(?P<prog>[^.]+)": ("switch", "training.{prog}.cost_per_place_gbp", ""),
    r"outsourcing": ("switch", "outsourcing.cost_per_device_gbp", ""),
    r"automation": ("switch", "", ""),
}
_FILE_KEYS = ("levers", "define", "description")
_LEVER_KEYS = ("path", "values", "cost_gbp", "description")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,59}")
MAX_VALUES = 1000


def get_key(data: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key of a scenario's data, or None."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted key of a scenario's data (None removes it), making parents as needed."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


@dataclass(frozen=True)
class Lever:
    """One decision variable.

    Attributes
    ----------
    name : str
        Its name in tables and reports.
    path : str
        Dotted scenario key.
    kind : str
        ``headcount``, ``training``, ``outsourcing`` or ``switch``.
    values : tuple
        Settings to try, cheapest first (numbers ascending; a switch ``(False, True)``).
    cost_key : str
        The scenario key its unit cost comes from (``""`` for a cost from the file).
    unit_cost_gbp : float
        That key's value, or ``cost_gbp`` from the file.
    fixed_cost_gbp : float
        Added to every replication's cost when a switch is on and the scenario cannot
        price it (``cost_gbp``); 0 otherwise.
    """

    name: str
    path: str
    kind: str
    values: tuple[Any, ...]
    cost_key: str
    unit_cost_gbp: float
    fixed_cost_gbp: float

    def apply(self, data: dict[str, Any], value: Any) -> None:
        """Set this lever to ``value`` in a scenario's data (0 or off removes its block)."""
        if self.kind == "switch":
            if not value:
                set_key(data, self.path, None)
            return
        if value == 0 and self.kind in ("training", "outsourcing"):
            set_key(data, self.path.rsplit(".", 1)[0], None)
            return
        set_key(data, self.path, value)

    def describe(self, value: Any) -> str:
        """A setting in words, for reports."""
        if self.kind == "switch":
            return "on" if value else "off"
        return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class LeverSet:
    """The levers of a plan and the scenario they act on.

    Attributes
    ----------
    levers : tuple of Lever
        In file order.
    scenario : Scenario
        The scenario as given (the reference plan).
    base_data : dict
        The scenario's data with ``define`` blocks added: what plans are built from.
    reference : dict
        Each lever's setting in the scenario as given.
    source : str
        The levers file.
    """

    levers: tuple[Lever, ...]
    scenario: Scenario
    base_data: dict[str, Any]
    reference: dict[str, Any]
    source: str

    @property
    def names(self) -> list[str]:
        """Lever names."""
        return [lever.name for lever in self.levers]

    @property
    def size(self) -> int:
        """Plans in the whole space."""
        return math.prod(len(lever.values) for lever in self.levers)

    def plans(self) -> Iterator[Plan]:
        """Every plan, in lexicographic order of the levers."""
        return itertools.product(*(range(len(lever.values)) for lever in self.levers))

    def settings(self, plan: Plan) -> dict[str, Any]:
        """Lever name -> setting."""
        return {lever.name: lever.values[i] for lever, i in zip(self.levers, plan, strict=True)}

    def label(self, plan: Plan) -> str:
        """``examiners=45, automation=on``."""
        return ", ".join(f"{lever.name}={lever.describe(lever.values[i])}"
                         for lever, i in zip(self.levers, plan, strict=True))

    def reference_plan(self) -> Plan | None:
        """The scenario as given, if its settings are all among the levers' values."""
        out = []
        for lever in self.levers:
            value = self.reference[lever.name]
            if value not in lever.values:
                return None
            out.append(lever.values.index(value))
        return tuple(out)

    def scenario_for(self, plan: Plan) -> Scenario:
        """The scenario of a plan."""
        data = copy.deepcopy(self.base_data)
        for lever, i in zip(self.levers, plan, strict=True):
            lever.apply(data, lever.values[i])
        return scenario_from_dict(data, source=f"{self.source}: plan {self.label(plan)}")

    def fixed_cost_gbp(self, plan: Plan) -> float:
        """Costs the simulation cannot count (switches priced in the levers file)."""
        return sum(lever.fixed_cost_gbp for lever, i in zip(self.levers, plan, strict=True)
                   if lever.values[i])

    def window_years(self) -> float:
        """Length of the reporting window (after any warm-up), in years."""
        return self.scenario.run.horizon / 365.25

    def step_cost_gbp(self, lever: Lever) -> float | None:
        """Nominal cost of the smallest step of ``lever`` over the window (None if unknown).

        Head-count: the step in staff times the FTE-year cost times the window's years;
        training: the step in places times the cost per place; outsourcing capacity: the
        step in devices times the cost per device (the cost of filling it once); a switch
        priced in the file: its cost.
        """
        numbers = [v for v in lever.values if not isinstance(v, bool)]
        steps = [b - a for a, b in itertools.pairwise(numbers) if b > a]
        step = min(steps) if steps else None
        if lever.kind == "headcount" and step is not None:
            return step * lever.unit_cost_gbp * self.window_years()
        if lever.kind == "training" and step is not None:
            prog = lever.path.split(".")[1]
            block = self.base_data.get("training", {}).get(prog, {})
            other = block.get("cohort_size" if lever.path.endswith("cohorts") else "cohorts") or 1
            return step * other * lever.unit_cost_gbp
        if lever.kind == "outsourcing" and step is not None:
            return step * lever.unit_cost_gbp
        if lever.kind == "switch" and lever.fixed_cost_gbp > 0:
            return lever.fixed_cost_gbp
        return None

    def default_cost_tolerance_gbp(self) -> float:
        """Half the nominal cost of the cheapest lever step (see :meth:`step_cost_gbp`)."""
        costs = [c for lever in self.levers if (c := self.step_cost_gbp(lever))]
        return 0.5 * min(costs) if costs else 10_000.0


def _match(path: str) -> tuple[str, str, dict[str, str]] | None:
    for pattern, (kind, cost_key, _) in LEVER_KINDS.items():
        m = re.fullmatch(pattern, path)
        if m:
            return kind, cost_key.format(**m.groupdict()), m.groupdict()
    return None


def _values(file: InputFile, at: KeyPath, kind: str) -> tuple[Any, ...] | None:
    raw = file.get(at)
    if kind == "switch":
        if raw is None:
            return (False, True)
        if (not isinstance(raw, list) or not raw or not all(isinstance(v, bool) for v in raw)
                or len(set(raw)) != len(raw)):
            file.problem(at, "a switch takes values [off, on] (or just one of them)")
            return None
        return tuple(sorted(raw))
    if isinstance(raw, dict):
        file.unknown_keys(at, ("min", "max", "step"))
        lo, hi, step = raw.get("min"), raw.get("max"), raw.get("step", 1)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, step)):
            file.problem(at, "min, max and step must be whole numbers (step defaults to 1)")
            return None
        assert isinstance(lo, int) and isinstance(hi, int) and isinstance(step, int)
        if step < 1 or hi < lo:
            file.problem(at, "needs min <= max and step >= 1")
            return None
        values = list(range(lo, hi + 1, step))
    elif isinstance(raw, list) and raw:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
            file.problem(at, "values must be whole numbers")
            return None
        values = sorted(set(raw))
        if len(values) != len(raw):
            file.problem(at, "values must not repeat")
            return None
    else:
        file.problem(at, "give values as a list ([43, 46, 50]) or a range ({min: 43, max: 55, "
                         "step: 2})")
        return None
    if values[0] < 0:
        file.problem(at, "values must be >= 0")
        return None
    if len(values) > MAX_VALUES:
        file.problem(at, f"at most {MAX_VALUES} values per lever, got {len(values)}")
        return None
    return tuple(values)


def _scenario_problems(exc: ScenarioError) -> str:
    return "; ".join(f"{p.key_path}: {p.message}" for p in exc.problems[:3]) + (
        f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else "")


def load_levers(path: Path, scenario: Scenario) -> LeverSet:
    """Read and check a levers file against the scenario it will act on.

    Raises
    ------
    InputFileError
        With every problem found.
    """
    file = InputFile(path, "levers file")
    file.unknown_keys((), _FILE_KEYS)
    original = scenario.model_dump(mode="json")
    base = copy.deepcopy(original)
    define = file.get(("define",))
    if define is not None and not isinstance(define, dict):
        file.problem(("define",), "define maps dotted scenario keys to blocks")
        define = None
    for key, block in (define or {}).items():
        set_key(base, str(key), block)
    file.raise_if_problems()
    if define:
        try:
            scenario_from_dict(base, source=str(path))
        except ScenarioError as exc:
            file.problem(("define",), "the scenario with these blocks is not valid: "
                         + _scenario_problems(exc), show_value=False)
            file.raise_if_problems()
    raw = file.get(("levers",))
    if not isinstance(raw, dict) or not raw:
        file.problem(("levers",), "a levers file needs a 'levers' mapping: name -> {path, values}",
                     show_value=False)
        file.raise_if_problems()
    assert isinstance(raw, dict)
    levers: list[Lever] = []
    reference: dict[str, Any] = {}
    seen_paths: dict[str, str] = {}
    for name, entry in raw.items():
        at: KeyPath = ("levers", name)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            file.problem(at, "a lever name is a letter then letters, digits or '_' "
                             "(it becomes a table column)", show_value=False)
            continue
        if not isinstance(entry, dict):
            file.problem(at, "a lever is a mapping with 'path' and 'values'")
            continue
        file.unknown_keys(at, _LEVER_KEYS)
        lever_path = entry.get("path")
        if not isinstance(lever_path, str):
            file.problem((*at, "path"), "give the dotted scenario key this lever sets, e.g. "
                                        "staff.examiners.headcount")
            continue
        matched = _match(lever_path)
        if matched is None:
            file.problem((*at, "path"), "not a decision variable fbsim can cost; levers are "
                         "staff.<pool>.headcount, training.<programme>.cohorts or .cohort_size, "
                         "outsourcing.capacity_devices, or a switch: automation, outsourcing, "
                         "training.<programme>")
            continue
        kind, cost_key, groups = matched
        if lever_path in seen_paths:
            file.problem((*at, "path"), f"lever '{seen_paths[lever_path]}' already sets this key")
            continue
        seen_paths[lever_path] = name
        block_path = lever_path if kind == "switch" else (
            lever_path.rsplit(".", 1)[0] if kind in ("training", "outsourcing") else "")
        if kind == "headcount" and groups["pool"] not in base.get("staff", {}):
            file.problem((*at, "path"), f"no staff pool '{groups['pool']}' in the scenario; "
                         f"pools are: {', '.join(sorted(base.get('staff', {})))}")
            continue
        if block_path and get_key(base, block_path) is None:
            file.problem((*at, "path"), f"the scenario has no '{block_path}' block to set; add "
                         f"it to the scenario or under define: in this file")
            continue
        values = _values(file, (*at, "values"), kind)
        cost_gbp = entry.get("cost_gbp")
        unit = get_key(base, cost_key) if cost_key else None
        fixed = 0.0
        if cost_key:
            if cost_gbp is not None:
                file.problem((*at, "cost_gbp"), f"this lever is priced by the scenario's "
                             f"{cost_key}; cost_gbp is only for switches the scenario cannot price")
                continue
            if not isinstance(unit, int | float) or not unit > 0:
                file.problem((*at, "path"), f"this lever has no cost: {cost_key} is "
                             f"{'not set' if unit is None else unit} in the scenario; set it (with "
                             f"its source) - a lever without a cost is refused, never treated as "
                             f"free")
                continue
        else:
            if (not isinstance(cost_gbp, int | float) or isinstance(cost_gbp, bool)
                    or not cost_gbp > 0):
                file.problem((*at, "cost_gbp"), "the scenario has no cost key for this switch: "
                             "give cost_gbp > 0, its cost over the run's reporting window (say its "
                             "source in a comment) - a lever without a cost is refused")
                continue
            unit = fixed = float(cost_gbp)
        if values is None:
            continue
        levers.append(Lever(name, lever_path, kind, values, cost_key, float(unit), fixed))
        current = get_key(original, lever_path)
        if kind == "switch":
            reference[name] = current is not None
        elif current is None:
            reference[name] = 0 if block_path and get_key(original, block_path) is None else None
        else:
            reference[name] = current
    file.raise_if_problems()
    out = LeverSet(tuple(levers), scenario, base, reference, str(path))
    # Every setting of every lever must give a valid scenario (the others as given).
    for lever in levers:
        for i, value in enumerate(lever.values):
            if 0 < i < len(lever.values) - 1:
                continue  # the extremes, and 0/off, catch what a setting can break
            data = copy.deepcopy(base)
            lever.apply(data, value)
            try:
                scenario_from_dict(data, source=str(path))
            except ScenarioError as exc:
                file.problem(("levers", lever.name, "values"), f"setting {lever.describe(value)} "
                             f"gives an invalid scenario: {_scenario_problems(exc)}",
                             show_value=False)
                break
    file.raise_if_problems()
    return out
