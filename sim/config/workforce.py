"""Scenario keys for workforce dynamics and the policy levers around it.

Every block here is optional and its defaults leave the model as it was without it:

- ``staff.<pool>.workforce`` (:class:`PoolWorkforce`): a hiring plan with recruitment
  lag, attrition with optional replacement, time to competence for new starters
  (ramp-up, stages barred until accredited), and the cost of one FTE-year.
- ``training`` (:class:`TrainingProgramme` by name): cohorts taken fully or partly off
  duty for a course, then faster and, for intake staff, better at risk grading and at
  finding children in contact during research.
- ``outsourcing`` (:class:`Outsourcing`): an overflow rule sending lab devices to an
  external provider with its own capacity, turnaround and cost.
- ``automation`` (:class:`Automation`): hash matching, classifier-assisted grading and
  faster scanning from a start date.

Dates are either a ``day`` (days since the start of the run, ``run.start_date``) or a
``date`` (a calendar date on or after ``run.start_date``). Models here only parse and
check what they can check alone; :func:`workforce_problems` checks them against the
rest of the scenario and is called by :class:`sim.config.schema.Scenario`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.config.common import RiskName
from sim.config.distspec import Duration

if TYPE_CHECKING:  # pragma: no cover
    from sim.config.schema import Scenario

#: Days in one month of ramp-up (a twelfth of a mean year).
DAYS_PER_MONTH = 365.25 / 12.0
#: Stations a staff pool can serve: the eight stages plus the kiosk route.
SERVED_STATIONS: tuple[str, ...] = (
    "intake", "enforcement", "safeguarding", "device_triage", "kiosk", "lab_examination",
    "image_grading", "database_upload", "victim_identification",
)

_Share = Annotated[float, Field(ge=0.0, le=1.0)]
_NonNeg = Annotated[float, Field(ge=0.0)]
_Positive = Annotated[float, Field(gt=0.0)]


class _Strict(BaseModel):
    """Base: frozen, unknown keys forbidden (as :class:`sim.config.schema.Strict`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


def _one_of(a: object, b: object, what: str, required: bool) -> None:
    if a is not None and b is not None:
        raise ValueError(f"give {what} as a day or as a date, not both")
    if required and a is None and b is None:
        raise ValueError(f"give {what} as a day (days from the start) or a date")


def day_of(day: float | None, date: dt.date | None, start: dt.date, default: float = 0.0
           ) -> float:
    """Clock day of a ``day``/``date`` pair (``default`` when neither is given).

    Parameters
    ----------
    day : float or None
        Days since the start of the run.
    date : datetime.date or None
        A calendar date; day 0 is ``start``.
    start : datetime.date
        ``run.start_date``.
    default : float
        Day used when neither is given.

    Returns
    -------
    float
        Days since the start of the run.
    """
    if day is not None:
        return float(day)
    if date is not None:
        return float((date - start).days)
    return default


# --------------------------------------------------------------------------- pools
class HeadcountChange(_Strict):
    """One dated step of a hiring plan.

    A positive ``delta`` approves that many hires on the day; each arrives after the
    pool's ``recruitment_lag``, as a new starter (ramping up, when the pool has
    ``ramp_up``) heading for ``tier``, or straight into ``tier`` with
    ``new_starters: false``. A negative ``delta`` takes staff off the pool on the day
    (from ``tier`` if given, else from the tiers with most staff). With ``from_tier``
    the step moves ``delta`` staff from ``from_tier`` to ``tier`` (a promotion) instead.
    """

    day: _NonNeg | None = None
    date: dt.date | None = None
    delta: int
    tier: str | None = None
    from_tier: str | None = None
    new_starters: bool = True

    @model_validator(mode="after")
    def _check(self) -> HeadcountChange:
        _one_of(self.day, self.date, "a hiring step", required=True)
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        if self.from_tier is not None and (self.delta < 0 or self.tier is None):
            raise ValueError("a move (from_tier) needs a positive delta and a target tier")
        return self

    def on_day(self, start: dt.date) -> float:
        """The step's clock day."""
        return day_of(self.day, self.date, start)


class RampUp(_Strict):
    """Time to competence of new starters.

    A new starter works at ``start_speed_multiplier`` times the speed of the tier they
    are heading for, rising in equal monthly steps to full speed after ``months``
    months, when they join that tier (accreditation). Until then they may not serve the
    ``barred_stages`` (e.g. ``image_grading`` alone, ``lab_examination``).
    """

    months: Annotated[int, Field(ge=1, le=120)]
    start_speed_multiplier: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    barred_stages: list[str] = Field(default_factory=list)


class PoolWorkforce(_Strict):
    """Head-count dynamics and cost of one staff pool (``staff.<pool>.workforce``)."""

    hiring: list[HeadcountChange] = Field(default_factory=list)
    recruitment_lag: Duration | None = None
    attrition_rate_per_year: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0
    replace_leavers: bool = False
    replacement_lag: Duration | None = None
    ramp_up: RampUp | None = None
    new_starter_tier: str | None = None
    barred_stages_by_tier: dict[str, list[str]] = Field(default_factory=dict)
    cost_per_fte_year_gbp: _NonNeg = 0.0

    @property
    def dynamic(self) -> bool:
        """True when anything here changes the pool during a run."""
        return bool(self.hiring or self.attrition_rate_per_year > 0 or self.ramp_up is not None
                    or any(self.barred_stages_by_tier.values()))


# ------------------------------------------------------------------------ training
class TrainingEffects(_Strict):
    """What a finished course changes for the people who took it.

    ``to_tier`` makes them members of that tier (its speed and quality of work: a
    skills audit that trains people up to accreditation); otherwise they keep their
    tier's. ``speed_multiplier`` then multiplies their speed, and ``find_probability``
    and ``rework_probability`` replace their tier's (see ``staff.<pool>.tiers``).
    ``grading_accuracy`` and ``contact_children_found_at_research_probability`` replace
    the ``triage`` values for the trained share of the intake pool; the values used at
    any moment are the head-count-weighted mix of trained and untrained staff on duty.
    """

    to_tier: str | None = None
    speed_multiplier: _Positive = 1.0
    find_probability: _Share | None = None
    rework_probability: Annotated[float, Field(ge=0.0, le=0.9)] | None = None
    grading_accuracy: _Share | None = None
    contact_children_found_at_research_probability: _Share | None = None


class TrainingProgramme(_Strict):
    """A training course run for cohorts of one pool (``training.<name>``)."""

    pool: str
    cohort_size: Annotated[int, Field(ge=1, le=100_000)]
    start_day: _NonNeg | None = None
    start_date: dt.date | None = None
    duration_days: _Positive
    share_of_time_off_duty: _Share = 1.0
    repeat_every_days: _Positive | None = None
    cohorts: Annotated[int, Field(ge=1, le=10_000)] | None = None
    from_tiers: list[str] | None = None
    cost_per_place_gbp: _NonNeg = 0.0
    effects: TrainingEffects = Field(default_factory=TrainingEffects)

    @model_validator(mode="after")
    def _check(self) -> TrainingProgramme:
        _one_of(self.start_day, self.start_date, "the first cohort's start", required=True)
        if self.cohorts is not None and self.cohorts > 1 and self.repeat_every_days is None:
            raise ValueError("several cohorts need repeat_every_days")
        return self

    def cohort_days(self, start: dt.date, end_day: float) -> list[float]:
        """Start days of the cohorts that begin before ``end_day``."""
        first = day_of(self.start_day, self.start_date, start)
        limit = self.cohorts if self.cohorts is not None else (
            1 if self.repeat_every_days is None else 1_000_000)
        out: list[float] = []
        day = first
        while len(out) < limit and day < end_day:
            out.append(day)
            if self.repeat_every_days is None:
                break
            day = first + len(out) * self.repeat_every_days
        return out


# ---------------------------------------------------------------------- outsourcing
class Outsourcing(_Strict):
    """Overflow of lab examinations to an external provider.

    A device arriving at the lab between ``start`` and ``end`` goes to the provider
    when the lab queue is longer than ``queue_length_over`` devices (or its expected
    wait is above ``expected_wait_days_over``), the device qualifies (``risk_levels``,
    ``device_types``) and the provider has fewer than ``capacity_devices`` in progress.
    It comes back examined after ``turnaround`` (calendar time) and goes on to grading;
    the provider finds evidence of a child on it with ``find_probability``.
    """

    queue_length_over: Annotated[int, Field(ge=0)] | None = None
    expected_wait_days_over: _NonNeg | None = None
    capacity_devices: Annotated[int, Field(ge=1, le=10_000_000)]
    turnaround: Duration
    cost_per_device_gbp: _NonNeg = 0.0
    find_probability: _Share = 1.0
    risk_levels: list[RiskName] | None = None
    device_types: list[str] | None = None
    start_day: _NonNeg | None = None
    start_date: dt.date | None = None
    end_day: _NonNeg | None = None
    end_date: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> Outsourcing:
        if (self.queue_length_over is None) == (self.expected_wait_days_over is None):
            raise ValueError("give exactly one overflow rule: queue_length_over or "
                             "expected_wait_days_over")
        _one_of(self.start_day, self.start_date, "the start", required=False)
        _one_of(self.end_day, self.end_date, "the end", required=False)
        return self


# ----------------------------------------------------------------------- automation
class Automation(_Strict):
    """Tools that change the work from ``start_day``/``start_date`` (default day 0).

    ``known_image_share`` overrides ``cases.known_image_share`` for devices graded
    from the start; ``assisted_images_per_hour`` is the grading rate with a classifier,
    used for the ``assisted_grader_share`` of grading work (the rest at
    ``stages.image_grading.images_per_hour``); ``lab_hours_per_tb`` overrides
    ``stages.lab_examination.hours_per_tb`` for examinations started from then on.
    The number of kiosks is the head-count of the kiosk route's pool.
    """

    start_day: _NonNeg | None = None
    start_date: dt.date | None = None
    known_image_share: _Share | None = None
    assisted_images_per_hour: _Positive | None = None
    assisted_grader_share: _Share = 1.0
    lab_hours_per_tb: _NonNeg | None = None

    @model_validator(mode="after")
    def _check(self) -> Automation:
        _one_of(self.start_day, self.start_date, "the start", required=False)
        return self


# ------------------------------------------------------------------ cross-checks
def _tier_problems(where: str, names: list[str] | None, tiers: set[str]) -> list[str]:
    return [f"{where}: no tier named '{n}'; tiers are: {', '.join(sorted(tiers))}"
            for n in names or [] if n not in tiers]


def _date_problem(where: str, date: dt.date | None, start: dt.date) -> list[str]:
    if date is not None and date < start:
        return [f"{where}: {date} is before run.start_date ({start})"]
    return []


def _served(scenario: Scenario) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in scenario.staff}
    for name, stage in scenario.stages.items():
        if stage.pool in out:
            out[stage.pool].add(name)
    kiosk = scenario.stages.device_triage.kiosk
    if kiosk is not None and kiosk.pool in out:
        out[kiosk.pool].add("kiosk")
    return out


def workforce_problems(scenario: Scenario) -> list[str]:
    """Problems of the workforce, training, outsourcing and automation blocks.

    Each problem starts with the dotted key path it is about, like the other
    cross-field checks of :class:`~sim.config.schema.Scenario`.
    """
    problems: list[str] = []
    start = scenario.run.start_date
    served = _served(scenario)
    for name, pool in scenario.staff.items():
        wf = pool.workforce
        if wf is None:
            continue
        at = f"staff.{name}.workforce"
        tiers = {t.name for t in pool.tiers}
        if wf.new_starter_tier is not None:
            problems += _tier_problems(f"{at}.new_starter_tier", [wf.new_starter_tier], tiers)
        for i, step in enumerate(wf.hiring):
            problems += _tier_problems(f"{at}.hiring[{i}].tier",
                                       [step.tier] if step.tier else [], tiers)
            problems += _tier_problems(f"{at}.hiring[{i}].from_tier",
                                       [step.from_tier] if step.from_tier else [], tiers)
            problems += _date_problem(f"{at}.hiring[{i}].date", step.date, start)
        problems += _tier_problems(f"{at}.barred_stages_by_tier",
                                   list(wf.barred_stages_by_tier), tiers)
        barred = [(f"{at}.barred_stages_by_tier.{t}", s)
                  for t, stages in wf.barred_stages_by_tier.items() for s in stages]
        if wf.ramp_up is not None:
            barred += [(f"{at}.ramp_up.barred_stages", s) for s in wf.ramp_up.barred_stages]
        for where, stage in barred:
            if stage not in SERVED_STATIONS:
                problems.append(f"{where}: unknown stage '{stage}'; stages are: "
                                f"{', '.join(SERVED_STATIONS)}")
            elif stage not in served[name]:
                problems.append(f"{where}: pool '{name}' does not serve stage '{stage}' "
                                f"(it serves: {', '.join(sorted(served[name])) or 'none'})")
    intake_pool = scenario.stages.intake.pool
    for name, prog in scenario.training.items():
        at = f"training.{name}"
        if prog.pool not in scenario.staff:
            problems.append(f"{at}.pool: no staff pool named '{prog.pool}'; pools are: "
                            f"{', '.join(sorted(scenario.staff))}")
            continue
        tiers = {t.name for t in scenario.staff[prog.pool].tiers}
        problems += _tier_problems(f"{at}.from_tiers", prog.from_tiers, tiers)
        if prog.effects.to_tier is not None:
            problems += _tier_problems(f"{at}.effects.to_tier", [prog.effects.to_tier], tiers)
        problems += _date_problem(f"{at}.start_date", prog.start_date, start)
        fx = prog.effects
        for key in ("grading_accuracy", "contact_children_found_at_research_probability"):
            if getattr(fx, key) is not None and prog.pool != intake_pool:
                problems.append(f"{at}.effects.{key}: grading and research happen at intake; "
                                f"pool '{prog.pool}' is not the intake pool "
                                f"('{intake_pool}')")
    out = scenario.outsourcing
    if out is not None:
        lab = scenario.stages.lab_examination
        if lab.pool is None or not lab.enabled:
            problems.append("outsourcing: needs a staffed, enabled stages.lab_examination")
        unknown = set(out.device_types or []) - set(scenario.cases.device_types)
        if unknown:
            problems.append(f"outsourcing.device_types: unknown device type(s) "
                            f"{sorted(unknown)}; types are {sorted(scenario.cases.device_types)}")
        problems += _date_problem("outsourcing.start_date", out.start_date, start)
        problems += _date_problem("outsourcing.end_date", out.end_date, start)
    auto = scenario.automation
    if auto is not None:
        problems += _date_problem("automation.start_date", auto.start_date, start)
        if (auto.assisted_images_per_hour is not None
                and scenario.stages.image_grading.images_per_hour is None):
            problems.append("automation.assisted_images_per_hour: needs "
                            "stages.image_grading.images_per_hour (the manual rate)")
    return problems
