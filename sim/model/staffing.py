"""Staff pools with the extra tiers the workforce levers need.

A pool's people are counted per *tier* (see :class:`~sim.model.station.Pool`). Hiring,
ramp-up and training need a few more tiers than the scenario lists, all fixed when the
pool is built so that a job's tier index never changes while it runs:

- ``<tier>`` — the scenario's tiers (untrained);
- ``<tier>+<programme>`` — people who finished a training programme (faster);
- ``<tier>~<programme>`` — people on a part-time course (slower while on it);
- ``<target>@ramp<k>`` — new starters in month ``k`` of their ramp-up, heading for
  tier ``<target>`` (accredited when the ramp ends).

People move between tiers with :meth:`WorkforcePool.move_staff`; a busy person
finishes the job in hand first. Tiers may be *barred* from stages (trainees not yet
accredited to grade or examine alone); a pool with barred tiers dispatches jobs with
:meth:`WorkforcePool.dispatch_barred`. :func:`make_pool` builds a plain
:class:`~sim.model.station.Pool`, exactly as before, for a pool that needs none of this.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from sim.config.schema import Scenario, StaffPool
from sim.config.workforce import TrainingProgramme
from sim.model.calendar import ShiftCalendar
from sim.model.engine import Engine
from sim.model.station import EXPEDITE_LIMIT, Pool, Station

#: Tier kinds.
BASE, TRAINED, ON_COURSE, RAMP = "base", "trained", "on_course", "ramp"


# ------------------------------------------------------------------------- layout
@dataclass
class TierSpec:
    """One tier of a pool's layout (before the pool sorts tiers by speed)."""

    name: str
    speed: float
    count: int
    kind: str
    base: str
    programme: str = ""
    barred: frozenset[str] = frozenset()
    find: float = 1.0
    rework: float = 0.0


def programmes_of(scenario: Scenario, pool: str) -> list[tuple[str, TrainingProgramme]]:
    """Training programmes of ``pool``, sorted by name."""
    return sorted((n, p) for n, p in scenario.training.items() if p.pool == pool)


def new_starter_tier(cfg: StaffPool) -> str:
    """Tier new starters head for: ``workforce.new_starter_tier`` or the fastest tier."""
    wf = cfg.workforce
    if wf is not None and wf.new_starter_tier is not None:
        return wf.new_starter_tier
    best = max(t.speed_multiplier for t in cfg.tiers)
    return next(t.name for t in cfg.tiers if t.speed_multiplier == best)


def pool_layout(scenario: Scenario, name: str) -> list[TierSpec] | None:
    """Tiers of pool ``name`` with the workforce levers, or None if it needs none."""
    cfg = scenario.staff[name]
    wf = cfg.workforce
    programmes = programmes_of(scenario, name)
    if (wf is None or not wf.dynamic) and not programmes:
        return None
    barred_by_tier = wf.barred_stages_by_tier if wf is not None else {}
    out = [TierSpec(t.name, t.speed_multiplier, n, BASE, t.name,
                    barred=frozenset(barred_by_tier.get(t.name, ())),
                    find=t.find_probability, rework=t.rework_probability)
           for t, n in zip(cfg.tiers, cfg.tier_counts(), strict=True)]
    base = {t.name: t for t in out}
    for prog_name, prog in programmes:
        eligible = prog.from_tiers or [t.name for t in cfg.tiers]
        fx = prog.effects
        for b in eligible:
            tier = base[b]
            # Graduates work as their tier (or the tier the course trains them to) does,
            # with the course's speed multiplier and quality of work.
            after = base[fx.to_tier] if fx.to_tier is not None else tier
            out.append(TierSpec(
                f"{b}+{prog_name}", after.speed * fx.speed_multiplier, 0, TRAINED, b, prog_name,
                after.barred,
                find=after.find if fx.find_probability is None else fx.find_probability,
                rework=after.rework if fx.rework_probability is None else fx.rework_probability))
            if prog.share_of_time_off_duty < 1.0:
                out.append(TierSpec(f"{b}~{prog_name}",
                                    tier.speed * (1.0 - prog.share_of_time_off_duty),
                                    0, ON_COURSE, b, prog_name, tier.barred, tier.find,
                                    tier.rework))
    if wf is not None and wf.ramp_up is not None:
        ramp = wf.ramp_up
        targets = {new_starter_tier(cfg)} | {
            s.tier for s in wf.hiring if s.delta > 0 and s.from_tier is None
            and s.new_starters and s.tier is not None}
        for target in sorted(targets):
            for k in range(ramp.months):
                share = ramp.start_speed_multiplier + (1.0 - ramp.start_speed_multiplier) * (
                    k / ramp.months)
                out.append(TierSpec(f"{target}@ramp{k + 1}", base[target].speed * share, 0,
                                    RAMP, target, barred=frozenset(ramp.barred_stages),
                                    find=base[target].find, rework=base[target].rework))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(f"pool '{name}': tier names clash once training and ramp-up tiers "
                         f"are added: {names}; rename a tier or programme")
    return out


def make_pool(env: Engine, name: str, scenario: Scenario,
              calendar: ShiftCalendar | None = None) -> Pool:
    """The pool ``name``: a plain :class:`Pool`, or a :class:`WorkforcePool` if needed.

    ``calendar`` is the pool's shift calendar (None: it works continuously).
    """
    cfg = scenario.staff[name]
    hours = cfg.work_hours_per_calendar_day()
    layout = pool_layout(scenario, name)
    if layout is None:
        return Pool(env, name, [t.name for t in cfg.tiers], [t.speed_multiplier for t in cfg.tiers],
                    cfg.tier_counts(), hours, calendar, cfg.availability,
                    [t.find_probability for t in cfg.tiers],
                    [t.rework_probability for t in cfg.tiers])
    return WorkforcePool(env, name, layout, hours, calendar, cfg.availability)


# --------------------------------------------------------------------------- pool
class _Guard:
    """A never-empty stand-in station in a pool with barred tiers.

    :meth:`Station.arrive` starts a job at once, without :meth:`Pool.dispatch`, when no
    station of the pool has a queue; that shortcut would ignore barred tiers. A queue
    that is never empty turns it off for this pool only.
    """

    name = "(barred-tier guard)"

    def __init__(self) -> None:
        self.queue: list[Any] = [(math.inf, math.inf, 0, 0.0, None, -1)]


class WorkforcePool(Pool):
    """A pool whose staff can move between tiers and whose tiers can be barred.

    Parameters
    ----------
    env : Engine
        The clock.
    name : str
        Pool name.
    layout : list of TierSpec
        All tiers, scenario tiers first.
    work_hours_per_day : float
        Productive hours per calendar day of one person at speed 1.
    calendar : ShiftCalendar, optional
        The pool's shifts (None: continuous).
    availability : float
        Share of on-shift time spent on the pool's work.
    """

    def __init__(self, env: Engine, name: str, layout: list[TierSpec],
                 work_hours_per_day: float, calendar: ShiftCalendar | None = None,
                 availability: float = 1.0):
        super().__init__(env, name, [t.name for t in layout], [t.speed for t in layout],
                         [t.count for t in layout], work_hours_per_day, calendar, availability,
                         [t.find for t in layout], [t.rework for t in layout])
        # release() differs from Pool.release only for a tier with members leaving it.
        self.plain_release = True
        by_name = {t.name: t for t in layout}
        self.specs = [by_name[n] for n in self.tier_names]  # pool order, fastest first
        self._after_job: list[deque[int]] = [deque() for _ in self.tier_names]
        self._served: list[Station] = []
        self._allowed: dict[Station, list[int]] = {}

    def available(self, tier: int) -> int:
        """Members of ``tier`` on duty and not already due to leave it."""
        return self.on_duty[tier] - self.leaving[tier]

    def remove_staff(self, tier: int, n: int) -> int:
        """Take up to ``n`` staff of ``tier`` off duty; busy ones finish their job first."""
        n = min(n, self.on_duty[tier] - self.leaving[tier])
        idle = min(n, self.free[tier])
        self.free[tier] -= idle
        self.on_duty[tier] -= idle
        self.leaving[tier] += n - idle
        self._after_job[tier].extend([-1] * (n - idle))
        return n

    def move_staff(self, src: int, dst: int, n: int) -> int:
        """Move up to ``n`` staff from tier ``src`` to ``dst``; busy ones after their job.

        Returns
        -------
        int
            How many will have moved (at most those available in ``src``).
        """
        n = min(n, self.on_duty[src] - self.leaving[src])
        idle = min(n, self.free[src])
        self.free[src] -= idle
        self.on_duty[src] -= idle
        self.on_duty[dst] += idle
        self.free[dst] += idle
        self.leaving[src] += n - idle
        self._after_job[src].extend([dst] * (n - idle))
        if idle:
            self.dispatch()
        return n

    def release(self, tier: int) -> None:
        """A member of ``tier`` finished a job: free them, move them, or let them leave."""
        if self.leaving[tier]:
            dst = self._after_job[tier].popleft()
            super().release(tier)
            if dst >= 0:
                self.on_duty[dst] += 1
                self.free[dst] += 1
        else:
            super().release(tier)

    def bar_tiers(self) -> bool:
        """Apply the layout's barred stages; True if any tier is barred here."""
        served = [s for s in self.stations if isinstance(s, Station)]
        self._allowed = {s: [i for i, spec in enumerate(self.specs) if s.name not in spec.barred]
                         for s in served}
        if all(len(tiers) == len(self.specs) for tiers in self._allowed.values()):
            return False
        self._served = served
        self.stations.append(_Guard())  # type: ignore[arg-type]
        self.solo = False
        self.dispatch = self.dispatch_barred  # type: ignore[method-assign]
        return True

    def dispatch_barred(self) -> None:
        """Start jobs: the most urgent head of queue some free, allowed member can take.

        Off shift, only expedited heads are taken (as :meth:`Pool.dispatch`).
        """
        free = self.free
        allowed = self._allowed
        on_call_only = not self.on_shift
        while True:
            best = None
            best_station: Station | None = None
            best_tier = -1
            for station in self._served:
                queue = station.queue
                if not queue or (best is not None and not queue[0] < best):
                    continue
                if on_call_only and queue[0][0] >= EXPEDITE_LIMIT:
                    continue
                for tier in allowed[station]:
                    if free[tier]:
                        best, best_station, best_tier = queue[0], station, tier
                        break
            if best_station is None:
                return
            entry = heapq.heappop(best_station.queue)
            free[best_tier] -= 1
            self._account(self.env._now)
            self.busy += 1
            best_station.start(entry[4], entry[3], best_tier, entry[5])
