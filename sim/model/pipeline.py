r"""The eight-stage pipeline of MODEL.md wired from a scenario.

Routing (each arrow is a station's ``on_done``)::

    referral -> intake -> enforcement --(seize devices)--> kiosk ------------------+
                                            \-> device_triage -> lab_examination -+-> image_grading
    image_grading -> database_upload --(all devices of the case)--> victim_identification

Children at risk: in-contact children are identified at intake (research) or at the
warrant; depicted children only when victim identification succeeds. The
safeguarding policy decides when an identified child is referred to social care
(``safeguarding`` station, whose service time is social care's response).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import simpy

from sim.config.schema import DEVICE_STAGES, RISK_LEVELS, Scenario, Stage
from sim.distributions import draw, item_sampler, sampler
from sim.model.automation import install_automation
from sim.model.engine import Call, Engine
from sim.model.entities import (
    BACKLOG,
    CONTACT,
    DEPICTED,
    KIOSK,
    LAB,
    NEW,
    NONE,
    Case,
    Child,
    Device,
)
from sim.model.outsourcing import OutsourcingRoute
from sim.model.population import CaseDraws, draw_cases
from sim.model.staffing import make_pool
from sim.model.station import KeyFn, Pool, Station
from sim.model.workforce import Workforce
from sim.streams import Streams

NAN = math.nan
_heappush = heapq.heappush
LOWEST = len(RISK_LEVELS) - 1


def _no_work(_item: Any) -> float:
    return 0.0


def _key_fn(discipline: str, targets: tuple[float, ...]) -> KeyFn:
    if discipline == "fifo":
        return lambda item, since: (0.0, since)
    if discipline == "deadline":
        return lambda item, since: (item.case.referral_day + targets[item.case.priority],
                                    item.case.referral_day)
    return lambda item, since: (float(item.case.priority), item.case.referral_day)


class Pipeline:
    """All stations, pools and routing rules of one replication.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    streams : Streams
        The replication's random streams.
    env : Engine
        The clock.
    """

    def __init__(self, scenario: Scenario, streams: Streams, env: Engine):
        self.scenario = scenario
        self.streams = streams
        self.env = env
        self.cases: list[Case] = []
        self.devices: list[Device] = []
        self.children: list[Child] = []
        #: Cases as made, in blocks of consecutive ids: (draws, referral days, cohort).
        #: The cases table reads what never changes after creation from here.
        self.case_blocks: list[tuple[CaseDraws, np.ndarray, int]] = []
        #: New referrals, in arrival order (see :meth:`schedule_referrals`).
        self.referrals: list[Case] = []
        self.device_type_names = list(scenario.cases.device_types)
        self.pools = {name: self._make_pool(name) for name in scenario.staff}
        st = scenario.stages
        pol = scenario.policies
        tri = scenario.triage
        self.p_misgrade = 1.0 - tri.grading_accuracy
        self.misgrade_down = tri.misgrade_down_share
        self.p_escalate = tri.escalation_detect_probability
        self.kiosk_share = pol.kiosk_share_of_phones
        kiosk_type = st.device_triage.kiosk_device_type
        self.kiosk_type = (self.device_type_names.index(kiosk_type)
                           if kiosk_type in self.device_type_names else -1)
        self.policy = pol.safeguarding_referral
        self.vid_p = st.victim_identification.identification_probability
        vid_delay = st.victim_identification.identification_delay
        self.vid_delay_days: Callable[[], float] | None = (
            None if vid_delay is None
            else sampler(vid_delay, streams.get("delay.victim_identification"), 1.0 / 24.0))
        self.known_share = scenario.cases.known_image_share
        targets = pol.enforcement_target_days.values_in_order()

        def station(name: str, on_done: Callable[[Any], None],
                    work: Callable[[Any], float] | None = None) -> Station:
            cfg: Stage = getattr(st, name)
            pool = self.pools[cfg.pool] if cfg.pool is not None else None
            return Station(env, name, pool, _key_fn(cfg.discipline, targets),
                           work or self._work(name, cfg), on_done, cfg.enabled)

        self.safeguarding = station("safeguarding", self._safeguarded)
        self.victim_identification = station("victim_identification", self._vid_done)
        self.database_upload = station("database_upload", self._uploaded)
        grading = st.image_grading
        base_grading = self._work("image_grading", grading)
        self.grading_base_work = base_grading
        per_image = (0.0 if grading.images_per_hour is None else 1.0 / grading.images_per_hour)
        self.image_grading = station(
            "image_grading", self._graded,
            (lambda d: base_grading(d) + d.unknown_images * per_image) if per_image
            else base_grading)  # x + 0.0 == x for the non-negative times here
        lab = st.lab_examination
        base_lab = self._work("lab_examination", lab)
        self.lab_base_work = base_lab
        per_tb = lab.hours_per_tb
        self.lab_examination = station("lab_examination", self._examined,
                                       (lambda d: base_lab(d) + d.data_tb * per_tb) if per_tb
                                       else base_lab)
        self.device_triage = station("device_triage", self._triaged)
        kiosk = st.device_triage.kiosk
        self.kiosk = Station(
            env, "kiosk",
            self.pools[kiosk.pool] if kiosk is not None and kiosk.pool is not None else None,
            _key_fn(st.device_triage.discipline, targets),
            self._service_work("service.kiosk", kiosk.service if kiosk else None, None),
            self._kiosk_done, kiosk is not None and st.device_triage.enabled)
        self.enforcement = station("enforcement", self._warrant)
        self.intake = station("intake", self._intake_done)
        self.stations: list[Station] = [
            self.intake, self.enforcement, self.safeguarding, self.device_triage, self.kiosk,
            self.lab_examination, self.image_grading, self.database_upload,
            self.victim_identification]
        # Workforce levers (sim.model.workforce, .outsourcing, .automation): each is
        # inert, and schedules nothing, when its scenario block is absent.
        self.to_lab: Callable[[Device], None] = self.lab_examination.arrive
        self.adjust_found_at_research: Callable[[Case], None] | None = None
        self.workforce = Workforce(self)
        self.outsourcing = OutsourcingRoute(self) if scenario.outsourcing is not None else None
        install_automation(self)

    # ----------------------------------------------------------------- building
    def _make_pool(self, name: str) -> Pool:
        return make_pool(self.env, name, self.scenario)

    def _service_work(self, stream: str, service: Any, by_type: dict[str, Any] | None
                      ) -> Callable[[Any], float]:
        rng_base = self.streams.get(stream, 0)
        base = item_sampler(service, rng_base) if service is not None else None
        if by_type is None:
            return base if base is not None else _no_work
        # Typed times add to the common ``service`` time; a type without its own time
        # gets the common time alone (the schema refuses a type with neither).
        typed = [item_sampler(by_type[t], self.streams.get(stream, i + 1)) if t in by_type
                 else _no_work for i, t in enumerate(self.device_type_names)]
        if base is None:
            return lambda d: typed[d.device_type](d)
        return lambda d: base(d) + typed[d.device_type](d)

    def _work(self, name: str, cfg: Stage) -> Callable[[Any], float]:
        return self._service_work(f"service.{name}", cfg.service, cfg.service_by_device_type)

    # ----------------------------------------------------------------- entities
    def _make_cases(self, draws: CaseDraws, days: np.ndarray, cohort: int) -> list[Case]:
        first_id = len(self.cases)
        n = days.size
        device_draws = (draws.device_type.tolist(), draws.data_tb.tolist(), draws.images.tolist(),
                        draws.u_kiosk.tolist())
        # Case i of the block is made from row i of each array (map stops at the n days).
        out = list(map(Case, range(first_id, first_id + n), days.tolist(),
                       draws.true_risk.tolist(), repeat(cohort), repeat(LOWEST),
                       draws.first_generation.tolist(), draws.u_grade.tolist(),
                       draws.u_escalate.tolist(), draws.n_found_at_research.tolist(),
                       repeat(draws), range(n), repeat(device_draws),
                       draws.device_start.tolist(), draws.n_devices.tolist()))
        children = self.children
        n_contact = draws.n_contact.tolist()
        d_start = draws.depicted_start.tolist()
        u_identify = draws.u_identify.tolist()
        with_children = (draws.n_contact[:n] > 0) | (np.diff(draws.depicted_start)[:n] > 0)
        for i in np.flatnonzero(with_children).tolist():  # in case order, as ids are given
            case = out[i]
            own = [Child(len(children) + k, case, CONTACT) for k in range(n_contact[i])]
            first = len(children) + len(own)
            own += [Child(first + k - d_start[i], case, DEPICTED, u_identify[k])
                    for k in range(d_start[i], d_start[i + 1])]
            children += own
            case.children = own
        self.cases.extend(out)
        self.case_blocks.append((draws, days, cohort))
        return out

    def _make_devices(self, case: Case, n: int, now: float, route_by_kiosk: bool) -> list[Device]:
        assert case.device_draws is not None
        device_type, data_tb, images_drawn, u_kiosk = case.device_draws
        start = case.device_start
        out = []
        devices = self.devices
        first_id = len(devices) - start
        unknown_share = 1.0 - self.known_share
        kiosk_type = self.kiosk_type if route_by_kiosk else -1  # -1: no device type
        kiosk_share = self.kiosk_share
        for j in range(start, start + n):
            dtype = device_type[j]
            images = images_drawn[j]
            out.append(Device(first_id + j, case, dtype, data_tb[j], images,
                              round(images * unknown_share),
                              KIOSK if dtype == kiosk_type and u_kiosk[j] < kiosk_share
                              else LAB, now))
        devices += out
        case.pending_exam = n
        case.pending_upload = n
        return out

    # ------------------------------------------------------------ arrivals, backlog
    def schedule_referrals(self, days: np.ndarray, draws: CaseDraws) -> None:
        """Create referral ``i`` at ``days[i]`` and send it to intake at that time."""
        cases = self._make_cases(draws, days, NEW)
        self.referrals = cases
        env = self.env
        times = days.tolist()
        intake = self.intake

        n = len(cases)

        def arrive(call: Call) -> None:
            i = call.row
            intake.arrive(call.item)
            i += 1
            if i < n:  # the next referral, as env.timeout(times[i] - now) would schedule it
                now = env._now
                call.callbacks = callbacks  # env.step, unlike run_until, clears it
                call.item = cases[i]
                call.row = i
                call_at(now + (times[i] - now), call)

        call_at = env.call_at
        callbacks: list[Callable[[Any], None]] = [arrive]
        if cases:
            env.schedule_call(times[0] - env._now, Call(callbacks, cases[0], -1, 0))

    def load_backlog(self) -> None:
        """Put today's backlog in the queues, with the time it has already waited.

        A backlog case's referral day is minus its age at its current stage (a lower
        bound on its true age). Cases at device stages have had their warrant at that
        day; their children who were identified then and whose safeguarding gate has
        passed are referred at time zero.
        """
        sc = self.scenario
        found_p = sc.triage.contact_children_found_at_research_probability
        for k, (stage, block) in enumerate(sc.initial_backlog.blocks()):
            if block.count == 0:
                continue
            sub = k + 1
            mix = block.risk_mix or sc.demand.risk_mix
            on_devices = stage in DEVICE_STAGES
            n_cases = block.count
            if on_devices:
                mean_devices = max(sc.cases.devices_per_case.mean, 0.5)
                n_cases = int(block.count / mean_devices * 1.5) + 10
            draws = draw_cases(n_cases, mix, sc.cases, found_p, self.streams, sub)
            if on_devices:
                n_dev = draws.n_devices
                while int(n_dev.sum()) < block.count:
                    n_cases *= 2
                    draws = draw_cases(n_cases, mix, sc.cases, found_p, self.streams, sub)
                    n_dev = draws.n_devices
                upto = np.cumsum(n_dev)
                n_cases = int(np.searchsorted(upto, block.count)) + 1
            ages = draw(block.age_days, self.streams.get("backlog.age", sub), n_cases)
            cases = self._make_cases(draws, -ages, BACKLOG)[:n_cases]
            if on_devices:
                self._backlog_on_devices(stage, cases, block.count)
                continue
            station = self.intake if stage == "intake" else self.enforcement
            for case in cases:
                if stage == "enforcement":
                    self._grade(case)
                    self._identify(case, case.children[: case.n_found_at_research],
                                   case.referral_day)
                station.arrive(case, case.referral_day)

    def _backlog_on_devices(self, stage: str, cases: list[Case], n_devices: int) -> None:
        left = n_devices
        station = getattr(self, stage)
        examined = stage in ("image_grading", "database_upload")
        for case in cases:
            n = min(case.n_devices, left)
            left -= n
            day = case.referral_day
            self._grade(case)
            case.t_intake_done = day
            case.t_warrant = day
            devices = self._make_devices(case, n, day, route_by_kiosk=False)
            contact = [c for c in case.children if c.route == CONTACT]
            self._identify(case, contact, day)
            if examined:
                case.pending_exam = 0
                case.t_exam_done = day
                for device in devices:
                    device.t_examined = day
                self._release_held(case)
            if n == 0:
                self._all_uploaded(case)
            for device in devices:
                station.arrive(device, day)

    # -------------------------------------------------------------- routing rules
    def _grade(self, case: Case) -> None:
        """Risk grading: correct, or one level off with the scenario's error rate."""
        graded = case.true_risk
        u = case.u_grade
        if u < self.p_misgrade:
            down = u < self.p_misgrade * self.misgrade_down
            if graded == 0:
                down = True
            elif graded == LOWEST:
                down = False
            graded += 1 if down else -1
        case.graded = graded
        case.priority = graded

    def _identify(self, case: Case, children: Sequence[Child], day: float) -> None:
        """Children become known to police; refer them now or hold them by policy."""
        for child in children:
            if child.identified_day == child.identified_day:  # already identified
                continue
            child.identified_day = day
            if self._gate_open(case):
                self._refer(child)
            else:
                case.held_children = [*case.held_children, child]

    def _gate_open(self, case: Case) -> bool:
        policy = self.policy
        if policy == "immediate":
            return True
        gate = case.t_warrant if policy == "at_warrant" else case.t_exam_done
        return gate == gate  # not NaN

    def _refer(self, child: Child) -> None:
        now = self.env._now
        child.referred_day = now
        self.safeguarding.arrive(child)

    def _release_held(self, case: Case) -> None:
        if case.held_children and self._gate_open(case):
            held, case.held_children = case.held_children, NONE
            for child in held:
                self._refer(child)

    def _intake_done(self, case: Case) -> None:
        now = self.env._now
        case.t_intake_done = now
        if case.u_grade < self.p_misgrade:
            self._grade(case)
        else:  # graded correctly, as _grade() would find
            case.graded = case.priority = case.true_risk
        if self.adjust_found_at_research is not None:
            self.adjust_found_at_research(case)
        if case.n_found_at_research:
            self._identify(case, case.children[: case.n_found_at_research], now)
        self.enforcement.arrive(case)

    def _warrant(self, case: Case) -> None:
        now = self.env._now
        case.t_warrant = now
        devices = self._make_devices(case, case.n_devices, now, True)
        if case.children:
            self._identify(case, [c for c in case.children if c.route == CONTACT], now)
            self._release_held(case)
        if not devices:
            case.t_exam_done = now
            self._release_held(case)
            self._all_uploaded(case)
            return
        kiosk, triage = self.kiosk, self.device_triage
        for device in devices:
            (kiosk if device.route == KIOSK else triage).arrive(device)

    def _escalate(self, case: Case) -> None:
        if (not case.escalated and case.u_escalate < self.p_escalate
                and (case.first_generation or case.children)):
            case.escalated = True
            case.priority = 0

    def _triaged(self, device: Device) -> None:
        case = device.case
        if case.u_escalate < self.p_escalate:  # else _escalate() would do nothing
            self._escalate(case)
        self.to_lab(device)

    def _kiosk_done(self, device: Device) -> None:
        self._escalate(device.case)
        self._examined(device)

    def _examined(self, device: Device) -> None:
        now = self.env._now
        device.t_examined = now
        case = device.case
        case.pending_exam -= 1
        if case.pending_exam == 0:
            case.t_exam_done = now
            if case.held_children:
                self._release_held(case)
        self.image_grading.arrive(device)

    def _graded(self, device: Device) -> None:
        device.t_graded = self.env._now
        self.database_upload.arrive(device)

    def _uploaded(self, device: Device) -> None:
        device.t_uploaded = self.env._now
        case = device.case
        case.pending_upload -= 1
        if case.pending_upload == 0:
            self._all_uploaded(case)

    def _all_uploaded(self, case: Case) -> None:
        case.t_uploaded = self.env._now
        if case.first_generation and any(c.route == DEPICTED for c in case.children):
            self.victim_identification.arrive(case)

    def _vid_done(self, case: Case) -> None:
        now = self.env._now
        case.t_vid_done = now
        p = self.vid_p
        delay = self.vid_delay_days
        for child in case.children:
            if child.route != DEPICTED or child.u_identify >= p:
                continue
            wait = delay() if delay is not None else 0.0
            if wait > 0:
                self.env.timeout(wait, child).callbacks.append(self._identified_later)
            else:
                self._identify(case, [child], now)

    def _identified_later(self, event: simpy.Event) -> None:
        child: Child = event._value
        self._identify(child.case, [child], self.env._now)

    def _safeguarded(self, child: Child) -> None:
        child.safeguarded_day = self.env._now
