"""The results folder: tables, summary, manifest, plots; and reading them back."""

from sim.results.tables import read_table

__all__ = ["read_table"]
