"""The default ``fbsim run`` before and after a change: wall time and results-folder size.

Runs ``fbsim run`` (the default scenario, its ten replications, default options) from the
source tree of commit BEFORE (exported with ``git archive``) and from this tree, alternately,
ROUNDS times, with the same interpreter and packages, and appends one JSON line per run to
``bench/results/default_run.jsonl``: version, round, wall seconds of the whole process, bytes
and files in the results folder, and the load average before and after. Compare medians of
the paired rounds; the machine is shared.

Usage: python bench/default_run.py BEFORE [ROUNDS]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "default_run.jsonl"


def export(commit: str, into: Path) -> Path:
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit], check=True)
    tree = into / f"src-{commit[:10]}"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def folder_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def one(tree: Path, out_dir: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", "run", "--quiet", "--out", str(out_dir)],
                   cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    before = subprocess.run(["git", "-C", str(ROOT), "rev-parse", sys.argv[1]], check=True,
                            capture_output=True, text=True).stdout.strip()
    after = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                           capture_output=True, text=True).stdout.strip()
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = Path(tempfile.mkdtemp(prefix="fbsim-bench-default-"))
    trees = {"before": export(before, work), "after": ROOT}
    results: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    try:
        for r in range(rounds):
            for version in ("before", "after") if r % 2 == 0 else ("after", "before"):
                out_dir = work / f"{version}-{r}"
                load0 = os.getloadavg()[0]
                seconds = one(trees[version], out_dir)
                size, files = folder_size(out_dir)
                row = {"version": version, "commit": before if version == "before" else after,
                       "round": r, "wall_seconds": round(seconds, 2), "bytes": size,
                       "files": files, "load_before": round(load0, 2),
                       "load_after": round(os.getloadavg()[0], 2),
                       "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                results[version].append(row)
                with OUT.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
                shutil.rmtree(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for version, rows in results.items():
        walls = [float(str(x["wall_seconds"])) for x in rows]
        sizes = [int(str(x["bytes"])) for x in rows]
        print(f"{version}: median {statistics.median(walls):.1f} s "
              f"({min(walls):.1f}-{max(walls):.1f}), {statistics.median(sizes) / 1e6:.1f} MB")
    ratios = [float(str(b["wall_seconds"])) / float(str(a["wall_seconds"]))
              for b, a in zip(results["before"], results["after"], strict=True)]
    print(f"paired speed-up before/after: median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
