"""``fbsim check``: compare simulated waits with queueing theory, stage by stage.

Each staffed stage is reduced to the textbook queue nearest to it, using only the
scenario's own numbers (:mod:`~sim.analysis.check.reduce`: arrival rates and work from
:mod:`sim.analysis.flows`, the pool's head-count, the mean and variance of the service
time, the queue classes). The predicted mean wait is then compared with the simulated
one (:mod:`~sim.analysis.check.observed`: mean over replications with a t-interval),
and Little's law is checked per stage on the whole run; :mod:`~sim.analysis.check.judge`
raises the flags and :mod:`~sim.analysis.check.report` holds the rows and their text.

Flags: ``UNSTABLE`` (a pool's rho >= 1: the queue grows without limit, no steady state),
``WAIT`` (simulated and predicted mean wait differ by more than the tolerance *and*
the prediction lies outside the simulated interval; judged only for rows with at least
:data:`MIN_ITEMS` items and :data:`MIN_ITEMS_PER_REPLICATION` per replication, for
priority classes and streams only with Poisson arrivals, and never for a pool on a
shift calendar), ``LITTLE`` (the exact identity between a station's time integral and
its visit log is broken: a bookkeeping bug), ``NOT-STEADY`` (``L`` and ``lambda W``
differ by more than 10 %: the stage is not in steady state over the run, e.g. a
backlog still clearing or a growing queue).

A pool that works around the clock is the textbook queue, and the check is exact on
the reduced validation cases (``tests/test_check.py``). A pool on a **shift calendar**
is not: a job in hand pauses off shift and new jobs start only on shift. Its capacity
is averaged over the week, so its rho (and ``UNSTABLE``) is right on average, but its
predicted wait is only approximate (``~`` in the model column) and ``WAIT`` is not
judged. The approximations are good to some 10-20 % for a stable continuous stage
with a warm-up and constant staff; they are rough for shared pools, strong growth,
initial backlogs, changing head-counts (hiring, attrition, training), outsourcing and
automation, which the report notes.
"""

from sim.analysis.check.judge import (
    GRID_POINTS,
    LITTLE_EXACT_RTOL,
    MIN_ITEMS,
    MIN_ITEMS_PER_REPLICATION,
    check_scenario,
)

# The simulated-waits reader under the name it had in the single-module check.
from sim.analysis.check.observed import sim_waits as _sim_waits  # noqa: F401
from sim.analysis.check.report import STEADY_RTOL, CheckReport, CheckRow

__all__ = ["GRID_POINTS", "LITTLE_EXACT_RTOL", "MIN_ITEMS", "MIN_ITEMS_PER_REPLICATION",
           "STEADY_RTOL", "CheckReport", "CheckRow", "check_scenario"]
