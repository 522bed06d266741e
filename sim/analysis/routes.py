"""Time to identification by route, from the children table (Kaplan–Meier per replication).

The model gives every child a route (how it can be found: ``contact`` and ``depicted``
today; ``research``, ``warrant``, ``examination`` and ``depicted`` as the model grows).
This turns a ``children`` table of one or more replications into the share identified by
day since referral per route and for all children, with the mean and a 95% band across
replications: the same layout as a run's ``identify_curve`` table, so the same plots draw
it. Routes are read from the table, never from a fixed list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.analysis.metrics import IDENTIFY_GRID_DAYS
from sim.analysis.stats import band
from sim.analysis.survival import kaplan_meier, survival_at

if TYPE_CHECKING:
    import pandas as pd

ALL = "all"


def _curve(durations: np.ndarray, identified: np.ndarray) -> np.ndarray:
    if durations.size == 0:
        return np.full(IDENTIFY_GRID_DAYS.size, np.nan)
    times, surv = kaplan_meier(np.maximum(durations, 0.0), identified)
    return 1.0 - survival_at(times, surv, IDENTIFY_GRID_DAYS)


def identify_curves_by_route(children: pd.DataFrame, start_day: float = 0.0) -> pd.DataFrame:
    """Share identified by day since referral, per route and for all, across replications.

    Parameters
    ----------
    children : pandas.DataFrame
        The ``children`` table (``replication``, ``route``, ``cohort``, ``referral_day``,
        ``time_to_identify_days``, ``identified``).
    start_day : float
        Start of the measured window (the warm-up): children referred before it, and
        those of today's backlog, are left out, as in the headline metrics.

    Returns
    -------
    pandas.DataFrame
        ``route``, ``days_since_referral``, ``identified_share_mean``, ``ci95_low``,
        ``ci95_high`` (route ``all`` first).
    """
    import pandas as pd

    new = children[(children["cohort"] == "new") & (children["referral_day"] >= start_day)]
    reps = sorted(children["replication"].unique()) if "replication" in children else [0]
    routes = [ALL, *sorted(str(r) for r in new["route"].unique())]
    parts = []
    for route in routes:
        chosen = new if route == ALL else new[new["route"] == route]
        curves = []
        for rep in reps:
            one = chosen[chosen["replication"] == rep] if "replication" in chosen else chosen
            curves.append(_curve(one["time_to_identify_days"].to_numpy(float),
                                 one["identified"].to_numpy(bool)))
        mean, low, high = band(np.vstack(curves))
        parts.append(pd.DataFrame({"route": route, "days_since_referral": IDENTIFY_GRID_DAYS,
                                   "identified_share_mean": mean, "ci95_low": low,
                                   "ci95_high": high}))
    return pd.concat(parts, ignore_index=True)
