"""The expected flows a scenario implies: how many items reach each stage, with what work.

One source for each domain rule the analytic side needs (:mod:`sim.analysis.load`,
:mod:`sim.analysis.check`): small functions of the scenario alone, each stating in
expectation a rule that :mod:`sim.model.pipeline` applies item by item, and each
checked against a simulation in ``tests/test_flows.py``. Pure Python (no numpy, no
SimPy), so that ``fbsim validate`` stays light.

- Risk grading moves a misgraded case one level (:func:`grading_matrix`).
- After intake the *graded* risk decides warrant, voluntary attendance or no further
  action (:func:`actions`); only the first two reach enforcement. A warrant seizes
  every device, a voluntary attendance a share (:func:`seized_share`).
- A device of the kiosk type takes the kiosk route with ``kiosk_share_of_phones``,
  whether or not device triage (and with it the kiosk station) is enabled: a disabled
  station passes work on, and the kiosk route never reaches the lab
  (:func:`device_routes`).
- Grading is redone with the serving tier's ``rework_probability``: visits per device
  are geometric (:func:`grading_visits_per_device`).
- ``other_work`` is a Poisson stream with its own growth, priority mix and service
  (:func:`other_work_per_day`).
- Work per visit adds the common ``service``, the device type's time, hours per TB of
  data grown to the day of seizure, and hours per image not matched by hash at the
  hash set's size on the day, with the verification votes at upload (:func:`work_mix`).
- An item's queue class is its case's priority when it joins the queue
  (:func:`class_shares`).

Tiers enter through their share of the work: with every member busy, a pool completes
jobs by tier in proportion to head-count times speed (:func:`tier_work_shares`); with
idle members the fastest tier takes more, so a rate that differs by tier is exact for
one tier (or equal tiers) or near saturation. Trail decay (``discovery``) is ignored:
with half-lives, children found and escalations are upper bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim.config.distspec import DistSpec
from sim.config.schema import (
    DEVICE_STAGES,
    OTHER_WORK_STAGES,
    RISK_LEVELS,
    OtherWork,
    Scenario,
    StaffPool,
    Stage,
)

#: One value per risk level (a priority class), very high first.
Vector = tuple[float, ...]
#: Priority of every case at intake, before it is graded.
LOWEST = len(RISK_LEVELS) - 1
#: Stations of the pipeline: the eight stages, with the kiosk after device triage.
STATIONS: tuple[str, ...] = (
    "intake", "enforcement", "safeguarding", "device_triage", "kiosk", "lab_examination",
    "image_grading", "database_upload", "victim_identification",
)
#: Stations whose items are devices.
DEVICE_STATIONS: tuple[str, ...] = (*DEVICE_STAGES, "kiosk")
_ESCALATED = ("lab_examination", "image_grading", "database_upload", "victim_identification")
_AFTER_EXAMINATION = ("image_grading", "database_upload", "victim_identification")
_DAYS_PER_YEAR = 365.25
_N = len(RISK_LEVELS)


# ------------------------------------------------------------------ stations
def station_pool(scenario: Scenario, station: str) -> tuple[bool, str | None]:
    """Whether ``station`` runs, and the name of its pool (None for a delay).

    The kiosk runs when it is configured and device triage is enabled.
    """
    st = scenario.stages
    if station == "kiosk":
        kiosk = st.device_triage.kiosk
        return (kiosk is not None and st.device_triage.enabled,
                kiosk.pool if kiosk is not None else None)
    stage: Stage = getattr(st, station)
    return stage.enabled, stage.pool


def stage_settings(scenario: Scenario, station: str) -> Stage:
    """The stage whose discipline and precedence ``station`` follows (kiosk: device triage)."""
    st = scenario.stages
    return st.device_triage if station == "kiosk" else getattr(st, station)


def _serving_pool(scenario: Scenario, station: str) -> StaffPool | None:
    """The pool whose members serve ``station``'s items (None: a delay or disabled)."""
    enabled, name = station_pool(scenario, station)
    return scenario.staff[name] if enabled and name is not None else None


# ------------------------------------------------------------------ grading, decision
def grading_matrix(grading_accuracy: float, misgrade_down_share: float) -> tuple[Vector, ...]:
    """``G[true][graded]``: risk grading moves a misgraded case one level.

    A case is misgraded with ``1 - grading_accuracy``: one level down (towards ``low``)
    with ``misgrade_down_share``, else one level up; at the ends only the one way.

    Parameters
    ----------
    grading_accuracy : float
        Share graded correctly.
    misgrade_down_share : float
        Share of misgraded cases graded one level lower.

    Returns
    -------
    tuple of tuple of float
        Rows (true level) sum to one.
    """
    p = 1.0 - grading_accuracy
    rows = []
    for r in range(_N):
        row = [0.0] * _N
        row[r] = 1.0 - p
        down = 1.0 if r == 0 else 0.0 if r == LOWEST else misgrade_down_share
        if r < LOWEST:
            row[r + 1] += p * down
        if r > 0:
            row[r - 1] += p * (1.0 - down)
        rows.append(tuple(row))
    return tuple(rows)


def joint_risk(scenario: Scenario) -> tuple[Vector, ...]:
    """``J[true][graded]``: share of referrals with each true and graded risk."""
    tri = scenario.triage
    g = grading_matrix(tri.grading_accuracy, tri.misgrade_down_share)
    mix = scenario.demand.risk_mix.values_in_order()
    return tuple(tuple(mix[r] * x for x in g[r]) for r in range(_N))


def graded_mix(scenario: Scenario) -> Vector:
    """Share of referrals at each graded risk level."""
    joint = joint_risk(scenario)
    return tuple(sum(row[k] for row in joint) for k in range(_N))


@dataclass(frozen=True)
class Actions:
    """The enforcement decision: probability of each action at each graded level."""

    warrant: Vector
    voluntary: Vector
    no_further_action: Vector

    @property
    def acted(self) -> Vector:
        """Probability of reaching enforcement (warrant or voluntary attendance)."""
        return tuple(w + v for w, v in zip(self.warrant, self.voluntary, strict=True))


def actions(scenario: Scenario) -> Actions:
    """The scenario's enforcement decision by graded risk."""
    tri = scenario.triage
    w = tuple(float(x) for x in tri.warrant_probability.values_in_order())
    v = tuple(float(x) for x in tri.voluntary_attendance_probability.values_in_order())
    return Actions(w, v, tuple(max(1.0 - a - b, 0.0) for a, b in zip(w, v, strict=True)))


def action_shares(scenario: Scenario) -> dict[str, float]:
    """Share of referrals ending in each action (named as in the ``cases`` table)."""
    g, act = graded_mix(scenario), actions(scenario)
    return {"warrant": _dot(g, act.warrant), "voluntary_attendance": _dot(g, act.voluntary),
            "no_further_action": _dot(g, act.no_further_action)}


def acted_share(scenario: Scenario) -> float:
    """Share of referrals that reach enforcement."""
    return _dot(graded_mix(scenario), actions(scenario).acted)


def seized_share(scenario: Scenario) -> Vector:
    """Share of a case's devices seized, per graded level (0 with no further action)."""
    act = actions(scenario)
    s = scenario.triage.voluntary_attendance_devices_seized_share
    return tuple(w + v * s for w, v in zip(act.warrant, act.voluntary, strict=True))


# ------------------------------------------------------------------ devices
@dataclass(frozen=True)
class DeviceRoutes:
    """Share of all seized devices that are of each type and take each route.

    ``kiosk``: the kiosk, then grading. ``lab``: device triage, then the lab.
    """

    kiosk: dict[str, float]
    lab: dict[str, float]

    @property
    def kiosk_share(self) -> float:
        """Share of seized devices on the kiosk route."""
        return sum(self.kiosk.values())

    @property
    def lab_share(self) -> float:
        """Share of seized devices on the hub and lab route."""
        return sum(self.lab.values())

    def share(self, station: str) -> float:
        """Share of seized devices that visit ``station``."""
        if station in ("device_triage", "lab_examination"):
            return self.lab_share
        if station == "kiosk":
            return self.kiosk_share
        return 1.0 if station in ("image_grading", "database_upload") else 0.0

    def weights(self, station: str) -> dict[str, float]:
        """Device-type shares (summing to one) of the devices reaching ``station``."""
        if station in ("device_triage", "lab_examination"):
            part = self.lab
        elif station == "kiosk":
            part = self.kiosk
        else:
            part = {k: self.kiosk[k] + self.lab[k] for k in self.lab}
        total = sum(part.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in part.items()}


def device_routes(scenario: Scenario) -> DeviceRoutes:
    """The kiosk/lab split of seized devices, whether or not device triage is enabled."""
    kiosk_type = scenario.stages.device_triage.kiosk_device_type
    share = scenario.policies.kiosk_share_of_phones
    kiosk, lab = {}, {}
    for name, dtype in scenario.cases.device_types.items():
        to_kiosk = share if name == kiosk_type else 0.0
        kiosk[name] = dtype.share * to_kiosk
        lab[name] = dtype.share * (1.0 - to_kiosk)
    return DeviceRoutes(kiosk, lab)


def count_pgf(spec: DistSpec, z: float) -> float:
    """``E[z^N]`` of a count distribution (offset included), ``z`` in ``[0, 1]``."""
    base = z ** int(spec.param("offset", 0))
    f = spec.family
    if f == "fixed":
        return base * z ** int(spec.param("value"))
    if f == "poisson":
        return base * math.exp(spec.param("mean") * (z - 1.0))
    if f == "negative_binomial":
        mean, var = spec.param("mean"), spec.param("sd") ** 2
        r = mean * mean / (var - mean)
        return base * (r / (r + mean * (1.0 - z))) ** r
    values = spec.param("values")
    weights = spec.param("weights") or tuple(1.0 for _ in values)
    total = sum(weights)
    return base * sum(w / total * z ** int(v) for v, w in zip(values, weights, strict=True))


def any_device_seized(scenario: Scenario) -> Vector:
    """Probability that a case of each graded level has at least one device seized."""
    act = actions(scenario)
    b = scenario.cases.devices_per_case
    s = scenario.triage.voluntary_attendance_devices_seized_share
    some_warrant, some_voluntary = 1.0 - count_pgf(b, 0.0), 1.0 - count_pgf(b, 1.0 - s)
    return tuple(w * some_warrant + v * some_voluntary
                 for w, v in zip(act.warrant, act.voluntary, strict=True))


def devices_per_referral(scenario: Scenario) -> float:
    """Devices seized per referral."""
    return scenario.cases.devices_per_case.mean * _dot(graded_mix(scenario),
                                                      seized_share(scenario))


# ------------------------------------------------------------------ tiers
def tier_work_shares(pool: StaffPool) -> list[float]:
    """Share of a pool's jobs served by each tier (scenario order): head-count times speed.

    A pool with nobody in it uses the tier shares instead of head-counts.
    """
    counts = pool.tier_counts()
    weights = [n * t.speed_multiplier for n, t in zip(counts, pool.tiers, strict=True)]
    if sum(weights) <= 0:
        weights = [t.share * t.speed_multiplier for t in pool.tiers]
    total = sum(weights)
    return [w / total for w in weights]


def find_probability(scenario: Scenario, station: str) -> float:
    """Chance that whoever serves ``station`` finds evidence of a child that is there.

    The tiers' ``find_probability`` by their share of the work; 1 when nobody serves
    it (a delay or a disabled station).
    """
    pool = _serving_pool(scenario, station)
    if pool is None:
        return 1.0
    return _dot(tier_work_shares(pool), [t.find_probability for t in pool.tiers])


def rework_probability(scenario: Scenario) -> float:
    """Chance that a grading job is found wrong at quality assurance and done again."""
    pool = _serving_pool(scenario, "image_grading")
    if pool is None:
        return 0.0
    return _dot(tier_work_shares(pool), [t.rework_probability for t in pool.tiers])


def grading_visits_per_device(scenario: Scenario) -> float:
    """Mean visits of a device to grading: ``1 / (1 - p)`` for a rework chance ``p``."""
    return 1.0 / (1.0 - rework_probability(scenario))


def first_examination_find(scenario: Scenario) -> float:
    """Chance that a device's first examination (kiosk or lab) finds a child on it."""
    routes = device_routes(scenario)
    return (routes.kiosk_share * find_probability(scenario, "kiosk")
            + routes.lab_share * find_probability(scenario, "lab_examination"))


# ------------------------------------------------------------------ rates
def referrals_per_day(scenario: Scenario, day: float) -> float:
    """Referral rate at clock ``day``."""
    return scenario.demand.referrals_per_year_at(day) / _DAYS_PER_YEAR


def other_work_per_day(scenario: Scenario, station: str, day: float) -> float:
    """Other-work jobs per day at ``station`` at clock ``day`` (0: none, or disabled)."""
    cfg = _other_work(scenario, station)
    if cfg is None or not station_pool(scenario, station)[0]:  # disabled: never started
        return 0.0
    growth = (1.0 + cfg.annual_growth_rate) ** (day / _DAYS_PER_YEAR)
    return cfg.jobs_per_year * growth / _DAYS_PER_YEAR


def items_per_referral(scenario: Scenario, station: str) -> float:
    """Visits per referral of the pipeline's own items (not other work) to ``station``.

    Cases at intake, enforcement and victim identification (a case with new material
    and a depicted child, once acted on); children referred at safeguarding (see
    :func:`children_found`; with ``safeguarding_referral`` other than ``immediate``,
    children research found in a case with no further action are never referred);
    devices at the device stations, every rework visit at grading counted.
    """
    if station == "intake":
        return 1.0
    if station == "enforcement":
        return acted_share(scenario)
    if station in ("safeguarding", "victim_identification"):
        return sum(sum(row) for row in _case_weights(scenario, station))
    devices = devices_per_referral(scenario) * device_routes(scenario).share(station)
    if station == "image_grading":
        return devices * grading_visits_per_device(scenario)
    return devices


def items_per_day(scenario: Scenario, station: str, day: float) -> float:
    """Visits per day of the pipeline's own items to ``station`` at clock ``day``."""
    return referrals_per_day(scenario, day) * items_per_referral(scenario, station)


# ------------------------------------------------------------------ children
def children_found(scenario: Scenario) -> dict[str, tuple[Vector, ...]]:
    """Children identified per referral by route, as ``[true risk][graded risk]`` shares.

    ``research``: in contact, found at intake (every referral is researched).
    ``warrant``: the other children in contact, found at a warrant, or with
    ``voluntary_attendance_finds_contact_probability`` at a voluntary attendance.
    ``examination``: on devices; the device holding the evidence must be seized and the
    child found at its first examination (kiosk or lab) or later at grading.
    ``depicted``: in new material of a case acted on, identified with
    ``identification_probability`` times the officers' skill.
    """
    ca, tri = scenario.cases, scenario.triage
    act = actions(scenario)
    p_research = tri.contact_children_found_at_research_probability
    p_voluntary = tri.voluntary_attendance_finds_contact_probability
    contact = [d.mean for d in ca.children_in_contact.values_in_order()]
    on_devices = ([d.mean for d in ca.children_on_devices.values_in_order()]
                  if ca.children_on_devices is not None else [0.0] * _N)
    fg = ca.first_generation_probability.values_in_order()
    later = find_probability(scenario, "image_grading")
    on_device = (1.0 - (1.0 - first_examination_find(scenario)) * (1.0 - later)) * (
        1.0 - count_pgf(ca.devices_per_case, 0.0))
    vid = scenario.stages.victim_identification
    depicted = (ca.depicted_children.mean * vid.identification_probability
                * find_probability(scenario, "victim_identification"))
    seized = seized_share(scenario)  # a device index is uniform: P(it is seized)
    joint = joint_risk(scenario)
    per_action = {
        "research": lambda r, k: contact[r] * p_research,
        "warrant": lambda r, k: contact[r] * (1.0 - p_research) * (
            act.warrant[k] + act.voluntary[k] * p_voluntary),
        "examination": lambda r, k: on_devices[r] * seized[k] * on_device,
        "depicted": lambda r, k: fg[r] * depicted * act.acted[k],
    }
    return {route: tuple(tuple(joint[r][k] * rule(r, k) for k in range(_N)) for r in range(_N))
            for route, rule in per_action.items()}


def children_found_per_referral(scenario: Scenario) -> dict[str, float]:
    """Children identified per referral, by route (the ``children`` table's ``route``)."""
    return {route: sum(map(sum, m)) for route, m in children_found(scenario).items()}


def _referred(scenario: Scenario) -> tuple[Vector, ...]:
    """Children referred to safeguarding per referral, as ``[true][graded]`` shares.

    Every child identified is referred, whatever the policy: a case with no further
    action has no warrant or examination to wait for, so the children research found are
    referred at the decision.
    """
    found = children_found(scenario)
    return tuple(tuple(sum(m[r][k] for m in found.values()) for k in range(_N))
                 for r in range(_N))


def _case_weights(scenario: Scenario, station: str) -> tuple[Vector, ...]:
    """Items per referral at a case or child station, as ``[true][graded]`` shares."""
    joint = joint_risk(scenario)
    if station == "safeguarding":
        return _referred(scenario)
    if station == "enforcement":
        acted = actions(scenario).acted
        return tuple(tuple(joint[r][k] * acted[k] for k in range(_N)) for r in range(_N))
    if station == "victim_identification":
        ca = scenario.cases
        some = 1.0 - ca.depicted_children.probability_of_zero()
        fg = ca.first_generation_probability.values_in_order()
        acted = actions(scenario).acted
        return tuple(tuple(joint[r][k] * fg[r] * some * acted[k] for k in range(_N))
                     for r in range(_N))
    seized = seized_share(scenario)  # devices: per case, in proportion to those seized
    return tuple(tuple(joint[r][k] * seized[k] for k in range(_N)) for r in range(_N))


# ------------------------------------------------------------------ classes
def class_shares(scenario: Scenario, station: str) -> Vector:
    """Share of the pipeline's items at ``station`` in each queue class.

    The class is the case's priority when the item joins the queue: the lowest at intake
    (not yet graded); the graded risk up to the kiosk and device triage; from the lab
    on, the top class for a case escalated by device triage or the kiosk
    (``escalation_detect_probability``, for a case with new material or children) and,
    from grading on, for a case with a child on its devices found at the first
    examination of the device holding it.
    """
    if station == "intake":
        return tuple(1.0 if k == LOWEST else 0.0 for k in range(_N))
    weights = _case_weights(scenario, station)
    if station not in _ESCALATED:
        return _normalised([sum(weights[r][k] for r in range(_N)) for k in range(_N)])
    moved = _escalated(scenario, station)
    shares = [0.0] * _N
    for r in range(_N):
        for k in range(_N):
            shares[k] += weights[r][k] * (1.0 - moved[r][k])
            shares[0] += weights[r][k] * moved[r][k]
    return _normalised(shares)


def _escalated(scenario: Scenario, station: str) -> tuple[Vector, ...]:
    """``[true][graded]``: chance that an item's case is escalated when it reaches ``station``."""
    ca = scenario.cases
    p = scenario.triage.escalation_detect_probability
    fg = ca.first_generation_probability.values_in_order()
    contact = ca.children_in_contact.values_in_order()
    on = ca.children_on_devices.values_in_order() if ca.children_on_devices is not None else None
    if station == "victim_identification":  # new material; escalated only with a device
        eligible = [1.0] * _N
        reach = [a / b if b > 0 else 0.0
                 for a, b in zip(any_device_seized(scenario), actions(scenario).acted,
                                 strict=True)]
    else:  # the item is a device that has been through triage or the kiosk
        eligible = [1.0 - (1.0 - fg[r]) * contact[r].probability_of_zero()
                    * (on[r].probability_of_zero() if on is not None else 1.0)
                    for r in range(_N)]
        reach = [1.0] * _N
    first = first_examination_find(scenario)
    found = [(1.0 - on[r].probability_of_zero()) * first
             if on is not None and station in _AFTER_EXAMINATION else 0.0 for r in range(_N)]
    return tuple(tuple(reach[k] * (p * eligible[r] + (1.0 - p) * found[r]) for k in range(_N))
                 for r in range(_N))


def other_work_classes(scenario: Scenario, station: str) -> Vector:
    """Share of ``station``'s other-work jobs in each queue class (their priority mix)."""
    cfg = _other_work(scenario, station)
    if cfg is None:
        return (0.0,) * _N
    return _normalised(list(cfg.priority_mix.values_in_order()))


def expedited_levels(scenario: Scenario, station: str) -> tuple[bool, ...]:
    """Per queue class, whether its items are expedited at ``station``."""
    pol = scenario.policies.expedite
    return tuple(station in pol.stages and level in pol.risk_levels for level in RISK_LEVELS)


def expedited_work_factor(pool: StaffPool) -> float:
    """Shift capacity an expedited job takes per hour of work, against a normal job's one.

    A pool on a shift calendar serves an expedited job on call, round the clock at full
    speed (``1 / availability`` times faster than on shift); the part done off shift
    takes no shift time. Counting it as if done on shift (``availability``) is an upper
    bound. Continuous and ``smooth`` pools serve it like any other job (1).
    """
    return pool.availability if pool.uses_shifts else 1.0


# ------------------------------------------------------------------ work
@dataclass(frozen=True)
class WorkTerm:
    """One additive part of an item's work.

    ``spec`` (hours, terabytes or images) times ``hours_per_unit`` (1 for a duration).
    """

    spec: DistSpec
    hours_per_unit: float = 1.0

    @property
    def mean_hours(self) -> float:
        """Mean hours."""
        return self.hours_per_unit * self.spec.mean

    @property
    def variance_hours(self) -> float:
        """Variance, hours squared."""
        return self.hours_per_unit ** 2 * self.spec.variance


@dataclass(frozen=True)
class WorkMix:
    """Work per item: a mixture (over device types) of sums of independent terms.

    ``components`` holds each component's weight (weights sum to one) and terms.
    """

    components: tuple[tuple[float, tuple[WorkTerm, ...]], ...]

    @property
    def mean_hours(self) -> float:
        """Mean work per item, hours."""
        return sum(w * sum(t.mean_hours for t in terms) for w, terms in self.components)


def work_mix(scenario: Scenario, station: str, day: float = 0.0) -> WorkMix:
    """Staff work per visit of the pipeline's own items at ``station`` at clock ``day``.

    Device stations mix over the types of the devices that reach them. At the lab the
    data per device has grown to ``day`` (taken as its seizure day); at grading and
    upload the images not matched by hash are counted at the hash set's size on ``day``;
    upload adds the verification votes of new images.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    station : str
        One of :data:`STATIONS`.
    day : float
        Clock day.

    Returns
    -------
    WorkMix
        Hours of effort per visit (calendar hours for a delay station).
    """
    st = scenario.stages
    if station == "kiosk":
        kiosk = st.device_triage.kiosk
        return WorkMix(((1.0, _terms(kiosk.service if kiosk else None)),))
    stage: Stage = getattr(st, station)
    if station not in DEVICE_STAGES:
        return WorkMix(((1.0, _terms(stage.service)),))
    ca = scenario.cases
    unknown = 1.0 - ca.known_share_at(day)
    per_image = 0.0
    if station == "image_grading" and st.image_grading.images_per_hour is not None:
        per_image = unknown / st.image_grading.images_per_hour
    up = st.database_upload
    if station == "database_upload" and up.images_per_hour is not None:
        per_image = (unknown * up.extra_votes_per_new_image * up.new_image_share_of_unknown
                     / up.images_per_hour)
    per_tb = (st.lab_examination.hours_per_tb * ca.data_scale_at(day)
              if station == "lab_examination" else 0.0)
    by_type = stage.service_by_device_type or {}
    components = []
    for name, w in device_routes(scenario).weights(station).items():
        dtype = ca.device_types[name]
        terms = _terms(stage.service, by_type.get(name))
        if per_tb:
            terms += (WorkTerm(dtype.data_tb, per_tb),)
        if per_image:
            terms += (WorkTerm(dtype.images, per_image),)
        components.append((w, terms))
    return WorkMix(tuple(components))


def other_work_mix(scenario: Scenario, station: str) -> WorkMix:
    """Work per job of ``station``'s other work (no components when there is none)."""
    cfg = _other_work(scenario, station)
    return WorkMix(()) if cfg is None else WorkMix(((1.0, _terms(cfg.service)),))


def _other_work(scenario: Scenario, station: str) -> OtherWork | None:
    if station not in OTHER_WORK_STAGES:
        return None
    stage: Stage = getattr(scenario.stages, station)
    return stage.other_work


def _terms(*specs: DistSpec | None) -> tuple[WorkTerm, ...]:
    return tuple(WorkTerm(s) for s in specs if s is not None)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _normalised(values: Sequence[float]) -> Vector:
    total = sum(values)
    return tuple(v / total if total > 0 else 0.0 for v in values)
