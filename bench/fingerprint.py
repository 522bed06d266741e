"""SHA-256 of every table a replication returns, to check that a speed-up changed nothing.

  python bench/fingerprint.py bench/reference.yaml /tmp/mini.yaml --reps 2 --seed 7

Prints one line per (scenario, replication): the event count, a digest over all tables
(columns in sorted order, values as raw bytes; object columns as their text) and one
over the conservation counts and time averages.
Run it before and after an optimisation and diff the output.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sim.config import load_scenario  # noqa: E402
from sim.model.replication import run_replication  # noqa: E402


def digest(records, ignore: frozenset[str] = frozenset()) -> str:
    """Digest of the tables, then of the conservation counts and time averages."""
    h = hashlib.sha256()
    for tname in sorted(records.tables):
        table = records.tables[tname]
        for col in sorted(table):
            if f"{tname}.{col}" in ignore:
                continue
            a = np.asarray(table[col])
            h.update(f"{tname}.{col}:{a.dtype.kind}:{a.shape}".encode())
            if a.dtype.kind == "O":
                h.update("\x1f".join(map(str, a.tolist())).encode())
            else:
                h.update(np.ascontiguousarray(a).tobytes())
    tables = h.hexdigest()[:16]
    h = hashlib.sha256()
    h.update(repr(sorted(records.conservation.items())).encode())
    h.update(repr(sorted((k, sorted(v.items())) for k, v in records.time_averages.items())).encode())
    return f"tables={tables} counts+averages={h.hexdigest()[:16]}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ignore", action="append", default=[], metavar="TABLE.COLUMN",
                    help="leave a column out (e.g. one a later feature added)")
    a = ap.parse_args()
    for path in a.scenarios:
        sc = load_scenario(path)
        for rep in range(a.reps):
            r = run_replication(sc, rep, a.seed)
            print(f"{Path(path).name} rep={rep} events={r.events} "
                  f"{digest(r, frozenset(a.ignore))}")


if __name__ == "__main__":
    main()
