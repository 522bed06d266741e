"""The things that move through the pipeline: cases, devices, children.

Plain classes with ``__slots__``: thousands are created per replication and their
attributes are read on every event. Every entity has ``id`` and ``case`` (a case is
its own case), which is all a :class:`~sim.model.station.Station` needs.
"""

from __future__ import annotations

import math

NAN = math.nan
#: The empty sequence every entity starts with (see :class:`Case`).
NONE: tuple[()] = ()

#: Child routes to identification.
CONTACT, DEPICTED = 0, 1
#: Device routes.
LAB, KIOSK = 0, 1
#: Cohorts: referred during the run, or already in today's backlog.
NEW, BACKLOG = 0, 1


class Case:
    """One referral (one suspect)."""

    __slots__ = (
        "case", "children", "cohort", "device_draws", "device_start", "draw_index",
        "draws", "escalated", "first_generation", "graded", "held_children", "id",
        "n_devices", "n_found_at_research",
        "pending_exam", "pending_upload", "priority", "referral_day", "t_exam_done",
        "t_intake_done", "t_uploaded", "t_vid_done", "t_warrant", "true_risk", "u_escalate",
        "u_grade",
    )

    def __init__(self, case_id: int, referral_day: float, true_risk: int, cohort: int,
                 priority: int, first_generation: bool = False, u_grade: float = 0.0,
                 u_escalate: float = 1.0, n_found_at_research: int = 0, draws: object = None,
                 draw_index: int = 0,
                 device_draws: tuple[list[int], list[float], list[float], list[float]]
                 | None = None,
                 device_start: int = 0, n_devices: int = 0):
        self.id = case_id
        self.case = self
        self.referral_day = referral_day
        self.true_risk = true_risk
        self.graded = true_risk
        self.priority = priority
        self.cohort = cohort
        self.escalated = False
        self.draws = draws
        self.draw_index = draw_index
        #: Its devices' drawn attributes: rows ``device_start`` to ``+ n_devices - 1``
        #: of ``device_draws`` (device type, data in TB, images, kiosk uniform).
        self.device_draws = device_draws
        self.device_start = device_start
        self.n_devices = n_devices
        self.first_generation = first_generation
        self.u_grade = u_grade
        self.u_escalate = u_escalate
        self.n_found_at_research = n_found_at_research
        # Empty sequences are the shared empty tuple until something is added: most
        # cases have no children, and lists would cost memory and collector time. A
        # case does not list its devices (each device knows its case), so cases and
        # devices form no reference cycle but a case's link to itself.
        self.children: list[Child] | tuple[()] = NONE
        self.held_children: list[Child] | tuple[()] = NONE
        self.pending_exam = 0
        self.pending_upload = 0
        self.t_intake_done = NAN
        self.t_warrant = NAN
        self.t_exam_done = NAN
        self.t_uploaded = NAN
        self.t_vid_done = NAN


class Device:
    """One seized device (exhibit)."""

    __slots__ = ("case", "data_tb", "device_type", "id", "images", "route", "t_examined",
                 "t_graded", "t_seized", "t_uploaded", "unknown_images")

    def __init__(self, device_id: int, case: Case, device_type: int, data_tb: float,
                 images: float, unknown_images: float, route: int, seized_day: float = NAN):
        self.id = device_id
        self.case = case
        self.device_type = device_type
        self.data_tb = data_tb
        self.images = images
        self.unknown_images = unknown_images
        self.route = route
        self.t_seized = seized_day
        self.t_examined = NAN
        self.t_graded = NAN
        self.t_uploaded = NAN


class Child:
    """A child at risk: in contact with the suspect, or depicted in new material."""

    __slots__ = ("case", "id", "identified_day", "referred_day", "route", "safeguarded_day",
                 "u_identify")

    def __init__(self, child_id: int, case: Case, route: int, u_identify: float = 0.0):
        self.id = child_id
        self.case = case
        self.route = route
        self.u_identify = u_identify
        self.identified_day = NAN
        self.referred_day = NAN
        self.safeguarded_day = NAN
