"""Scenario schema and loading: the frozen inputs of every simulation."""

from sim.config.distspec import DistSpec
from sim.config.errors import Problem, ScenarioError
from sim.config.loader import load_scenario, scenario_from_dict, scenario_hash, with_overrides
from sim.config.schema import DEVICE_STAGES, RISK_LEVELS, STAGE_NAMES, Scenario

__all__ = [
    "DEVICE_STAGES",
    "RISK_LEVELS",
    "STAGE_NAMES",
    "DistSpec",
    "Problem",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "scenario_hash",
    "with_overrides",
]
