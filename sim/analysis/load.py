"""Offered load per stage and pool, straight from a scenario (no simulation).

For each stage: the arrival rate of work items (cases, devices or children per day),
the mean work per item in hours, the capacity of the staff serving it, and the traffic
intensity rho = offered work / capacity. A pool that serves several stages is loaded by
all of them, so each stage reports its pool's total rho as well. rho >= 1 means the
queue can only grow over the horizon, whatever the discipline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.config.distspec import DistSpec
from sim.config.schema import RISK_LEVELS, Scenario, Stage


@dataclass(frozen=True)
class StageLoad:
    """Offered load of one stage.

    Attributes
    ----------
    stage : str
        Stage (or ``kiosk``).
    pool : str or None
        Pool serving it; None for a delay stage.
    arrivals_per_day : float
        Work items per day (at the growth-adjusted rate asked for).
    work_hours_mean : float
        Mean staff hours per item (calendar hours for a delay stage).
    servers : int
        Head-count of the pool at the start.
    capacity_hours_per_day : float
        Productive hours per calendar day the whole pool delivers (tier speeds included).
    rho_stage : float
        This stage's offered work over the pool's capacity.
    rho_pool : float
        All stages of the pool together over its capacity.
    """

    stage: str
    pool: str | None
    arrivals_per_day: float
    work_hours_mean: float
    servers: int
    capacity_hours_per_day: float
    rho_stage: float
    rho_pool: float

    @property
    def mean_service_days(self) -> float:
        """Mean service time of one item by one average member, in days."""
        if self.pool is None:
            return self.work_hours_mean / 24.0
        per_server = self.capacity_hours_per_day / self.servers if self.servers else math.nan
        return self.work_hours_mean / per_server if per_server else math.inf


def _mean(spec: DistSpec | None) -> float:
    return 0.0 if spec is None else spec.mean


def _typed_mean(stage: Stage, weights: dict[str, float]) -> float:
    base = _mean(stage.service)
    by_type = stage.service_by_device_type
    if by_type is None:
        return base
    total = sum(weights.values()) or 1.0
    out = 0.0
    for name, w in weights.items():
        spec = by_type.get(name)
        out += w / total * (base + spec.mean if spec is not None else base)
    return out


def offered_load(scenario: Scenario, at_day: float = 0.0) -> list[StageLoad]:
    """Offered load of every enabled staffed or delay stage at day ``at_day``.

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    at_day : float
        Day at which to evaluate the (growing) referral rate.

    Returns
    -------
    list of StageLoad
        In pipeline order; disabled stages are left out.
    """
    sc = scenario
    st = sc.stages
    ca = sc.cases
    lam = sc.demand.referrals_per_year_at(at_day) / 365.25
    mix = dict(zip(RISK_LEVELS, sc.demand.risk_mix.values_in_order(), strict=True))
    devices = lam * ca.devices_per_case.mean
    shares = {k: v.share for k, v in ca.device_types.items()}
    kiosk_type = st.device_triage.kiosk_device_type
    kiosk_share = sc.policies.kiosk_share_of_phones * shares.get(kiosk_type, 0.0)
    lab_weights = {k: v * (1.0 - sc.policies.kiosk_share_of_phones) if k == kiosk_type else v
                   for k, v in shares.items()}
    lab_share = sum(lab_weights.values())
    fg = sum(mix[r] * p for r, p in zip(
        RISK_LEVELS, ca.first_generation_probability.values_in_order(), strict=True))
    depicted_mean = ca.depicted_children.mean
    contact_mean = sum(mix[r] * d.mean for r, d in zip(
        RISK_LEVELS, ca.children_in_contact.values_in_order(), strict=True))
    vid = st.victim_identification
    tb_lab = sum(lab_weights[k] * ca.device_types[k].data_tb.mean for k in shares) / (lab_share or 1)
    images_all = sum(shares[k] * ca.device_types[k].images.mean for k in shares)
    grading = st.image_grading
    per_image = 0.0 if grading.images_per_hour is None else 1.0 / grading.images_per_hour
    kiosk = st.device_triage.kiosk

    rows: list[tuple[str, str | None, bool, float, float]] = [
        ("intake", st.intake.pool, st.intake.enabled, lam, _mean(st.intake.service)),
        ("enforcement", st.enforcement.pool, st.enforcement.enabled, lam,
         _mean(st.enforcement.service)),
        ("safeguarding", st.safeguarding.pool, st.safeguarding.enabled,
         lam * (contact_mean + fg * depicted_mean * vid.identification_probability),
         _mean(st.safeguarding.service)),
        ("device_triage", st.device_triage.pool, st.device_triage.enabled,
         devices * (1.0 - kiosk_share), _typed_mean(st.device_triage, lab_weights)),
        ("kiosk", kiosk.pool if kiosk else None, kiosk is not None and st.device_triage.enabled,
         devices * kiosk_share, _mean(kiosk.service) if kiosk else 0.0),
        ("lab_examination", st.lab_examination.pool, st.lab_examination.enabled,
         devices * (1.0 - kiosk_share),
         _typed_mean(st.lab_examination, lab_weights) + st.lab_examination.hours_per_tb * tb_lab),
        ("image_grading", grading.pool, grading.enabled, devices,
         _typed_mean(grading, shares) + images_all * (1.0 - ca.known_image_share) * per_image),
        ("database_upload", st.database_upload.pool, st.database_upload.enabled, devices,
         _typed_mean(st.database_upload, shares)),
        ("victim_identification", vid.pool, vid.enabled,
         lam * fg * (1.0 - ca.depicted_children.probability_of_zero()), _mean(vid.service)),
    ]
    capacity: dict[str, float] = {}
    servers: dict[str, int] = {}
    for name, pool in sc.staff.items():
        counts = pool.tier_counts()
        speed_sum = sum(n * t.speed_multiplier for n, t in zip(counts, pool.tiers, strict=True))
        capacity[name] = speed_sum * pool.work_hours_per_calendar_day()
        servers[name] = pool.headcount
    pool_work: dict[str, float] = {}
    for _name, pool_name, enabled, rate, work in rows:
        if enabled and pool_name is not None:
            pool_work[pool_name] = pool_work.get(pool_name, 0.0) + rate * work
    out = []
    for name, pool_name, enabled, rate, work in rows:
        if not enabled or (name == "kiosk" and rate == 0):
            continue
        if pool_name is None:
            out.append(StageLoad(name, None, rate, work, 0, math.inf, 0.0, 0.0))
            continue
        cap = capacity[pool_name]
        rho = rate * work / cap if cap > 0 else (math.inf if rate * work > 0 else 0.0)
        rho_pool = pool_work[pool_name] / cap if cap > 0 else (
            math.inf if pool_work[pool_name] > 0 else 0.0)
        out.append(StageLoad(name, pool_name, rate, work, servers[pool_name], cap, rho, rho_pool))
    return out
