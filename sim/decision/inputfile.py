"""Reading the planning input files (levers, uncertain parameters) with readable errors.

A problem names the file, the line, the key path, the value found and what was
expected, as scenario problems do (:class:`sim.config.errors.Problem`), and every
problem in a file is reported at once by :class:`InputFileError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.config.errors import Problem, dotted

KeyPath = tuple[str | int, ...]


class InputFileError(Exception):
    """An input file that cannot be used, with every problem found.

    Attributes
    ----------
    problems : list of Problem
        One per mistake.
    """

    def __init__(self, what: str, problems: list[Problem]):
        self.what = what
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"the {what} has {len(problems)} {noun}:", *(f"  {p}" for p in problems)]
        super().__init__("\n".join(lines))


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                    key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _lines(node: yaml.Node | None, path: KeyPath = ()) -> dict[KeyPath, int]:
    out: dict[KeyPath, int] = {}
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out.update(_lines(value_node, child))
            out[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, (*path, i)))
    return out


class InputFile:
    """A YAML mapping read from a file, with the line of every key.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    what : str
        What the file is, for messages ("levers file").
    """

    def __init__(self, path: Path, what: str):
        self.path = path
        self.what = what
        self.problems: list[Problem] = []
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputFileError(what, [Problem(str(path), None, "", "", "file not found")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(what, [Problem(str(path), None, "", "",
                                                f"cannot read file: {exc}")]) from None
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise InputFileError(what, [Problem(str(path), line, "", "",
                                                f"not valid YAML: {problem}")]) from None
        finally:
            loader.dispose()
        if not isinstance(data, dict):
            raise InputFileError(what, [Problem(str(path), 1, "", type(data).__name__,
                                                f"a {what} must be a YAML mapping of keys to values")])
        self.data: dict[str, Any] = data
        self.line_of = _lines(node)

    def problem(self, path: KeyPath, message: str, value: Any = None, show_value: bool = True) -> None:
        """Record a problem at ``path`` (the value there is shown unless told otherwise)."""
        line = None
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.line_of:
                line = self.line_of[path[:cut]]
                break
        if value is None and show_value:
            value = self.get(path)
        shown = "" if value is None or isinstance(value, dict) or not show_value else repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        self.problems.append(Problem(str(self.path), line, dotted(path), shown, message))

    def get(self, path: KeyPath) -> Any:
        """The value at ``path``, or None."""
        node: Any = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def unknown_keys(self, path: KeyPath, allowed: tuple[str, ...]) -> None:
        """Record a problem for every key at ``path`` not in ``allowed``."""
        import difflib

        node = self.get(path)
        if not isinstance(node, dict):
            return
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                self.problem((*path, key), f"unknown key{hint} Valid keys here: "
                             f"{', '.join(allowed)}.", show_value=False)

    def raise_if_problems(self) -> None:
        """Raise :class:`InputFileError` if any problem was recorded."""
        if self.problems:
            raise InputFileError(self.what, self.problems)
