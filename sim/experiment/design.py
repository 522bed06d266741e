"""Experimental designs for sweeps: which lever values to run.

A lever is a dotted scenario path (as :func:`sim.config.with_overrides` takes them)
with a SPEC of values, written as ``--vary PATH=SPEC``:

- an inclusive range ``20:60:5`` (start, stop, step: 20, 25, ..., 60), or
- a list ``20,30,45`` (or one value, ``40``).

Numbers written without a decimal point or exponent stay whole numbers (a headcount
must be one); ``0.1:0.3:0.1`` gives 0.1, 0.2, 0.3 exactly as written (the steps are
added in decimal, so no ``0.30000000000000004``). Several levers make a full grid
(:func:`grid_points`). For many levers a Latin hypercube (:func:`lhs_points`) draws
``samples`` points over ranges ``lo:hi`` with :class:`scipy.stats.qmc.LatinHypercube`
seeded by the run's seed; a lever whose bounds are whole numbers, or whose current
value in the scenario is one, is rounded to whole numbers.

Every point is checked by building its scenario (:func:`point_scenarios`) before
anything runs, so a misspelt path or a value the scenario refuses is reported at once,
with the path, the value and the nearest valid key.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sim.config import ScenarioError, with_overrides
from sim.config.schema import Scenario

#: A lever value: whole numbers stay ``int``.
Value = int | float
#: One point of a design: lever path -> value.
Point = dict[str, Value]
#: Points a design may have; more is almost surely a mistake in a SPEC.
MAX_POINTS = 10_000
DESIGNS = ("grid", "lhs")
_INT = re.compile(r"[+-]?\d+")


class DesignError(ValueError):
    """A ``--vary`` SPEC or a design that cannot be run; the message names the option and value."""


@dataclass(frozen=True)
class Lever:
    """One ``--vary PATH=SPEC``.

    Attributes
    ----------
    path : str
        Dotted scenario path.
    spec : str
        The SPEC as written.
    values : tuple
        The grid values (a range expanded, or the list), in order.
    low, high : int or float
        The smallest and largest value (the LHS range).
    integer : bool
        Whole numbers only (LHS draws are rounded).
    """

    path: str
    spec: str
    values: tuple[Value, ...]
    low: Value
    high: Value
    integer: bool

    @property
    def text(self) -> str:
        """``PATH=SPEC`` as given."""
        return f"{self.path}={self.spec}"


def _number(text: str, option: str) -> tuple[Decimal, bool]:
    """A number of a SPEC as a Decimal, and whether it is written as a whole number."""
    word = text.strip()
    try:
        value = Decimal(word)
    except InvalidOperation:
        raise DesignError(f"{option}: {word!r} is not a number") from None
    if not value.is_finite():
        raise DesignError(f"{option}: {word!r} is not a finite number")
    return value, bool(_INT.fullmatch(word))


def _as_value(d: Decimal, integer: bool) -> Value:
    return int(d) if integer else float(d)


def parse_vary(text: str, design: str = "grid") -> Lever:
    """Parse one ``PATH=SPEC``.

    Parameters
    ----------
    text : str
        ``staff.examiners.headcount=20:60:5``, ``...=20,30,45`` or, for ``lhs``,
        ``...=20:60``.
    design : str
        ``grid`` (a range needs a step) or ``lhs`` (a range ``lo:hi``, no list).

    Raises
    ------
    DesignError
        Naming ``--vary``, the text and what was expected.
    """
    option = f"--vary {text}"
    if design not in DESIGNS:
        raise DesignError(f"--design {design!r}: expected one of {', '.join(DESIGNS)}")
    path, sep, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not sep or not path or not spec:
        raise DesignError(f"{option}: expected PATH=SPEC, e.g. staff.examiners.headcount=20:60:5 "
                          f"or staff.examiners.headcount=20,30,45")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise DesignError(f"{option}: a range is start:stop:step (or lo:hi for --design lhs)")
        numbers = [_number(p, option) for p in parts]
        integer = all(whole for _, whole in numbers)
        (lo, _), (hi, _) = numbers[0], numbers[1]
        if hi < lo:
            raise DesignError(f"{option}: the range ends ({hi}) below its start ({lo})")
        if design == "lhs":
            if len(parts) == 3:
                raise DesignError(f"{option}: --design lhs draws from a range lo:hi; "
                                  f"leave out the step")
            if hi == lo:
                raise DesignError(f"{option}: an LHS range needs lo < hi")
            return Lever(path, spec, (), _as_value(lo, integer), _as_value(hi, integer), integer)
        if len(parts) == 2:
            raise DesignError(f"{option}: a grid range needs a step, start:stop:step "
                              f"(e.g. 20:60:5)")
        step = numbers[2][0]
        if step <= 0:
            raise DesignError(f"{option}: the step must be positive, got {step}")
        count = int((hi - lo) / step) + 1
        if count > MAX_POINTS:
            raise DesignError(f"{option}: {count:,} values; at most {MAX_POINTS:,}")
        values = tuple(_as_value(lo + i * step, integer) for i in range(count))
    else:
        if design == "lhs":
            raise DesignError(f"{option}: --design lhs needs a range lo:hi, not a list")
        numbers = [_number(p, option) for p in spec.split(",")]
        integer = all(whole for _, whole in numbers)
        values = tuple(_as_value(d, integer) for d, _ in numbers)
        if len(set(values)) != len(values):
            raise DesignError(f"{option}: a value appears twice")
    return Lever(path, spec, values, min(values), max(values), integer)


def parse_levers(texts: Sequence[str], design: str = "grid") -> list[Lever]:
    """Parse every ``--vary``; each path at most once."""
    if not texts:
        raise DesignError("name at least one lever: --vary PATH=SPEC")
    levers = [parse_vary(t, design) for t in texts]
    paths = [lever.path for lever in levers]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise DesignError(f"--vary: {', '.join(twice)} given more than once")
    return levers


def grid_points(levers: Sequence[Lever]) -> list[Point]:
    """Every combination of the levers' values, the first lever varying slowest."""
    total = math.prod(len(lever.values) for lever in levers)
    if total > MAX_POINTS:
        raise DesignError(f"--vary: the grid has {total:,} points; at most {MAX_POINTS:,} "
                          f"(use --design lhs --samples N for many levers)")
    return [dict(zip((lever.path for lever in levers), combo, strict=True))
            for combo in itertools.product(*(lever.values for lever in levers))]


def _integer_in(base: Scenario, path: str) -> bool:
    """Whether the scenario's current value at ``path`` is a whole number (not a bool)."""
    node: Any = base.model_dump(mode="json")
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return isinstance(node, int) and not isinstance(node, bool)


def lhs_points(levers: Sequence[Lever], samples: int, seed: int,
               base: Scenario | None = None) -> list[Point]:
    """A Latin hypercube of ``samples`` points over the levers' ranges.

    Parameters
    ----------
    levers : sequence of Lever
        Parsed with ``design="lhs"``.
    samples : int
        Points to draw.
    seed : int
        Seed of :class:`scipy.stats.qmc.LatinHypercube` (the run's seed, so a design
        is reproduced by the same command).
    base : Scenario, optional
        Levers whose current value here is a whole number are rounded too.
    """
    if samples < 1 or samples > MAX_POINTS:
        raise DesignError(f"--samples {samples}: expected 1 to {MAX_POINTS:,}")
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(levers), seed=seed).random(samples)
    points: list[Point] = []
    for row in unit:
        point: Point = {}
        for lever, u in zip(levers, row, strict=True):
            x = float(lever.low) + float(u) * (float(lever.high) - float(lever.low))
            whole = lever.integer or (base is not None and _integer_in(base, lever.path))
            point[lever.path] = round(x) if whole else x
        points.append(point)
    return points


def design_points(levers: Sequence[Lever], design: str = "grid", samples: int | None = None,
                  seed: int = 0, base: Scenario | None = None) -> list[Point]:
    """The points of a design: :func:`grid_points` or :func:`lhs_points`."""
    if design == "grid":
        if samples is not None:
            raise DesignError("--samples is for --design lhs; a grid runs every combination")
        return grid_points(levers)
    if design == "lhs":
        if samples is None:
            raise DesignError("--design lhs needs --samples N")
        return lhs_points(levers, samples, seed, base)
    raise DesignError(f"--design {design!r}: expected one of {', '.join(DESIGNS)}")


def describe_point(point: Mapping[str, Value]) -> str:
    """``staff.examiners.headcount=40, demand.annual_growth_rate=0.05``."""
    return ", ".join(f"{k}={v}" for k, v in point.items())


def point_scenarios(base: Scenario, points: Sequence[Mapping[str, Value]]) -> list[Scenario]:
    """The scenario of every point, each checked as :func:`sim.config.with_overrides` does.

    Raises
    ------
    DesignError
        For the first point the scenario refuses, naming the point and each problem
        (a misspelt path comes with the nearest valid key).
    """
    scenarios = []
    for point in points:
        try:
            scenarios.append(with_overrides(base, dict(point)))
        except ScenarioError as exc:
            problems = "; ".join(str(p) for p in exc.problems)
            raise DesignError(f"--vary: the point {describe_point(point)} is not a valid "
                              f"scenario: {problems}") from None
    return scenarios
