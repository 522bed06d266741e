"""The things that move through the pipeline: cases, devices, children.

Plain classes with ``__slots__``: thousands are created per replication and their
attributes are read on every event. Every entity has ``id`` and ``case`` (a case is
its own case), which is all a :class:`~sim.model.station.Station` needs.
"""

from __future__ import annotations

import math

NAN = math.nan

#: Child routes to identification.
CONTACT, DEPICTED = 0, 1
#: Device routes.
LAB, KIOSK = 0, 1
#: Cohorts: referred during the run, or already in today's backlog.
NEW, BACKLOG = 0, 1


class Case:
    """One referral (one suspect)."""

    __slots__ = (
        "case", "children", "cohort", "devices", "draw_index", "draws", "escalated",
        "first_generation", "graded", "held_children", "id", "n_found_at_research",
        "pending_exam", "pending_upload", "priority", "referral_day", "t_exam_done",
        "t_intake_done", "t_uploaded", "t_vid_done", "t_warrant", "true_risk", "u_escalate",
        "u_grade",
    )

    def __init__(self, case_id: int, referral_day: float, true_risk: int, cohort: int):
        self.id = case_id
        self.case = self
        self.referral_day = referral_day
        self.true_risk = true_risk
        self.graded = true_risk
        self.priority = true_risk
        self.cohort = cohort
        self.escalated = False
        self.draws: object = None
        self.draw_index = 0
        self.first_generation = False
        self.u_grade = 0.0
        self.u_escalate = 1.0
        self.n_found_at_research = 0
        self.devices: list[Device] = []
        self.children: list[Child] = []
        self.held_children: list[Child] = []
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
                 images: float, unknown_images: float, route: int):
        self.id = device_id
        self.case = case
        self.device_type = device_type
        self.data_tb = data_tb
        self.images = images
        self.unknown_images = unknown_images
        self.route = route
        self.t_seized = NAN
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
