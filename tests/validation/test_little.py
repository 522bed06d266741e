"""Little's law on every stage of full-pipeline runs.

Exact finite-horizon identity: over ``[0, T]`` the time integral of the number of items
at a stage equals the sum over items of the time each spent there, clipped to
``[0, T]`` (an item still waiting or in service at ``T`` counts up to ``T``; a backlog
item that arrived before 0 counts from 0). The stations accumulate the left side as
they run (``Records.time_averages``); the right side is rebuilt from the visit log
(``stage_visits``), a separate code path, so the two must agree to rounding for the
number in system and the number waiting alike, whatever the load. Any difference is a
bookkeeping bug (a lost or double-counted item, a clock not brought up to date).

Approximate law: for a stable pipeline, ``L = lambda W`` with ``L`` the time-averaged
number in system, ``lambda`` the observed arrival rate and ``W`` the mean time in
system of the items that arrived and left within the run; only edge effects (items
present at the end) separate them, about ``W / T``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.config import scenario_from_dict
from sim.model.replication import run_replication
from sim.monitor.records import Records

from .builders import mini_pipeline

pytestmark = pytest.mark.slow

EXACT_RTOL = 1e-9
APPROX_RTOL = 0.03


def clipped_area(records: Records, stage: str, until: str) -> float:
    """Sum over visits of time at ``stage`` clipped to ``[0, T]``.

    ``until`` is ``"end_day"`` (in system) or ``"start_day"`` (waiting).
    """
    t = records.tables["stage_visits"]
    end = records.window[1]
    mask = t["stage"] == stage
    if not mask.any():
        return 0.0
    begin = np.clip(t["arrive_day"][mask], 0.0, end)
    stop = t[until][mask]
    stop = np.where(np.isnan(stop), end, np.minimum(stop, end))
    return float(np.sum(stop - begin))


@functools.cache
def pipeline_runs(kind: str) -> list[Records]:
    """Three replications of the stable or the overloaded mini pipeline (cached)."""
    stable = kind == "stable"
    sc = scenario_from_dict(mini_pipeline(stable=stable, horizon_days=900 if stable else 400))
    return [run_replication(sc, rep, 7) for rep in range(3)]


@pytest.mark.parametrize("kind", ["stable", "overloaded-with-backlog"])
def test_exact_identity_every_stage(kind: str) -> None:
    records = pipeline_runs(kind)
    checked = set()
    for rec in records:
        end = rec.window[1]
        for stage, avg in rec.time_averages.items():
            for column, until in (("mean_in_system", "end_day"), ("mean_waiting", "start_day")):
                from_station = avg[column] * end
                from_log = clipped_area(rec, stage, until)
                assert from_station == pytest.approx(from_log, rel=EXACT_RTOL, abs=1e-9), (
                    f"replication {rec.replication}, {stage}, {column}: station integral "
                    f"{from_station!r} vs visit log {from_log!r}")
            checked.add(stage)
        assert set(rec.tables["stage_visits"]["stage"]) <= checked
    # Every pipeline stage (and the kiosk) was checked.
    assert len(checked) >= 9


def test_approximate_law_stable_pipeline() -> None:
    lines, failed = [], []
    for rec in pipeline_runs("stable"):
        t = rec.tables["stage_visits"]
        for stage, avg in rec.time_averages.items():
            mask = (t["stage"] == stage) & ~np.isnan(t["end_day"])
            if not mask.any():
                continue
            w = float(np.mean(t["end_day"][mask] - t["arrive_day"][mask]))
            lam = avg["arrival_rate_per_day"]
            big_l = avg["mean_in_system"]
            err = (big_l - lam * w) / big_l
            line = f"rep {rec.replication} {stage}: L = {big_l:.4f}, lambda W = {lam * w:.4f} ({err:+.2%})"
            lines.append(line)
            if abs(err) > APPROX_RTOL:
                failed.append(line)
    assert lines
    assert not failed, "\n".join(lines)
    print("\n".join(lines))
