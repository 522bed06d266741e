"""Hostile input: any corruption of a scenario gives a clear ScenarioError or a scenario
that simulates; never a traceback from deep inside."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis.load import offered_load
from sim.config import ScenarioError, scenario_from_dict, with_overrides
from sim.model.replication import run_replication

from .conftest import MINI


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(MINI)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**9, 10**9), st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True), st.just(-1), st.just(0), st.just(1e308),
    st.lists(st.integers(-3, 3), max_size=3), st.just({}), st.just({"fixed": {"value": -1}}),
    st.just({"exponential": {"mean_hours": 0}}), st.just({"poisson": {"mean": 1e9}}),
    st.just({"lognormal": {"mean_days": 1}}),
)


def _set(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    node = data
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value


# 150 examples in CI (the "ci" profile of tests/conftest.py makes them the same on every
# run); more with FBSIM_HYPOTHESIS=thorough.
@settings(max_examples=max(150, settings.default.max_examples), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JUNK, st.booleans()), min_size=1, max_size=3))
def test_corrupted_scenarios_are_refused_cleanly(edits):
    data = copy.deepcopy(MINI)
    for path, value, delete in edits:
        try:
            _set(data, path, value, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced the parent
    try:
        scenario = scenario_from_dict(data)
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message and "Traceback" not in problem.message
        return
    for row in offered_load(scenario):
        assert not math.isnan(row.rho_pool) or row.pool is None
    short = with_overrides(scenario, {"run.horizon_days": 20, "run.horizon_years": None})
    if sum(r.arrivals_per_day for r in offered_load(short)) < 5_000:
        run_replication(short, 0, 1)
