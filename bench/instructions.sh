#!/usr/bin/env bash
# Instructions executed by one replication, counted by valgrind's callgrind: repeatable
# to the instruction whatever else the machine is doing, so it can tell apart changes
# of 1-2 % that wall-clock timings on a shared machine cannot.
#   bench/instructions.sh [TREE] [SCENARIO]     e.g. bench/instructions.sh /tmp/old-checkout
# TREE (default: this checkout) is put first on sys.path, so an old commit checked out
# elsewhere (git worktree add /tmp/old <commit>) is measured with this environment.
# Runs the scenario (default bench/reference.yaml) for 1 and then 2 replications in one
# process and prints the difference: the second replication, without imports.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TREE=$(cd "${1:-.}" && pwd)
SCEN=$(cd "$(dirname "${2:-bench/reference.yaml}")" && pwd)/$(basename "${2:-bench/reference.yaml}")
command -v valgrind > /dev/null || { echo "needs valgrind" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/reps.py" <<PY
import sys
sys.path.insert(0, "$TREE")
from sim.config import load_scenario
from sim.model.replication import run_replication
scenario = load_scenario("$SCEN")
for _ in range(int(sys.argv[1])):
    run_replication(scenario, 0, 1)
PY
count() {
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$PY" "$TMP/reps.py" "$1" 2>&1 \
    | sed -n 's/.*I *refs: *//p' | tr -d ','
}
one=$(count 1)
two=$(count 2)
echo "tree $TREE, scenario $(basename "$SCEN"): $((two - one)) instructions per replication"
