"""The figures of a run (``save_run_plots``) before and after a change: wall and CPU seconds.

Draws the five standard figures of one results folder (made once by ``fbsim run --out DIR``)
from the source tree of commit BEFORE (exported with ``git archive``, drawn in the process
as it always was) and from this tree, in the process (``after-1``) and in two worker
processes (``after-2``, as ``fbsim run`` does with two workers), in rotating order, ROUNDS
times, each in a fresh interpreter with the same packages, into a private copy of the
folder's tables (the folder itself is not written). As after ``fbsim run``'s replications,
each child has the run's modules imported and its fork server up before the clock starts.
Each reports the seconds of ``save_run_plots``: wall, and CPU of the process itself (the
workers' CPU is not in it). One JSON line per draw goes to ``bench/results/plot_phase.jsonl``.
Then, as many rounds again, the whole commands ``fbsim plot COPY`` and ``fbsim report COPY``
from each tree (``plot_cmd`` and ``report_cmd`` lines: wall seconds of the process).
Compare medians of the paired rounds; the machine is shared.

Usage: python bench/plot_phase.py DIR BEFORE [ROUNDS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_run import export

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "plot_phase.jsonl"
#: Tables the figures are not drawn from: not copied.
SKIP_TABLES = {"cases", "devices", "stage_visits"}

CHILD = """
import json, os, sys, time
from pathlib import Path
import sim.cli.run, sim.results.summary  # what fbsim run has imported by then
from sim.experiment.backends import ProcessBackend
list(ProcessBackend(2).map_unordered(abs, [1, 2]))  # its fork server is up
from sim.plots.run_plots import save_run_plots
workers = int(sys.argv[2])
kwargs = {"workers": workers} if workers > 1 else {}
c1, t1 = os.times(), time.perf_counter()
written = save_run_plots(Path(sys.argv[1]), unfinished=True, **kwargs)
t2, c2 = time.perf_counter(), os.times()
print(json.dumps({"plots_s": t2 - t1, "parent_cpu_s": c2.user + c2.system - c1.user - c1.system,
                  "files": len(written)}))
"""


def copy_inputs(folder: Path, into: Path) -> Path:
    """A copy of what the figures of ``folder`` are drawn from (no PNG)."""
    into.mkdir()
    for p in folder.iterdir():
        if p.is_file() and p.suffix != ".png":
            shutil.copy2(p, into / p.name)
    for t in (folder / "tables").iterdir():
        if t.name not in SKIP_TABLES:
            shutil.copytree(t, into / "tables" / t.name)
    return into


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree),
               PYTHONPYCACHEPREFIX=os.path.join(tempfile.gettempdir(), "fbsim-bench-pycache"))
    return env


def one(tree: Path, folder: Path, workers: int) -> dict[str, float]:
    env = {**_env(tree), "OPENBLAS_NUM_THREADS": "1"}  # as fbsim sets it
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(workers)], cwd=tree,
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def command(tree: Path, name: str, folder: Path) -> float:
    """Wall seconds of the whole process ``fbsim NAME FOLDER`` from ``tree``."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", name, str(folder)], cwd=tree, env=_env(tree),
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def log(row: dict[str, object]) -> None:
    with OUT.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def main() -> None:
    folder = Path(sys.argv[1]).resolve()
    before = sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        old = export(before, Path(tmp))
        versions = {"before": (old, 1), "after-1": (ROOT, 1), "after-2": (ROOT, 2)}
        work = {k: copy_inputs(folder, Path(tmp) / f"run-{k}") for k in versions}
        for k, (tree, workers) in versions.items():  # warm-up: byte-code caches, page cache
            one(tree, work[k], workers)
        rows: dict[str, list[dict[str, float]]] = {k: [] for k in versions}
        names = list(versions)
        for r in range(rounds):
            for k in names[r % 3:] + names[:r % 3]:
                tree, workers = versions[k]
                load = os.getloadavg()[0]
                row = {"version": k, "round": r, **one(tree, work[k], workers), "load": load}
                rows[k].append(row)
                log(row)
        trees = {"before": old, "after": ROOT}
        walls: dict[str, list[float]] = {}
        for r in range(rounds):
            for name in ("plot", "report"):
                for k in trees if r % 2 == 0 else list(trees)[::-1]:
                    load = os.getloadavg()[0]
                    row = {"version": k, "round": r, "command": name,
                           "wall_s": command(trees[k], name, work["after-1" if k == "after"
                                                                    else "before"]),
                           "load": load}
                    walls.setdefault(f"{name}_cmd {k}", []).append(float(row["wall_s"]))
                    log(row)
    for key, v in walls.items():
        print(f"{key}: {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})")
    for key in ("plots_s", "parent_cpu_s"):
        print(key + ": " + ", ".join(
            f"{k} {statistics.median(x[key] for x in v):.2f} "
            f"({min(x[key] for x in v):.2f}-{max(x[key] for x in v):.2f})"
            for k, v in rows.items()))


if __name__ == "__main__":
    main()
