"""Staff pools that nothing uses: almost always a misspelt pool name.

A scenario that extends the baseline with ``staff: {examinerz: {headcount: 120}}``
(or ``with_overrides(b, {"staff.examinerz.headcount": 120})``) makes a new pool,
``examinerz``, that serves nothing, while the examiners stay as they were: the lever
silently does nothing. So every pool must be used by a stage (enabled or not), the
kiosk route or a training programme; one that is not is refused, with the nearest
pool name that is used. (When a stage names a pool that does not exist, that is
reported instead: the unused pool is then most likely the one it meant.)
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sim.config.schema import Scenario


def used_pools(scenario: Scenario) -> dict[str, list[str]]:
    """Pool name -> the key paths that name it (stages, the kiosk route, training)."""
    used: dict[str, list[str]] = {}
    for name, stage in scenario.stages.items():
        if stage.pool is not None:
            used.setdefault(stage.pool, []).append(f"stages.{name}.pool")
    kiosk = scenario.stages.device_triage.kiosk
    if kiosk is not None and kiosk.pool is not None:
        used.setdefault(kiosk.pool, []).append("stages.device_triage.kiosk.pool")
    for name, programme in scenario.training.items():
        used.setdefault(programme.pool, []).append(f"training.{name}.pool")
    return used


def unused_pool_problems(scenario: Scenario) -> list[str]:
    """One problem per staff pool that no stage, kiosk route or training programme uses.

    Each starts with the pool's key path (``staff.<pool>``), like the other cross-field
    checks of :class:`~sim.config.schema.Scenario`.
    """
    used = used_pools(scenario)
    if any(p not in scenario.staff for p in used):
        return []  # a stage names a missing pool: that problem, listing the pools, comes first
    in_use = sorted(used)
    problems = []
    for name in scenario.staff:
        if name in used:
            continue
        close = difflib.get_close_matches(name, in_use, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        listed = ", ".join(in_use) or "(none)"
        problems.append(f"staff.{name}: no stage, kiosk route or training programme uses pool "
                        f"'{name}', so it would change nothing; {hint}pools in use: {listed}")
    return problems
