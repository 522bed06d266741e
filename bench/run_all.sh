#!/usr/bin/env bash
# Reproduce every figure in bench/RESULTS.md on this machine.
#   bench/run_all.sh            full run (about an hour on 2 cores; 1,000 baseline replications)
#   QUICK=1 bench/run_all.sh    smoke run (about 10 minutes)
# Needs the shared peers in ../shared/bench (invoked by path, not copied) and Ciw in the
# project's environment (the 'dev' extra). Results: bench/results/*.jsonl, report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PYABS=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
[ -f ../shared/bench/sim_simpy.py ] || { echo "needs ../shared/bench (the peer implementations)" >&2; exit 2; }
"$PY" -c "import ciw, simpy" || { echo "needs ciw and simpy in $PY" >&2; exit 2; }
ARGS=()
if [ -n "${QUICK:-}" ]; then ARGS=(--quick); fi
mkdir -p bench/results
"$PY" ../shared/bench/analytic.py > bench/results/analytic.json
"$PY" bench/fingerprint.py bench/reference.yaml scenarios/met-baseline.yaml --reps 2 \
  | tee bench/results/fingerprint.txt
"$PY" bench/run_bench.py one long baseline scaling parallel accuracy memory "${ARGS[@]}"
# /usr/bin/time -v of one run of each one-replication command (raw figures)
: > bench/results/time-v.txt
for pair in "../shared/bench:sim_simpy.py" "../shared/bench:sim_ciw.py" "bench:ref_fbsim.py"; do
  dir=${pair%%:*}; script=${pair##*:}
  echo "== $script" >> bench/results/time-v.txt
  (cd "$dir" && /usr/bin/time -v "$PYABS" "$script" --seed 1 > /dev/null) 2>> bench/results/time-v.txt
done
bench/profile.sh bench/reference.yaml 10 > bench/results/profile-reference.txt
bench/profile.sh scenarios/met-baseline.yaml 3 > bench/results/profile-met-baseline.txt
"$PY" bench/run_bench.py report | tee bench/results/report.md
