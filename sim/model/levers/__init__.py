"""Levers handed to the pipeline when it is built: workforce, outsourcing, automation.

A lever is an object with ``install(pipeline)``. It is made from the scenario alone
(:func:`build_levers`) and, once the pipeline's stations and pools exist, installs
itself through the pipeline's public hooks (``set_lab_entry``,
``set_misgrade_probability``, ``set_research_adjuster``, ``set_known_share_level``,
``set_grading_hours_per_image``, ``set_lab_hours_per_tb``, ``examined_elsewhere``) and
by scheduling its own events on ``pipeline.env``. The pipeline imports no lever and a
lever reaches into no private name of the pipeline, so a new lever is a new module here
and one line in :func:`build_levers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sim.config.schema import Scenario
from sim.model.levers.automation import AutomationLever
from sim.model.levers.outsourcing import OutsourcingRoute
from sim.model.levers.workforce import Workforce

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.pipeline import Pipeline


class Lever(Protocol):
    """Something that changes the pipeline through its hooks."""

    def install(self, pipeline: Pipeline) -> None:
        """Hook into ``pipeline`` (called once, after its stations are built)."""
        ...


@dataclass
class Levers:
    """The levers of one replication; the workforce one is always there (inert if unused)."""

    workforce: Workforce
    outsourcing: OutsourcingRoute | None = None
    automation: AutomationLever | None = None

    def all(self) -> list[Lever]:
        """Every lever, in the order they are installed."""
        out: list[Lever] = [self.workforce]
        if self.outsourcing is not None:
            out.append(self.outsourcing)
        if self.automation is not None:
            out.append(self.automation)
        return out


def build_levers(scenario: Scenario) -> Levers:
    """The levers ``scenario`` asks for, not yet installed."""
    return Levers(
        Workforce(),
        OutsourcingRoute(scenario.outsourcing) if scenario.outsourcing is not None else None,
        AutomationLever(scenario.automation) if scenario.automation is not None else None,
    )
