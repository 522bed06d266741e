"""Memory of replications run in a loop in one process (what a worker does).

  python bench/memory_loop.py scenarios/met-baseline.yaml --reps 30

Runs :func:`~sim.model.replication.run_replication` ``reps`` times, keeps only a small
summary of each (its event count), and records the process's resident set size after
every replication. Prints one JSON line: ``rss_mib`` per replication, ``peak_mib``
(VmHWM) and the growth from the 2nd to the last replication (the 1st includes
first-use allocations).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.config import load_scenario  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402


def status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sc = load_scenario(a.scenario)
    rss, events = [], []
    for rep in range(a.reps):
        records = run_replication(sc, rep, a.seed)
        events.append(records.events)
        del records
        rss.append(round(status_mib("VmRSS"), 1))
    out = {"reps": a.reps, "rss_mib": rss, "peak_mib": status_mib("VmHWM"),
           "growth_mib_2nd_to_last": rss[-1] - rss[min(1, len(rss) - 1)],
           "events_mean": sum(events) / len(events)}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
