"""The scenario reference (``docs/scenario-reference.md``), generated from the schema.

Every key of every model of the scenario schema gets a row: its type, default and valid
range are read from the pydantic models (:mod:`sim.config.schema`,
:mod:`sim.config.workforce`); its unit and meaning come from
``sim/data/scenario_reference.yaml``, which also holds the prose between the tables. A
key the schema has and the text file does not describe is an error
(:func:`undescribed_keys`), so a new scenario key cannot ship without its meaning; the
test suite checks that the committed document is what this module generates
(``fbsim reference --check``; regenerate with ``fbsim reference --out
docs/scenario-reference.md``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import types
import typing
from importlib import resources
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.config import schema, workforce
from sim.config.distspec import Count, Duration, Quantity

#: The command that regenerates the committed document.
REGENERATE = "fbsim reference --out docs/scenario-reference.md"

_DIST_TYPES = ((Duration, "[duration distribution](#continuous-families)"),
               (Quantity, "[quantity distribution](#continuous-families)"),
               (Count, "[count distribution](#count-families)"))
#: Where the models live: the schema and the modules it is built from (the ones present).
_MODULES = tuple(m for m in (schema, workforce, *(
    importlib.import_module(f"sim.config.{name}") for name in ("common", "staff", "stages")
    if importlib.util.find_spec(f"sim.config.{name}") is not None)))


def _text() -> dict[str, Any]:
    data = resources.files("sim").joinpath("data/scenario_reference.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(data)
    return loaded


def _model(name: str) -> type[BaseModel]:
    for module in _MODULES:
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    raise KeyError(f"no schema model named {name!r}")


def _hints(model: type[BaseModel]) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for module in _MODULES:
        namespace.update(vars(module))
    return typing.get_type_hints(model, globalns=namespace, include_extras=True)


def _strip_none(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if (typing.get_origin(hint) in (typing.Union, types.UnionType)
            and type(None) in args):
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return hint, False


def _is_dist(hint: Any) -> str | None:
    for alias, text in _DIST_TYPES:
        if hint == alias:
            return text
    return None


def type_text(hint: Any) -> str:
    """A field's type in words (with links to the reference's sections)."""
    hint, optional = _strip_none(hint)
    text = _type_words(hint)
    return f"{text} \\| null" if optional else text


def _type_words(hint: Any) -> str:
    dist = _is_dist(hint)
    if dist is not None:
        return dist
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _type_words(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_words(args[0])}"
    if origin is dict:
        return f"mapping name → {_type_words(args[1])}"
    if isinstance(hint, type) and issubclass(hint, schema.PerRisk):
        inner = _hints(hint)["very_high"]
        return f"[per risk](#per-risk-mappings) of {_type_words(inner)}"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return "mapping"
    return {bool: "bool", int: "int", float: "float", str: "string",
            dt.date: "date `YYYY-MM-DD`"}.get(hint, getattr(hint, "__name__", str(hint)))


def _constraints(hint: Any, info: FieldInfo) -> dict[str, float]:
    found: dict[str, float] = {}

    def collect(items: list[Any]) -> None:
        for item in items:
            for name in ("ge", "gt", "le", "lt"):
                value = getattr(item, name, None)
                if isinstance(item, (annotated_types.Ge, annotated_types.Gt, annotated_types.Le,
                                     annotated_types.Lt)) and value is not None:
                    found[name] = value
            if isinstance(item, FieldInfo):
                collect(list(item.metadata))

    collect(list(info.metadata))
    inner, _ = _strip_none(hint)
    stack = [inner]
    while stack:
        h = stack.pop()
        if typing.get_origin(h) is typing.Annotated:
            collect(list(typing.get_args(h)[1:]))
            stack.append(typing.get_args(h)[0])
    return found


def _num(x: float) -> str:
    if isinstance(x, int) or (float(x).is_integer() and abs(x) >= 1000):
        return f"{int(x):,}"
    return f"{x:g}"


def range_text(hint: Any, info: FieldInfo) -> str:
    """A field's valid range from its constraints (``—`` when it has none)."""
    c = _constraints(hint, info)
    low = ("[", c["ge"]) if "ge" in c else ("(", c["gt"]) if "gt" in c else None
    high = ("]", c["le"]) if "le" in c else (")", c["lt"]) if "lt" in c else None
    if low and high:
        if low[0] == "[" and high[0] == "]" and isinstance(low[1], int) and isinstance(
                high[1], int):
            return f"{_num(low[1])} – {_num(high[1])}"
        return f"{low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
    if low:
        return f"{'≥' if low[0] == '[' else '>'} {_num(low[1])}"
    if high:
        return f"{'≤' if high[0] == ']' else '<'} {_num(high[1])}"
    return "—"


def _yaml_value(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def default_text(info: FieldInfo) -> str:
    """A field's default (``required`` when it has none)."""
    if info.default_factory is not None:
        return f"`{_yaml_value(info.default_factory())}`"  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return "required"
    return f"`{_yaml_value(info.default)}`"


def _fields(section: dict[str, Any]) -> list[tuple[str, Any, FieldInfo]]:
    """(key, hint, field) rows of a section's model, flattened where the text asks."""
    model = _model(section["model"])
    hints = _hints(model)
    own = model.model_fields
    if section.get("own_fields_only"):
        base = _model(section["own_fields_only"]).model_fields
        own = {k: v for k, v in own.items() if k not in base}
    rows: list[tuple[str, Any, FieldInfo]] = []
    flatten = section.get("flatten", {})
    for key, info in own.items():
        if key in flatten:
            inner = _model(flatten[key])
            inner_hints = _hints(inner)
            rows.extend((f"{key}.{k}", inner_hints[k], i) for k, i in inner.model_fields.items())
        else:
            rows.append((key, hints[key], info))
    return rows


def undescribed_keys() -> list[str]:
    """Schema keys the reference text does not describe (must be empty)."""
    missing = []
    for section in _text()["sections"]:
        if "model" not in section:
            continue
        described = section.get("keys", {})
        for key, _, _ in _fields(section):
            if key not in described or not described[key].get("meaning"):
                missing.append(f"{section['heading'].strip('#: ')}: {key}")
    return missing


def models_without_section() -> list[str]:
    """Models reachable from :class:`~sim.config.schema.Scenario` that no section shows."""
    shown = {s["model"] for s in _text()["sections"] if "model" in s}
    flattened = {m for s in _text()["sections"] for m in s.get("flatten", {}).values()}
    seen: set[str] = set()
    missing: list[str] = []
    stack: list[Any] = [schema.Scenario]
    while stack:
        hint = stack.pop()
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            if hint.__name__ in seen:
                continue
            seen.add(hint.__name__)
            if (not issubclass(hint, schema.PerRisk) and hint.__name__ not in shown | flattened
                    and hint.__name__ != "Stages"):
                missing.append(hint.__name__)
            if not issubclass(hint, schema.PerRisk):
                stack.extend(_hints(hint).values())
            continue
        stack.extend(typing.get_args(hint))
    return sorted(missing)


def described_but_gone() -> list[str]:
    """Keys the reference text describes that the schema no longer has (besides extras)."""
    gone = []
    for section in _text()["sections"]:
        if "model" not in section:
            continue
        present = {key for key, _, _ in _fields(section)}
        for key, entry in section.get("keys", {}).items():
            if key not in present and not entry.get("not_in_schema"):
                gone.append(f"{section['heading'].strip('#: ')}: {key}")
    return gone


def _cell(text: str) -> str:
    return text.replace("\n", " ").strip()


def scenario_reference() -> str:
    """The whole scenario reference as Markdown."""
    data = _text()
    out = [data["intro"].rstrip(), ""]
    for section in data["sections"]:
        out += [section["heading"], ""]
        if section.get("before"):
            out += [section["before"].rstrip(), ""]
        if "model" in section:
            keys = section.get("keys", {})
            out += ["| key | type | unit | default | valid range | meaning |",
                    "|---|---|---|---|---|---|"]
            if section.get("common"):
                out.append(f"| *common keys* | | | | | {_cell(section['common'])} |")
            rows = [(k, type_text(h), default_text(i), range_text(h, i)) for k, h, i in
                    _fields(section)]
            extras = [(k, e.get("type", "—"), "—", "—") for k, e in keys.items()
                      if e.get("not_in_schema")]
            for key, typ, default, rng in extras + rows:
                entry = keys.get(key, {})
                if entry.get("range_note"):
                    rng = f"{rng}; {entry['range_note']}"
                out.append(
                    f"| `{key}` | {_cell(entry.get('type', typ))} | {_cell(entry.get('unit', ''))} "
                    f"| {_cell(entry.get('default', default))} | {_cell(entry.get('range', rng))} "
                    f"| {_cell(entry.get('meaning', '**undescribed**'))} |")
            out.append("")
        if section.get("after"):
            out += [section["after"].rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"
