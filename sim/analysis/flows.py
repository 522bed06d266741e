"""The expected flows a scenario implies: how many items reach each stage, and their work.

One source for each domain rule the analytic side needs (:mod:`sim.analysis.load`,
:mod:`sim.analysis.check`), written as small functions of the scenario alone. Each
rule is the one :mod:`sim.model.pipeline` applies item by item; ``tests/test_flows.py``
checks every one against a simulation. Pure Python (no numpy, no SimPy), so that
``fbsim validate`` stays light.

What the pipeline does, and the function that says it in expectation:

- risk grading moves a case one level with the scenario's error rate
  (:func:`grading_matrix`, :func:`graded_mix`);
- after intake, the *graded* risk decides warrant, voluntary attendance or no further
  action (:func:`action_shares`); only the first two reach enforcement
  (:func:`acted_share`);
- a warrant seizes every device, a voluntary attendance a share of them
  (:func:`seized_share`, :func:`devices_per_referral`);
- a device of the kiosk type takes the kiosk route with ``kiosk_share_of_phones``,
  whether or not device triage (and with it the kiosk station) is enabled: a disabled
  station passes work straight on, and the kiosk route never reaches the lab
  (:func:`device_routes`);
- grading is redone with the serving tier's ``rework_probability``, so visits per
  device are geometric (:func:`grading_visits_per_device`);
- ``other_work`` is a Poisson stream of jobs with its own growth, classes and service
  (:func:`other_work_per_day`, :func:`other_work_classes`);
- work per item adds the common ``service``, the device type's time, hours per TB of
  data (grown to the day it is seized) and hours per unknown image (at the hash set's
  size on the day, plus verification votes at upload) (:func:`work_mix`);
- the queue class of an item is the priority its case has when it joins the queue:
  the lowest at intake (not yet graded), the graded risk after, the top one from the
  lab on once a device triage or kiosk escalates the case or a child is found on one
  of its devices (:func:`class_shares`).

Tiers enter through their share of the work: a pool whose members are all busy
completes jobs by tier in proportion to head-count times speed
(:func:`tier_work_shares`); with idle members the fastest tier takes more, so rates
that differ by tier are exact only for a pool with one tier (or equal tiers) or near
saturation. Children and escalations ignore trail decay (``discovery``): with a
half-life they are upper bounds.
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
    Scenario,
    StaffPool,
    Stage,
)

#: One value per risk level (or priority class), very high first.
Vector = tuple[float, ...]
#: Queue priority every case has at intake, before it is graded.
LOWEST = len(RISK_LEVELS) - 1
#: Stations the analytic side knows: the eight stages with the kiosk after device triage.
STATIONS: tuple[str, ...] = (
    "intake", "enforcement", "safeguarding", "device_triage", "kiosk", "lab_examination",
    "image_grading", "database_upload", "victim_identification",
)
#: Stations whose items are devices.
DEVICE_STATIONS: tuple[str, ...] = (*DEVICE_STAGES, "kiosk")
#: Stations where an item's case may have been escalated before it arrives.
_AFTER_TRIAGE = ("lab_examination", "image_grading", "database_upload", "victim_identification")
_DAYS_PER_YEAR = 365.25


# ------------------------------------------------------------------ grading, decision
def grading_matrix(grading_accuracy: float, misgrade_down_share: float) -> tuple[Vector, ...]:
    """``G[true][graded]``: risk grading moves a misgraded case one level.

    A case is misgraded with ``1 - grading_accuracy``; a misgraded case goes one level
    down (towards ``low``) with ``misgrade_down_share``, else one level up, except at
    the ends, where it can only go the one way.

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
    n = len(RISK_LEVELS)
    rows = []
    for r in range(n):
        row = [0.0] * n
        row[r] = 1.0 - p
        if r == 0:
            row[1] += p
        elif r == LOWEST:
            row[r - 1] += p
        else:
            row[r + 1] += p * misgrade_down_share
            row[r - 1] += p * (1.0 - misgrade_down_share)
        rows.append(tuple(row))
    return tuple(rows)


def scenario_grading_matrix(scenario: Scenario) -> tuple[Vector, ...]:
    """:func:`grading_matrix` of the scenario's triage settings."""
    tri = scenario.triage
    return grading_matrix(tri.grading_accuracy, tri.misgrade_down_share)


def joint_risk(scenario: Scenario, weights: Sequence[float] | None = None
               ) -> tuple[Vector, ...]:
    """``J[true][graded]``: share of referrals with each true and graded risk.

    ``weights`` (per true level) multiply the risk mix, e.g. to count children or
    devices rather than cases; the result is then not normalised.
    """
    mix = scenario.demand.risk_mix.values_in_order()
    g = scenario_grading_matrix(scenario)
    w = weights if weights is not None else (1.0,) * len(mix)
    return tuple(tuple(mix[r] * w[r] * x for x in g[r]) for r in range(len(mix)))


def graded_mix(scenario: Scenario) -> Vector:
    """Share of referrals at each graded risk level."""
    joint = joint_risk(scenario)
    return tuple(sum(row[k] for row in joint) for k in range(len(RISK_LEVELS)))


@dataclass(frozen=True)
class Actions:
    """The enforcement decision, per graded risk level.

    Attributes
    ----------
    warrant, voluntary, no_further_action : Vector
        Probability of each action at each graded level (they sum to one).
    """

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
    """Share of referrals ending in each action (names as in the ``cases`` table)."""
    g = graded_mix(scenario)
    act = actions(scenario)
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
    """Where seized devices go, by device type.

    Attributes
    ----------
    kiosk, lab : dict of str to float
        Share of all seized devices that are of each type and take the kiosk route
        (kiosk, then grading) or the hub route (device triage, then the lab).
    """

    kiosk: dict[str, float]
    lab: dict[str, float]

    @property
    def kiosk_share(self) -> float:
        """Share of seized devices taking the kiosk route."""
        return sum(self.kiosk.values())

    @property
    def lab_share(self) -> float:
        """Share of seized devices taking the hub and lab route."""
        return sum(self.lab.values())

    def weights(self, station: str) -> dict[str, float]:
        """Device-type shares of the devices reaching ``station`` (summing to one)."""
        if station in ("device_triage", "lab_examination"):
            part = self.lab
        elif station == "kiosk":
            part = self.kiosk
        else:
            part = {k: self.kiosk[k] + self.lab[k] for k in self.lab}
        total = sum(part.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in part.items()}

    def share(self, station: str) -> float:
        """Share of seized devices that visit ``station`` (at least once)."""
        if station in ("device_triage", "lab_examination"):
            return self.lab_share
        if station == "kiosk":
            return self.kiosk_share
        return 1.0 if station in ("image_grading", "database_upload") else 0.0


def device_routes(scenario: Scenario) -> DeviceRoutes:
    """The kiosk/lab split of seized devices.

    A device of the kiosk type goes to the kiosk with ``policies.kiosk_share_of_phones``,
    every other device to device triage and the lab.

    The split does not depend on whether device triage is enabled: a disabled kiosk
    passes its devices straight to grading, never to the lab.
    """
    kiosk_type = scenario.stages.device_triage.kiosk_device_type
    share = scenario.policies.kiosk_share_of_phones
    kiosk, lab = {}, {}
    for name, dtype in scenario.cases.device_types.items():
        to_kiosk = share if name == kiosk_type else 0.0
        kiosk[name] = dtype.share * to_kiosk
        lab[name] = dtype.share * (1.0 - to_kiosk)
    return DeviceRoutes(kiosk, lab)


def count_pgf(spec: DistSpec, z: float) -> float:
    """``E[z^N]`` of a count distribution (with its offset).

    Parameters
    ----------
    spec : DistSpec
        A count distribution (``fixed``, ``poisson``, ``negative_binomial``,
        ``categorical``).
    z : float
        Argument in ``[0, 1]``.

    Returns
    -------
    float
        The probability generating function at ``z``.
    """
    offset = int(spec.param("offset", 0))
    base = z ** offset
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
    none_warrant = count_pgf(b, 0.0)
    none_voluntary = count_pgf(b, 1.0 - s)
    return tuple(w * (1.0 - none_warrant) + v * (1.0 - none_voluntary)
                 for w, v in zip(act.warrant, act.voluntary, strict=True))


def devices_per_referral(scenario: Scenario) -> float:
    """Devices seized per referral: devices per case times the share seized."""
    return scenario.cases.devices_per_case.mean * _dot(graded_mix(scenario),
                                                      seized_share(scenario))


# ------------------------------------------------------------------ tiers
def tier_work_shares(pool: StaffPool) -> list[float]:
    """Share of a pool's jobs served by each tier, in the scenario's tier order.

    Proportional to head-count times speed (every member busy); a pool with nobody
    yet uses the tier shares instead.
    """
    counts = pool.tier_counts()
    weights = [n * t.speed_multiplier for n, t in zip(counts, pool.tiers, strict=True)]
    if sum(weights) <= 0:
        weights = [t.share * t.speed_multiplier for t in pool.tiers]
    total = sum(weights)
    return [w / total for w in weights]


def _staffed_pool(scenario: Scenario, station: str) -> StaffPool | None:
    """The pool serving ``station`` if it is enabled and staffed (its items get a tier)."""
    st = scenario.stages
    if station == "kiosk":
        kiosk = st.device_triage.kiosk
        name = kiosk.pool if kiosk is not None and st.device_triage.enabled else None
    else:
        stage: Stage = getattr(st, station)
        name = stage.pool if stage.enabled else None
    return scenario.staff[name] if name is not None else None


def find_probability(scenario: Scenario, station: str) -> float:
    """Chance that the member serving ``station`` finds evidence of a child that is there.

    The tiers' ``find_probability`` by their share of the work; 1 when nobody serves
    it (a delay or a disabled station). Trail decay is not included.
    """
    pool = _staffed_pool(scenario, station)
    if pool is None:
        return 1.0
    return _dot(tier_work_shares(pool), [t.find_probability for t in pool.tiers])


def rework_probability(scenario: Scenario) -> float:
    """Chance that a grading job is found wrong at quality assurance and done again."""
    pool = _staffed_pool(scenario, "image_grading")
    if pool is None:
        return 0.0
    return _dot(tier_work_shares(pool), [t.rework_probability for t in pool.tiers])


def grading_visits_per_device(scenario: Scenario) -> float:
    """Mean visits of a device to grading: ``1 / (1 - p)`` with rework chance ``p``."""
    return 1.0 / (1.0 - rework_probability(scenario))


# ------------------------------------------------------------------ rates
def referrals_per_day(scenario: Scenario, day: float) -> float:
    """Referral rate at clock ``day``."""
    return scenario.demand.referrals_per_year_at(day) / _DAYS_PER_YEAR


def other_work_per_day(scenario: Scenario, station: str, day: float) -> float:
    """Jobs of ``other_work`` arriving per day at ``station`` at clock ``day``.

    Zero where there is none or the stage is disabled (its stream is then not started).
    """
    if station not in OTHER_WORK_STAGES:
        return 0.0
    stage: Stage = getattr(scenario.stages, station)
    cfg = stage.other_work
    if cfg is None or not stage.enabled:
        return 0.0
    return cfg.jobs_per_year * (1.0 + cfg.annual_growth_rate) ** (day / _DAYS_PER_YEAR) \
        / _DAYS_PER_YEAR


def vid_cases_per_referral(scenario: Scenario) -> float:
    """Cases per referral reaching victim identification.

    A case with first-generation material and at least one depicted child, once
    acted on (with devices or none: a case with nothing seized goes on at once).
    """
    ca = scenario.cases
    fg = ca.first_generation_probability.values_in_order()
    some = 1.0 - ca.depicted_children.probability_of_zero()
    joint = joint_risk(scenario, [f * some for f in fg])
    return sum(_dot(row, actions(scenario).acted) for row in joint)


def items_per_referral(scenario: Scenario, station: str) -> float:
    """Visits per referral of the pipeline's own items (no other work) to ``station``.

    Cases at intake, enforcement and victim identification; children referred at
    safeguarding; devices at the device stations (grading counts every rework visit).
    """
    if station == "intake":
        return 1.0
    if station == "enforcement":
        return acted_share(scenario)
    if station == "safeguarding":
        return children_referred_per_referral(scenario)
    if station == "victim_identification":
        return vid_cases_per_referral(scenario)
    devices = devices_per_referral(scenario) * device_routes(scenario).share(station)
    if station == "image_grading":
        return devices * grading_visits_per_device(scenario)
    return devices


def items_per_day(scenario: Scenario, station: str, day: float) -> float:
    """Visits per day of the pipeline's own items to ``station`` at clock ``day``."""
    return referrals_per_day(scenario, day) * items_per_referral(scenario, station)


# ------------------------------------------------------------------ children
def children_found_per_referral(scenario: Scenario) -> dict[str, float]:
    """Children identified per referral, by route (the ``children`` table's routes).

    ``research``: in contact, found by research at intake (every referral is
    researched). ``warrant``: the other children in contact, found at a warrant, or
    with ``voluntary_attendance_finds_contact_probability`` at a voluntary attendance.
    ``examination``: children on devices; the device holding the evidence must be
    seized (a warrant seizes all, a voluntary attendance a share) and the child found
    at the kiosk or the lab, or later at grading. ``depicted``: cases reaching victim
    identification, each child identified with ``identification_probability`` times
    the officers' skill. Trail decay is ignored (with half-lives in ``discovery`` the
    last two are upper bounds).
    """
    ca, tri = scenario.cases, scenario.triage
    act = actions(scenario)
    p_research = tri.contact_children_found_at_research_probability
    p_voluntary = tri.voluntary_attendance_finds_contact_probability
    contact = [d.mean for d in ca.children_in_contact.values_in_order()]
    on_devices = ([d.mean for d in ca.children_on_devices.values_in_order()]
                  if ca.children_on_devices is not None else [0.0] * len(RISK_LEVELS))
    fg = ca.first_generation_probability.values_in_order()
    g = scenario_grading_matrix(scenario)
    mix = scenario.demand.risk_mix.values_in_order()
    routes = device_routes(scenario)
    first = (routes.kiosk_share * find_probability(scenario, "kiosk")
             + routes.lab_share * find_probability(scenario, "lab_examination"))
    later = find_probability(scenario, "image_grading")
    found_on_device = 1.0 - (1.0 - first) * (1.0 - later)
    some_device = 1.0 - count_pgf(ca.devices_per_case, 0.0)
    s = tri.voluntary_attendance_devices_seized_share
    vid = scenario.stages.victim_identification
    depicted = (ca.depicted_children.mean * vid.identification_probability
                * find_probability(scenario, "victim_identification"))
    at_warrant = [w + v * p_voluntary for w, v in zip(act.warrant, act.voluntary, strict=True)]
    holder = [w + v * s for w, v in zip(act.warrant, act.voluntary, strict=True)]
    out = dict.fromkeys(("research", "warrant", "examination", "depicted"), 0.0)
    for r, m in enumerate(mix):
        row = g[r]
        out["research"] += m * contact[r] * p_research
        out["warrant"] += m * contact[r] * (1.0 - p_research) * _dot(row, at_warrant)
        out["examination"] += m * on_devices[r] * _dot(row, holder) * some_device \
            * found_on_device
        out["depicted"] += m * fg[r] * depicted * _dot(row, act.acted)
    return out


def children_referred_per_referral(scenario: Scenario) -> float:
    """Children identified, and so referred to safeguarding, per referral (all routes)."""
    return sum(children_found_per_referral(scenario).values())


# ------------------------------------------------------------------ classes
def class_shares(scenario: Scenario, station: str) -> Vector:
    """Share of the pipeline's items at ``station`` in each queue class.

    The class is the case's priority when the item joins the queue: the lowest at
    intake; the graded risk at enforcement, safeguarding, device triage and the kiosk;
    from the lab on, escalated cases are in the top class. A case is escalated when
    device triage or the kiosk detects it (``escalation_detect_probability``, for a case
    with first-generation material or children) or, from grading on, when a child is
    found on its devices at the kiosk or the lab (approximated by a case with such a
    child found at the first examination of the device holding it).
    """
    n = len(RISK_LEVELS)
    if station == "intake":
        return tuple(1.0 if k == LOWEST else 0.0 for k in range(n))
    ca, tri = scenario.cases, scenario.triage
    mix = scenario.demand.risk_mix.values_in_order()
    fg = ca.first_generation_probability.values_in_order()
    contact = ca.children_in_contact.values_in_order()
    on_dev = (ca.children_on_devices.values_in_order()
              if ca.children_on_devices is not None else None)
    act = actions(scenario)
    if station == "safeguarding":
        return _normalised(_per_graded(scenario, _children_by_true_level(scenario),
                                       [1.0] * n))
    if station == "victim_identification":
        some = 1.0 - ca.depicted_children.probability_of_zero()
        weight_true = [f * some for f in fg]
        per_graded = list(act.acted)
        eligible = [1.0] * n
        reach = _ratio(any_device_seized(scenario), act.acted)
    elif station == "enforcement":
        return _normalised(_per_graded(scenario, [1.0] * n, list(act.acted)))
    else:  # a device station
        weight_true = [1.0] * n
        per_graded = list(seized_share(scenario))
        reach = [1.0] * n
        eligible = [1.0 - (1.0 - fg[r]) * contact[r].probability_of_zero()
                    * (on_dev[r].probability_of_zero() if on_dev is not None else 1.0)
                    for r in range(n)]
    g = scenario_grading_matrix(scenario)
    shares = [0.0] * n
    p_esc = tri.escalation_detect_probability
    after = station in _AFTER_TRIAGE
    later = station in ("image_grading", "database_upload", "victim_identification")
    routes = device_routes(scenario)
    first = (routes.kiosk_share * find_probability(scenario, "kiosk")
             + routes.lab_share * find_probability(scenario, "lab_examination"))
    for r in range(n):
        found = 0.0
        if later and on_dev is not None:
            found = (1.0 - on_dev[r].probability_of_zero()) * first
        for k in range(n):
            w = mix[r] * weight_true[r] * g[r][k] * per_graded[k]
            if not after or w == 0.0:
                shares[k] += w
                continue
            moved = reach[k] * (p_esc * eligible[r] + found * (1.0 - p_esc))
            shares[k] += w * (1.0 - moved)
            shares[0] += w * moved
    return _normalised(shares)


def _children_by_true_level(scenario: Scenario) -> list[float]:
    """Weights per true level for the children's classes (their case's graded risk)."""
    ca = scenario.cases
    contact = [d.mean for d in ca.children_in_contact.values_in_order()]
    fg = ca.first_generation_probability.values_in_order()
    vid_p = scenario.stages.victim_identification.identification_probability
    on = ([d.mean for d in ca.children_on_devices.values_in_order()]
          if ca.children_on_devices is not None else [0.0] * len(contact))
    return [c + o + f * ca.depicted_children.mean * vid_p
            for c, o, f in zip(contact, on, fg, strict=True)]


def _per_graded(scenario: Scenario, weight_true: Sequence[float],
                per_graded: Sequence[float]) -> list[float]:
    joint = joint_risk(scenario, weight_true)
    n = len(RISK_LEVELS)
    return [sum(joint[r][k] for r in range(n)) * per_graded[k] for k in range(n)]


def other_work_classes(scenario: Scenario, station: str) -> Vector:
    """Share of ``station``'s other-work jobs in each queue class (their priority mix)."""
    stage: Stage = getattr(scenario.stages, station)
    if stage.other_work is None:
        return (0.0,) * len(RISK_LEVELS)
    return _normalised(list(stage.other_work.priority_mix.values_in_order()))


def expedited_levels(scenario: Scenario, station: str) -> tuple[bool, ...]:
    """Per queue class, whether items of that class are expedited at ``station``."""
    pol = scenario.policies.expedite
    on = station in pol.stages
    return tuple(on and level in pol.risk_levels for level in RISK_LEVELS)


def expedited_work_factor(pool: StaffPool) -> float:
    """Shift capacity an expedited job uses per hour of its work, against a normal job's one.

    A pool on a shift calendar serves an expedited job on call: it runs round the clock
    at full speed, ``1 / availability`` times faster than on shift, and the part done
    off shift takes no shift time at all. Counting it as done on shift (this factor,
    ``availability``) gives an upper bound. Continuous and ``smooth`` pools serve it
    like any other job (factor 1).
    """
    return pool.availability if pool.uses_shifts else 1.0


# ------------------------------------------------------------------ work
@dataclass(frozen=True)
class WorkTerm:
    """One additive part of an item's work: a distribution times hours per unit.

    Attributes
    ----------
    spec : DistSpec
        A duration (hours) or a quantity (terabytes, images).
    hours_per_unit : float
        1 for a duration; hours per TB or per image for a quantity.
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

    Attributes
    ----------
    components : tuple of (float, tuple of WorkTerm)
        Weight of each component (summing to one, or nothing) and its terms.
    """

    components: tuple[tuple[float, tuple[WorkTerm, ...]], ...]

    @property
    def mean_hours(self) -> float:
        """Mean work per item, hours."""
        return sum(w * sum(t.mean_hours for t in terms) for w, terms in self.components)


def work_mix(scenario: Scenario, station: str, day: float = 0.0) -> WorkMix:
    """Staff work per visit of the pipeline's own items at ``station`` at clock ``day``.

    Device stations mix over the types of the devices reaching them. At the lab the
    data per device has grown to ``day`` (taken as the day it was seized); at grading
    and upload the images not matched by hash are counted at the hash set's size on
    ``day``; upload adds the verification votes of new images.

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
    by_type = stage.service_by_device_type or {}
    per_image = 0.0
    if station in ("image_grading", "database_upload"):
        unknown = 1.0 - ca.known_share_at(day)
        if station == "image_grading" and st.image_grading.images_per_hour is not None:
            per_image = unknown / st.image_grading.images_per_hour
        up = st.database_upload
        if station == "database_upload" and up.images_per_hour is not None:
            per_image = (unknown * up.extra_votes_per_new_image * up.new_image_share_of_unknown
                         / up.images_per_hour)
    per_tb = (st.lab_examination.hours_per_tb * ca.data_scale_at(day)
              if station == "lab_examination" else 0.0)
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
    stage: Stage = getattr(scenario.stages, station)
    if stage.other_work is None:
        return WorkMix(())
    return WorkMix(((1.0, _terms(stage.other_work.service)),))


def _terms(*specs: DistSpec | None) -> tuple[WorkTerm, ...]:
    return tuple(WorkTerm(s) for s in specs if s is not None)


# ------------------------------------------------------------------ helpers
def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _ratio(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [x / y if y > 0 else 0.0 for x, y in zip(a, b, strict=True)]


def _normalised(values: Sequence[float]) -> Vector:
    total = sum(values)
    return tuple(v / total if total > 0 else 0.0 for v in values)
