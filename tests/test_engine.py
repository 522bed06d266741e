"""The event loop and the hot-path records: same answers as plain SimPy, exactly.

``sim.model.engine.Engine.run_until`` replaces ``env.run(until=...)`` and the model's
frequent events are :class:`~sim.model.engine.Call` records instead of SimPy timeouts; station
logs are packed rows; service times come from ``item_sampler``. Each must be an exact
stand-in for what it replaced, so these tests compare with the plain-SimPy way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

import sim.model.replication as replication
from sim.config import load_scenario, with_overrides
from sim.config.distspec import DistSpec
from sim.distributions import BLOCK, item_sampler, sampler
from sim.model.engine import Call, Engine
from sim.model.staff_sampler import STAFF_COLUMNS, TIER_COLUMNS
from sim.model.station import EXPEDITE_LIMIT, Station
from sim.monitor.records import StationLog

ROOT = Path(__file__).resolve().parents[1]


def _run_with_env_run(env: simpy.Environment, end: float) -> None:
    env.run(until=end)


def run_until(env: Engine, end: float) -> None:
    env.run_until(end)


def _same_records(a: Any, b: Any) -> None:
    assert a.events == b.events
    assert a.conservation == b.conservation
    assert a.time_averages == b.time_averages
    assert a.tables.keys() == b.tables.keys()
    for name, table in a.tables.items():
        assert table.keys() == b.tables[name].keys(), name
        for col, values in table.items():
            other = b.tables[name][col]
            assert values.dtype == other.dtype, (name, col)
            if values.dtype.kind == "f":
                np.testing.assert_array_equal(values, other, err_msg=f"{name}.{col}")
            else:
                assert values.tolist() == other.tolist(), (name, col)


@pytest.mark.parametrize("path", ["tests/mini", "scenarios/best-plan.yaml"])
def test_run_until_gives_the_same_replication_as_env_run(path, make_mini, monkeypatch):
    # best-plan has every workforce lever: hiring, training, attrition, outsourcing and
    # automation run as SimPy processes and timeouts between the model's own calls.
    if path == "tests/mini":
        scenario = make_mini()
    else:
        scenario = with_overrides(load_scenario(ROOT / path),
                                  {"run.horizon_years": None, "run.horizon_days": 400})
    fast = replication.run_replication(scenario, 1, 11)
    monkeypatch.setattr(Engine, "run_until", lambda env, end: env.run(until=end))
    plain = replication.run_replication(scenario, 1, 11)
    _same_records(fast, plain)


def _finish_release_then_dispatch(self: Station, event: Call) -> None:
    """Station._finish without the hand-over: release the member, route the item, dispatch."""
    now = self.env._now
    self._account(now)
    self.in_service -= 1
    self.completed += 1
    self.log.ended(event.row, now)
    done = ((lambda item: self.on_done(item, event.tier)) if self.pass_tier else self.on_done)
    if self.pool is None:
        done(event.item)
        return
    self.pool.release(event.tier)
    done(event.item)
    self.pool.dispatch()


@pytest.mark.parametrize("path", ["tests/mini", "scenarios/best-plan.yaml",
                                  "scenarios/teaching/mmc-lab.yaml"])
def test_handing_the_next_job_to_the_same_member_changes_nothing(path, make_mini, monkeypatch):
    # A member who finishes at a one-station pool takes the head of the queue at once;
    # release() then dispatch() must have done exactly the same, with every workforce
    # lever (best-plan: staff leaving after their job, moving tiers, barred tiers).
    if path == "tests/mini":
        scenario = make_mini()
    else:
        scenario = load_scenario(ROOT / path)
        scenario = with_overrides(scenario, {"run.horizon_years": None,
                                             "run.horizon_days": min(scenario.run.horizon,
                                                                     600)})
    fast = replication.run_replication(scenario, 2, 5)
    handed_over: list[int] = []
    hand_over = Station._finish

    def counting(self: Station, event: Call) -> None:
        waiting = bool(self.queue) and self.pool is not None and len(self.pool.stations) == 1
        if waiting and not self.pool.on_shift:  # off shift only an expedited head may be taken
            waiting = self.queue[0][0] < EXPEDITE_LIMIT
        if waiting:  # the invariant the hand-over relies on: no member free while a job waits
            assert not any(self.pool.free), (self.name, self.pool.free)
            handed_over.append(1)
        hand_over(self, event)

    monkeypatch.setattr(Station, "_finish", counting)
    replication.run_replication(scenario, 2, 5)
    assert handed_over, "the hand-over was never exercised"
    monkeypatch.setattr(Station, "_finish", _finish_release_then_dispatch)
    _same_records(fast, replication.run_replication(scenario, 2, 5))


class _RowSampler:
    """The staff sampler as a plain row-by-row record (what StaffSampler must equal)."""

    def __init__(self, env: simpy.Environment, pools: list[Any], workforce: Any, interval: float,
                 end: float):
        self.env, self.pools, self.workforce = env, pools, workforce
        self.interval, self.end = interval, end
        self.rows: list[tuple[Any, ...]] = []
        self.tier_rows: list[tuple[Any, ...]] = []
        self.last_area = [0.0] * len(self.pools)
        self.last_shift = [0.0] * len(self.pools)
        self.last_day = 0.0
        self._sample()

    def _sample(self, _event: Any = None) -> None:
        now = self.env.now
        span = now - self.last_day
        for i, pool in enumerate(self.pools):
            if pool.calendar is None:
                pool._account(now)
                busy = (pool.busy_area - self.last_area[i]) / span if span > 0 else float(pool.busy)
                self.last_area[i] = pool.busy_area
            else:  # shift pools: staff working during the shift time since the last sample
                worked, on_shift = pool.working_time(now)
                shift = on_shift - self.last_shift[i]
                busy = ((worked - self.last_area[i]) / shift if shift > 1e-12
                        else float(pool.busy) if now <= 0 else math.nan)
                self.last_area[i], self.last_shift[i] = worked, on_shift
            employed = sum(pool.on_duty)
            self.rows.append((now, pool.name, employed, busy,
                              busy / employed if employed else math.nan,
                              *self.workforce.status(pool).values()))
            for tier, speed, n in zip(pool.tier_names, pool.tier_speeds, pool.on_duty,
                                      strict=True):
                self.tier_rows.append((now, pool.name, tier, speed, n))
        self.last_day = now
        if now + self.interval <= self.end + 1e-9:
            self.env.timeout(self.interval).callbacks.append(self._sample)

    def table(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in zip(STAFF_COLUMNS, zip(*self.rows, strict=True),
                                                 strict=True)}

    def tier_table(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=object if k in ("pool", "tier") else None)
                for k, v in zip(TIER_COLUMNS, zip(*self.tier_rows, strict=True), strict=True)}

    def release(self) -> None:
        pass


@pytest.mark.parametrize("path", ["tests/mini", "scenarios/best-plan.yaml"])
def test_staff_sampler_tables_equal_a_row_by_row_record(path, make_mini, monkeypatch):
    # best-plan: pools with workforce blocks (training, hiring, attrition) beside plain ones.
    if path == "tests/mini":
        scenario = with_overrides(make_mini(), {"run.timeseries_interval_days": 3.5})
    else:
        scenario = with_overrides(load_scenario(ROOT / path),
                                  {"run.horizon_years": None, "run.horizon_days": 500})
    fast = replication.run_replication(scenario, 0, 3)
    monkeypatch.setattr(replication, "StaffSampler", _RowSampler)
    _same_records(fast, replication.run_replication(scenario, 0, 3))


def test_device_columns_read_from_the_draws_are_each_devices_own(make_mini, monkeypatch):
    # The devices table reads type, data and images from the arrays they were drawn in;
    # they must be the devices' own, for new referrals and for the backlog at the lab
    # and at image grading (devices made at time zero, in blocks of their own).
    scenario = make_mini(**{"initial_backlog.image_grading": {
        "count": 150, "age_days": {"uniform": {"low": 0, "high": 90}}}})
    checked: list[int] = []
    make_table = replication._devices_table

    def checking(devices: list[Any], *args: Any) -> dict[str, np.ndarray]:
        table = make_table(devices, *args)
        type_names = args[0]
        assert table["device_type"].tolist() == [type_names[d.device_type] for d in devices]
        assert table["data_tb"].tolist() == [float(d.data_tb) for d in devices]
        assert table["images"].tolist() == [float(d.images) for d in devices]
        assert table["case_id"].tolist() == [d.case.id for d in devices]
        checked.append(len(devices))
        return table

    monkeypatch.setattr(replication, "_devices_table", checking)
    records = replication.run_replication(scenario, 1, 9)
    cohorts = records.tables["cases"]["cohort"]
    assert checked and checked[0] > 550  # the backlog's 550 devices and the new ones
    assert {"new", "backlog"} <= set(cohorts.tolist())


def test_a_replications_entities_are_freed_without_the_cycle_collector(make_mini):
    # Cases, devices and children hold no reference cycles once the tables are made,
    # and what still waits is let go: the collection at the end of a replication finds
    # only the pipeline's own few hundred objects, not thousands of entities.
    import gc

    found: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            found.append(info["collected"])

    scenario = make_mini()
    gc.collect()
    gc.callbacks.append(note)
    try:
        records = replication.run_replication(scenario, 0, 4)
    finally:
        gc.callbacks.remove(note)
    entities = len(records.tables["cases"]["case_id"]) + len(records.tables["devices"]["device_id"])
    waiting = int(np.isnan(records.tables["stage_visits"]["start_day"]).sum())
    assert entities > 3000 and waiting > 50  # a run with a backlog still queued at the end
    assert found and max(found) < 500, found


def _interleaved(runner: Any) -> list[tuple[float, str]]:
    """Calls, timeouts and a process at equal and distinct times; the order they ran."""
    env = Engine()
    seen: list[tuple[float, str]] = []

    def note(call: Call) -> None:
        seen.append((env.now, f"call {call.row}"))

    callbacks = [note]
    for row, delay in enumerate([2.0, 1.0, 2.0, 5.0, 3.0]):  # 5.0 is the end: not run
        env.schedule_call(delay, Call(callbacks, None, -1, row))

    def proc() -> Any:
        for step in (1.0, 1.0, 0.5):
            yield env.timeout(step)
            seen.append((env.now, "process"))
        yield env.timeout(10.0)  # beyond the end
        seen.append((env.now, "late"))

    env.process(proc())
    env.timeout(2.0).callbacks.append(lambda _e: seen.append((env.now, "timeout")))
    runner(env, 5.0)
    seen.append((env.now, "end"))
    return seen


def test_run_until_runs_events_in_simpys_order_and_stops_before_the_end():
    fast = _interleaved(run_until)
    assert fast == _interleaved(_run_with_env_run)
    assert (5.0, "call 3") not in fast  # SimPy stops before ordinary events at `until`
    assert fast[-1] == (5.0, "end")
    assert [t for t, _ in fast] == sorted(t for t, _ in fast)


def test_run_until_refuses_an_end_not_after_now():
    env = Engine(initial_time=3.0)
    with pytest.raises(ValueError, match="must be after"):
        env.run_until(3.0)


def test_run_until_raises_a_failed_process_like_simpy():
    def broken(env: simpy.Environment) -> Any:
        yield env.timeout(1.0)
        raise KeyError("lost exhibit")

    for runner in (run_until, _run_with_env_run):
        env = Engine()
        env.process(broken(env))
        with pytest.raises(KeyError, match="lost exhibit"):
            runner(env, 10.0)


@pytest.mark.parametrize("spec", [
    DistSpec("exponential", (("mean", 6.4),), "duration"),
    DistSpec("lognormal", (("mean", 3.0), ("sd", 4.5)), "duration"),
    DistSpec("fixed", (("value", 2.5),), "duration"),
])
def test_item_sampler_draws_what_sampler_draws(spec):
    n = BLOCK + 7  # across a block boundary
    plain = sampler(spec, np.random.default_rng(5), 1.0 / 24.0)
    by_item = item_sampler(spec, np.random.default_rng(5), 1.0 / 24.0)
    expected = [plain() for _ in range(n)]
    got = [by_item(object()) for _ in range(n)]
    assert got == expected


def test_station_log_rows_come_back_as_typed_columns():
    log = StationLog()
    end_at = log.started(entity=7, priority=2, arrive=1.5, start=2.0, service=0.25, tier=1,
                         queued_priority=3)
    log.started(entity=8, priority=0, arrive=2.5, start=2.5, service=1.0, tier=0)
    log.ended(end_at, 2.25)
    log.waiting(entity=9, priority=1, arrive=3.0)
    assert len(log) == 3
    assert log.entity.dtype == np.int64 and log.entity.tolist() == [7, 8, 9]
    assert log.priority.tolist() == [2, 0, 1]
    assert log.queued_priority.tolist() == [3, 0, 1]
    assert log.tier.tolist() == [1, 0, -1]
    assert log.arrive.dtype == np.float64 and log.arrive.tolist() == [1.5, 2.5, 3.0]
    assert log.start.tolist()[:2] == [2.0, 2.5] and math.isnan(log.start[2])
    assert log.end[0] == 2.25 and math.isnan(log.end[1]) and math.isnan(log.end[2])
    assert log.service.tolist()[:2] == [0.25, 1.0]
    with pytest.raises(AttributeError):
        _ = log.nonsense
