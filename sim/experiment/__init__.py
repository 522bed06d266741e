"""Running experiments: replications on interchangeable backends."""

from sim.experiment.backends import DaskBackend, ProcessBackend, SerialBackend, make_backend
from sim.experiment.runner import ExperimentResult, Task, run_experiment, run_task

__all__ = ["DaskBackend", "ExperimentResult", "ProcessBackend", "SerialBackend", "Task",
           "make_backend", "run_experiment", "run_task"]
