#!/usr/bin/env bash
# The effect of each hot-path change, one at a time: builds five copies of the tree in
# $TMPDIR/fbsim-steps and times one replication, whole process, alternating copies.
#   T0  before: station.py, records.py, tables.py of commit 587d4ef; replication.py
#       without the GC pause and with per-element attribute reads (as at 587d4ef)
#   T1  + station.py now (start at once when nothing waits, _Service events, inlining)
#   T2  + the GC pause in run_replication
#   T3  + records.py/tables.py now (typed-array logs, preallocated stage_visits)
#   T4  the working tree (+ map(attrgetter) table columns)
# Other files are the working tree's in every copy. Output lines: "Tn user sys wall".
#   bench/steps.sh [SCENARIO] [ROUNDS]
# Written for the tree at the end of the first pass (commit 7cd7dcf): run it from a
# checkout of that commit (git worktree add /tmp/p1 7cd7dcf && /tmp/p1/bench/steps.sh).
# On a later tree the T0-T3 patches fail loudly rather than time the wrong thing; the
# second pass is compared commit to commit with bench/instructions.sh instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(pwd)/${PY:-.venv/bin/python}
SCEN=$(realpath "${1:-bench/reference.yaml}")
ROUNDS=${2:-5}
W=${TMPDIR:-/tmp}/fbsim-steps
rm -rf "$W" && mkdir -p "$W"
for t in T0 T1 T2 T3 T4; do mkdir -p "$W/$t" && cp -r sim bench scenarios "$W/$t/"; done
"$PY" - "$W" <<'PYEOF'
import sys
w = sys.argv[1]
s = open("sim/model/replication.py").read()
pause = """    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(scenario, replication, seed)
    finally:
        if was_enabled:
            gc.enable()
            # Free this run's entities now (they are all in the youngest generation),
            # so that they never overlap with the next replication's in a worker.
            gc.collect(0)"""
col = "    return np.fromiter(map(attrgetter(attr), items), dtype=dtype, count=len(items))"
old_col = ("    get = attrgetter(attr)\n"
           "    return np.fromiter((get(x) for x in items), dtype=dtype, count=len(items))")
assert s.count(pause) == 1 and s.count(col) == 1, "replication.py changed shape"
no_pause = s.replace(pause, "    return _run(scenario, replication, seed)").replace(col, old_col)
with_pause = s.replace(col, old_col)
for t, text in (("T0", no_pause), ("T1", no_pause), ("T2", with_pause), ("T3", with_pause)):
    open(f"{w}/{t}/sim/model/replication.py", "w").write(text)
PYEOF
git show 587d4ef:sim/model/station.py > "$W/T0/sim/model/station.py"
for t in T0 T1 T2; do
  git show 587d4ef:sim/monitor/records.py > "$W/$t/sim/monitor/records.py"
  git show 587d4ef:sim/monitor/tables.py > "$W/$t/sim/monitor/tables.py"
done
# Same results in every copy (tables; averages may differ, see RESULTS.md). A copy whose
# mix of old and new files no longer fits together (other features have since changed
# the same files' interfaces) is reported and left out.
OK=()
for t in T0 T1 T2 T3 T4; do
  if (cd "$W/$t" && "$PY" bench/fingerprint.py "$SCEN" --reps 1 \
        --ignore stage_visits.queued_priority 2> "$W/$t.err" | sed "s/^/$t /"); then
    [ -s "$W/$t.err" ] && { echo "$t: left out ($(tail -1 "$W/$t.err"))"; continue; }
    OK+=("$t")
  else
    echo "$t: left out ($(tail -1 "$W/$t.err"))"
  fi
done
for r in $(seq 0 "$ROUNDS"); do  # round 0 is a warm-up
  for t in "${OK[@]}"; do
    /usr/bin/time -f "$t %U %S %e" -o "$W/last" "$PY" "$W/$t/bench/one_rep.py" "$SCEN" > /dev/null
    [ "$r" -gt 0 ] && cat "$W/last"
  done
done
