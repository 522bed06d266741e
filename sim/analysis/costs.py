"""The cost of one replication of a scenario, in pounds, over its reporting window.

Three parts, each from the replication's tables and the scenario's unit costs:

- **staff**: FTE-years employed per pool (``workforce`` table: head-count on the payroll,
  on duty or on a course, integrated over the window) times
  ``staff.<pool>.workforce.cost_per_fte_year_gbp``;
- **training**: places on cohorts that start in the window (``training_cohorts``) times
  the programme's ``cost_per_place_gbp``;
- **outsourcing**: devices sent to the provider in the window (``devices`` table,
  ``outsourced_day``) times ``outsourcing.cost_per_device_gbp``.

Pure functions on tables: no simulation here. Comparing two scenarios ("days at risk
saved per £1m") is left to the comparison tooling, which pairs these totals by
replication.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.config.schema import Scenario


def replication_cost(scenario: Scenario, records: Any) -> dict[str, float]:
    """Cost of one replication over its window ``records.window``.

    Parameters
    ----------
    scenario : Scenario
        The scenario that was run (unit costs).
    records : Records
        The replication's records (tables ``workforce``, ``training_cohorts`` and
        ``devices``).

    Returns
    -------
    dict of str to float
        ``total_gbp``, ``staff_gbp``, ``training_gbp``, ``outsourcing_gbp``, the
        quantities behind them (``fte_years``, ``training_places``,
        ``outsourced_devices``) and ``staff_gbp.<pool>`` for every pool.
    """
    start, end = records.window
    tables = records.tables
    out: dict[str, float] = {}
    staff_gbp = 0.0
    fte_years = 0.0
    wf = tables.get("workforce")
    if wf is not None:
        for pool, years in zip(wf["pool"].tolist(), wf["fte_years"].tolist(), strict=True):
            cfg = scenario.staff[pool].workforce
            rate = cfg.cost_per_fte_year_gbp if cfg is not None else 0.0
            out[f"staff_gbp.{pool}"] = float(years) * rate
            staff_gbp += float(years) * rate
            fte_years += float(years)
    training_gbp = 0.0
    places = 0.0
    cohorts = tables.get("training_cohorts")
    if cohorts is not None and len(cohorts["programme"]):
        for prog, day, n in zip(cohorts["programme"].tolist(), cohorts["start_day"].tolist(),
                                cohorts["places"].tolist(), strict=True):
            if start <= day < end:
                training_gbp += float(n) * scenario.training[prog].cost_per_place_gbp
                places += float(n)
    outsourcing_gbp = 0.0
    sent = 0.0
    devices = tables.get("devices", {})
    if "outsourced_day" in devices:
        day = np.asarray(devices["outsourced_day"], dtype=float)
        sent = float(np.count_nonzero((day >= start) & (day < end)))
        if scenario.outsourcing is not None:
            outsourcing_gbp = sent * scenario.outsourcing.cost_per_device_gbp
    out.update({
        "staff_gbp": staff_gbp,
        "training_gbp": training_gbp,
        "outsourcing_gbp": outsourcing_gbp,
        "total_gbp": staff_gbp + training_gbp + outsourcing_gbp,
        "fte_years": fte_years,
        "training_places": places,
        "outsourced_devices": sent,
    })
    return out
