r"""The eight-stage pipeline of MODEL.md wired from a scenario.

Routing (each arrow is a station's ``on_done``)::

    referral -> intake --(decision: warrant / voluntary attendance / no further action)
             -> enforcement --(seize devices)--> kiosk ------------------+
                                  \-> device_triage -> lab_examination -+-> image_grading
    image_grading -> database_upload --(all devices of the case)--> victim_identification

Children at risk, by how they can be found (their *route* in the results):

- in contact with the suspect: found at intake by research (``research``), else at the
  warrant, or with some chance at a voluntary-attendance interview (``warrant``); a
  case with no further action leaves them unknown;
- known only from device content (``examination``): found at the kiosk or the lab, or
  later at grading, with the serving member's skill (tier ``find_probability``) times a
  retention that halves every ``discovery.examination_trail_half_life_days`` since
  seizure; found, they escalate their case to the top priority;
- depicted in first-generation material (``depicted``): identified at victim
  identification, after every device of the case is graded and uploaded, with
  ``identification_probability`` times the officer's skill times a retention that
  falls with the days since seizure.

The safeguarding policy decides when an identified child is referred to social care
(``safeguarding`` station, whose service time is social care's response). Stages that
serve ``other_work`` (the lab's non-IIOC exhibits, the warrant crews' other warrants)
get a stream of :class:`~sim.model.entities.Job` items that queue with the IIOC work
and leave when served.

Levers (workforce dynamics, outsourcing, automation) are objects handed to the
pipeline when it is built (:mod:`sim.model.levers`); each installs itself through the
hooks in the "lever interface" section below, and the pipeline imports none of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
from simpy.events import NORMAL

from sim.config.schema import (
    DEVICE_STAGES,
    OTHER_WORK_STAGES,
    RISK_LEVELS,
    OtherWork,
    Scenario,
    Stage,
)
from sim.distributions import draw, item_sampler, sampler
from sim.model.calendar import ShiftCalendar, ShiftClock
from sim.model.engine import Call, Engine
from sim.model.entities import (
    BACKLOG,
    CONTACT,
    DEPICTED,
    FOUND_ENFORCEMENT,
    FOUND_GRADING,
    FOUND_INTAKE,
    FOUND_KIOSK,
    FOUND_LAB,
    FOUND_OUTSOURCED,
    FOUND_VID,
    KIOSK,
    LAB,
    NEW,
    NO_ACTION,
    NONE,
    ON_DEVICE,
    VOLUNTARY,
    WARRANT,
    Case,
    Child,
    Device,
    Job,
)
from sim.model.population import CaseDraws, draw_cases, poisson_days
from sim.model.staffing import make_pool
from sim.model.station import KeyFn, Station
from sim.streams import Streams

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.levers import Lever

NAN = math.nan
LOWEST = len(RISK_LEVELS) - 1
#: Added to a stage's first queue key per step of ``precedence``: a pool's free member
#: serves the stage of lowest precedence with work waiting first.
PRECEDENCE_STEP = 1e9
_UNIFORM_BLOCK = 4096


def _no_work(_item: Any) -> float:
    return 0.0


#: A stage's work samplers: the common one and one per device type (None: none).
WorkParts = tuple[Callable[[Any], float] | None, list[Callable[[Any], float]] | None]


def _compose(parts: WorkParts) -> Callable[[Any], float]:
    """``work(item)``: the common time plus the item's device type's time."""
    base, typed = parts
    if typed is None:
        return base if base is not None else _no_work
    if base is None:
        return lambda d: typed[d.device_type](d)
    return lambda d: base(d) + typed[d.device_type](d)


def _or_job_hours(work: Callable[[Any], float]) -> Callable[[Any], float]:
    """``work``, except for a :class:`Job` of other work, which brings its own hours."""
    return lambda item: item.work_hours if item.__class__ is Job else work(item)


def _lab_work(parts: WorkParts, hours_per_tb: float, jobs: bool) -> Callable[[Any], float]:
    """Examiner hours of a lab job: the sampled time, plus per TB; a Job's own hours.

    The lab of the shipped scenarios (times by device type only, per-TB hours, other
    work) gets one function that does it all, with the same values in the same order
    as the general composition below (tested): it runs at every lab start.
    """
    base, typed = parts
    if jobs and hours_per_tb and base is None and typed is not None:
        def lab(item: Any) -> float:
            if item.__class__ is Job:
                return item.work_hours
            return typed[item.device_type](item) + item.data_tb * hours_per_tb

        return lab
    composed = _compose(parts)
    work: Callable[[Any], float] = ((lambda d: composed(d) + d.data_tb * hours_per_tb)
                                    if hours_per_tb else composed)
    return _or_job_hours(work) if jobs else work


def _grading_work(parts: WorkParts, hours_per_image: float, recount: bool,
                  unknown: Callable[[Any], float], env: Engine,
                  growth: tuple[float, float, float] | None) -> Callable[[Any], float]:
    """Grader hours of a device: the sampled time, plus per image not matched by hash.

    ``recount``: the hash-matched share may have changed since the device was seized,
    so its unknown images are counted again now, by ``unknown(device)``. ``growth``,
    (level at day 0, growth per year, cap), lets the common case (a fixed common time,
    no time by device type, a growing hash set) do that count in the same function,
    with the same arithmetic as :meth:`sim.config.schema.CaseAttributes.known_share_at`
    and :meth:`Pipeline._unknown_images` (tested): it runs at every grading start.
    """
    base = _compose(parts)
    if not recount:  # the count made with the device is the one now
        return ((lambda d: base(d) + d.unknown_images * hours_per_image) if hours_per_image
                else base)
    if not hours_per_image:
        return lambda d: base(d) + 0.0 * unknown(d)
    if growth is None or parts[1] is not None:
        return lambda d: base(d) + unknown(d) * hours_per_image
    level, per_year, cap = growth

    def grading(d: Any) -> float:
        hours = base(d)
        day = env._now
        grown = level + per_year * (day if day >= 0.0 else 0.0) / 365.25
        known = (grown if grown < cap else cap) if grown > level else level
        d.unknown_images = n = round(d.images * (1.0 - known))
        return hours + n * hours_per_image

    return grading


def _key_fn(stage: Stage, targets: tuple[float, ...]) -> KeyFn:
    """The queue key of a stage: discipline, own targets and precedence."""
    offset = stage.precedence * PRECEDENCE_STEP
    if stage.discipline == "fifo":
        return lambda item, since: (offset, since)
    if stage.discipline == "deadline":
        if stage.target_days is not None:
            own = stage.target_days.values_in_order()
            return lambda item, since: (offset + since + own[item.case.priority], since)
        return lambda item, since: (offset + item.case.referral_day + targets[item.case.priority],
                                    item.case.referral_day)
    return lambda item, since: (offset + item.case.priority, item.case.referral_day)


def _uniforms(rng: np.random.Generator) -> Callable[[], float]:
    """One uniform per call, drawn in blocks from ``rng``."""
    def blocks() -> Iterator[float]:
        while True:
            yield from rng.random(_UNIFORM_BLOCK).tolist()

    return blocks().__next__


def _retention(half_life_days: float | None) -> Callable[[float], float]:
    """Share of a trail still warm after ``days``: halves every ``half_life_days``."""
    if half_life_days is None:
        return lambda _days: 1.0
    rate = math.log(2.0) / half_life_days
    return lambda days: math.exp(-rate * days) if days > 0 else 1.0


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
    levers : sequence of Lever
        Workforce, outsourcing and automation levers (:func:`sim.model.levers.build_levers`);
        each is installed once the stations exist.
    """

    def __init__(self, scenario: Scenario, streams: Streams, env: Engine,
                 levers: Sequence[Lever] = ()):
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
        self.calendars = self._calendars()
        self.pools = {name: make_pool(env, name, scenario, self.calendars.get(name))
                      for name in scenario.staff}
        st = scenario.stages
        pol = scenario.policies
        tri = scenario.triage
        ca = scenario.cases
        self.p_misgrade = 1.0 - tri.grading_accuracy
        self.misgrade_down = tri.misgrade_down_share
        self.p_escalate = tri.escalation_detect_probability
        self.warrant_p = tri.warrant_probability.values_in_order()
        self.voluntary_p = tri.voluntary_attendance_probability.values_in_order()
        self.voluntary_find_p = tri.voluntary_attendance_finds_contact_probability
        self.voluntary_seize_share = tri.voluntary_attendance_devices_seized_share
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
        self.device_retention = _retention(scenario.discovery.examination_trail_half_life_days)
        self.depicted_retention = _retention(scenario.discovery.depicted_trail_half_life_days)
        self.known_level = ca.known_image_share
        self.known_grows = ca.known_image_share_growth_per_year > 0
        #: True once the hash-matched share can differ from when a device was seized:
        #: grading then counts a device's unknown images when its grading starts.
        self.known_changes = self.known_grows
        self.data_grows = ca.data_tb_growth_per_year != 0
        self._rework_u = _uniforms(streams.get("grading.rework"))
        self.adjust_found_at_research: Callable[[Case], None] | None = None
        self.jobs_done: dict[str, int] = {}
        targets = pol.enforcement_target_days.values_in_order()
        expedite_levels = [level in pol.expedite.risk_levels for level in RISK_LEVELS]

        def station(name: str, on_done: Callable[..., None], work: Callable[[Any], float] | None = None,
                    pass_tier: bool = False) -> Station:
            cfg: Stage = getattr(st, name)
            pool = self.pools[cfg.pool] if cfg.pool is not None else None
            expedite = expedite_levels if name in pol.expedite.stages else None
            return Station(env, name, pool, _key_fn(cfg, targets),
                           work or self._work(name, cfg), on_done, cfg.enabled, expedite,
                           pass_tier)

        self.safeguarding = station("safeguarding", self._safeguarded)
        self.victim_identification = station("victim_identification", self._vid_done,
                                             pass_tier=True)
        self.upload_base_work = self._work("database_upload", st.database_upload)
        self.database_upload = station("database_upload", self._uploaded, self.upload_base_work)
        self.grading_parts = self._parts("image_grading", st.image_grading)
        self.grading_base_work = _compose(self.grading_parts)
        self.grading_hours_per_image = (0.0 if st.image_grading.images_per_hour is None
                                        else 1.0 / st.image_grading.images_per_hour)
        self.image_grading = station("image_grading", self._graded, self.grading_base_work,
                                     pass_tier=True)
        self.lab_parts = self._parts("lab_examination", st.lab_examination)
        self.lab_base_work = _compose(self.lab_parts)
        self.lab_hours_per_tb = st.lab_examination.hours_per_tb
        self.lab_examination = station("lab_examination", self._examined, self.lab_base_work,
                                       pass_tier=True)
        self.device_triage = station("device_triage", self._triaged)
        kiosk = st.device_triage.kiosk
        self.kiosk = Station(
            env, "kiosk",
            self.pools[kiosk.pool] if kiosk is not None and kiosk.pool is not None else None,
            _key_fn(st.device_triage, targets),
            self._service_work("service.kiosk", kiosk.service if kiosk else None, None),
            self._kiosk_done, kiosk is not None and st.device_triage.enabled, None, True)
        self.enforcement = station("enforcement", self._warrant,
                                   self._with_jobs("enforcement", self._work("enforcement",
                                                                             st.enforcement)))
        self.intake = station("intake", self._intake_done)
        self.stations: list[Station] = [
            self.intake, self.enforcement, self.safeguarding, self.device_triage, self.kiosk,
            self.lab_examination, self.image_grading, self.database_upload,
            self.victim_identification]
        self.to_lab: Callable[[Device], None] = self.lab_examination.arrive
        grading_pool = self.image_grading.pool
        #: Rework chance per tier of the grading pool; None when no tier reworks.
        self._rework = (grading_pool.tier_rework if grading_pool is not None
                        and any(r > 0 for r in grading_pool.tier_rework) else None)
        self._set_work_functions()
        self.clocks = [ShiftClock(env, cal, [self.pools[n] for n in names], scenario.run.end_day)
                       for cal, names in self._calendar_pools()]
        for lever in levers:
            lever.install(self)

    # ----------------------------------------------------------------- building
    def _calendars(self) -> dict[str, ShiftCalendar]:
        """One shift calendar per working pattern, shared by the pools that follow it."""
        weekday = self.scenario.run.start_date.weekday()
        by_key: dict[tuple[float, int, float], ShiftCalendar] = {}
        out: dict[str, ShiftCalendar] = {}
        for name, cfg in self.scenario.staff.items():
            if not cfg.uses_shifts:
                continue
            key = (cfg.shift_hours_per_day, int(cfg.days_per_week), cfg.shift_start_hour)
            if key not in by_key:
                by_key[key] = ShiftCalendar(key[0], key[1], key[2], weekday)
            out[name] = by_key[key]
        return out

    def _calendar_pools(self) -> list[tuple[ShiftCalendar, list[str]]]:
        groups: dict[int, tuple[ShiftCalendar, list[str]]] = {}
        for name, cal in sorted(self.calendars.items()):
            groups.setdefault(id(cal), (cal, []))[1].append(name)
        return list(groups.values())

    def _service_parts(self, stream: str, service: Any, by_type: dict[str, Any] | None
                       ) -> WorkParts:
        """The common and the per-device-type samplers of a stage's work (see :func:`_compose`)."""
        rng_base = self.streams.get(stream, 0)
        base = item_sampler(service, rng_base) if service is not None else None
        if by_type is None:
            return base, None
        # Typed times add to the common ``service`` time; a type without its own time
        # gets the common time alone (the schema refuses a type with neither).
        typed = [item_sampler(by_type[t], self.streams.get(stream, i + 1)) if t in by_type
                 else _no_work for i, t in enumerate(self.device_type_names)]
        return base, typed

    def _service_work(self, stream: str, service: Any, by_type: dict[str, Any] | None
                      ) -> Callable[[Any], float]:
        return _compose(self._service_parts(stream, service, by_type))

    def _work(self, name: str, cfg: Stage) -> Callable[[Any], float]:
        return self._service_work(f"service.{name}", cfg.service, cfg.service_by_device_type)

    def _parts(self, name: str, cfg: Stage) -> WorkParts:
        return self._service_parts(f"service.{name}", cfg.service, cfg.service_by_device_type)

    def _set_work_functions(self) -> None:
        """(Re)build the lab, grading and upload work from the current settings.

        Each is one function per call where the scenario allows (:func:`_lab_work`,
        :func:`_grading_work`): the work of a service is asked for at every start.
        """
        cases = self.scenario.cases
        self.lab_examination.work = _lab_work(
            self.lab_parts, self.lab_hours_per_tb,
            self.scenario.stages.lab_examination.other_work is not None)
        self.image_grading.work = _grading_work(
            self.grading_parts, self.grading_hours_per_image, self.known_changes,
            self._unknown_images, self.env,
            (self.known_level, cases.known_image_share_growth_per_year,
             max(self.known_level, cases.known_image_share_max)) if self.known_grows else None)
        up = self.scenario.stages.database_upload
        base_up = self.upload_base_work
        votes_per_image = (0.0 if up.images_per_hour is None else
                           up.extra_votes_per_new_image * up.new_image_share_of_unknown
                           / up.images_per_hour)
        upload: Callable[[Any], float] = ((lambda d: base_up(d) + d.unknown_images * votes_per_image)
                                          if votes_per_image else base_up)
        self.database_upload.work = upload

    def _with_jobs(self, stage: str, work: Callable[[Any], float]) -> Callable[[Any], float]:
        if getattr(self.scenario.stages, stage).other_work is None:
            return work
        return _or_job_hours(work)

    def _unknown_images(self, device: Device) -> float:
        """Images of ``device`` not matched by hash, at the hash set's size now."""
        if self.known_grows:
            known = self.scenario.cases.known_share_at(self.env._now, self.known_level)
        else:
            known = self.known_level
        device.unknown_images = n = round(device.images * (1.0 - known))
        return n

    # ------------------------------------------------------------ lever interface
    def set_lab_entry(self, entry: Callable[[Device], None]) -> None:
        """Route every device bound for the lab through ``entry`` (e.g. outsourcing)."""
        self.to_lab = entry

    def set_misgrade_probability(self, p: float) -> None:
        """Risk-grading error rate at intake from now on."""
        self.p_misgrade = p

    def set_research_adjuster(self, adjust: Callable[[Case], None]) -> None:
        """``adjust(case)`` re-decides the children research finds, at intake's end."""
        self.adjust_found_at_research = adjust

    def set_known_share_level(self, share: float) -> None:
        """Images matched by hash from now on (growth continues from this level)."""
        self.known_level = share
        self.known_changes = True
        self._set_work_functions()

    def set_grading_hours_per_image(self, hours: float) -> None:
        """Staff hours per unknown image at investigative grading from now on."""
        self.grading_hours_per_image = hours
        self._set_work_functions()

    def set_lab_hours_per_tb(self, hours: float) -> None:
        """Examiner hours per terabyte for examinations started from now on."""
        self.lab_hours_per_tb = hours
        self._set_work_functions()

    def examined_elsewhere(self, device: Device, find_probability: float) -> None:
        """``device`` comes back examined from outside the lab (an outsourced provider)."""
        self._examined_by(device, find_probability, FOUND_OUTSOURCED)

    # ----------------------------------------------------------------- entities
    def _make_cases(self, draws: CaseDraws, days: np.ndarray, cohort: int) -> list[Case]:
        first_id = len(self.cases)
        n = days.size
        device_draws = (draws.device_type.tolist(), draws.data_tb.tolist(), draws.images.tolist(),
                        draws.u_kiosk.tolist(), draws.u_seize.tolist())
        # Case i of the block is made from row i of each array (map stops at the n days).
        out = list(map(Case, range(first_id, first_id + n), days.tolist(),
                       draws.true_risk.tolist(), repeat(cohort), repeat(LOWEST),
                       draws.first_generation.tolist(), draws.u_grade.tolist(),
                       draws.u_escalate.tolist(), draws.n_found_at_research.tolist(),
                       repeat(draws), range(n), repeat(device_draws),
                       draws.device_start.tolist(), draws.n_devices.tolist(),
                       draws.u_decision.tolist()))
        children = self.children
        n_contact = draws.n_contact.tolist()
        c_start = draws.contact_start.tolist()
        u_contact = draws.u_contact.tolist()
        d_start = draws.depicted_start.tolist()
        u_identify = draws.u_identify.tolist()
        o_start = draws.on_device_start.tolist()
        o_index = draws.on_device_index.tolist()
        u_find = draws.u_find.tolist()
        u_later = draws.u_find_later.tolist()
        with_children = ((draws.n_contact[:n] > 0) | (np.diff(draws.depicted_start)[:n] > 0)
                         | (draws.n_on_devices[:n] > 0))
        for i in np.flatnonzero(with_children).tolist():  # in case order, as ids are given
            case = out[i]
            first = len(children)
            own = [Child(first + k, case, CONTACT, 0.0, u_contact[c_start[i] + k])
                   for k in range(n_contact[i])]
            first = len(children) + len(own)
            own += [Child(first + k - d_start[i], case, DEPICTED, u_identify[k])
                    for k in range(d_start[i], d_start[i + 1])]
            first = len(children) + len(own)
            own += [Child(first + k - o_start[i], case, ON_DEVICE, 0.0, u_find[k], u_later[k],
                          o_index[k]) for k in range(o_start[i], o_start[i + 1])]
            children += own
            case.children = own
        self.cases.extend(out)
        self.case_blocks.append((draws, days, cohort))
        return out

    def _make_devices(self, case: Case, n: int, now: float, route_by_kiosk: bool) -> list[Device]:
        assert case.device_draws is not None
        device_type, data_tb, images_drawn, u_kiosk, _ = case.device_draws
        start = case.device_start
        out = []
        devices = self.devices
        first_id = len(devices) - start
        kiosk_type = self.kiosk_type if route_by_kiosk else -1  # -1: no device type
        kiosk_share = self.kiosk_share
        scale = self.scenario.cases.data_scale_at(now) if self.data_grows else 1.0
        unknown_share = 1.0 - self.known_level
        for j in range(start, start + n):
            dtype = device_type[j]
            images = images_drawn[j]
            out.append(Device(first_id + j, case, dtype, data_tb[j] * scale, images,
                              round(images * unknown_share),
                              KIOSK if dtype == kiosk_type and u_kiosk[j] < kiosk_share
                              else LAB, now))
        devices += out
        if case.children:
            for child in case.children:
                if child.route == ON_DEVICE and 0 <= child.device_index < n:
                    holder = out[child.device_index]
                    holder.hidden = [*holder.hidden, child]
        case.pending_exam = n
        case.pending_upload = n
        return out

    # ------------------------------------------------------------ arrivals, backlog
    def schedule_referrals(self, days: np.ndarray, draws: CaseDraws) -> None:
        """Create referral ``i`` at ``days[i]`` and send it to intake at that time."""
        cases = self._make_cases(draws, days, NEW)
        self.referrals = cases
        self._chain(days, cases, self.intake.arrive)

    def _chain(self, days: np.ndarray, items: list[Any], arrive: Callable[[Any], None]) -> None:
        """Call ``arrive(items[i])`` at ``days[i]``, one scheduled call at a time."""
        env = self.env
        times = days.tolist()
        n = len(items)

        def step(call: Call) -> None:
            i = call.row
            arrive(call.item)
            i += 1
            if i < n:  # the next arrival, as env.timeout(times[i] - now) would schedule it
                now = env._now
                call.callbacks = callbacks  # env.step, unlike run_until, clears it
                call.item = items[i]
                call.row = i
                # env.call_at(now + (times[i] - now), call), without its Python frame.
                push((now + (times[i] - now), NORMAL, next_id(), call))

        push, next_id = env.push_entry, env.next_event_id
        callbacks: list[Callable[[Any], None]] = [step]
        if items:
            env.schedule_call(times[0] - env._now, Call(callbacks, items[0], -1, 0))

    def schedule_other_work(self, end_day: float) -> None:
        """Start the ``other_work`` streams of the stages that have one."""
        for k, stage in enumerate(OTHER_WORK_STAGES):
            cfg: OtherWork | None = getattr(self.scenario.stages, stage).other_work
            station: Station = getattr(self, stage)
            if cfg is None or not station.enabled:
                continue
            self.jobs_done[stage] = 0
            days = poisson_days(cfg.jobs_per_year, cfg.annual_growth_rate, end_day,
                                self.streams.get("other_work.arrivals", k))
            mix = np.asarray(cfg.priority_mix.values_in_order(), dtype=float)
            mix = mix / mix.sum()
            priority = self.streams.get("other_work.priority", k).choice(
                len(RISK_LEVELS), size=days.size, p=mix).tolist()
            hours = draw(cfg.service, self.streams.get("other_work.service", k), days.size).tolist()
            jobs = list(map(Job, range(-1, -days.size - 1, -1), priority, days.tolist(), hours))
            station.on_done = self._job_or(station.on_done, station.pass_tier, stage)
            n_old = cfg.waiting_at_start
            if n_old and cfg.waiting_age_days is not None:
                # Today's queue of this work: ids after the new jobs', arrived age days ago.
                sub = len(OTHER_WORK_STAGES) + k
                ages = draw(cfg.waiting_age_days, self.streams.get("other_work.arrivals", sub),
                            n_old)
                old_priority = self.streams.get("other_work.priority", sub).choice(
                    len(RISK_LEVELS), size=n_old, p=mix).tolist()
                old_hours = draw(cfg.service, self.streams.get("other_work.service", sub), n_old)
                first = -days.size - 1
                for i, (age, prio, work) in enumerate(zip(ages.tolist(), old_priority,
                                                          old_hours.tolist(), strict=True)):
                    station.arrive(Job(first - i, prio, -age, work), -age)
            self._chain(days, jobs, station.arrive)

    def _job_or(self, done: Callable[..., None], pass_tier: bool, stage: str
                ) -> Callable[..., None]:
        counts = self.jobs_done

        def job_done(item: Any, tier: int = -1) -> None:
            if item.__class__ is Job:
                counts[stage] += 1
            elif pass_tier:
                done(item, tier)
            else:
                done(item)

        return job_done

    def load_backlog(self) -> None:
        """Put today's backlog in the queues, with the time it has already waited.

        A backlog case's referral day is minus its age at its current stage (a lower
        bound on its true age). Cases at enforcement have been decided for action
        (warrant or voluntary attendance, in the scenario's proportions). Cases at
        device stages have had their warrant at that day; their children who were
        identified then and whose safeguarding gate has passed are referred at time zero.
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
                    self._research(case, case.referral_day)
                    case.action = self._action_if_acted(case)
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
            case.action = WARRANT
            case.t_intake_done = day
            case.t_warrant = day
            research = case.n_found_at_research
            contact = [c for c in case.children if c.route == CONTACT]
            self._identify(case, contact[:research], day, FOUND_INTAKE)
            self._identify(case, contact[research:], day, FOUND_ENFORCEMENT)
            devices = self._make_devices(case, n, day, route_by_kiosk=False)
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

    def _action(self, case: Case) -> int:
        """The enforcement decision for ``case``'s graded risk."""
        u = case.u_decision
        w = self.warrant_p[case.graded]
        if u < w:
            return WARRANT
        if u < w + self.voluntary_p[case.graded]:
            return VOLUNTARY
        return NO_ACTION

    def _action_if_acted(self, case: Case) -> int:
        """The action of a case already waiting for enforcement (one was decided)."""
        w = self.warrant_p[case.graded]
        v = self.voluntary_p[case.graded]
        return WARRANT if w + v <= 0 or case.u_decision * (w + v) < w else VOLUNTARY

    def _identify(self, case: Case, children: Sequence[Child], day: float, found_at: int) -> None:
        """Children become known to police; refer them now or hold them by policy."""
        for child in children:
            if child.identified_day == child.identified_day:  # already identified
                continue
            child.identified_day = day
            child.found_at = found_at
            if self._gate_open(case):
                self._refer(child)
            else:
                case.held_children = [*case.held_children, child]

    def _gate_open(self, case: Case) -> bool:
        policy = self.policy
        if policy == "immediate" or case.action == NO_ACTION:
            return True  # no warrant and no examination will come: nothing to wait for
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

    def _research(self, case: Case, day: float) -> None:
        """Research finds the first ``n_found_at_research`` children in contact."""
        if case.n_found_at_research:
            contact = [c for c in case.children if c.route == CONTACT]
            self._identify(case, contact[: case.n_found_at_research], day, FOUND_INTAKE)

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
            self._research(case, now)
        # The enforcement decision (as _action(case)), inlined: it runs for every referral.
        u = case.u_decision
        w = self.warrant_p[case.graded]
        if u < w:
            case.action = WARRANT
        elif u < w + self.voluntary_p[case.graded]:
            case.action = VOLUNTARY
        else:
            case.action = NO_ACTION
            if case.held_children:  # found at research, held for a warrant that won't come
                self._release_held(case)
            return
        self.enforcement.arrive(case)

    def _warrant(self, case: Case) -> None:
        """The warrant, or the voluntary-attendance interview, has happened."""
        now = self.env._now
        case.t_warrant = now
        n = case.n_devices
        if case.action == VOLUNTARY:
            assert case.device_draws is not None
            u_seize = case.device_draws[4]
            start = case.device_start
            n = sum(1 for j in range(start, start + n) if u_seize[j] < self.voluntary_seize_share)
        devices = self._make_devices(case, n, now, True)
        if case.children:
            contact = [c for c in case.children if c.route == CONTACT]
            if case.action == VOLUNTARY:
                p = self.voluntary_find_p
                contact = [c for c in contact if c.u_find < p]
            self._identify(case, contact, now, FOUND_ENFORCEMENT)
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

    def _search(self, device: Device, find_probability: float, found_at: int,
                later: bool) -> None:
        """Look for the children ``device`` holds evidence of; found ones escalate the case."""
        p = find_probability * self.device_retention(self.env._now - device.t_seized)
        missed = [c for c in device.hidden if (c.u_find_later if later else c.u_find) >= p]
        if len(missed) < len(device.hidden):
            found = [c for c in device.hidden if c not in missed]
            device.hidden = missed or NONE
            case = device.case
            if not case.escalated:
                case.escalated = True
                case.priority = 0
            self._identify(case, found, self.env._now, found_at)

    def _find_probability(self, station: Station, tier: int) -> float:
        pool = station.pool
        return pool.tier_find[tier] if pool is not None and tier >= 0 else 1.0

    def _kiosk_done(self, device: Device, tier: int) -> None:
        self._escalate(device.case)
        self._examined_by(device, self._find_probability(self.kiosk, tier), FOUND_KIOSK)

    def _examined(self, device: Device, tier: int) -> None:
        if device.hidden:
            self._search(device, self._find_probability(self.lab_examination, tier), FOUND_LAB,
                         False)
        # _examined_by(device, ...), inlined: it runs for every lab examination.
        now = self.env._now
        device.t_examined = now
        case = device.case
        case.pending_exam -= 1
        if case.pending_exam == 0:
            case.t_exam_done = now
            if case.held_children:
                self._release_held(case)
        self.image_grading.arrive(device)

    def _examined_by(self, device: Device, find_probability: float, found_at: int) -> None:
        now = self.env._now
        device.t_examined = now
        if device.hidden:
            self._search(device, find_probability, found_at, later=False)
        case = device.case
        case.pending_exam -= 1
        if case.pending_exam == 0:
            case.t_exam_done = now
            if case.held_children:
                self._release_held(case)
        self.image_grading.arrive(device)

    def _graded(self, device: Device, tier: int) -> None:
        if device.hidden:
            self._search(device, self._find_probability(self.image_grading, tier), FOUND_GRADING,
                         True)
        if self._rework is not None and tier >= 0:
            rework = self._rework[tier]
            if rework > 0 and self._rework_u() < rework:
                self.image_grading.arrive(device)  # found wrong at quality assurance
                return
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

    def _vid_done(self, case: Case, tier: int) -> None:
        now = self.env._now
        case.t_vid_done = now
        pool = self.victim_identification.pool
        skill = pool.tier_find[tier] if pool is not None and tier >= 0 else 1.0
        p = self.vid_p * skill * self.depicted_retention(now - case.t_warrant)
        delay = self.vid_delay_days
        for child in case.children:
            if child.route != DEPICTED or child.u_identify >= p:
                continue
            wait = delay() if delay is not None else 0.0
            if wait > 0:
                self.env.timeout(wait, child).callbacks.append(self._identified_later)
            else:
                self._identify(case, [child], now, FOUND_VID)

    def _identified_later(self, event: Any) -> None:
        child: Child = event._value
        self._identify(child.case, [child], self.env._now, FOUND_VID)

    def _safeguarded(self, child: Child) -> None:
        child.safeguarded_day = self.env._now
