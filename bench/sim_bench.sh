#!/usr/bin/env bash
# Benchmarks the simulated network: wall time and taps per second of `faregate-sim run`, with
# in-process validators on the rush-hour scenario (simulator/scenarios/rush_hour.json: 312
# validators, 20,000 riders), and with every validator a faregate-validator process reading
# cards through libnfc from its own virtual PN532, on the rush-hour slice
# (rush_hour_slice.json: 28 validators, 1,500 riders; hundreds of polling validator processes do
# not fit a small machine, see docs/scenario_format.md). Called by bench/run.sh.
# Usage: bench/sim_bench.sh BUILD_DIR [in-process|processes|all]
set -euo pipefail
build_dir=${1:?usage: bench/sim_bench.sh BUILD_DIR [in-process|processes|all]}
which=${2:-all}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sim="$build_dir/simulator/app/faregate-sim"
[ -x "$sim" ] || { echo "no $sim: build faregate-sim first" >&2; exit 1; }

# A top-level number or boolean of the one-line JSON report in file $1.
field() { grep -o "\"$2\":[^,}]*" "$1" | head -1 | cut -d: -f2; }

# Prints one table row from the JSON report in file $2.
row() {
  local f=$2
  printf '%-34s %10s %7s %8s %8.1f %8.1f %7.0f %8.1f  %s\n' "$1" "$(field "$f" validators)" \
    "$(field "$f" riders)" "$(field "$f" taps_presented)" "$(field "$f" setup_seconds)" \
    "$(field "$f" play_seconds)" "$(field "$f" taps_per_second)" "$(field "$f" wall_seconds)" \
    "$([ "$(field "$f" ok)" = true ] && echo OK || echo FAILED)"
}

status=0
run() {  # LABEL SCENARIO [extra args]
  local label=$1 scenario=$2
  shift 2
  local out
  out=$(mktemp)
  if "$sim" run --scenario "$repo/simulator/scenarios/$scenario" --json "$@" > "$out" 2> "$out.err"; then
    row "$label" "$out"
  else
    if [ -s "$out" ]; then row "$label" "$out"; else echo "$label: failed"; tail -5 "$out.err"; fi
    status=1
  fi
  rm -f "$out" "$out.err"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-34s %10s %7s %8s %8s %8s %7s %8s\n' "run" "validators" "riders" "taps" "setup s" "taps s" \
  "taps/s" "wall s"
case $which in
  in-process|all) run "rush hour, in process" rush_hour.json ;;&
  processes|all) run "rush-hour slice, processes" rush_hour_slice.json --processes ;;&
  in-process|all) run "rush-hour slice, in process" rush_hour_slice.json ;;
esac
echo "(setup: making the riders' cards and starting the validators; taps: first tap to last"
echo " decision, sync rounds included in process; wall: everything, checks included)"
exit $status
