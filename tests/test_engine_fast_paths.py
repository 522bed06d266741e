"""The hot path's shortcuts give exactly the replication the plain code gives.

Each shortcut of the event loop (one-call work functions, reused completion events, the
shift calendar's arithmetic, the free-member check before a dispatch) is switched back
to the plain code it replaces, and the two replications must agree in every table to
the last bit.
"""

from __future__ import annotations

import bisect
import heapq
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim.model.pipeline as pipeline
import sim.model.replication as replication
from sim.config import load_scenario, with_overrides
from sim.model.calendar import ShiftCalendar
from sim.model.station import EXPEDITE_LIMIT, Pool, Station
from tests.test_engine import _same_records

ROOT = Path(__file__).resolve().parents[1]
#: The baseline (lab by device type, per-TB hours, other work, a growing hash set) and
#: best-plan (automation changes the hash-matched share and the hours on the way).
SCENARIOS = ["scenarios/met-baseline.yaml", "scenarios/best-plan.yaml"]


def _short(path: str, days: int = 400) -> Any:
    return with_overrides(load_scenario(ROOT / path),
                          {"run.horizon_years": None, "run.horizon_days": days})


def _general_lab(parts: pipeline.WorkParts, hours_per_tb: float, jobs: bool) -> Any:
    composed = pipeline._compose(parts)
    work = (lambda d: composed(d) + d.data_tb * hours_per_tb) if hours_per_tb else composed
    return pipeline._or_job_hours(work) if jobs else work


def _general_grading(parts: pipeline.WorkParts, hours_per_image: float, recount: bool,
                     unknown: Any, env: Any, growth: Any) -> Any:
    base = pipeline._compose(parts)
    if not recount:
        return ((lambda d: base(d) + d.unknown_images * hours_per_image) if hours_per_image
                else base)
    if not hours_per_image:
        return lambda d: base(d) + 0.0 * unknown(d)
    return lambda d: base(d) + unknown(d) * hours_per_image


@pytest.mark.parametrize("path", SCENARIOS)
def test_one_call_work_functions_give_the_same_replication(path, monkeypatch):
    scenario = _short(path)
    lab_calls: list[bool] = []
    fast_lab = pipeline._lab_work

    def spying_lab(parts: pipeline.WorkParts, hours_per_tb: float, jobs: bool) -> Any:
        work = fast_lab(parts, hours_per_tb, jobs)
        lab_calls.append(work.__name__ == "lab")
        return work

    monkeypatch.setattr(pipeline, "_lab_work", spying_lab)
    fast = replication.run_replication(scenario, 3, 17)
    assert any(lab_calls), "the one-call lab work was not used: the test checks nothing"
    monkeypatch.setattr(pipeline, "_lab_work", _general_lab)
    monkeypatch.setattr(pipeline, "_grading_work", _general_grading)
    plain = replication.run_replication(scenario, 3, 17)
    _same_records(fast, plain)


def test_the_one_call_grading_work_is_used_where_the_hash_set_grows():
    scenario = _short(SCENARIOS[0], 30)
    assert scenario.cases.known_image_share_growth_per_year > 0
    from sim.model.engine import Engine
    from sim.model.levers import build_levers
    from sim.streams import Streams

    pipe = pipeline.Pipeline(scenario, Streams(1, 0), Engine(), build_levers(scenario).all())
    assert pipe.image_grading.work.__name__ == "grading"
    assert pipe.lab_examination.work.__name__ == "lab"


@pytest.mark.parametrize("path", [*SCENARIOS, "scenarios/teaching/mmc-lab.yaml"])
def test_reusing_spent_completion_events_changes_nothing(path, monkeypatch):
    scenario = _short(path, 300)
    reused: list[int] = []
    start = Station.start

    def counting(self: Station, *args: Any, **kwargs: Any) -> None:
        if self._spare is not None and len(args) < 5 and "call" not in kwargs:
            reused.append(1)
        start(self, *args, **kwargs)

    monkeypatch.setattr(Station, "start", counting)
    fast = replication.run_replication(scenario, 1, 23)
    assert reused, "no spent event was reused: the test checks nothing"

    def fresh(self: Station, *args: Any, **kwargs: Any) -> None:
        self._spare = None  # never reuse: every service end is a new Call
        start(self, *args, **kwargs)

    monkeypatch.setattr(Station, "start", fresh)
    plain = replication.run_replication(scenario, 1, 23)
    _same_records(fast, plain)


def _dispatch_looping(self: Pool) -> None:
    """Pool.dispatch as it was: a Python loop over the tiers looks for a free member."""
    free = self.free
    stations = self.stations
    on_call_only = not self.on_shift
    while True:
        tier = 0
        for n_free in free:
            if n_free:
                break
            tier += 1
        else:
            return
        best = None
        for candidate in stations:
            queue = candidate.queue
            if queue and (best is None or queue[0] < best):
                if on_call_only and queue[0][0] >= EXPEDITE_LIMIT:
                    continue
                best = queue[0]
                station = candidate
        if best is None:
            return
        now = self.env._now
        station._account(now)
        entry = heapq.heappop(station.queue)
        free[tier] -= 1
        self._account(now)
        self.busy += 1
        station.start(entry[4], entry[3], tier, entry[5])


@pytest.mark.parametrize("path", SCENARIOS)
def test_checking_for_a_free_member_first_changes_nothing(path, monkeypatch):
    scenario = _short(path, 300)
    fast = replication.run_replication(scenario, 4, 29)
    monkeypatch.setattr(Pool, "dispatch", _dispatch_looping)
    plain = replication.run_replication(scenario, 4, 29)
    _same_records(fast, plain)


def _finish_reference(cal: ShiftCalendar, t: float, shift_hours: float) -> float:
    """ShiftCalendar.finish as first written (whole weeks counted for every job)."""
    eps = 1e-9
    if shift_hours <= 0.0:
        return t
    need = shift_hours / 24.0
    per_week = cal.shift_days_per_week
    weeks = math.floor(need / per_week)
    if weeks and need - weeks * per_week <= eps:
        weeks -= 1
    need -= weeks * per_week
    week = math.floor(t / 7.0)
    base = (week + weeks) * 7.0
    r = t - week * 7.0
    starts, ends = cal._starts, cal._ends
    i = bisect.bisect_right(ends, r)
    while True:
        s = starts[i]
        if s > r:
            r = s
        room = ends[i] - r
        if need <= room + eps:
            return base + min(r + need, ends[i])
        need -= room
        i += 1
        r = starts[i]


@pytest.mark.parametrize("pattern", [(8.0, 5, 8.0, 0), (10.0, 4, 7.0, 3), (12.0, 7, 20.0, 6),
                                     (24.0, 5, 0.0, 2), (7.5, 1, 9.0, 4)])
def test_shift_calendar_finish_equals_the_reference_arithmetic(pattern):
    cal = ShiftCalendar(*pattern)
    rng = np.random.default_rng(7)
    per_week_hours = cal.shift_days_per_week * 24.0
    # Starts anywhere (on and off shift, on window edges); work from minutes to several
    # weeks, including exact multiples of a week's shift time.
    starts = np.concatenate([rng.uniform(0, 3000, 4000), np.asarray(cal._starts[4:12]),
                             np.asarray(cal._ends[4:12])])
    hours = np.concatenate([rng.exponential(6.0, 3000), rng.uniform(0, 5 * per_week_hours, 1000),
                            per_week_hours * np.arange(1, 17)])
    for t, h in zip(starts.tolist(), np.resize(hours, starts.size).tolist(), strict=True):
        assert cal.finish(t, h) == _finish_reference(cal, t, h), (pattern, t, h)
