"""The scenario schema: every input a planner can set, with units in the names.

All models are frozen and reject unknown keys, so a typo in a scenario file is an
error, never a silently ignored setting. Cross-field checks (shares summing to one,
stages naming pools that exist) live in validators here, so that anything that passes
:func:`sim.config.load_scenario` can be simulated. The parts live in their own modules
(:mod:`sim.config.common`, :mod:`~sim.config.staff`, :mod:`~sim.config.stages`,
:mod:`~sim.config.workforce`) and are re-exported here.

Time inside the simulation is measured in **days**. Service times are *work* times
(hours of a staff member's effort) converted to calendar time by the pool's shift
calendar (see :mod:`sim.config.staff`).

Every key added after the first version defaults to *no effect*, so a scenario that
does not use it runs as before.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.common import (
    PROBLEM_SEPARATOR,
    RISK_LEVELS,
    NonNegFloat,
    PerRisk,
    PositiveFloat,
    Probability,
    RiskCounts,
    RiskDays,
    RiskName,
    RiskProbabilities,
    RiskShares,
    Share,
    Strict,
    always,
    check_shares,
    never,
)
from sim.config.distspec import Count, Quantity
from sim.config.limits import MAX_HORIZON_DAYS, MAX_PROFILE_YEARS, MAX_REPLICATIONS, scale_problems
from sim.config.references import unused_pool_problems
from sim.config.staff import SkillTier, StaffPool
from sim.config.stages import (
    DEVICE_STAGES,
    OTHER_WORK_STAGES,
    STAGE_NAMES,
    DeviceTriageStage,
    GradingStage,
    KioskRoute,
    LabStage,
    OtherWork,
    Stage,
    Stages,
    UploadStage,
    VidStage,
)
from sim.config.workforce import (
    Automation,
    Outsourcing,
    TrainingProgramme,
    workforce_problems,
)

__all__ = [
    "DEVICE_STAGES", "OTHER_WORK_STAGES", "RISK_LEVELS", "STAGE_NAMES", "BacklogBlock",
    "CaseAttributes", "Demand", "DeviceTriageStage", "DeviceType", "Discovery", "Expedite",
    "GradingStage", "InitialBacklog", "KioskRoute", "LabStage", "OtherWork", "PerRisk",
    "Policies", "RiskCounts", "RiskDays", "RiskProbabilities", "RiskShares", "RunSettings",
    "Scenario", "SkillTier", "StaffPool", "Stage", "Stages", "Triage", "UploadStage", "VidStage",
]

#: A scenario name becomes a folder name (``results/<name>``): this keeps it one plain
#: name, never a path (no '/', no '..', no leading dot).
SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
HorizonDays = Annotated[float, Field(gt=0.0, le=MAX_HORIZON_DAYS)]
HorizonYears = Annotated[float, Field(gt=0.0, le=MAX_HORIZON_DAYS / 365.25)]


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
        check_shares(self.risk_mix.model_dump(), "demand.risk_mix")
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
    """What a referral brings with it: children, devices, material.

    ``children_in_contact`` have access to the suspect (household or contact): research
    or the warrant can find them. ``children_on_devices`` are known only from what is
    on the suspect's devices (contact abuse evidenced on a device, children groomed in
    chats, local children in new material): examination or grading must find them
    (see ``discovery``). ``depicted_children`` appear in first-generation material and
    are found only by victim identification after upload.

    ``known_image_share`` is the share of a device's images matched by hash against
    the national database at the start; it grows by ``known_image_share_growth_per_year``
    (as the database grows) up to ``known_image_share_max``. Data per device grows by
    ``data_tb_growth_per_year`` (a device seized in year ``y`` of the run holds
    ``(1 + g)^y`` times the drawn volume).
    """

    children_in_contact: RiskCounts
    children_on_devices: RiskCounts | None = None
    devices_per_case: Count
    device_types: dict[str, DeviceType]
    known_image_share: Share = 0.85
    known_image_share_growth_per_year: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    known_image_share_max: Share = 1.0
    data_tb_growth_per_year: Annotated[float, Field(ge=-0.5, le=5.0)] = 0.0
    first_generation_probability: RiskProbabilities
    depicted_children: Count

    def known_share_at(self, day: float, level: float | None = None) -> float:
        """Share of images matched by hash at clock ``day`` (from ``level`` at day 0)."""
        start = self.known_image_share if level is None else level
        grown = start + self.known_image_share_growth_per_year * max(day, 0.0) / 365.25
        return min(max(start, self.known_image_share_max), grown) if grown > start else start

    def data_scale_at(self, day: float) -> float:
        """Multiplier of a device's drawn data volume when it is seized at clock ``day``."""
        g = self.data_tb_growth_per_year
        return 1.0 if g == 0 else float((1.0 + g) ** (max(day, 0.0) / 365.25))

    @model_validator(mode="after")
    def _types(self) -> CaseAttributes:
        if not self.device_types:
            raise ValueError("cases.device_types needs at least one device type")
        check_shares({k: v.share for k, v in self.device_types.items()}, "cases.device_types shares")
        return self


class Discovery(Strict):
    """How the chance of identifying a child falls as trails go cold.

    A child known only from device content is found at kiosk, lab examination or
    grading with the serving member's tier ``find_probability`` times
    ``0.5 ** (days since seizure / examination_trail_half_life_days)``; a depicted child
    is identified at victim identification with ``identification_probability`` times
    the tier's ``find_probability`` times ``0.5 ** (days since seizure /
    depicted_trail_half_life_days)``. ``None``: no decay.
    """

    examination_trail_half_life_days: PositiveFloat | None = None
    depicted_trail_half_life_days: PositiveFloat | None = None


class Triage(Strict):
    """Risk grading and the enforcement decision at intake; escalation at device triage.

    After research and grading, a case gets a warrant with ``warrant_probability`` of its
    *graded* risk, a voluntary-attendance interview with
    ``voluntary_attendance_probability``, and no further action otherwise (its children
    not found at research stay unknown). At a voluntary attendance the house is not
    searched: each in-contact child not found at research is found with
    ``voluntary_attendance_finds_contact_probability`` and each device is seized with
    ``voluntary_attendance_devices_seized_share``.
    """

    grading_accuracy: Probability = 1.0
    misgrade_down_share: Share = 0.5
    contact_children_found_at_research_probability: Probability = 0.5
    escalation_detect_probability: Probability = 0.0
    warrant_probability: RiskProbabilities = Field(default_factory=always)
    voluntary_attendance_probability: RiskProbabilities = Field(default_factory=never)
    voluntary_attendance_finds_contact_probability: Probability = 0.0
    voluntary_attendance_devices_seized_share: Share = 1.0

    @model_validator(mode="after")
    def _decision(self) -> Triage:
        bad = [level for level, w, v in zip(RISK_LEVELS, self.warrant_probability.values_in_order(),
                                             self.voluntary_attendance_probability.values_in_order(),
                                             strict=True) if w + v > 1.0 + 1e-9]
        if bad:
            raise ValueError(f"warrant_probability + voluntary_attendance_probability exceeds 1 "
                             f"for {', '.join(bad)}; the rest is 'no further action'")
        return self


class Expedite(Strict):
    """Very urgent cases served on call: first in the queue, on a 24-hour clock.

    A case whose graded risk is in ``risk_levels`` jumps the queue at ``stages`` (ahead
    of any discipline), may be started outside the pool's shift by a free member, and
    its job runs continuously at full speed (no pause at the end of a shift).
    """

    risk_levels: list[RiskName] = Field(default_factory=list)
    stages: list[Literal["intake", "enforcement", "device_triage", "lab_examination"]] = Field(
        default_factory=list)


SafeguardingPolicy = Literal["immediate", "at_warrant", "after_examination"]


class Policies(Strict):
    """Policy levers."""

    safeguarding_referral: SafeguardingPolicy = "immediate"
    enforcement_target_days: RiskDays = Field(
        default_factory=lambda: RiskDays(very_high=1.0, high=7.0, medium=14.0, low=30.0))
    kiosk_share_of_phones: Share = 0.0
    expedite: Expedite = Field(default_factory=Expedite)


class BacklogBlock(Strict):
    """Entities already waiting at one stage at time zero, with their ages."""

    count: Annotated[int, Field(ge=0, le=10_000_000)]
    age_days: Quantity
    risk_mix: RiskShares | None = None

    @model_validator(mode="after")
    def _mix(self) -> BacklogBlock:
        if self.risk_mix is not None:
            check_shares(self.risk_mix.model_dump(), "initial_backlog risk_mix")
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
    discovery: Discovery = Field(default_factory=Discovery)
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
            if stage.other_work is not None and name not in OTHER_WORK_STAGES:
                problems.append(f"stages.{name}.other_work: only {', '.join(OTHER_WORK_STAGES)} "
                                f"take a stream of other work")
            if stage.other_work is not None and stage.enabled and stage.pool is None:
                problems.append(f"stages.{name}.other_work: needs a staffed stage (a pool)")
            if stage.target_days is not None and stage.discipline != "deadline":
                problems.append(f"stages.{name}.target_days: used only by discipline 'deadline' "
                                f"(this stage uses '{stage.discipline}')")
        for stage_name in self.policies.expedite.stages:
            stage = getattr(self.stages, stage_name)
            if stage.enabled and stage.pool is None:
                problems.append(f"policies.expedite.stages: '{stage_name}' is a delay stage "
                                f"(no pool); nothing to expedite")
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
