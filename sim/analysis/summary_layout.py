"""What a replication summary holds besides its numbers, for :mod:`sim.analysis.replication_store`.

Most replications of a run have the same metric names, curve names and conservation
stages; a store keeps each distinct :class:`Layout` once and, per replication, which
one it has. The helpers say whether a value fits the store's columns (a float, or an
int a float64 holds exactly; conservation counts as int64) or is kept as given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Integers a float64 column holds exactly.
EXACT_INT = 2 ** 53


@dataclass(frozen=True)
class Layout:
    """What a replication's summary holds, apart from its values (shared by most).

    Attributes
    ----------
    metrics : tuple of str
        Its metric names, in its order.
    int_metrics : frozenset of str
        Those whose value is a Python int (given back as an int).
    curve_is_all : bool
        Its ``identified_curve`` is (bit for bit) its ``identified_curves["all"]``.
    identified_curves, wait_curves, waiting : tuple of str
        The keys of those fields, in its order.
    conservation : tuple or None
        Each stage with its count names; None: not a dict of dicts of ints.
    """

    metrics: tuple[str, ...]
    int_metrics: frozenset[str]
    curve_is_all: bool
    identified_curves: tuple[str, ...]
    wait_curves: tuple[str, ...]
    waiting: tuple[str, ...]
    conservation: tuple[tuple[str, tuple[str, ...]], ...] | None


def is_compact_int(value: object) -> bool:
    """Whether ``value`` is a Python int a float64 holds exactly."""
    return type(value) is int and -EXACT_INT <= value <= EXACT_INT


def as_float(value: object) -> float:
    """``value`` as a float, NaN if it is not a number."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def same_array(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are the same array, or arrays equal bit for bit."""
    return (a is b or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                       and a.dtype == b.dtype and a.shape == b.shape
                       and a.tobytes() == b.tobytes()))


def conservation_layout(value: object) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """The stages and counts of a conservation dict; None unless it is str -> str -> int."""
    if not isinstance(value, dict) or not all(isinstance(c, dict) for c in value.values()):
        return None
    out = tuple((stage, tuple(counts)) for stage, counts in value.items())
    names = [stage for stage, _ in out] + [n for _, counts in out for n in counts]
    if not set(map(type, names)) <= {str} or not set(
            type(v) for counts in value.values() for v in counts.values()) <= {int}:
        return None
    return out


def conservation_values(value: dict[str, dict[str, int]]) -> np.ndarray | None:
    """The counts of a conservation dict in order (None if one does not fit int64)."""
    try:
        return np.fromiter((v for counts in value.values() for v in counts.values()),
                           dtype=np.int64)
    except OverflowError:
        return None
