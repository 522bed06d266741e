"""Targets a plan must meet: ``METRIC<=VALUE`` or ``METRIC>=VALUE``, with a tolerance.

A target is about the *mean* of a metric over replications. Its tolerance ``ε`` is the
margin by which a plan must meet it to be sure to be found: a plan whose mean misses
the target is declared feasible with small probability, a plan that meets it by at
least ``ε`` is declared feasible with high probability, and a plan in between may go
either way (:mod:`sim.decision.feasibility`). Smaller tolerances cost replications
(roughly in proportion to ``1/ε²``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sim.decision.feasibility import Bound

#: Default tolerance, as a share of the target value: an assumption (a margin of 2% of
#: the target is below the precision planners usually quote), shown in every report.
DEFAULT_RELATIVE_TOLERANCE = 0.02
_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


class TargetError(ValueError):
    """A target or tolerance that cannot be used; the message says why."""


@dataclass(frozen=True)
class Target:
    """One target.

    Attributes
    ----------
    metric : str
        A metric of :data:`sim.analysis.metrics.METRICS`.
    op : str
        ``<=`` or ``>=``.
    value : float
        The target value.
    tolerance : float
        ``ε`` > 0, in the metric's unit.
    """

    metric: str
    op: str
    value: float
    tolerance: float

    @property
    def sign(self) -> float:
        """+1 for ``<=`` targets, -1 for ``>=`` (observations times this: smaller is better)."""
        return 1.0 if self.op == "<=" else -1.0

    def bound(self) -> Bound:
        """The target as "oriented mean at most threshold"."""
        return Bound(self.sign * self.value, self.tolerance)

    def met_by(self, mean: float) -> bool:
        """True when ``mean`` meets the target (False for NaN)."""
        if math.isnan(mean):
            return False
        return mean <= self.value if self.op == "<=" else mean >= self.value

    def shortfall(self, mean: float) -> float:
        """How far ``mean`` misses the target, in tolerances (0 when met; inf for NaN)."""
        if math.isnan(mean):
            return math.inf
        return max(0.0, self.sign * (mean - self.value)) / self.tolerance

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g} (tolerance {self.tolerance:g})"


def parse_target(text: str, known_metrics: Mapping[str, object] | None = None) -> tuple[str, str, float]:
    """``"identified_within_90d_share>=0.9"`` -> ``("identified_within_90d_share", ">=", 0.9)``."""
    match = _TARGET.match(text)
    if not match:
        raise TargetError(f"target {text!r}: expected METRIC<=VALUE or METRIC>=VALUE, "
                          f"e.g. identified_within_90d_share>=0.9")
    metric, op, raw = match.groups()
    try:
        value = float(raw)
    except ValueError:
        raise TargetError(f"target {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise TargetError(f"target {text!r}: the value must be a finite number")
    if known_metrics is not None and metric not in known_metrics:
        import difflib

        close = difflib.get_close_matches(metric, list(known_metrics), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise TargetError(f"target {text!r}: unknown metric {metric!r}{hint} "
                          f"(fbsim plan --help lists them)")
    return metric, op, value


def parse_tolerance(text: str) -> tuple[str, float]:
    """``"identified_within_90d_share=0.01"`` -> ``("identified_within_90d_share", 0.01)``."""
    metric, sep, raw = text.partition("=")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not sep or not metric.strip() or not (value > 0 and math.isfinite(value)):
        raise TargetError(f"tolerance {text!r}: expected METRIC=AMOUNT with AMOUNT > 0, "
                          f"e.g. identified_within_90d_share=0.01")
    return metric.strip(), value


def make_targets(texts: list[str], tolerances: list[str] | None = None,
                 known_metrics: Mapping[str, object] | None = None) -> list[Target]:
    """Targets from command-line texts, with tolerances given or by default.

    The default tolerance is :data:`DEFAULT_RELATIVE_TOLERANCE` times the target value;
    a target of 0 needs its tolerance given.
    """
    if not texts:
        raise TargetError("give at least one target, e.g. --target identified_within_90d_share>=0.9")
    given: dict[str, float] = {}
    for text in tolerances or []:
        metric, value = parse_tolerance(text)
        given[metric] = value
    out: list[Target] = []
    seen: set[tuple[str, str]] = set()
    for text in texts:
        metric, op, value = parse_target(text, known_metrics)
        if (metric, op) in seen:
            raise TargetError(f"target {text!r}: {metric} {op} is given twice")
        seen.add((metric, op))
        tol = given.get(metric, DEFAULT_RELATIVE_TOLERANCE * abs(value))
        if not tol > 0:
            raise TargetError(f"target {text!r}: a target of 0 needs a tolerance "
                              f"(--tolerance {metric}=AMOUNT)")
        out.append(Target(metric, op, value, tol))
    unused = set(given) - {t.metric for t in out}
    if unused:
        raise TargetError(f"tolerance given for {', '.join(sorted(unused))}, which has no target")
    return out
