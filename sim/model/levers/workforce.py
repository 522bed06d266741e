"""Workforce dynamics: hiring, attrition, time to competence and training cohorts.

:class:`Workforce` runs the dated events of one replication as SimPy callbacks:
hiring steps and recruitment lags, attrition (exponential per person, on the
``workforce`` stream), monthly ramp-up steps, and training cohorts, moving people
between the tiers of a :class:`~sim.model.staffing.WorkforcePool`. It also keeps the
intake pool's trained share and from it the risk-grading error and the probability
that research finds a child in contact. Pools without workforce settings are plain
:class:`~sim.model.station.Pool` objects and no event is scheduled for them, so a
scenario without the new blocks runs exactly as before.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.config.schema import Scenario, StaffPool
from sim.config.workforce import DAYS_PER_MONTH, PoolWorkforce, TrainingProgramme, day_of
from sim.distributions import sampler
from sim.model.staffing import (
    ON_COURSE,
    RAMP,
    TRAINED,
    WorkforcePool,
    new_starter_tier,
    programmes_of,
)
from sim.model.station import Pool
from sim.streams import Streams

if TYPE_CHECKING:  # pragma: no cover
    from sim.model.entities import Case
    from sim.model.pipeline import Pipeline

#: Purposes of the ``workforce`` sub-streams of a pool.
_ATTRITION_TIMES, _ATTRITION_WHO, _RECRUITMENT_LAG, _REPLACEMENT_LAG = range(4)


# --------------------------------------------------------------------- controller
def _binomial_quantile(u: float, n: int, p: float) -> int:
    """Smallest k with P(Binomial(n, p) <= k) > u (inverse CDF; small n)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    pmf = (1.0 - p) ** n
    cdf = pmf
    k = 0
    ratio = p / (1.0 - p)
    while u >= cdf and k < n:
        pmf *= (n - k) / (k + 1) * ratio
        k += 1
        cdf += pmf
    return k


@dataclass
class _Cohort:
    programme: str
    pool: str
    index: int
    start_day: float
    end_day: float
    share_off: float
    members: dict[str, int] = field(default_factory=dict)  # base tier -> people

    @property
    def places(self) -> int:
        return sum(self.members.values())


class _PoolState:
    """Book-keeping of one pool under workforce dynamics."""

    def __init__(self, name: str, pool: WorkforcePool, cfg: StaffPool, streams: Streams):
        self.name = name
        self.pool = pool
        self.cfg = cfg
        self.wf: PoolWorkforce = cfg.workforce or PoolWorkforce()
        self.index = {spec.name: i for i, spec in enumerate(pool.specs)}
        self.employed = sum(pool.on_duty)
        self.employed_log: list[tuple[float, int]] = [(0.0, self.employed)]
        self.off_course = 0          # people off duty on a full-time course
        self.recruiting = 0          # hires approved, not yet arrived
        self.hires_approved = 0
        self.hires_arrived = 0
        self.leavers = 0             # attrition
        self.removed = 0             # planned reductions
        key = (zlib.crc32(name.encode()) & 0xFFFFFF) * 16
        self.rng_times = streams.get("workforce", key + _ATTRITION_TIMES)
        self.rng_who = streams.get("workforce", key + _ATTRITION_WHO)
        wf = self.wf
        self.recruit_lag: Callable[[], float] | None = (
            None if wf.recruitment_lag is None
            else sampler(wf.recruitment_lag, streams.get("workforce", key + _RECRUITMENT_LAG),
                         1.0 / 24.0))
        repl = wf.replacement_lag or wf.recruitment_lag
        self.replace_lag: Callable[[], float] | None = (
            None if repl is None
            else sampler(repl, streams.get("workforce", key + _REPLACEMENT_LAG), 1.0 / 24.0))
        self.hazard_per_day = wf.attrition_rate_per_year / 365.25
        self.hazard_done = 0.0       # cumulative hazard so far
        self.hazard_next = 0.0       # cumulative hazard of the next leaver
        self.hazard_rate = 0.0       # current total hazard per day
        self.hazard_since = 0.0
        self.hazard_version = 0

    def tier(self, name: str) -> int:
        return self.index[name]

    def at_risk(self) -> int:
        pool = self.pool
        return sum(pool.on_duty) - sum(pool.leaving)

    def set_employed(self, now: float, delta: int) -> None:
        self.employed += delta
        self.employed_log.append((now, self.employed))

    def fte_days(self, start: float, end: float) -> float:
        """Integral of the employed head-count over ``[start, end]``, in person-days."""
        total = 0.0
        log = [*self.employed_log, (end, self.employed)]
        for (t0, n), (t1, _) in itertools.pairwise(log):
            lo, hi = max(t0, start), min(t1, end)
            if hi > lo:
                total += n * (hi - lo)
        return total


#: Keys of :meth:`Workforce.status`, in order.
STATUS_KEYS = ("in_training", "off_duty_training", "new_starters", "trained", "recruiting",
               "employed", "capacity_fte")


def untracked_status(pool: Pool) -> tuple[float, ...]:
    """:meth:`Workforce.status` values of a pool without a workforce block, in order.

    Nobody trains, starts or is recruited; everyone on duty is employed.
    """
    capacity = sum(n * s for n, s in zip(pool.on_duty, pool.tier_speeds, strict=True))
    return (0, 0, 0, 0, 0, sum(pool.on_duty), capacity)


class Workforce:
    """The workforce events of one replication (a lever that is always installed).

    Inert, and scheduling nothing, for pools without a workforce block or training.
    """

    def __init__(self) -> None:
        self.states: dict[str, _PoolState] = {}
        self.cohorts: list[_Cohort] = []

    def install(self, pipeline: Pipeline) -> None:
        """Take over ``pipeline``'s workforce pools and schedule their events.

        The pools were made by :func:`~sim.model.staffing.make_pool`.
        """
        self.pipeline = pipeline
        self.env = pipeline.env
        sc = pipeline.scenario
        self.scenario = sc
        self.start_date = sc.run.start_date
        self.end_day = sc.run.end_day
        for name in sorted(sc.staff):
            pool = pipeline.pools[name]
            if isinstance(pool, WorkforcePool):
                pool.bar_tiers()
                self.states[name] = _PoolState(name, pool, sc.staff[name], pipeline.streams)
        # Triage quality: effects of programmes of the intake pool.
        self.intake_pool = sc.stages.intake.pool
        tri = sc.triage
        self.accuracy0 = tri.grading_accuracy
        self.found0 = tri.contact_children_found_at_research_probability
        self.found_now = self.found0
        self.quality_programmes = [
            (n, p) for n, p in programmes_of(sc, self.intake_pool or "")
            if p.effects.grading_accuracy is not None
            or p.effects.contact_children_found_at_research_probability is not None]
        self._u_research = np.empty(0)
        self._rng_research = None
        if any(p.effects.contact_children_found_at_research_probability is not None
               for _, p in self.quality_programmes):
            self._rng_research = pipeline.streams.get("case.research")
            pipeline.set_research_adjuster(self._adjust_research)
        for state in self.states.values():
            self._schedule_plan(state)
            self._reschedule_attrition(state)
        for prog_name, prog in sorted(sc.training.items()):
            for k, day in enumerate(prog.cohort_days(self.start_date, self.end_day)):
                self._at(day, self._cohort_start, (prog_name, prog, k))

    # ------------------------------------------------------------------ helpers
    def _at(self, day: float, fn: Callable[[Any], None], value: Any) -> None:
        delay = max(day - self.env.now, 0.0)
        self.env.timeout(delay, value).callbacks.append(lambda ev: fn(ev._value))

    def _changed(self, state: _PoolState) -> None:
        self._reschedule_attrition(state)
        if state.name == self.intake_pool and self.quality_programmes:
            self._update_quality(state)

    # ------------------------------------------------------------------- hiring
    def _schedule_plan(self, state: _PoolState) -> None:
        for step in state.wf.hiring:
            self._at(step.on_day(self.start_date), self._hiring_step, (state, step))

    def _hiring_step(self, value: tuple[_PoolState, Any]) -> None:
        state, step = value
        now = self.env.now
        if step.from_tier is not None:
            self._promote(state, step.from_tier, step.tier, step.delta)
        elif step.delta > 0:
            target = step.tier or new_starter_tier(state.cfg)
            ramp = step.new_starters and state.wf.ramp_up is not None
            state.hires_approved += step.delta
            for _ in range(step.delta):
                lag = state.recruit_lag() if state.recruit_lag is not None else 0.0
                state.recruiting += 1
                self._at(now + lag, self._arrive, (state, target, ramp))
        else:
            self._reduce(state, -step.delta, step.tier)
        self._changed(state)

    def _arrive(self, value: tuple[_PoolState, str, bool]) -> None:
        state, target, ramp = value
        now = self.env.now
        state.recruiting -= 1
        state.hires_arrived += 1
        state.set_employed(now, +1)
        if ramp:
            state.pool.add_staff(state.tier(f"{target}@ramp1"), 1)
            self._at(now + DAYS_PER_MONTH, self._ramp_step, (state, target, 1))
        else:
            state.pool.add_staff(state.tier(target), 1)
        self._changed(state)

    def _ramp_step(self, value: tuple[_PoolState, str, int]) -> None:
        state, target, k = value
        months = state.wf.ramp_up.months if state.wf.ramp_up is not None else 0
        dst = state.tier(f"{target}@ramp{k + 1}" if k < months else target)
        moved = state.pool.move_staff(state.tier(f"{target}@ramp{k}"), dst, 1)
        if moved and k < months:
            self._at(self.env.now + DAYS_PER_MONTH, self._ramp_step, (state, target, k + 1))
        self._changed(state)

    def _promote(self, state: _PoolState, src: str, dst: str | None, n: int) -> None:
        assert dst is not None
        pool = state.pool
        pairs = [(src, dst)] + [
            (s.name, f"{dst}+{s.programme}" if f"{dst}+{s.programme}" in state.index else dst)
            for s in pool.specs if s.kind == TRAINED and s.base == src]
        for a, b in pairs:
            if n <= 0:
                break
            n -= pool.move_staff(state.tier(a), state.tier(b), n)

    def _reduce(self, state: _PoolState, n: int, tier: str | None) -> None:
        pool = state.pool
        candidates = [i for i, s in enumerate(pool.specs) if tier is None or s.base == tier]
        now = self.env.now
        for _ in range(n):
            best = max(candidates, key=lambda i: (pool.available(i), i))
            if pool.available(best) <= 0:
                break
            pool.remove_staff(best, 1)
            state.removed += 1
            state.set_employed(now, -1)

    # ---------------------------------------------------------------- attrition
    def _reschedule_attrition(self, state: _PoolState) -> None:
        if state.hazard_per_day <= 0:
            return
        now = self.env.now
        state.hazard_done += state.hazard_rate * (now - state.hazard_since)
        state.hazard_since = now
        if state.hazard_next <= state.hazard_done:
            state.hazard_next = state.hazard_done + float(state.rng_times.exponential())
        state.hazard_rate = state.hazard_per_day * state.at_risk()
        state.hazard_version += 1
        if state.hazard_rate > 0:
            delay = (state.hazard_next - state.hazard_done) / state.hazard_rate
            self.env.timeout(delay, (state, state.hazard_version)).callbacks.append(self._leave)

    def _leave(self, event: simpy.Event) -> None:
        state, version = event._value
        if version != state.hazard_version:
            return  # superseded by a later change of head-count
        pool = state.pool
        weights = [pool.available(i) for i in range(len(pool.specs))]
        total = sum(weights)
        now = self.env.now
        if total > 0:
            pick = float(state.rng_who.random()) * total
            tier = len(weights) - 1
            for i, w in enumerate(weights):
                pick -= w
                if pick < 0 and w > 0:
                    tier = i
                    break
            while not weights[tier]:  # rounding at the very top of the range
                tier -= 1
            pool.remove_staff(tier, 1)
            state.leavers += 1
            state.set_employed(now, -1)
            if state.wf.replace_leavers:
                lag = state.replace_lag() if state.replace_lag is not None else 0.0
                state.recruiting += 1
                state.hires_approved += 1
                self._at(now + lag, self._arrive,
                         (state, new_starter_tier(state.cfg), state.wf.ramp_up is not None))
        state.hazard_done = state.hazard_next + 0.0
        state.hazard_rate = 0.0  # the hazard up to now is already counted
        state.hazard_since = now
        self._changed(state)

    # ----------------------------------------------------------------- training
    def _cohort_start(self, value: tuple[str, TrainingProgramme, int]) -> None:
        prog_name, prog, k = value
        state = self.states[prog.pool]
        pool = state.pool
        now = self.env.now
        eligible = prog.from_tiers or [t.name for t in state.cfg.tiers]
        avail = {b: pool.available(state.tier(b)) for b in eligible}
        take = _largest_remainder(avail, prog.cohort_size)
        cohort = _Cohort(prog_name, prog.pool, k, now, now + prog.duration_days,
                         prog.share_of_time_off_duty)
        for b, n in take.items():
            if n <= 0:
                continue
            if prog.share_of_time_off_duty >= 1.0:
                n = pool.remove_staff(state.tier(b), n)
                state.off_course += n
            else:
                n = pool.move_staff(state.tier(b), state.tier(f"{b}~{prog_name}"), n)
            cohort.members[b] = n
        self.cohorts.append(cohort)
        self._at(cohort.end_day, self._cohort_end, cohort)
        self._changed(state)

    def _cohort_end(self, cohort: _Cohort) -> None:
        state = self.states[cohort.pool]
        pool = state.pool
        for b, n in cohort.members.items():
            trained = state.tier(f"{b}+{cohort.programme}")
            if cohort.share_off >= 1.0:
                state.off_course -= n
                pool.add_staff(trained, n)
            else:
                pool.move_staff(state.tier(f"{b}~{cohort.programme}"), trained, n)
        self._changed(state)

    # ---------------------------------------------------------- triage quality
    def _update_quality(self, state: _PoolState) -> None:
        pool = state.pool
        total = sum(pool.on_duty) - sum(pool.leaving)
        accuracy = self.accuracy0
        found = self.found0
        if total > 0:
            for prog_name, prog in self.quality_programmes:
                trained = sum(pool.available(i) for i, s in enumerate(pool.specs)
                              if s.kind == TRAINED and s.programme == prog_name)
                share = trained / total
                fx = prog.effects
                if fx.grading_accuracy is not None:
                    accuracy += share * (fx.grading_accuracy - self.accuracy0)
                if fx.contact_children_found_at_research_probability is not None:
                    found += share * (fx.contact_children_found_at_research_probability
                                      - self.found0)
        self.pipeline.set_misgrade_probability(1.0 - accuracy)
        self.found_now = found

    def _adjust_research(self, case: Case) -> None:
        """Re-decide how many in-contact children research finds, at the current skill.

        The pre-drawn count (at the scenario's probability) is kept and topped up, or
        thinned, with one uniform per case, so the count is exactly binomial at the
        current probability and equal to the pre-drawn one while nobody is trained.
        """
        p, p0 = self.found_now, self.found0
        if p == p0:
            return
        draws: Any = case.draws
        n = int(draws.n_contact[case.draw_index])
        n0 = case.n_found_at_research
        u = self._research_uniform(case.id)
        if p > p0:
            case.n_found_at_research = n0 + _binomial_quantile(u, n - n0, (p - p0) / (1.0 - p0))
        else:
            case.n_found_at_research = _binomial_quantile(u, n0, p / p0)

    def _research_uniform(self, case_id: int) -> float:
        u = self._u_research
        if case_id >= u.size:
            assert self._rng_research is not None
            more = self._rng_research.random(max(1024, case_id + 1 - u.size))
            self._u_research = u = np.concatenate([u, more])
        return float(u[case_id])

    # ------------------------------------------------------------------ results
    def status(self, pool: Pool) -> dict[str, float]:
        """Head-count by state for the staff time series (all pools).

        The keys are :data:`STATUS_KEYS`, in that order (the workforce columns of the
        ``staff_timeseries`` table).
        """
        state = self.states.get(pool.name)
        if state is None:
            return dict(zip(STATUS_KEYS, untracked_status(pool), strict=True))
        capacity = sum(n * s for n, s in zip(pool.on_duty, pool.tier_speeds, strict=True))
        wp = state.pool
        kinds = [s.kind for s in wp.specs]
        on_course = sum(n for n, k in zip(wp.on_duty, kinds, strict=True) if k == ON_COURSE)
        return {
            "in_training": state.off_course + on_course,
            "off_duty_training": state.off_course,
            "new_starters": sum(n for n, k in zip(wp.on_duty, kinds, strict=True) if k == RAMP),
            "trained": sum(n for n, k in zip(wp.on_duty, kinds, strict=True) if k == TRAINED),
            "recruiting": state.recruiting,
            "employed": state.employed,
            "capacity_fte": capacity,
        }

    def summary_table(self, pools: dict[str, Pool], window: tuple[float, float]
                      ) -> dict[str, np.ndarray]:
        """One row per pool: FTE-years in the window and head-count flows."""
        start, end = window
        rows: dict[str, list[Any]] = {k: [] for k in (
            "pool", "fte_years", "employed_start", "employed_end", "hires_approved",
            "hires_arrived", "leavers", "planned_removals", "training_places")}
        for name in sorted(pools):
            state = self.states.get(name)
            rows["pool"].append(name)
            if state is None:
                n = sum(pools[name].on_duty)
                values = [n * (end - start) / 365.25, n, n, 0, 0, 0, 0]
            else:
                values = [state.fte_days(start, end) / 365.25, state.employed_log[0][1],
                          state.employed, state.hires_approved, state.hires_arrived,
                          state.leavers, state.removed]
            places = sum(c.places for c in self.cohorts
                         if c.pool == name and start <= c.start_day < end)
            for key, value in zip(list(rows)[1:], [*values, places], strict=True):
                rows[key].append(value)
        return {k: np.asarray(v, dtype=object if k == "pool" else float) for k, v in rows.items()}

    def cohort_table(self) -> dict[str, np.ndarray]:
        """One row per training cohort."""
        c = self.cohorts
        return {
            "programme": np.asarray([x.programme for x in c], dtype=object),
            "pool": np.asarray([x.pool for x in c], dtype=object),
            "cohort": np.asarray([x.index for x in c], dtype=np.int64),
            "start_day": np.asarray([x.start_day for x in c], dtype=float),
            "end_day": np.asarray([x.end_day for x in c], dtype=float),
            "places": np.asarray([x.places for x in c], dtype=np.int64),
            "share_of_time_off_duty": np.asarray([x.share_off for x in c], dtype=float),
        }


def _largest_remainder(available: dict[str, int], size: int) -> dict[str, int]:
    """Split ``size`` places over tiers in proportion to who is available, capped."""
    total = sum(available.values())
    if total <= size:
        return dict(available)
    raw = {k: v * size / total for k, v in available.items()}
    out = {k: int(x) for k, x in raw.items()}
    order = sorted(raw, key=lambda k: (out[k] - raw[k], k))
    for k in order[: size - sum(out.values())]:
        out[k] += 1
    return out


def start_day(scenario: Scenario, day: float | None, date: Any, default: float = 0.0) -> float:
    """Clock day of a ``day``/``date`` pair of ``scenario`` (see :func:`day_of`)."""
    return day_of(day, date, scenario.run.start_date, default)
