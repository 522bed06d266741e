"""One replication: a pure function of (scenario, replication index, seed).

:func:`run_replication` builds a fresh SimPy environment, the pipeline and its
monitors, runs to the end of the horizon, checks that counts balance at every stage
and returns :class:`~sim.monitor.records.Records`. It writes no files and keeps no
global state, so replications can run in any order, in any process.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from sim.config.schema import Scenario
from sim.model.engine import Engine
from sim.model.entities import (
    ACTIONS,
    CHILD_KINDS,
    DEPICTED,
    FOUND_AT,
    FOUND_INTAKE,
    NOT_FOUND,
    ON_DEVICE,
    Case,
    Child,
    Device,
)
from sim.model.levers import build_levers
from sim.model.pipeline import Pipeline
from sim.model.population import CaseDraws, arrival_days, draw_cases
from sim.model.staff_sampler import StaffSampler
from sim.monitor.records import ConservationError, Records, Table
from sim.monitor.tables import (
    COHORTS,
    RISK_NAMES,
    ROUTES_CHILD,
    ROUTES_DEVICE,
    stage_timeseries,
    stage_visits,
)
from sim.streams import Streams

NAN = math.nan


def run_replication(scenario: Scenario, replication: int, seed: int) -> Records:
    """Simulate one replication of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        Validated scenario.
    replication : int
        Replication index (selects independent random streams).
    seed : int
        Base seed of the experiment.

    Returns
    -------
    Records
        Tables, conservation counts, time averages and the event count.

    Raises
    ------
    ConservationError
        If arrived != completed + waiting + in service at any stage.

    Notes
    -----
    Python's cyclic garbage collector is paused while the replication runs (and
    restored afterwards). A run allocates a few hundred thousand long-lived objects
    and frees almost none, so the collector's repeated scans of them are wasted; the
    entities become garbage only when the replication returns, and are then freed by
    reference counting, with one young-generation collection for what remains. Net
    effect: about 3-4 % of a whole run (``bench/RESULTS.md``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(scenario, replication, seed)
    finally:
        if was_enabled:
            gc.enable()
            # The entities were freed by reference counting when _run returned (it breaks
            # their cycles); this frees the pipeline's own cycles, all in the youngest
            # generation, so nothing of this run overlaps the next one in a worker.
            gc.collect(0)


def _run(scenario: Scenario, replication: int, seed: int) -> Records:
    streams = Streams(seed, replication)
    env = Engine()
    levers = build_levers(scenario)
    pipeline = Pipeline(scenario, streams, env, levers.all())
    run = scenario.run
    end = run.end_day
    pipeline.load_backlog()
    days = arrival_days(scenario.demand, end, streams.get("arrivals"))
    draws = draw_cases(days.size, scenario.demand.risk_mix, scenario.cases,
                       scenario.triage.contact_children_found_at_research_probability, streams, 0)
    pipeline.schedule_referrals(days, draws)
    pipeline.schedule_other_work(end)
    staff = StaffSampler(env, list(pipeline.pools.values()), levers.workforce,
                         run.timeseries_interval_days, end)
    env.run_until(end)

    conservation: dict[str, dict[str, int]] = {}
    averages: dict[str, dict[str, float]] = {}
    outsourcing = levers.outsourcing
    for station in pipeline.stations:
        station.close(end)
        balance = station.balance()
        sent = 0
        if station is pipeline.lab_examination:
            # Devices sent to the provider arrived here but are neither queued nor served.
            sent = outsourcing.sent if outsourcing is not None else 0
            balance["outsourced"] = sent
        conservation[station.name] = balance
        if balance["arrived"] != (balance["completed"] + balance["waiting"]
                                  + balance["in_service"] + sent):
            raise ConservationError(f"stage {station.name}: counts do not balance: {balance}")
        averages[station.name] = {
            "mean_waiting": station.queue_area / end,
            "mean_in_system": station.system_area / end,
            "arrival_rate_per_day": (station.arrived - sent) / end,
        }
    if outsourcing is not None:
        conservation["outsourcing"] = outsourcing.balance()
        if outsourcing.sent != outsourcing.returned + outsourcing.in_progress:
            raise ConservationError(f"outsourcing: counts do not balance: "
                                    f"{outsourcing.balance()}")
    grid = np.arange(0.0, end + 1e-9, run.timeseries_interval_days)
    logs = {s.name: s.log for s in pipeline.stations if s.enabled}
    kinds = {s.name: ("case" if s.name in ("intake", "enforcement", "victim_identification")
                      else "child" if s.name == "safeguarding" else "device")
             for s in pipeline.stations}
    tier_names = {s.name: s.pool.tier_names for s in pipeline.stations if s.pool is not None}
    case_of_device = np.fromiter(map(attrgetter("case.id"), pipeline.devices), dtype=np.int64,
                                 count=len(pipeline.devices))
    tables = {
        "stage_visits": stage_visits(logs, kinds, case_of_device, tier_names),
        "cases": _cases_table(pipeline.cases, pipeline.case_blocks, case_of_device),
        "devices": _devices_table(pipeline.devices, pipeline.device_type_names, case_of_device,
                                  pipeline.case_blocks),
        "children": _children_table(pipeline.children, end),
        "stage_timeseries": stage_timeseries(logs, grid),
        "staff_timeseries": staff.table(),
        "staff_tier_timeseries": staff.tier_table(),
        "workforce": levers.workforce.summary_table(pipeline.pools, (run.warmup_days, end)),
        "training_cohorts": levers.workforce.cohort_table(),
    }
    devices = tables["devices"]
    if outsourcing is not None:
        devices.update(outsourcing.device_columns(pipeline.devices))
    else:
        devices["outsourced"] = np.zeros(len(pipeline.devices), dtype=bool)
        devices["outsourced_day"] = np.full(len(pipeline.devices), NAN)
    visits = sum(c["completed"] for name, c in conservation.items()
                 if name in logs)
    _unlink(pipeline.cases, pipeline.children)
    # The samples would otherwise be freed only by the collector: the sampler is in a
    # cycle with its scheduled call.
    staff.release()
    pipeline.referrals.clear()
    # What still waits (queues, scheduled events) is held by the pipeline's own cycles:
    # let it go by reference counting too.
    for station in pipeline.stations:
        station.queue.clear()
    env.drop_events()
    pipeline.cases, pipeline.devices, pipeline.children = [], [], []
    return Records(replication=replication, seed=seed, tables=tables, conservation=conservation,
                   time_averages=averages, events=3 * visits, window=(run.warmup_days, end))


def _unlink(cases: list[Case], children: list[Child]) -> None:
    """Break the reference cycles of cases: to themselves, and with their children.

    Once the run's tables are built, nothing reads the entities again. Without cycles
    they are freed by reference counting as soon as the pipeline is dropped, instead
    of by a pass of the cyclic garbage collector over every one of them (about a
    tenth of a short replication). Devices refer to their case, not the other way.
    """
    for case in cases:
        del case.case
    for child in children:
        del child.case


def _col(items: Sequence[Any], attr: str, dtype: type = float) -> np.ndarray:
    return np.fromiter(map(attrgetter(attr), items), dtype=dtype, count=len(items))


def _cases_table(cases: list[Case], blocks: list[tuple[CaseDraws, np.ndarray, int]],
                 case_of_device: np.ndarray) -> Table:
    # What is fixed when a case is made comes from the arrays it was made from
    # (``Pipeline.case_blocks``, in id order); the rest is read off the cases.
    def static(column: Callable[[CaseDraws, np.ndarray], np.ndarray], dtype: type) -> np.ndarray:
        parts: list[np.ndarray] = [np.asarray(column(draws, days), dtype=dtype)
                                   for draws, days, _ in blocks]
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    risk = np.asarray(RISK_NAMES, dtype=object)
    cohorts = np.repeat(np.asarray([cohort for _, _, cohort in blocks], dtype=np.int64),
                        [days.size for _, days, _ in blocks])
    return {
        "case_id": np.arange(len(cases), dtype=np.int64),
        "cohort": np.asarray(COHORTS, dtype=object)[cohorts],
        "referral_day": static(lambda _, days: days, float),
        "true_risk": risk[static(lambda d, days: d.true_risk[:days.size], np.int64)],
        "graded_risk": risk[_col(cases, "graded", int)],
        "escalated": _col(cases, "escalated", bool),
        "first_generation": static(lambda d, days: d.first_generation[:days.size], bool),
        "n_devices": np.bincount(case_of_device, minlength=len(cases)).astype(np.int64),
        "n_children": static(lambda d, days: (d.n_contact + d.n_depicted)[:days.size],
                             np.int64),
        "intake_done_day": _col(cases, "t_intake_done"),
        "action": np.asarray(ACTIONS, dtype=object)[_col(cases, "action", int)],
        "warrant_day": _col(cases, "t_warrant"),
        "examined_day": _col(cases, "t_exam_done"),
        "uploaded_day": _col(cases, "t_uploaded"),
        "vid_done_day": _col(cases, "t_vid_done"),
    }


def _drawn_device_columns(case_of_device: np.ndarray,
                          blocks: list[tuple[CaseDraws, np.ndarray, int]]
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Type, data (TB) and images of each device, read from the arrays they were drawn in.

    A case's devices are made together (``Pipeline._make_devices``), so they have
    consecutive ids; the k-th of them is row ``device_start + k`` of its case's draws.
    """
    n = case_of_device.size
    device_type = np.empty(n, dtype=np.int64)
    data_tb = np.empty(n)
    images = np.empty(n)
    if n == 0:
        return device_type, data_tb, images
    first_of_run = np.flatnonzero(np.r_[True, case_of_device[1:] != case_of_device[:-1]])
    offset = np.arange(n) - np.repeat(first_of_run, np.diff(np.r_[first_of_run, n]))
    first_case = np.cumsum([0] + [days.size for _, days, _ in blocks])
    block_of = np.searchsorted(first_case, case_of_device, side="right") - 1
    for b, (draws, _, _) in enumerate(blocks):
        here = block_of == b
        rows = draws.device_start[case_of_device[here] - first_case[b]] + offset[here]
        device_type[here] = draws.device_type[rows]
        data_tb[here] = draws.data_tb[rows]
        images[here] = draws.images[rows]
    return device_type, data_tb, images


def _devices_table(devices: list[Device], type_names: list[str], case_of_device: np.ndarray,
                   blocks: list[tuple[CaseDraws, np.ndarray, int]]) -> Table:
    # A device's id is its position in the pipeline's list (ids are given in order).
    types = np.asarray(type_names, dtype=object)
    device_type, data_tb, images = _drawn_device_columns(case_of_device, blocks)
    return {
        "device_id": np.arange(len(devices), dtype=np.int64),
        "case_id": case_of_device,
        "device_type": types[device_type] if devices else np.empty(0),
        "route": np.asarray(ROUTES_DEVICE, dtype=object)[_col(devices, "route", int)],
        # The drawn volume times the growth factor at seizure: read off the devices.
        "data_tb": _col(devices, "data_tb") if devices else data_tb,
        "images": images,
        "unknown_images": _col(devices, "unknown_images"),
        "seized_day": _col(devices, "t_seized"),
        "examined_day": _col(devices, "t_examined"),
        "graded_day": _col(devices, "t_graded"),
        "uploaded_day": _col(devices, "t_uploaded"),
    }


def child_route(child: Child) -> int:
    """Index in :data:`ROUTES_CHILD` of the population ``child`` belongs to.

    A child in contact is on the ``research`` route if research found it, or, for a
    case not yet researched when the run ended, if research would have (the drawn
    outcome); every other child in contact is the warrant's to find.
    """
    if child.route == DEPICTED:
        return 3
    if child.route == ON_DEVICE:
        return 2
    if child.found_at == FOUND_INTAKE:
        return 0
    case = child.case
    if case.t_intake_done == case.t_intake_done or child.found_at != NOT_FOUND:
        return 1  # researched, and not found there
    own: list[Child] = list(case.children)  # contact children first, in id order
    return 0 if child.id - own[0].id < case.n_found_at_research else 1


def _children_table(children: list[Child], end: float) -> Table:
    referral = _col(children, "case.referral_day")
    identified = _col(children, "identified_day")
    safeguarded = _col(children, "safeguarded_day")
    routes = np.fromiter(map(child_route, children), dtype=np.int64, count=len(children))
    return {
        "child_id": _col(children, "id", int),
        "case_id": _col(children, "case.id", np.int64),
        "cohort": np.asarray(COHORTS, dtype=object)[
            _col(children, "case.cohort", np.int64)],
        "true_risk": np.asarray(RISK_NAMES, dtype=object)[
            _col(children, "case.true_risk", np.int64)],
        "route": np.asarray(ROUTES_CHILD, dtype=object)[routes],
        "kind": np.asarray(CHILD_KINDS, dtype=object)[_col(children, "route", int)],
        "found_at": np.asarray(FOUND_AT, dtype=object)[_col(children, "found_at", int)],
        "referral_day": referral,
        "identified_day": identified,
        "safeguarding_referral_day": _col(children, "referred_day"),
        "safeguarded_day": safeguarded,
        "identified": ~np.isnan(identified),
        "identification_censored": np.isnan(identified),
        "time_to_identify_days": np.where(np.isnan(identified), end, identified) - referral,
        "safeguarded": ~np.isnan(safeguarded),
    }
