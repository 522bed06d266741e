"""``sim.analysis.load.offered_load``: offered utilisation against the simulated busy share.

For a pool that works around the clock (or ``working_time: smooth``), rho is the
long-run share of its members' time spent on a job; a long run of a stable scenario
must show it within a few percent, whatever mechanisms are on. For a pool on a shift
calendar it is the share of *on-shift* time busy (a job in hand pauses off shift), and
a saturated shift pool completes work at its capacity averaged over the week.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sim.analysis import flows
from sim.analysis.load import StageLoad, offered_load
from sim.config import Scenario
from sim.model.replication import run_replication
from sim.monitor.records import Records

from ._flow_scenarios import LEVELS, hours, scenario

#: Standard errors the busy share of a long run may be from rho.
Z = 4.0
#: Relative gap tolerated where no standard error is at hand.
RTOL = 0.04

OTHER_LAB = {"jobs_per_year": 1500, "annual_growth_rate": 0.2,
             "priority_mix": {"very_high": 0.0, "high": 0.2, "medium": 0.3, "low": 0.5},
             "service": hours(4, "gamma")}
OTHER_ENF = {"jobs_per_year": 1000,
             "priority_mix": {"very_high": 0.1, "high": 0.0, "medium": 0.0, "low": 0.9},
             "service": hours(3, "exponential")}
#: Every new mechanism at once: the enforcement decision and voluntary seizure, the
#: kiosk route with device triage off, other work (growing) at the lab and enforcement,
#: data and hash-set growth, verification votes after grading by precedence, rework,
#: expedited very-high cases.
EVERYTHING: dict[str, Any] = {
    "triage.warrant_probability": dict(zip(LEVELS, (1.0, 0.7, 0.4, 0.2), strict=True)),
    "triage.voluntary_attendance_probability": dict(zip(LEVELS, (0.0, 0.2, 0.3, 0.3),
                                                        strict=True)),
    "triage.voluntary_attendance_devices_seized_share": 0.5,
    "stages.device_triage.enabled": False, "policies.kiosk_share_of_phones": 0.7,
    "stages.lab_examination.other_work": OTHER_LAB,
    "stages.enforcement.other_work": OTHER_ENF,
    "cases.data_tb_growth_per_year": 0.2, "cases.known_image_share_growth_per_year": 0.04,
    "stages.database_upload.images_per_hour": 800,
    "stages.database_upload.extra_votes_per_new_image": 2,
    "stages.database_upload.precedence": 1,
    "staff.grade.tiers": [{"name": "a", "share": 1, "rework_probability": 0.2}],
    "policies.expedite": {"risk_levels": ["very_high"],
                          "stages": ["enforcement", "lab_examination"]},
    "run.horizon_days": 2000,
    "staff.lab.headcount": 8, "staff.enf.headcount": 3, "staff.grade.headcount": 3,
}
OFFICE = {"hours_per_day": 7.5, "days_per_week": 5, "availability": 0.8}
#: More cases at victim identification, so that its busy share is measured precisely.
MORE_VID = {"cases.first_generation_probability": dict(zip(LEVELS, (0.9, 0.6, 0.3, 0.15),
                                                           strict=True)),
            "staff.vid.headcount": 3}


def _rho_by_interval(sc: Scenario, pool: str, days: np.ndarray) -> np.ndarray:
    """The pool's rho at the middle of each staff-sampling interval ending at ``days``."""
    step = sc.run.timeseries_interval_days
    return np.asarray([next(ld.rho_pool for ld in offered_load(sc, d - step / 2)
                            if ld.pool == pool) for d in days])


def _busy_against_rho(sc: Scenario, records: list[Records], pool: str
                      ) -> tuple[float, float, float]:
    """Mean busy share minus rho over the window's staff-sampling intervals, its
    standard error (the intervals as batch means), and the mean rho."""
    diffs, rhos = [], []
    c = sc.staff[pool].headcount
    for rec in records:
        t = rec.tables["staff_timeseries"]
        lo, hi = rec.window
        keep = (t["pool"] == pool) & (t["day"] > lo) & (t["day"] <= hi)
        rho = _rho_by_interval(sc, pool, t["day"][keep])
        diffs.append(t["busy_mean"][keep] / c - rho)
        rhos.append(rho)
    d = np.concatenate(diffs)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), float(
        np.concatenate(rhos).mean())


def _assert_busy_is_rho(sc: Scenario, records: list[Records], pool: str) -> None:
    diff, se, rho = _busy_against_rho(sc, records, pool)
    assert 0.25 < rho < 0.8, pool
    assert se < 0.015 * rho, pool  # precise enough to see a few percent
    assert abs(diff) <= Z * se, f"{pool}: busy share - rho = {diff:+.4f} ± {se:.4f} (rho {rho:.4f})"


def _used_pools(sc: Scenario) -> list[str]:
    return sorted({ld.pool for ld in offered_load(sc) if ld.pool is not None})


@pytest.fixture(scope="module")
def continuous() -> tuple[Scenario, list[Records]]:
    sc = scenario(**EVERYTHING, **{f"staff.{p}.availability": 0.9 for p in
                                   ("inv", "enf", "lab", "grade", "vid")}, **MORE_VID)
    return sc, [run_replication(sc, r, 3) for r in range(2)]


@pytest.mark.parametrize("pool", ["inv", "enf", "lab", "grade", "vid"])
def test_rho_is_the_busy_share_of_a_round_the_clock_pool(continuous, pool):
    sc, records = continuous
    assert sc.staff[pool].continuous
    _assert_busy_is_rho(sc, records, pool)


def test_rho_is_the_busy_share_of_smooth_pools():
    sc = scenario(**{
        **EVERYTHING, **{f"staff.{p}.{k}": v for p in ("inv", "enf", "lab", "grade", "vid")
           for k, v in {**OFFICE, "working_time": "smooth"}.items()},
        "staff.inv.headcount": 10, "staff.enf.headcount": 16, "staff.lab.headcount": 40,
        "staff.grade.headcount": 16, **MORE_VID, "staff.vid.headcount": 16})
    records = [run_replication(sc, r, 3) for r in range(2)]
    for pool in ("inv", "enf", "lab", "grade", "vid"):
        assert not sc.staff[pool].uses_shifts and not sc.staff[pool].continuous
        _assert_busy_is_rho(sc, records, pool)


def test_every_enabled_station_appears_once_in_pipeline_order(continuous):
    sc, _ = continuous
    stages = [ld.stage for ld in offered_load(sc)]
    # Device triage is off, and with it the kiosk station: neither has a load.
    assert stages == ["intake", "enforcement", "safeguarding", "lab_examination",
                      "image_grading", "database_upload", "victim_identification"]
    assert _used_pools(sc) == ["enf", "grade", "inv", "lab", "vid"]


def test_other_work_is_part_of_a_stations_load():
    sc = scenario(**{"stages.lab_examination.other_work": OTHER_LAB})
    lab: StageLoad = next(ld for ld in offered_load(sc, 365.25) if ld.stage == "lab_examination")
    jobs = 1500 * 1.2 / 365.25
    assert lab.other_work_per_day == pytest.approx(jobs)
    assert lab.other_work_hours_mean == pytest.approx(4.0)
    assert lab.arrivals_per_day == pytest.approx(lab.pipeline_per_day + jobs)
    offered = lab.pipeline_per_day * lab.pipeline_work_hours_mean + jobs * 4.0
    assert lab.work_hours_mean == pytest.approx(offered / lab.arrivals_per_day)
    assert lab.rho_stage == pytest.approx(offered / lab.capacity_hours_per_day)
    assert lab.working_time == "continuous"


# ------------------------------------------------------------------ shift calendars
def _on_shift(cal: Any, end_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints and cumulative on-shift days of a calendar over ``[0, end_day]``."""
    x, f = [0.0], [0.0]
    t = 0.0
    while t < end_day:
        start, stop = cal.window_after(t)
        start = max(start, t)
        x += [start, stop]
        f += [f[-1], f[-1] + stop - start]
        t = stop
    return np.asarray(x), np.asarray(f)


def _on_shift_busy_share(sc: Scenario, rec: Records, pool: str, stations: list[str]) -> float:
    """Member time holding a job while on shift, over members' on-shift time, in the window."""
    from sim.model.calendar import ShiftCalendar

    cfg = sc.staff[pool]
    cal = ShiftCalendar(cfg.shift_hours_per_day, int(cfg.days_per_week), cfg.shift_start_hour,
                        sc.run.start_date.weekday())
    lo, hi = rec.window
    x, f = _on_shift(cal, hi + 7)
    visits = rec.frame("stage_visits")
    v = visits[visits.stage.isin(stations) & visits.start_day.notna()]
    start = np.clip(v.start_day.to_numpy(), lo, hi)
    end = np.clip(np.nan_to_num(v.end_day.to_numpy(), nan=hi), lo, hi)
    held = np.interp(end, x, f) - np.interp(start, x, f)
    return float(held.sum() / (cfg.headcount * (np.interp(hi, x, f) - np.interp(lo, x, f))))


def _lab_on_shifts(**changes: Any) -> Scenario:
    return scenario(**{"run.horizon_days": 2000, "staff.lab": {"headcount": 40, **OFFICE},
                       **changes})


def test_rho_is_the_on_shift_busy_share_of_a_shift_pool():
    sc = _lab_on_shifts(**{"stages.lab_examination.other_work": OTHER_LAB,
                           "staff.lab.headcount": 55})
    assert sc.staff["lab"].uses_shifts
    lab = next(ld for ld in offered_load(sc) if ld.stage == "lab_examination")
    assert lab.working_time == "shifts"
    shares, rhos = [], []
    for r in range(2):
        rec = run_replication(sc, r, 3)
        shares.append(_on_shift_busy_share(sc, rec, "lab", ["lab_examination"]))
        lo, hi = rec.window
        days = np.linspace(lo, hi, 41)[1:]
        rhos.append(_rho_by_interval(sc, "lab", days).mean())
    share, rho = float(np.mean(shares)), float(np.mean(rhos))
    assert 0.3 < rho < 0.8
    assert share == pytest.approx(rho, rel=RTOL)
    # Jobs in hand pause off shift: a member holds a job for more calendar time than
    # its on-shift time.
    diff, _se, rho_mean = _busy_against_rho(sc, [rec], "lab")
    on_shift_days = sc.staff["lab"].work_hours_per_calendar_day() / (
        24 * sc.staff["lab"].availability)
    assert diff + rho_mean > 1.2 * share * on_shift_days


def test_a_saturated_shift_pool_completes_work_at_its_weekly_capacity():
    sc = _lab_on_shifts(**{"staff.lab.headcount": 20, "run.horizon_days": 700,
                           "run.warmup_days": 100})
    lab = next(ld for ld in offered_load(sc) if ld.stage == "lab_examination")
    assert lab.rho_pool > 1.2  # the queue only grows: every member is always busy
    rec = run_replication(sc, 0, 3)
    visits = rec.frame("stage_visits")
    lo, hi = rec.window
    done = visits[(visits.stage == "lab_examination") & (visits.end_day > lo)
                  & (visits.end_day <= hi)]
    # Work done = completed work plus the change in work in hand: about a job each.
    work_done = float(done.service_days.count()) * lab.work_hours_mean
    expected = lab.capacity_hours_per_day * (hi - lo)
    jobs = expected / lab.work_hours_mean
    assert work_done == pytest.approx(expected, rel=4 / math.sqrt(jobs) + 20 / jobs)


def test_expedited_work_on_shifts_counts_at_most_its_on_shift_time():
    expedite = {"risk_levels": ["very_high"], "stages": ["lab_examination"]}
    plain = _lab_on_shifts()
    fast = _lab_on_shifts(**{"policies.expedite": expedite})
    lab = {name: next(ld for ld in offered_load(sc) if ld.stage == "lab_examination")
           for name, sc in (("plain", plain), ("fast", fast))}
    share = flows.class_shares(fast, "lab_examination")[0]
    a = fast.staff["lab"].availability
    assert lab["fast"].rho_pool == pytest.approx(lab["plain"].rho_pool * (1 - share + share * a))
    assert lab["fast"].work_hours_mean == lab["plain"].work_hours_mean  # the work is the same
    rec = run_replication(fast, 0, 3)
    measured = _on_shift_busy_share(fast, rec, "lab", ["lab_examination"])
    assert measured <= lab["fast"].rho_pool * (1 + RTOL)  # an upper bound
    # Round the clock, expediting changes the order only.
    continuous = scenario(**{"policies.expedite": expedite})
    base = scenario()
    assert ([ld.rho_pool for ld in offered_load(continuous)]
            == [ld.rho_pool for ld in offered_load(base)])
