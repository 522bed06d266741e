#!/usr/bin/env bash
# Where the time goes in a replication: py-spy (sampling, real process) if it is on PATH
# (or PYSPY=/path/to/py-spy), else cProfile (deterministic, inflates small functions).
#   bench/profile.sh [SCENARIO] [REPS]     e.g. bench/profile.sh scenarios/met-baseline.yaml 3
# Writes bench/results/profile-<scenario>.raw (py-spy collapsed stacks) and prints the
# self / inclusive shares per function (bench/spy_summary.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SCEN=${1:-bench/reference.yaml}
REPS=${2:-10}
NAME=$(basename "$SCEN" .yaml)
mkdir -p bench/results
SPY=${PYSPY:-$(command -v py-spy || true)}
if [ -n "$SPY" ]; then
  "$SPY" record -r 1000 -f raw -o "bench/results/profile-$NAME.raw" -- \
    "$PY" bench/memory_loop.py "$SCEN" --reps "$REPS" > /dev/null
  "$PY" bench/spy_summary.py "bench/results/profile-$NAME.raw" --top 30
else
  echo "py-spy not found: using cProfile" >&2
  "$PY" -m cProfile -s tottime bench/memory_loop.py "$SCEN" --reps "$REPS" | head -45
fi
