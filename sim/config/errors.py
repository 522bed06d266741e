"""Readable scenario errors: file, line, key path, value, what was expected.

A :class:`ScenarioError` carries one :class:`Problem` per mistake, so a planner sees
every mistake in a file at once, and the command line can print them without a
traceback.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake in a scenario.

    Attributes
    ----------
    file : str
        The file that holds the offending key (a base file for inherited keys).
    line : int or None
        1-based line of the key in that file, when known.
    key_path : str
        Dotted path of the key, e.g. ``stages.lab_examination.pool``.
    value : str
        The value found there, shortened, or ``""``.
    message : str
        What was expected.
    """

    file: str
    line: int | None
    key_path: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        value = f" (value: {self.value})" if self.value else ""
        path = self.key_path or "(top level)"
        return f"{where}: {path}{value}: {self.message}"


class ScenarioError(Exception):
    """A scenario that cannot be used, with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def dotted(path: Path) -> str:
    """``('stages', 'lab', 'tiers', 0)`` -> ``'stages.lab.tiers[0]'``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lookup(data: Any, path: Path) -> tuple[bool, Any]:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, data


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from an annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _type_at(model: type[BaseModel], path: Path) -> Any:
    """The annotation at ``path`` below ``model`` (Optional and Annotated removed), or None."""
    tp: Any = model
    for part in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    return _unwrap(tp)


def valid_keys_at(model: type[BaseModel], path: Path) -> list[str]:
    """Field names accepted at ``path`` below ``model`` (empty if not a model there)."""
    tp = _type_at(model, path)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def is_block_at(model: type[BaseModel], path: Path) -> bool:
    """True when ``path`` below ``model`` holds a block of keys (a model or a mapping)."""
    tp = _type_at(model, path)
    return (isinstance(tp, type) and issubclass(tp, BaseModel)) or typing.get_origin(tp) is dict


_PATH_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.*)$", re.S)


def _parse_path(text: str) -> Path:
    parts: list[str | int] = []
    for piece in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    return tuple(parts)


def problems_from_validation(
    error: ValidationError,
    model: type[BaseModel],
    data: Any,
    locate: typing.Callable[[Path], tuple[str, int | None]],
) -> list[Problem]:
    """Turn a pydantic error into problems with file, line and nearest-key hints."""
    problems: list[Problem] = []
    errors = error.errors()
    # A typo shows up twice: the unknown key and the required key it should have been.
    # Report it once, as the unknown key with its suggestion.
    suggested: set[Path] = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            parent = tuple(err["loc"][:-1])
            for option in difflib.get_close_matches(str(err["loc"][-1]),
                                                    valid_keys_at(model, parent), n=1, cutoff=0.5):
                suggested.add((*parent, option))
    for err in errors:
        if err["type"] == "missing" and tuple(err["loc"]) in suggested:
            continue
        loc: Path = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        message = str(err["msg"]).removeprefix("Value error, ")
        kind = err["type"]
        messages: list[tuple[Path, str]]
        if kind == "extra_forbidden":
            options = valid_keys_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), options, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            allowed = f" Valid keys here: {', '.join(options)}." if options else ""
            messages = [(loc, f"unknown key{hint}{allowed}")]
        elif kind == "missing":
            messages = [(loc, "required key is missing")]
        else:
            # Validators on a parent report several 'path: message' items, one per line.
            messages = []
            for piece in message.split("\n"):
                match = _PATH_PREFIX.match(piece)
                if match and "." in match.group(1):
                    messages.append((_parse_path(match.group(1)), match.group(2)))
                else:
                    messages.append((loc, piece))
        for path, text in messages:
            found, value = _lookup(data, path)
            file, line = locate(path)
            shown = "" if kind == "missing" or not found or isinstance(value, dict) else _short(value)
            problems.append(Problem(file, line, dotted(path), shown, text))
    return problems
