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

from typing import TYPE_CHECKING, Any

from sim.config import ScenarioError, load_scenario, scenario_from_dict, with_overrides

if TYPE_CHECKING:
    from sim.model.replication import run_replication

__all__ = ["ScenarioError", "load_scenario", "run_replication", "scenario_from_dict",
           "with_overrides"]


def __getattr__(name: str) -> Any:
    # The model (SimPy, numpy) is imported on first use, so that reading and validating
    # scenarios (``fbsim validate``) does not pay for it.
    if name == "run_replication":
        from sim.model.replication import run_replication

        globals()["run_replication"] = run_replication
        return run_replication
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
