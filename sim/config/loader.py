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
import os
import re
import stat
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from sim.config.distspec import DISTRIBUTION_FAMILIES
from sim.config.errors import (
    Path,
    Problem,
    ScenarioError,
    dotted,
    is_block_at,
    problems_from_validation,
)
from sim.config.limits import (
    MAX_BACKLOG_CSV_BYTES,
    MAX_EXTENDS_DEPTH,
    MAX_SCENARIO_FILE_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
)
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


class _LimitError(Exception):
    """A file or document over one of the limits of :mod:`sim.config.limits`."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_node_tree(root: yaml.Node) -> None:
    """Refuse a node tree that is too big once aliases are expanded, too deep, or cyclic.

    An alias is the same node object reached twice, so each node's expanded size and
    height are computed once (memoised), without expanding anything: a "billion laughs"
    document of nine levels of nine aliases is refused in microseconds.

    Raises
    ------
    _LimitError
        With a message naming the limit.
    """
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if not finished:
            if key in sizes:
                continue
            if key in on_path:
                raise _LimitError("a YAML alias refers to a mapping or list that holds it (a "
                                  "structure without end)")
            on_path.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        on_path.discard(key)
        sizes[key] = 1 + sum(sizes[id(c)] for c in children)
        heights[key] = 1 + max((heights[id(c)] for c in children), default=0)
        if sizes[key] > MAX_YAML_NODES:
            raise _LimitError(f"more than {MAX_YAML_NODES:,} values once YAML aliases (*name) "
                              f"are expanded; a scenario needs a few thousand")
        if heights[key] > MAX_YAML_DEPTH:
            raise _LimitError(f"mappings and lists nested more than {MAX_YAML_DEPTH} deep")


def _parse(text: str, loader_class: Any) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree (for line numbers) of ``text``, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check_node_tree(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def read_text_limited(path: FsPath, limit: int) -> str:
    """The UTF-8 text of the regular file ``path``, refused if it is over ``limit`` bytes.

    A device (``/dev/zero``), a pipe or a folder is refused before anything is read;
    a message never quotes the file.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    _LimitError
        Otherwise, with the reason.
    """
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise _LimitError("is a folder, not a file") from None
    except OSError as exc:
        raise _LimitError(f"cannot read file: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(info.st_mode):
        problem = "is a folder, not a file"
    elif not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file (a device, pipe or socket); give a file"
    elif info.st_size > limit:
        problem = f"is {info.st_size:,} bytes; at most {limit:,} are read"
    if problem is not None:
        os.close(fd)
        raise _LimitError(problem)
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise _LimitError(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise _LimitError(f"is over {limit:,} bytes; at most {limit:,} are read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _LimitError(f"is not UTF-8 text (byte {exc.start:,} cannot be decoded)") from None


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


def _read_yaml(path: FsPath, referrer: tuple[str, int | None, Path] | None
               ) -> tuple[Any, LineMap]:
    """Read and parse one scenario file; ``referrer`` is where ``extends:`` named it."""

    def fail(message: str, subject: str = "the file ") -> ScenarioError:
        if referrer is not None:  # reported at the extends: key, naming the file
            file, at_line, key = referrer
            return ScenarioError([Problem(file, at_line, dotted(key), str(path), message)])
        return ScenarioError([Problem(str(path), None, "", "", subject + message)])

    try:
        text = read_text_limited(path, MAX_SCENARIO_FILE_BYTES)
    except FileNotFoundError:
        raise fail("file not found", subject="") from None
    except _LimitError as exc:
        raise fail(str(exc)) from None
    try:
        try:
            data, node = _parse(text, _FastLoader)
        except yaml.YAMLError as fast_error:
            if "maximum nesting depth" in str(fast_error):
                raise  # libyaml's own limit: PyYAML's parser would only recurse its way there
            try:
                _parse(text, _Loader)  # raises again, with PyYAML's wording
                raise  # pragma: no cover - both parsers refuse the same documents
            except (RecursionError, _LimitError):
                raise fast_error from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([Problem(str(path), line, "", "", f"not valid YAML: {problem}")]) from None
    except _LimitError as exc:
        raise ScenarioError([Problem(str(path), None, "", "", f"refused: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(str(path), None, "", "", "refused: mappings and lists nested "
                                     "too deep")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([Problem(str(path), 1, "", _type_name(data),
                                     "a scenario must be a YAML mapping of keys to values")])
    if referrer is not None and data and not _SCENARIO_KEYS.intersection(data):
        # extends: reached some other YAML file (a configuration, credentials): its keys
        # are not repeated. (A file named on the command line gets its unknown keys listed.)
        raise fail(f"is not a scenario file: none of its {len(data)} top-level key(s) is a "
                   f"scenario key ({', '.join(sorted(_SCENARIO_KEYS))})")
    return data, _line_map(node, str(path))


#: Keys a scenario file may have at the top level.
_SCENARIO_KEYS = frozenset({*Scenario.model_fields, "extends"})


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


#: File name endings ``extends:`` accepts.
YAML_SUFFIXES = (".yaml", ".yml")


def _resolve(path: FsPath, chain: tuple[FsPath, ...],
             referrer: tuple[str, int | None, Path] | None) -> tuple[dict[str, Any], LineMap]:
    path = path.resolve()
    if path in chain:
        names = " -> ".join(p.name for p in (*chain, path))
        raise ScenarioError([Problem(str(chain[-1]), None, "extends", str(path),
                                     f"circular extends: {names}")])
    data, lines = _read_yaml(path, referrer)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    line = lines.get(("extends",), ("", None))[1]

    def fail(value: str, message: str) -> ScenarioError:
        return ScenarioError([Problem(str(path), line, "extends", value, message)])

    if not isinstance(parent, str) or not parent:
        raise fail(repr(parent), "extends takes one file name (a string)")
    if not parent.lower().endswith(YAML_SUFFIXES):
        raise fail(parent, "extends names a scenario file, ending in .yaml or .yml")
    if len(chain) + 1 >= MAX_EXTENDS_DEPTH:
        raise fail(parent, f"more than {MAX_EXTENDS_DEPTH} files in one extends chain")
    base, base_lines = _resolve(path.parent / parent, (*chain, path),
                                (str(path), line, ("extends",)))
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

    if not csv_path.name.lower().endswith(".csv"):
        raise fail("a backlog CSV file's name ends in .csv")
    try:
        text = read_text_limited(csv_path, MAX_BACKLOG_CSV_BYTES)
    except FileNotFoundError:
        raise fail("backlog CSV file not found") from None
    except _LimitError as exc:
        raise fail(f"backlog CSV {exc}") from None
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise fail(f"not a valid CSV file: {exc}") from None
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
        if count == 0:
            continue  # a row of nothing (which also has no share of any risk level)
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

    A key is a dotted path of mapping keys and list indices
    (``staff.examiners.tiers.0.share``); setting a key inside a block the scenario
    does not have (``stages.device_triage.kiosk.pool`` without a kiosk) creates the
    block. ``None`` as a value removes the key, so its default applies.

    Raises
    ------
    ScenarioError
        Naming the dotted key, for a path that cannot be followed (an empty part, a
        key below a number, a list index out of range) and for every value the
        scenario refuses.

    Examples
    --------
    >>> with_overrides(s, {"staff.examiners.headcount": 80})  # doctest: +SKIP
    """
    source = f"{scenario.name} (with overrides)"
    if not isinstance(overrides, Mapping):
        raise ScenarioError([Problem(source, None, "", _type_name(overrides),
                                     "overrides are a mapping of dotted keys to values")])
    data = scenario.model_dump(mode="json")
    problems: list[Problem] = []
    for dotted_key, value in overrides.items():
        problem = _set_dotted(data, dotted_key, value)
        if problem is not None:
            problems.append(Problem(source, None, str(dotted_key), _short_repr(value), problem))
            continue
        # Setting one of two alternative keys drops the other, unless it is set too.
        other = _ALTERNATIVE_KEYS.get(dotted_key)
        if other is not None and value is not None and other not in overrides:
            _set_dotted(data, other, None)
    if problems:
        raise ScenarioError(problems)
    return scenario_from_dict(data, source=source)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _set_dotted(data: dict[str, Any], dotted_key: object, value: Any) -> str | None:
    """Set ``data`` at ``dotted_key`` (None removes the key); what is wrong, or None."""
    if not isinstance(dotted_key, str) or not dotted_key:
        return "an override key is a non-empty dotted string, e.g. 'staff.examiners.headcount'"
    parts = dotted_key.split(".")
    if not all(parts):
        return "a dotted key has an empty part (two dots in a row, or a dot at an end)"
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "(top level)"
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit():
                return f"{here} is a list; '{part}' is not an index (0, 1, ...)"
            index = int(part)
            if index >= len(node):
                return f"{here} has {len(node)} item(s); there is no index {index}"
            if last:
                if value is None:
                    return "a list item cannot be removed; give the whole list instead"
                node[index] = value
                return None
            node = node[index]
        elif isinstance(node, dict):
            if last:
                if value is None:
                    node.pop(part, None)
                else:
                    node[part] = value
                return None
            if part not in node:
                node[part] = {}  # a new key (a pool, a programme): the schema checks it
            elif node[part] is None:
                if not is_block_at(Scenario, tuple(parts[:depth + 1])):
                    return (f"{'.'.join(parts[:depth + 1])} is not set and holds a single value, "
                            f"not a block of keys; '{parts[depth + 1]}' cannot be set inside it")
                node[part] = {}  # an unset optional block (a kiosk route, outsourcing): made here
            node = node[part]
        else:
            return (f"{here} is a value ({_short_repr(node)}), not a block of keys; "
                    f"'{part}' cannot be set inside it")
    return None  # pragma: no cover - the loop returns at the last part


#: Keys of which a scenario gives exactly one (``run.horizon_days`` or ``_years``).
_ALTERNATIVE_KEYS = {"run.horizon_days": "run.horizon_years",
                     "run.horizon_years": "run.horizon_days"}


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: equal hashes mean equal inputs."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
