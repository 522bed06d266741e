"""Staff pools: head-count, skill tiers and working time (``staff.<pool>``).

Working time is a **shift calendar** by default: a pool works ``hours_per_day`` hours
from ``shift_start_hour`` on ``days_per_week`` days of the week (Monday first; the
week starts on ``run.start_date``'s weekday). A job in hand progresses at
``availability`` × tier speed while its pool is on shift and pauses off shift; new
jobs start only on shift (except expedited ones, see ``policies.expedite``). A pool
that works 24 hours a day, 7 days a week is continuous: work hours are calendar hours
(divided by availability and speed), exactly the textbook queue. ``working_time:
smooth`` spreads work evenly over calendar time instead (the pre-calendar
approximation: capacity ``hours_per_day × days_per_week / 7 × availability`` per
calendar day), which some teaching and validation scenarios use.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.config.common import Probability, Share, Strict, check_shares
from sim.config.workforce import PoolWorkforce

#: ``staff.<pool>.working_time`` values.
WorkingTime = Literal["shifts", "smooth"]


class SkillTier(Strict):
    """A share of a pool working at a speed, with a quality of work.

    ``find_probability`` is the chance that a member of this tier, examining a device
    (kiosk, lab), grading its images or reviewing new material (victim
    identification), finds the evidence that identifies a child when it is there
    (before the trail goes cold; see ``discovery``). ``rework_probability`` is the
    chance that a job of theirs at image grading is found wrong at quality assurance
    and done again.
    """

    name: str
    share: Share
    speed_multiplier: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    find_probability: Probability = 1.0
    rework_probability: Annotated[float, Field(ge=0.0, le=0.9)] = 0.0


class StaffPool(Strict):
    """A pool of staff serving one or more stages."""

    headcount: Annotated[int, Field(ge=0, le=100_000)]
    availability: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    hours_per_day: Annotated[float, Field(gt=0.0, le=24.0)] = 24.0
    days_per_week: Annotated[float, Field(gt=0.0, le=7.0)] = 7.0
    shift_start_hour: Annotated[float, Field(ge=0.0, lt=24.0)] = 8.0
    working_time: WorkingTime = "shifts"
    max_imagery_hours_per_day: Annotated[float, Field(gt=0.0, le=24.0)] | None = None
    tiers: list[SkillTier] = Field(default_factory=lambda: [SkillTier(name="accredited", share=1.0)])
    workforce: PoolWorkforce | None = None

    @model_validator(mode="after")
    def _tiers_and_calendar(self) -> StaffPool:
        if not self.tiers:
            raise ValueError("a pool needs at least one skill tier")
        check_shares({t.name: t.share for t in self.tiers}, "tier shares")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        if self.uses_shifts and self.days_per_week != int(self.days_per_week):
            raise ValueError(
                f"days_per_week is {self.days_per_week:g}: a shift calendar needs a whole number "
                f"of days (use availability for part-time or leave, or working_time: smooth)")
        return self

    @property
    def shift_hours_per_day(self) -> float:
        """Hours a day the pool is on shift (the imagery cap shortens the shift)."""
        hours = self.hours_per_day
        if self.max_imagery_hours_per_day is not None:
            hours = min(hours, self.max_imagery_hours_per_day)
        return hours

    @property
    def continuous(self) -> bool:
        """True when the pool works around the clock (24 h, 7 days): no calendar."""
        return self.shift_hours_per_day >= 24.0 and self.days_per_week >= 7.0

    @property
    def uses_shifts(self) -> bool:
        """True when jobs follow a shift calendar (not continuous, not smooth)."""
        return self.working_time == "shifts" and not self.continuous

    def work_hours_per_calendar_day(self) -> float:
        """Productive hours one person at speed 1 delivers per calendar day (average)."""
        return self.shift_hours_per_day * self.days_per_week / 7.0 * self.availability

    def tier_counts(self) -> list[int]:
        """Head-count per tier by largest remainder, summing to ``headcount``."""
        raw = [t.share * self.headcount for t in self.tiers]
        counts = [int(x) for x in raw]
        order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
        for i in order[: self.headcount - sum(counts)]:
            counts[i] += 1
        return counts
