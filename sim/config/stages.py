"""The eight pipeline stages of MODEL.md and their settings (``stages.<stage>``).

Every stage is a queue served by a staff pool, an infinite-server delay
(``pool: null``) or skipped (``enabled: false``). Service is a *work* time (hours of one
person's effort); see :mod:`sim.config.staff` for how work becomes calendar time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.config.common import (
    NonNegFloat,
    PositiveFloat,
    RiskDays,
    RiskShares,
    Share,
    Strict,
    check_shares,
)
from sim.config.distspec import Duration, Quantity

#: The eight pipeline stages of MODEL.md, in pipeline order.
STAGE_NAMES: tuple[str, ...] = (
    "intake", "enforcement", "safeguarding", "device_triage",
    "lab_examination", "image_grading", "database_upload", "victim_identification",
)
#: Stages whose entities are devices (the others serve cases or children).
DEVICE_STAGES: tuple[str, ...] = ("device_triage", "lab_examination", "image_grading",
                                  "database_upload")
#: Stages that may serve a competing stream of other work (``other_work``).
OTHER_WORK_STAGES: tuple[str, ...] = ("enforcement", "lab_examination")

Discipline = Literal["priority", "fifo", "deadline"]


class OtherWork(Strict):
    """Work from outside the IIOC pipeline competing for the same staff.

    Jobs arrive as a Poisson process (rate growing geometrically), each with a
    priority class drawn from ``priority_mix`` (the stage's four classes, named like
    the risk levels) and a work time from ``service``. They queue with the stage's
    IIOC items under the same discipline, are served by the same pool and then leave.
    ``waiting_at_start`` jobs are already queued at time zero, their ages drawn from
    ``waiting_age_days`` (today's backlog of that work), with the same priority mix.
    """

    jobs_per_year: NonNegFloat
    annual_growth_rate: Annotated[float, Field(gt=-1.0, le=10.0)] = 0.0
    priority_mix: RiskShares
    service: Duration
    waiting_at_start: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    waiting_age_days: Quantity | None = None

    @model_validator(mode="after")
    def _mix(self) -> OtherWork:
        check_shares(self.priority_mix.model_dump(), "other_work.priority_mix")
        if self.waiting_at_start > 0 and self.waiting_age_days is None:
            raise ValueError("waiting_at_start needs waiting_age_days (their ages)")
        return self


class Stage(Strict):
    """Common settings of a pipeline stage.

    ``pool: null`` makes the stage an infinite-server delay (no queue); ``enabled:
    false`` makes it instantaneous. Service is a work time; give ``service`` (all
    entities) or ``service_by_device_type`` (device stages), or both (they add).

    ``discipline``: ``priority`` (graded risk, then referral date), ``fifo`` (arrival
    at the stage), ``deadline`` (earliest deadline first: the referral date plus
    ``policies.enforcement_target_days`` for the graded risk, or, when the stage has
    its own ``target_days``, the arrival at the stage plus those; a deadline rule is
    priority with *ageing*: an old low-risk item overtakes a new high-risk one).
    ``precedence``: when stages share a pool, a free member serves the stage with the
    lowest precedence that has work waiting first (ties: the queue order).
    """

    enabled: bool = True
    pool: str | None = None
    service: Duration | None = None
    service_by_device_type: dict[str, Duration] | None = None
    discipline: Discipline = "priority"
    target_days: RiskDays | None = None
    precedence: Annotated[int, Field(ge=0, le=9)] = 0
    other_work: OtherWork | None = None


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
    """Investigative image grading (the first vote): only images not matched by hash."""

    images_per_hour: PositiveFloat | None = None


class UploadStage(Stage):
    """Verification and upload to the national image database.

    New material needs more independent votes than the investigative grading gave
    before it can be uploaded: each device's work here is its ``service`` plus
    ``extra_votes_per_new_image`` gradings of ``new_image_share_of_unknown`` of its
    unknown images at ``images_per_hour``.
    """

    images_per_hour: PositiveFloat | None = None
    extra_votes_per_new_image: Annotated[int, Field(ge=0, le=10)] = 0
    new_image_share_of_unknown: Share = 1.0

    @model_validator(mode="after")
    def _rate(self) -> UploadStage:
        if self.extra_votes_per_new_image > 0 and self.images_per_hour is None:
            raise ValueError("extra_votes_per_new_image needs images_per_hour (the grading rate)")
        return self


class VidStage(Stage):
    """Victim identification of children depicted in first-generation material."""

    identification_probability: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    identification_delay: Duration | None = None


class Stages(Strict):
    """The eight stages of MODEL.md."""

    intake: Stage
    enforcement: Stage
    safeguarding: Stage
    device_triage: DeviceTriageStage
    lab_examination: LabStage
    image_grading: GradingStage
    database_upload: UploadStage
    victim_identification: VidStage

    def items(self) -> list[tuple[str, Stage]]:
        """(name, stage) pairs in pipeline order."""
        return [(name, getattr(self, name)) for name in STAGE_NAMES]
