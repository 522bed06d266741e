"""Matplotlib figures of results, drawn from results tables (no pyplot state)."""

from sim.plots.figures import (
    backlog_fans,
    backlog_total_fan,
    comparison_differences,
    identification_by_route,
    identification_compare,
    staff_panels,
    wait_ecdfs,
)

__all__ = ["backlog_fans", "backlog_total_fan", "comparison_differences",
           "identification_by_route", "identification_compare", "staff_panels", "wait_ecdfs"]
