"""Decisions: the cheapest plan that meets a target, and what the answer hangs on.

One module per job:

- :mod:`~sim.decision.boundary`: the triangular continuation region both procedures use;
- :mod:`~sim.decision.feasibility`: which plans meet every target (Batur & Kim's F_B,
  errors controlled on the safe side);
- :mod:`~sim.decision.selection`: the cheapest of several plans (Kim & Nelson's KN, on
  common random numbers);
- :mod:`~sim.decision.confirm`: both together, with one guarantee.

The procedures are pure statistics: they ask a *sampler* for replications of plans and
never run a simulation themselves.
"""
