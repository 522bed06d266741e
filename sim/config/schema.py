"""The scenario schema: every input a planner can set, with units in the names.

All models are frozen and reject unknown keys, so a typo in a scenario file is an
error, never a silently ignored setting. Cross-field checks (shares summing to one,
stages naming pools that exist) live in validators here, so that anything that passes
:func:`sim.config.load_scenario` can be simulated.

Time inside the simulation is measured in **days**. Service times are *work* times
(hours of a staff member's effort) converted to calendar days through the pool's
productive hours per calendar day; see :meth:`StaffPool.work_hours_per_calendar_day`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.config.distspec import Count, Duration, Quantity
from sim.config.limits import MAX_HORIZON_DAYS, MAX_PROFILE_YEARS, MAX_REPLICATIONS, scale_problems
from sim.config.references import unused_pool_problems
from sim.config.workforce import (
    Automation,
    Outsourcing,
    PoolWorkforce,
    TrainingProgramme,
    workforce_problems,
)

#: Risk levels from highest to lowest; the index is the queue priority (0 first).
RISK_LEVELS: tuple[str, ...] = ("very_high", "high", "medium", "low")
#: The eight pipeline stages of MODEL.md, in pipeline order.
STAGE_NAMES: tuple[str, ...] = (
    "intake", "enforcement", "safeguarding", "device_triage",
    "lab_examination", "image_grading", "database_upload", "victim_identification",
)
#: Stages whose entities are devices (the others serve cases or children).
DEVICE_STAGES: tuple[str, ...] = ("device_triage", "lab_examination", "image_grading",
                                  "database_upload")
SHARE_TOLERANCE = 1e-6
#: A scenario name becomes a folder name (``results/<name>``): this keeps it one plain
#: name, never a path (no '/', no '..', no leading dot).
SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
#: Joins several 'key.path: message' problems raised by one validator.
PROBLEM_SEPARATOR = "\n"

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
HorizonDays = Annotated[float, Field(gt=0.0, le=MAX_HORIZON_DAYS)]
HorizonYears = Annotated[float, Field(gt=0.0, le=MAX_HORIZON_DAYS / 365.25)]


class Strict(BaseModel):
    """Base: frozen, unknown keys forbidden.

    ``defer_build``: pydantic builds a model's validator when it first validates,
    not when the class is defined, so importing the schema is cheap (worker
    processes only unpickle scenarios) and loading a scenario builds the whole
    tree in one pass, faster than class by class.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


def _check_shares(shares: dict[str, float], what: str) -> None:
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


class RunSettings(Strict):
    """Horizon, warm-up and defaults of the experiment."""

    start_date: dt.date = dt.date(2026, 1, 1)
    horizon_days: HorizonDays | None = None
    horizon_years: HorizonYears | None = None
    warmup_days: Annotated[float, Field(ge=0.0, le=MAX_HORIZON_DAYS)] = 0.0
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 10
    seed: Annotated[int, Field(ge=0)] = 12345
    timeseries_interval_days: Annotated[float, Field(gt=0.0, le=365.0)] = 7.0

    @model_validator(mode="after")
    def _one_horizon(self) -> RunSettings:
        if (self.horizon_days is None) == (self.horizon_years is None):
            raise ValueError("give exactly one of horizon_days or horizon_years")
        return self

    @property
    def horizon(self) -> float:
        """Simulated length in days after the warm-up."""
        if self.horizon_days is not None:
            return float(self.horizon_days)
        assert self.horizon_years is not None
        return float(self.horizon_years) * 365.25

    @property
    def end_day(self) -> float:
        """Clock time at which the run stops: warm-up plus horizon."""
        return self.warmup_days + self.horizon


class Demand(Strict):
    """Arrivals of referrals: a Poisson process whose rate grows geometrically.

    Alternatively ``referrals_per_year_profile`` gives the rate of each year of the run
    (piecewise constant; the last value holds after the list ends). With a profile,
    ``referrals_per_year`` may be left out: it is the first year's rate.
    """

    referrals_per_year: NonNegFloat
    annual_growth_rate: Annotated[float, Field(gt=-1.0, le=10.0)] = 0.0
    referrals_per_year_profile: Annotated[list[NonNegFloat],
                                          Field(max_length=MAX_PROFILE_YEARS)] | None = None
    risk_mix: RiskShares

    @model_validator(mode="before")
    @classmethod
    def _rate_from_profile(cls, data: Any) -> Any:
        if (isinstance(data, dict) and "referrals_per_year" not in data
                and isinstance(data.get("referrals_per_year_profile"), list)
                and data["referrals_per_year_profile"]):
            data = {**data, "referrals_per_year": data["referrals_per_year_profile"][0]}
        return data

    @model_validator(mode="after")
    def _mix_sums(self) -> Demand:
        _check_shares(self.risk_mix.model_dump(), "demand.risk_mix")
        profile = self.referrals_per_year_profile
        if profile is not None:
            if not profile:
                raise ValueError("referrals_per_year_profile needs at least one year")
            if self.annual_growth_rate != 0:
                raise ValueError("give annual_growth_rate or referrals_per_year_profile, not both")
            if self.referrals_per_year != profile[0]:
                raise ValueError(f"referrals_per_year ({self.referrals_per_year:g}) differs from "
                                 f"the profile's first year ({profile[0]:g}); leave it out")
        return self

    def referrals_per_year_at(self, day: float) -> float:
        """Referral rate per year in force at clock day ``day``."""
        profile = self.referrals_per_year_profile
        if profile is not None:
            return float(profile[min(max(int(day // 365.25), 0), len(profile) - 1)])
        return self.referrals_per_year * (1.0 + self.annual_growth_rate) ** (day / 365.25)


class DeviceType(Strict):
    """One type of seized device."""

    share: Share
    data_tb: Quantity
    images: Quantity


class CaseAttributes(Strict):
    """What a referral brings with it: children, devices, material."""

    children_in_contact: RiskCounts
    devices_per_case: Count
    device_types: dict[str, DeviceType]
    known_image_share: Share = 0.85
    first_generation_probability: RiskProbabilities
    depicted_children: Count

    @model_validator(mode="after")
    def _types(self) -> CaseAttributes:
        if not self.device_types:
            raise ValueError("cases.device_types needs at least one device type")
        _check_shares({k: v.share for k, v in self.device_types.items()}, "cases.device_types shares")
        return self


class Triage(Strict):
    """Risk grading at intake and escalation at device triage."""

    grading_accuracy: Probability = 1.0
    misgrade_down_share: Share = 0.5
    contact_children_found_at_research_probability: Probability = 0.5
    escalation_detect_probability: Probability = 0.0


Discipline = Literal["priority", "fifo", "deadline"]


class Stage(Strict):
    """Common settings of a pipeline stage.

    ``pool: null`` makes the stage an infinite-server delay (no queue); ``enabled:
    false`` makes it instantaneous. Service is a work time; give ``service`` (all
    entities) or ``service_by_device_type`` (device stages), or both (they add).
    """

    enabled: bool = True
    pool: str | None = None
    service: Duration | None = None
    service_by_device_type: dict[str, Duration] | None = None
    discipline: Discipline = "priority"


class KioskRoute(Strict):
    """Level-1 self-service kiosks for phones: a share skip the hub and the lab."""

    pool: str | None = None
    service: Duration | None = None


class DeviceTriageStage(Stage):
    """Device triage (hub, level 2), with an optional kiosk route for phones."""

    kiosk: KioskRoute | None = None
    kiosk_device_type: str = "phone"


class LabStage(Stage):
    """Lab examination (level 3): work grows with the data volume."""

    hours_per_tb: NonNegFloat = 0.0


class GradingStage(Stage):
    """Image grading: only images not matched by hash need a person."""

    images_per_hour: PositiveFloat | None = None


class VidStage(Stage):
    """Victim identification of children depicted in first-generation material."""

    identification_probability: Probability = 0.5
    identification_delay: Duration | None = None


class Stages(Strict):
    """The eight stages of MODEL.md."""

    intake: Stage
    enforcement: Stage
    safeguarding: Stage
    device_triage: DeviceTriageStage
    lab_examination: LabStage
    image_grading: GradingStage
    database_upload: Stage
    victim_identification: VidStage

    def items(self) -> list[tuple[str, Stage]]:
        """(name, stage) pairs in pipeline order."""
        return [(name, getattr(self, name)) for name in STAGE_NAMES]


class SkillTier(Strict):
    """A share of a pool working at a speed multiplier (1 = accredited)."""

    name: str
    share: Share
    speed_multiplier: PositiveFloat = 1.0


class StaffPool(Strict):
    """A pool of staff serving one or more stages."""

    headcount: Annotated[int, Field(ge=0, le=100_000)]
    availability: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    hours_per_day: Annotated[float, Field(gt=0.0, le=24.0)] = 24.0
    days_per_week: Annotated[float, Field(gt=0.0, le=7.0)] = 7.0
    max_imagery_hours_per_day: Annotated[float, Field(gt=0.0, le=24.0)] | None = None
    tiers: list[SkillTier] = Field(default_factory=lambda: [SkillTier(name="accredited", share=1.0)])
    workforce: PoolWorkforce | None = None

    @model_validator(mode="after")
    def _tier_shares(self) -> StaffPool:
        if not self.tiers:
            raise ValueError("a pool needs at least one skill tier")
        _check_shares({t.name: t.share for t in self.tiers}, "tier shares")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique, got {names}")
        return self

    def work_hours_per_calendar_day(self) -> float:
        """Productive hours one person at speed 1 delivers per calendar day."""
        hours = self.hours_per_day
        if self.max_imagery_hours_per_day is not None:
            hours = min(hours, self.max_imagery_hours_per_day)
        return hours * self.days_per_week / 7.0 * self.availability

    def tier_counts(self) -> list[int]:
        """Head-count per tier by largest remainder, summing to ``headcount``."""
        raw = [t.share * self.headcount for t in self.tiers]
        counts = [int(x) for x in raw]
        order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
        for i in order[: self.headcount - sum(counts)]:
            counts[i] += 1
        return counts


SafeguardingPolicy = Literal["immediate", "at_warrant", "after_examination"]


class Policies(Strict):
    """Policy levers."""

    safeguarding_referral: SafeguardingPolicy = "immediate"
    enforcement_target_days: RiskDays = Field(
        default_factory=lambda: RiskDays(very_high=1.0, high=7.0, medium=14.0, low=30.0))
    kiosk_share_of_phones: Share = 0.0


class BacklogBlock(Strict):
    """Entities already waiting at one stage at time zero, with their ages."""

    count: Annotated[int, Field(ge=0, le=10_000_000)]
    age_days: Quantity
    risk_mix: RiskShares | None = None

    @model_validator(mode="after")
    def _mix(self) -> BacklogBlock:
        if self.risk_mix is not None:
            _check_shares(self.risk_mix.model_dump(), "initial_backlog risk_mix")
        return self


class InitialBacklog(Strict):
    """Today's backlog: per stage, inline counts or rows from a CSV file.

    Counts are cases at intake and enforcement, devices at device stages.
    """

    intake: BacklogBlock | None = None
    enforcement: BacklogBlock | None = None
    device_triage: BacklogBlock | None = None
    lab_examination: BacklogBlock | None = None
    image_grading: BacklogBlock | None = None
    database_upload: BacklogBlock | None = None
    csv: str | None = None

    def blocks(self) -> list[tuple[str, BacklogBlock]]:
        """(stage, block) pairs that are set, in pipeline order."""
        return [(s, b) for s in STAGE_NAMES if (b := getattr(self, s, None)) is not None]


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str
    description: str = ""
    run: RunSettings
    demand: Demand
    cases: CaseAttributes
    triage: Triage = Field(default_factory=Triage)
    stages: Stages
    staff: dict[str, StaffPool]
    policies: Policies = Field(default_factory=Policies)
    initial_backlog: InitialBacklog = Field(default_factory=InitialBacklog)
    training: dict[str, TrainingProgramme] = Field(default_factory=dict)
    outsourcing: Outsourcing | None = None
    automation: Automation | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not SCENARIO_NAME.fullmatch(name) or ".." in name:
            raise ValueError(
                "a scenario name is used as its results folder name: 1-120 letters, digits, "
                "'.', '_' or '-', starting with a letter or digit (no '/', spaces or '..')")
        return name

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[str] = []
        device_types = set(self.cases.device_types)
        disciplines: dict[str, tuple[str, str]] = {}
        for name, stage in self.stages.items():
            pools = [("pool", stage.pool)]
            if isinstance(stage, DeviceTriageStage) and stage.kiosk is not None:
                pools.append(("kiosk.pool", stage.kiosk.pool))
            for key, pool in pools:
                if pool is not None and stage.enabled:
                    # A pool serving several stages compares their queue keys, which only
                    # means something when the stages order work the same way.
                    first = disciplines.setdefault(pool, (name, stage.discipline))
                    if first[1] != stage.discipline:
                        problems.append(
                            f"stages.{name}.discipline: '{stage.discipline}' differs from "
                            f"'{first[1]}' at stages.{first[0]}, which shares pool '{pool}'; stages "
                            f"sharing a pool must use the same queue discipline")
                if pool is not None and pool not in self.staff:
                    problems.append(f"stages.{name}.{key}: no staff pool named '{pool}'; "
                                    f"pools are: {', '.join(sorted(self.staff)) or '(none)'}")
            by_type = stage.service_by_device_type
            if by_type is not None:
                if name not in DEVICE_STAGES:
                    problems.append(f"stages.{name}.service_by_device_type: only device stages "
                                    f"({', '.join(DEVICE_STAGES)}) serve devices; use 'service'")
                unknown = set(by_type) - device_types
                missing = device_types - set(by_type)
                if unknown:
                    problems.append(f"stages.{name}.service_by_device_type: unknown device type(s) "
                                    f"{sorted(unknown)}; types are {sorted(device_types)}")
                if missing and stage.service is None:
                    problems.append(f"stages.{name}.service_by_device_type: no service time for "
                                    f"{sorted(missing)} (and no 'service' to fall back on)")
        triage_stage = self.stages.device_triage
        if self.policies.kiosk_share_of_phones > 0:
            if triage_stage.kiosk is None:
                problems.append("policies.kiosk_share_of_phones > 0 needs stages.device_triage.kiosk")
            if triage_stage.kiosk_device_type not in device_types:
                problems.append(f"stages.device_triage.kiosk_device_type: '"
                                f"{triage_stage.kiosk_device_type}' is not a device type "
                                f"({sorted(device_types)})")
        if self.run.warmup_days > 0 and self.initial_backlog.blocks():
            problems.append("run.warmup_days with an initial_backlog: a warm-up replaces the "
                            "snapshot; use one or the other")
        problems.extend(workforce_problems(self))
        problems.extend(unused_pool_problems(self))  # sim/config/references.py
        problems.extend(scale_problems(self))  # sim/config/limits.py
        if problems:
            raise ValueError(PROBLEM_SEPARATOR.join(problems))
        return self

    def stage_pool(self, stage: str) -> StaffPool | None:
        """The staff pool serving ``stage``, or None for a delay stage."""
        pool = getattr(self.stages, stage).pool
        return None if pool is None else self.staff[pool]
