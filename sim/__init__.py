"""fbsim: a discrete-event simulator of the police forensic backlog in child-abuse cases.

It estimates how staffing, training, triage and safeguarding policies change the time
until children at risk are identified, and the backlog along the way. The small public
API below is what notebooks and scripts need; the command line is ``fbsim``.

Examples
--------
>>> from sim import load_scenario, run_replication
>>> scenario = load_scenario("scenarios/met-baseline.yaml")  # doctest: +SKIP
>>> records = run_replication(scenario, replication=0, seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.config import ScenarioError, load_scenario, scenario_from_dict, with_overrides
    from sim.decision.api import plan, sensitivity
    from sim.experiment.api import compare, run
    from sim.experiment.sweep_api import sweep
    from sim.model.replication import run_replication

__all__ = ["ScenarioError", "compare", "load_scenario", "plan", "run", "run_replication",
           "scenario_from_dict", "sensitivity", "sweep", "with_overrides"]

#: Where each public name lives. They are imported on first use: the model (SimPy,
#: numpy) is not needed to validate a scenario, and the ``fbsim`` command starts up
#: with the garbage collector paused, which only works if importing ``sim`` is cheap.
_HOME = {"ScenarioError": "sim.config", "load_scenario": "sim.config",
         "scenario_from_dict": "sim.config", "with_overrides": "sim.config",
         "run_replication": "sim.model.replication",
         "plan": "sim.decision.api", "sensitivity": "sim.decision.api",
         "run": "sim.experiment.api", "compare": "sim.experiment.api",
         "sweep": "sim.experiment.sweep_api"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
