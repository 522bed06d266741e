"""Referrals and their attributes, drawn for a whole replication at once.

Drawing every attribute as one numpy array from its own stream is fast and gives
strong common random numbers: the k-th referral has the same risk, children and
devices in every scenario that shares the demand settings, however the rest differs.
No SimPy here; :mod:`sim.model.pipeline` turns these arrays into entities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.config.schema import RISK_LEVELS, CaseAttributes, Demand, PerRisk
from sim.distributions import draw
from sim.streams import Streams


def arrival_days(demand: Demand, end_day: float, rng: np.random.Generator) -> np.ndarray:
    """Referral times on ``[0, end_day)`` of a Poisson process with geometric growth.

    The rate is ``r(t) = r0 (1 + g)^(t / 365.25)`` per day with ``r0`` the yearly rate
    divided by 365.25. Times come from unit-rate exponential gaps mapped through the
    inverse of the cumulative rate, so a growth change moves every arrival smoothly.

    Parameters
    ----------
    demand : Demand
        Referrals per year and annual growth rate.
    end_day : float
        End of the period, in days.
    rng : numpy.random.Generator
        The ``arrivals`` stream.

    Returns
    -------
    numpy.ndarray
        Sorted arrival days.

    Notes
    -----
    With ``demand.referrals_per_year_profile`` the rate is piecewise constant by year
    of the run instead (see :func:`profile_arrival_days`), from the same unit-rate
    points, so scenarios that differ only in demand still share their random numbers.
    """
    if demand.referrals_per_year_profile is not None:
        return profile_arrival_days(demand.referrals_per_year_profile, end_day, rng)
    return poisson_days(demand.referrals_per_year, demand.annual_growth_rate, end_day, rng)


def poisson_days(per_year: float, annual_growth_rate: float, end_day: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Times on ``[0, end_day)`` of a Poisson process of ``per_year`` growing geometrically.

    Parameters
    ----------
    per_year : float
        Events per year at day 0.
    annual_growth_rate : float
        Growth of the rate per year (0.1 = 10 %).
    end_day : float
        End of the period, in days.
    rng : numpy.random.Generator
        The stream to draw from.

    Returns
    -------
    numpy.ndarray
        Sorted event days.
    """
    rate0 = per_year / 365.25
    if rate0 <= 0 or end_day <= 0:
        return np.empty(0)
    growth = math.log1p(annual_growth_rate) / 365.25

    def cumulative(t: float) -> float:
        return rate0 * t if growth == 0 else rate0 * math.expm1(growth * t) / growth

    points = _unit_points(cumulative(end_day), rng)
    if growth == 0:
        return points / rate0
    return np.log1p(points * growth / rate0) / growth


def _unit_points(total: float, rng: np.random.Generator) -> np.ndarray:
    """Points of a unit-rate Poisson process on ``[0, total)``."""
    chunk = max(16, int(total * 1.1) + 16)
    gaps = [rng.exponential(1.0, chunk)]
    points = np.cumsum(gaps[0])
    while points[-1] < total:
        more = rng.exponential(1.0, chunk)
        gaps.append(more)
        points = np.concatenate([points, points[-1] + np.cumsum(more)])
    return points[points < total]


def profile_arrival_days(per_year: list[float], end_day: float, rng: np.random.Generator
                         ) -> np.ndarray:
    """Referral times on ``[0, end_day)`` with a piecewise-constant yearly rate.

    Year ``k`` of the run (days ``[365.25 k, 365.25 (k + 1))``) has ``per_year[k]``
    referrals per year; the last value holds after the list ends. Unit-rate points are
    mapped through the inverse of the piecewise-linear cumulative rate.

    Parameters
    ----------
    per_year : list of float
        Referrals per year, one value per year of the run.
    end_day : float
        End of the period, in days.
    rng : numpy.random.Generator
        The ``arrivals`` stream.

    Returns
    -------
    numpy.ndarray
        Sorted arrival days.
    """
    if end_day <= 0:
        return np.empty(0)
    n_years = max(len(per_year), int(end_day // 365.25) + 1)
    rates = np.asarray([per_year[min(k, len(per_year) - 1)] for k in range(n_years)], float)
    starts = np.arange(n_years) * 365.25
    slopes = rates / 365.25
    cum_at_start = np.concatenate([[0.0], np.cumsum(rates)[:-1]])
    k_end = min(int(end_day // 365.25), n_years - 1)
    total = float(cum_at_start[k_end] + slopes[k_end] * (end_day - starts[k_end]))
    if total <= 0:
        return np.empty(0)
    points = _unit_points(total, rng)
    # side='right' skips years with no referrals (equal cumulative values).
    k = np.searchsorted(cum_at_start, points, side="right") - 1
    return starts[k] + (points - cum_at_start[k]) / slopes[k]


@dataclass
class CaseDraws:
    """Attributes of ``n`` cases and of their devices, as arrays.

    Device arrays are flat; case ``i`` owns devices ``device_start[i]`` to
    ``device_start[i + 1] - 1``.
    """

    true_risk: np.ndarray
    u_grade: np.ndarray
    u_escalate: np.ndarray
    n_contact: np.ndarray
    n_found_at_research: np.ndarray
    first_generation: np.ndarray
    n_depicted: np.ndarray
    u_identify: np.ndarray
    depicted_start: np.ndarray
    n_devices: np.ndarray
    device_start: np.ndarray
    device_type: np.ndarray
    data_tb: np.ndarray
    images: np.ndarray
    u_kiosk: np.ndarray
    u_decision: np.ndarray
    u_seize: np.ndarray
    u_contact: np.ndarray
    contact_start: np.ndarray
    n_on_devices: np.ndarray
    on_device_start: np.ndarray
    on_device_index: np.ndarray
    u_find: np.ndarray
    u_find_later: np.ndarray


def _per_risk_counts(spec: PerRisk, risk: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # One draw per case from the spec of its own risk level, so the count for case k
    # depends only on case k's risk and the stream position, not on other cases.
    out = np.zeros(risk.size, dtype=np.int64)
    for level, dist in enumerate(spec.values_in_order()):
        values = draw(dist, rng, risk.size)
        mask = risk == level
        out[mask] = values[mask]
    return out


def draw_cases(n: int, risk_mix: PerRisk, attrs: CaseAttributes, found_at_research_p: float,
               streams: Streams, sub: int = 0) -> CaseDraws:
    """Draw the attributes of ``n`` cases.

    Parameters
    ----------
    n : int
        Number of cases.
    risk_mix : PerRisk of float
        Shares of true risk levels.
    attrs : CaseAttributes
        Children, devices and material settings.
    found_at_research_p : float
        Probability that research finds an in-contact child before the warrant.
    streams : Streams
        The replication's streams.
    sub : int
        Sub-stream: 0 for new referrals, ``k + 1`` for backlog block ``k``.
    """
    probs = np.asarray(risk_mix.values_in_order(), dtype=float)
    true_risk = streams.get("case.risk", sub).choice(len(RISK_LEVELS), size=n, p=probs / probs.sum())
    u_grade = streams.get("case.grading", sub).random(n)
    u_escalate = streams.get("case.escalation", sub).random(n)
    n_contact = _per_risk_counts(attrs.children_in_contact, true_risk,
                                 streams.get("case.children_in_contact", sub))
    n_found = streams.get("case.children_found_at_research", sub).binomial(n_contact, found_at_research_p)
    fg_p = np.asarray(attrs.first_generation_probability.values_in_order())[true_risk]
    first_generation = streams.get("case.first_generation", sub).random(n) < fg_p
    n_depicted = draw(attrs.depicted_children, streams.get("case.depicted_children", sub), n)
    n_depicted = np.where(first_generation, n_depicted, 0)
    depicted_start = np.concatenate([[0], np.cumsum(n_depicted)])
    u_identify = streams.get("child.identification", sub).random(int(depicted_start[-1]))
    n_devices = draw(attrs.devices_per_case, streams.get("case.devices", sub), n)
    device_start = np.concatenate([[0], np.cumsum(n_devices)])
    total = int(device_start[-1])
    types = list(attrs.device_types.values())
    type_p = np.asarray([t.share for t in types])
    device_type = streams.get("device.type", sub).choice(len(types), size=total, p=type_p / type_p.sum())
    data_tb = np.zeros(total)
    images = np.zeros(total)
    tb_rng = streams.get("device.data_tb", sub)
    img_rng = streams.get("device.images", sub)
    for k, dtype in enumerate(types):
        tb_all = draw(dtype.data_tb, tb_rng, total)
        img_all = draw(dtype.images, img_rng, total)
        mask = device_type == k
        data_tb[mask] = tb_all[mask]
        images[mask] = np.round(img_all[mask])
    u_kiosk = streams.get("device.kiosk_route", sub).random(total)
    # Added with the enforcement decision and children on devices: each from a stream
    # of its own, so every draw above is what it was before they existed.
    u_decision = streams.get("case.enforcement_decision", sub).random(n)
    u_seize = streams.get("device.seized", sub).random(total)
    contact_start = np.concatenate([[0], np.cumsum(n_contact)])
    u_contact = streams.get("child.voluntary_attendance", sub).random(int(contact_start[-1]))
    if attrs.children_on_devices is not None:
        n_on = _per_risk_counts(attrs.children_on_devices, true_risk,
                                streams.get("case.children_on_devices", sub))
    else:
        n_on = np.zeros(n, dtype=np.int64)
    on_start = np.concatenate([[0], np.cumsum(n_on)])
    n_children_on = int(on_start[-1])
    owner_devices = np.repeat(n_devices, n_on)
    on_index = np.floor(streams.get("child.device", sub).random(n_children_on)
                        * owner_devices).astype(np.int64)
    # (children, 2): child k's two uniforms do not depend on how many children follow.
    find = streams.get("child.find", sub).random((n_children_on, 2)).T
    return CaseDraws(true_risk, u_grade, u_escalate, n_contact, n_found, first_generation,
                     n_depicted, u_identify, depicted_start, n_devices, device_start,
                     device_type, data_tb, images, u_kiosk, u_decision, u_seize, u_contact,
                     contact_start, n_on, on_start, on_index, find[0].copy(), find[1].copy())
