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

from sim.config import ScenarioError, load_scenario, scenario_from_dict, with_overrides
from sim.model.replication import run_replication

__all__ = ["ScenarioError", "load_scenario", "run_replication", "scenario_from_dict",
           "with_overrides"]
