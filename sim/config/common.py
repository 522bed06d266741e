"""Building blocks of the scenario schema: the strict base model, per-risk models, types.

One source for the risk levels: :data:`RISK_LEVELS` is imported wherever a level is
named (schema, model, tables, analysis).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from sim.config.distspec import Count

#: A risk level's name, as scenarios write it: the one place the names are spelt out.
RiskName = Literal["very_high", "high", "medium", "low"]
#: Risk levels from highest to lowest; the index is the queue priority (0 first).
RISK_LEVELS: tuple[str, ...] = get_args(RiskName)
SHARE_TOLERANCE = 1e-6
#: Joins several 'key.path: message' problems raised by one validator.
PROBLEM_SEPARATOR = "\n"

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]


class Strict(BaseModel):
    """Base: frozen, unknown keys forbidden.

    ``defer_build``: pydantic builds a model's validator when it first validates,
    not when the class is defined, so importing the schema is cheap (worker
    processes only unpickle scenarios) and loading a scenario builds the whole
    tree in one pass, faster than class by class. ``allow_inf_nan=False``: no NaN or
    infinity in any float field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


def check_shares(shares: dict[str, float], what: str) -> None:
    """Raise ValueError unless the shares sum to one."""
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        parts = ", ".join(f"{k}={v:g}" for k, v in shares.items())
        raise ValueError(f"{what} must sum to 1, but {parts} sum to {total:.6g}")


class PerRisk(Strict):
    """Base of the per-risk-level models (very_high, high, medium, low).

    Concrete subclasses (not a generic model) so scenarios pickle for worker processes.
    """

    def values_in_order(self) -> tuple[Any, ...]:
        """Values in priority order, very_high first."""
        return tuple(getattr(self, level) for level in RISK_LEVELS)


class RiskShares(PerRisk):
    """A share per risk level."""

    very_high: Share
    high: Share
    medium: Share
    low: Share


class RiskProbabilities(RiskShares):
    """A probability per risk level."""


def _all(value: float) -> dict[str, float]:
    return dict.fromkeys(RISK_LEVELS, value)


def always() -> RiskProbabilities:
    """Probability 1 at every level."""
    return RiskProbabilities(**_all(1.0))


def never() -> RiskProbabilities:
    """Probability 0 at every level."""
    return RiskProbabilities(**_all(0.0))


class RiskCounts(PerRisk):
    """A count distribution per risk level."""

    very_high: Count
    high: Count
    medium: Count
    low: Count


class RiskDays(PerRisk):
    """A number of days per risk level."""

    very_high: NonNegFloat
    high: NonNegFloat
    medium: NonNegFloat
    low: NonNegFloat
