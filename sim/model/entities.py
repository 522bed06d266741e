"""The things that move through the pipeline: cases, devices, children, other jobs.

Plain classes with ``__slots__``: thousands are created per replication and their
attributes are read on every event. Every entity has ``id`` and ``case`` (a case is
its own case), which is all a :class:`~sim.model.station.Station` needs.

The codes below are the one source for the names used in the results tables
(:data:`CHILD_KINDS`, :data:`FOUND_AT`, :data:`ACTIONS`).
"""

from __future__ import annotations

import math

NAN = math.nan
#: The empty sequence every entity starts with (see :class:`Case`).
NONE: tuple[()] = ()

#: Child kinds: in contact with the suspect, depicted in new material, known only from
#: what is on the devices.
CONTACT, DEPICTED, ON_DEVICE = 0, 1, 2
CHILD_KINDS = ("contact", "depicted", "on_device")
#: Where a child was identified (0: not, or not yet).
(NOT_FOUND, FOUND_INTAKE, FOUND_ENFORCEMENT, FOUND_KIOSK, FOUND_LAB, FOUND_GRADING, FOUND_VID,
 FOUND_OUTSOURCED) = range(8)
FOUND_AT = ("", "intake", "enforcement", "kiosk", "lab_examination", "image_grading",
            "victim_identification", "outsourcing")
#: Device routes.
LAB, KIOSK = 0, 1
#: Cohorts: referred during the run, or already in today's backlog.
NEW, BACKLOG = 0, 1
#: Enforcement actions decided at intake.
PENDING, WARRANT, VOLUNTARY, NO_ACTION = 0, 1, 2, 3
ACTIONS = ("pending", "warrant", "voluntary_attendance", "no_further_action")


class Case:
    """One referral (one suspect)."""

    __slots__ = (
        "action", "case", "children", "cohort", "device_draws", "device_start", "draw_index",
        "draws", "escalated", "first_generation", "graded", "held_children", "id",
        "n_devices", "n_found_at_research",
        "pending_exam", "pending_upload", "priority", "referral_day", "t_exam_done",
        "t_intake_done", "t_uploaded", "t_vid_done", "t_warrant", "true_risk", "u_decision",
        "u_escalate", "u_grade",
    )

    def __init__(self, case_id: int, referral_day: float, true_risk: int, cohort: int,
                 priority: int, first_generation: bool = False, u_grade: float = 0.0,
                 u_escalate: float = 1.0, n_found_at_research: int = 0, draws: object = None,
                 draw_index: int = 0,
                 device_draws: tuple[list[int], list[float], list[float], list[float],
                                     list[float]] | None = None,
                 device_start: int = 0, n_devices: int = 0, u_decision: float = 0.0):
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
        #: of ``device_draws`` (device type, data in TB, images, kiosk uniform, seizure
        #: uniform).
        self.device_draws = device_draws
        self.device_start = device_start
        self.n_devices = n_devices
        self.first_generation = first_generation
        self.u_grade = u_grade
        self.u_escalate = u_escalate
        self.u_decision = u_decision
        self.n_found_at_research = n_found_at_research
        self.action = PENDING
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
    """One seized device (exhibit).

    ``hidden`` lists the children known only from this device's content who have not
    been found yet (the shared empty tuple on most devices).
    """

    __slots__ = ("case", "data_tb", "device_type", "hidden", "id", "images", "route",
                 "t_examined", "t_graded", "t_seized", "t_uploaded", "unknown_images")

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
        self.hidden: list[Child] | tuple[()] = NONE


class Child:
    """A child at risk: in contact with the suspect, depicted, or known only from devices.

    ``u_identify`` decides identification at victim identification (depicted
    children); ``u_find`` the finding at the first device stage (examination, or the
    voluntary-attendance interview for a child in contact) and ``u_find_later`` at
    grading; ``device_index`` is the device of the case that holds the evidence
    (children on devices).
    """

    __slots__ = ("case", "device_index", "found_at", "id", "identified_day", "referred_day",
                 "route", "safeguarded_day", "u_find", "u_find_later", "u_identify")

    def __init__(self, child_id: int, case: Case, route: int, u_identify: float = 0.0,
                 u_find: float = 0.0, u_find_later: float = 0.0, device_index: int = -1):
        self.id = child_id
        self.case = case
        self.route = route
        self.u_identify = u_identify
        self.u_find = u_find
        self.u_find_later = u_find_later
        self.device_index = device_index
        self.found_at = NOT_FOUND
        self.identified_day = NAN
        self.referred_day = NAN
        self.safeguarded_day = NAN


class Job:
    """A job from outside the IIOC pipeline at a shared stage (``other_work``).

    Negative ids keep jobs apart from devices and cases in a station's log.
    """

    __slots__ = ("case", "device_type", "id", "priority", "referral_day", "work_hours")

    def __init__(self, job_id: int, priority: int, arrival_day: float, work_hours: float):
        self.id = job_id
        self.case = self
        self.priority = priority
        self.referral_day = arrival_day
        self.work_hours = work_hours
        self.device_type = -1
