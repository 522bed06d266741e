"""Peak memory of ``fbsim run`` against the number of replications (issue 12, item 7).

  python bench/memory_reps.py --reps 500 5000 [--backend serial] [--fbsim PATH]

Runs ``fbsim run`` on a tiny scenario (the teaching M/M/1 of
``scenarios/teaching/mm1.yaml`` cut to a 400-day horizon without warm-up, about 25 ms a
replication) with ``--tables none --no-plots`` at each replication count, each in a fresh
process, and reads that process's peak resident set size (``ru_maxrss`` from ``wait4``:
with ``--backend serial`` the one process that runs the replications and keeps their
results; with ``processes`` the largest of it and its workers). Prints one JSON line per
run: replications, peak RSS in MiB, wall seconds; and the growth per replication between
the first and the last count. A store whose memory does not grow with the replications
shows the same peak at every count.

``--fbsim`` runs another command (e.g. ``"python -m sim"`` with ``PYTHONPATH`` naming a
checkout of main) to compare with it, measured the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Horizon of the tiny scenario, days.
HORIZON_DAYS = 400


def tiny_scenario(folder: Path) -> Path:
    """The teaching M/M/1 cut to :data:`HORIZON_DAYS` days without warm-up, written to ``folder``."""
    data = yaml.safe_load((ROOT / "scenarios" / "teaching" / "mm1.yaml").read_text())
    data["name"] = "bench-memory-mm1"
    data["run"]["horizon_days"] = HORIZON_DAYS
    data["run"]["warmup_days"] = 0
    path = folder / "mm1-tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its peak RSS (MiB, largest of it and its children) and wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err}")
    return usage.ru_maxrss / 1024.0, wall  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--backend", choices=("serial", "processes"), default="serial")
    ap.add_argument("--fbsim", default=str(Path(sys.executable).with_name("fbsim")),
                    help="the fbsim command to measure, split as a shell would (default: "
                         "this environment's)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fbsim-bench-memory-") as tmp:
        scenario = tiny_scenario(Path(tmp))
        for reps in a.reps:
            out = Path(tmp) / f"out-{reps}"
            rss, wall = peak_rss([*shlex.split(a.fbsim), "run", str(scenario), "--reps", str(reps),
                                  "--backend", a.backend, "--tables", "none", "--no-plots",
                                  "--quiet", "--out", str(out)])
            row = {"fbsim": a.fbsim, "backend": a.backend, "reps": reps,
                   "peak_rss_mib": round(rss, 1), "wall_s": round(wall, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        per_rep = ((last["peak_rss_mib"] - first["peak_rss_mib"]) * 1024.0
                   / (last["reps"] - first["reps"]))
        print(json.dumps({"growth_kib_per_replication": round(per_rep, 2)}))


if __name__ == "__main__":
    main()
