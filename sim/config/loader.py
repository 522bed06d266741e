"""Load scenarios from YAML: ``extends:`` chains, CSV backlogs, line numbers.

The public entry points are :func:`load_scenario` (a file), :func:`scenario_from_dict`
(data already in memory, e.g. from a notebook) and :func:`with_overrides` (a copy with
some keys changed, for sweeps and tests). Each returns a frozen
:class:`~sim.config.schema.Scenario` or raises :class:`~sim.config.errors.ScenarioError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from sim.config.distspec import DISTRIBUTION_FAMILIES
from sim.config.errors import Path, Problem, ScenarioError, dotted, problems_from_validation
from sim.config.schema import RISK_LEVELS, Scenario

LineMap = dict[Path, tuple[str, int]]


class _Loader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """:class:`_Loader` on libyaml's parser where PyYAML has it (the usual wheels do).

    The same documents and line numbers, several times faster. Its error messages are
    terser (a tab is "found character that cannot start any token"), so a file that
    fails to parse is parsed again by :class:`_Loader` for the message.
    """


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_FastLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse(text: str, loader_class: Any) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree (for line numbers) of ``text``, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def _line_map(node: yaml.Node | None, file: str, path: Path = ()) -> LineMap:
    out: LineMap = {}
    if node is None:
        return out
    out[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out.update(_line_map(value_node, file, child))
            out[child] = (file, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_line_map(item, file, (*path, i)))
    return out


def _read_yaml(path: FsPath, referrer: tuple[str, Path] | None) -> tuple[Any, LineMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where, key = referrer if referrer else (str(path), ())
        raise ScenarioError([Problem(where, None, dotted(key), str(path),
                                     "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(str(path), None, "", "", f"cannot read file: {exc}")]) from None
    try:
        try:
            data, node = _parse(text, _FastLoader)
        except yaml.YAMLError:
            data, node = _parse(text, _Loader)  # raises again, with PyYAML's wording
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([Problem(str(path), line, "", "", f"not valid YAML: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([Problem(str(path), 1, "", _type_name(data),
                                     "a scenario must be a YAML mapping of keys to values")])
    return data, _line_map(node, str(path))


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_distribution(value: Any) -> bool:
    """A one-key mapping from a distribution family to its parameters."""
    return (isinstance(value, dict) and len(value) == 1
            and next(iter(value)) in DISTRIBUTION_FAMILIES
            and isinstance(next(iter(value.values())), dict))


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge mappings; anything else in ``override`` replaces ``base``.

    A distribution in ``override`` replaces the base's whole, so a scenario can change
    a family or a unit suffix (merging key by key would mix two parameter sets).
    """
    if isinstance(base, dict) and isinstance(override, dict) and not _is_distribution(override):
        out = dict(base)
        for key, value in override.items():
            if value is None:
                out.pop(key, None)  # null removes an inherited key: its default applies
            else:
                out[key] = _merge(base[key], value) if key in base else value
        return out
    return override


def _resolve(path: FsPath, chain: tuple[FsPath, ...], referrer: tuple[str, Path] | None
             ) -> tuple[dict[str, Any], LineMap]:
    path = path.resolve()
    if path in chain:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError([Problem(str(chain[-1]), None, "extends", str(path),
                                     f"circular extends: {names}")])
    data, lines = _read_yaml(path, referrer)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    if not isinstance(parent, str):
        raise ScenarioError([Problem(str(path), lines.get(("extends",), ("", None))[1], "extends",
                                     repr(parent), "extends takes one file name (a string)")])
    base, base_lines = _resolve(path.parent / parent, (*chain, path), (str(path), ("extends",)))
    merged_lines = dict(base_lines)
    merged_lines.update(lines)
    return _merge(base, data), merged_lines


def _backlog_from_csv(data: dict[str, Any], base_dir: FsPath, lines: LineMap) -> None:
    """Replace ``initial_backlog.csv`` by inline blocks with empirical ages.

    CSV columns: ``stage``, ``age_days``, optional ``risk_level`` and ``count``.
    """
    backlog = data.get("initial_backlog")
    if not isinstance(backlog, dict) or "csv" not in backlog:
        return
    if backlog["csv"] is None:  # as a resolved scenario (results' scenario.yaml) writes it
        del backlog["csv"]
        return
    key = ("initial_backlog", "csv")
    file, line = lines.get(key, ("<scenario>", 0))
    # Relative to the file that wrote ``csv:`` (a base file, when inherited).
    origin_dir = FsPath(file).resolve().parent if key in lines else base_dir
    csv_path = origin_dir / str(backlog["csv"])

    def fail(msg: str, value: str = "") -> ScenarioError:
        return ScenarioError([Problem(file, line or None, dotted(key), value or str(csv_path), msg)])

    try:
        rows = list(csv.DictReader(csv_path.read_text(encoding="utf-8").splitlines()))
    except FileNotFoundError:
        raise fail("backlog CSV file not found") from None
    except OSError as exc:
        raise fail(f"cannot read backlog CSV: {exc}") from None
    ages: dict[str, Counter[float]] = defaultdict(Counter)
    risks: dict[str, Counter[str]] = defaultdict(Counter)
    for number, row in enumerate(rows, start=2):
        if not row.get("stage") or row.get("age_days") in (None, ""):
            raise fail(f"row {number}: needs columns stage and age_days (optional risk_level, count)")
        try:
            age = float(row["age_days"])
            count = int(row.get("count") or 1)
        except ValueError:
            raise fail(f"row {number}: age_days must be a number and count a whole number",
                       f"{row}") from None
        if age < 0 or count < 0:
            raise fail(f"row {number}: age_days and count must be >= 0", str(row))
        risk = row.get("risk_level") or ""
        if risk and risk not in RISK_LEVELS:
            raise fail(f"row {number}: risk_level must be one of {', '.join(RISK_LEVELS)}", risk)
        ages[row["stage"]][age] += count
        if risk:
            risks[row["stage"]][risk] += count
    blocks = {k: v for k, v in backlog.items() if k != "csv" and v is not None}
    for stage, counter in ages.items():
        if stage in blocks:
            raise fail(f"stage '{stage}' is given both inline and in the CSV")
        values = sorted(counter)
        total = sum(counter.values())
        block: dict[str, Any] = {
            "count": total,
            "age_days": {"empirical": {"values": values, "weights": [counter[v] for v in values]}},
        }
        if risks[stage]:
            n = sum(risks[stage].values())
            if n != total:
                raise fail(f"stage '{stage}': give risk_level on every row or on none")
            block["risk_mix"] = {r: risks[stage][r] / n for r in RISK_LEVELS}
        blocks[stage] = block
    data["initial_backlog"] = blocks


def _validate(data: dict[str, Any], lines: LineMap, default_file: str) -> Scenario:
    def locate(path: Path) -> tuple[str, int | None]:
        for cut in range(len(path), -1, -1):
            if path[:cut] in lines:
                file, line = lines[path[:cut]]
                return file, line
        return default_file, None

    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(problems_from_validation(exc, Scenario, data, locate)) from None


def load_scenario(path: str | FsPath) -> Scenario:
    """Load and validate a scenario file, following ``extends:``.

    Parameters
    ----------
    path : str or pathlib.Path
        The YAML file.

    Returns
    -------
    Scenario
        The frozen scenario.

    Raises
    ------
    ScenarioError
        With one problem per mistake (file, line, key path, value, expectation).
    """
    file = FsPath(path)
    data, lines = _resolve(file, (), None)
    if "name" not in data:
        data["name"] = safe_name(file.stem)
    _backlog_from_csv(data, file.resolve().parent, lines)
    return _validate(data, lines, str(file))


def safe_name(stem: str) -> str:
    """A scenario name made from a file name: characters a folder name may not have become '-'."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:120].replace("..", "-")
    return name or "scenario"


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a scenario given as a mapping (no ``extends:`` or CSV)."""
    return _validate(dict(data), {}, source)


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A copy of ``scenario`` with dotted keys replaced, validated again.

    Examples
    --------
    >>> with_overrides(s, {"staff.examiners.headcount": 80})  # doctest: +SKIP
    """
    data = scenario.model_dump(mode="json")
    for dotted_key, value in overrides.items():
        node = data
        *parents, last = dotted_key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        # Setting one of two alternative keys drops the other, unless it is set too.
        other = _ALTERNATIVE_KEYS.get(dotted_key)
        if other is not None and value is not None and other not in overrides:
            node.pop(other.rsplit(".", 1)[-1], None)
    return scenario_from_dict(data, source=f"{scenario.name} (with overrides)")


#: Keys of which a scenario gives exactly one (``run.horizon_days`` or ``_years``).
_ALTERNATIVE_KEYS = {"run.horizon_days": "run.horizon_years",
                     "run.horizon_years": "run.horizon_days"}


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: equal hashes mean equal inputs."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
