"""Limits on what a scenario may ask for, so a mistake or a hostile file is refused quickly.

Each limit is far above anything a real plan needs and far below what would exhaust
the machine; each refusal names the key (or the file) and the limit. They are listed
with their reasons in ``docs/robustness.md`` and in ``docs/scenario-reference.md``.

Files (checked by :mod:`sim.config.loader` before and while parsing):

- a scenario file is a regular file of at most :data:`MAX_SCENARIO_FILE_BYTES`;
  ``extends:`` names a ``.yaml``/``.yml`` file, at most :data:`MAX_EXTENDS_DEPTH`
  files deep; a backlog CSV is a regular ``.csv`` file of at most
  :data:`MAX_BACKLOG_CSV_BYTES`;
- a YAML document has at most :data:`MAX_YAML_NODES` values once its aliases are
  expanded (a "billion laughs" file of a few hundred bytes would otherwise expand
  to hundreds of millions) and is nested at most :data:`MAX_YAML_DEPTH` deep.

Values (checked by :func:`scale_problems`, from the scenario's cross-field checks, and
by the schema's field bounds): the horizon and the warm-up, the length of a referral
profile, the entities (referrals, devices, children) a replication would simulate, the
points of its time series, and the number of replications.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sim.config.schema import Scenario

#: Largest scenario file (the London baseline, the largest shipped, is about 20 KB).
MAX_SCENARIO_FILE_BYTES = 2 * 1024 * 1024
#: Largest backlog CSV (about a million rows).
MAX_BACKLOG_CSV_BYTES = 32 * 1024 * 1024
#: Most files in one ``extends:`` chain.
MAX_EXTENDS_DEPTH = 32
#: Most values (mapping keys, values, list items) in a YAML document, aliases expanded.
MAX_YAML_NODES = 250_000
#: Deepest nesting of mappings and lists in a YAML document (scenarios need about 8).
MAX_YAML_DEPTH = 64
#: Longest horizon, and longest warm-up: 1,000 years (queueing-theory checks run a
#: few hundred years; planning horizons are a few).
MAX_HORIZON_DAYS = 365_250.0
#: Longest ``demand.referrals_per_year_profile`` (one entry per year).
MAX_PROFILE_YEARS = 1_000
#: Most entities (referrals, devices, children) one replication may simulate, expected
#: over warm-up and horizon. A replication holds about 1 KB per entity (the London
#: baseline: 14,000 referrals bring 170,000 entities and 190 MB, measured), so this is
#: about 10 GB: sixty London baselines, a national scenario over decades.
MAX_ENTITIES_PER_REPLICATION = 10_000_000
#: Most points of a replication's time series (run length / ``timeseries_interval_days``).
MAX_TIMESERIES_POINTS = 200_000
#: Most replications of one run (``run.replications`` and ``--reps``).
MAX_REPLICATIONS = 100_000


def expected_referrals(scenario: Scenario, stop_above: float = math.inf) -> float:
    """Referrals expected over one replication (warm-up and horizon), from the demand block.

    Year by year at the higher of the rates in force at the year's start and end (an
    overestimate with growth, exact for a profile); stops once the total passes
    ``stop_above``.
    """
    demand = scenario.demand
    end_day = scenario.run.end_day
    total = 0.0
    start = 0.0
    while start < end_day and total <= stop_above:
        stop = min(start + 365.25, end_day)
        rate = max(demand.referrals_per_year_at(start), demand.referrals_per_year_at(stop - 1e-9))
        total += rate * (stop - start) / 365.25
        start = stop
    return total


def entities_per_referral(scenario: Scenario) -> float:
    """Mean entities a referral brings: itself, its devices, children (an upper bound)."""
    cases = scenario.cases
    in_contact = max(c.mean for c in cases.children_in_contact.values_in_order())
    depicted = max(cases.first_generation_probability.values_in_order()) * cases.depicted_children.mean
    on_devices = (0.0 if cases.children_on_devices is None
                  else max(c.mean for c in cases.children_on_devices.values_in_order()))
    return 1.0 + cases.devices_per_case.mean + in_contact + depicted + on_devices


def scale_problems(scenario: Scenario) -> list[str]:
    """Problems of a scenario that would simulate more than a machine can hold.

    Each problem starts with the dotted key path it is about, like the other
    cross-field checks of :class:`~sim.config.schema.Scenario`.
    """
    problems: list[str] = []
    run = scenario.run
    per_referral = entities_per_referral(scenario)
    try:
        entities = expected_referrals(scenario, MAX_ENTITIES_PER_REPLICATION / per_referral)
        entities *= per_referral
    except OverflowError:
        entities = math.inf
    if not entities <= MAX_ENTITIES_PER_REPLICATION:
        shown = "more than 10^300" if math.isinf(entities) else f"about {entities:,.0f}"
        problems.append(
            f"demand.referrals_per_year: over the run ({run.end_day:,.0f} days) this demand, at "
            f"{per_referral:,.3g} devices, children and cases per referral, gives {shown} "
            f"entities per replication; at most {MAX_ENTITIES_PER_REPLICATION:,} are simulated "
            f"(check the demand, its growth, the horizon and cases.devices_per_case)")
    points = run.end_day / run.timeseries_interval_days
    if points > MAX_TIMESERIES_POINTS:
        problems.append(
            f"run.timeseries_interval_days: {run.timeseries_interval_days:g} days over a run of "
            f"{run.end_day:,.0f} days gives {points:,.0f} time-series points; at most "
            f"{MAX_TIMESERIES_POINTS:,} (choose a longer interval)")
    return problems
