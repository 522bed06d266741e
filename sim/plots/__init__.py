"""Matplotlib figures of results (no pyplot state)."""

from sim.plots.figures import backlog_fan, identification_curve

__all__ = ["backlog_fan", "identification_curve"]
