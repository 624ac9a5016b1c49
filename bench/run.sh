#!/usr/bin/env bash
# Runs every benchmark built in BUILD_DIR (Release) and prints their tables. Called by
# `tools/dev.sh bench`; extra arguments go to each Google Benchmark program
# (e.g. --benchmark_filter=Append).
set -euo pipefail
build_dir=${1:?usage: bench/run.sh BUILD_DIR [benchmark args...]}
shift || true

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "bench dir: ${FAREGATE_BENCH_DIR:-${TMPDIR:-/tmp}} ($(df -T "${FAREGATE_BENCH_DIR:-${TMPDIR:-/tmp}}" | awk 'NR==2 {print $2}'))"
# The PostgreSQL benchmarks get a throw-away server of their own, durable (fsync on).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$build_dir/bench/bench_pg_ingest" ]; then
  pg_state=$(mktemp -d)
  trap '"$repo/tests/support/postgres_fixture.sh" stop "$pg_state"; rm -rf "$pg_state"' EXIT
  FAREGATE_PG_FSYNC=on "$repo/tests/support/postgres_fixture.sh" start "$pg_state" >&2 ||
    echo "PostgreSQL did not start: the PostgreSQL benchmarks will report errors" >&2
  export FAREGATE_TEST_POSTGRES_URI_FILE=$pg_state/uri
fi
status=0
for bench in "$build_dir"/bench/bench_*; do
  [ -x "$bench" ] || continue
  echo
  echo "== $(basename "$bench")"
  "$bench" --benchmark_counters_tabular=true "$@" || status=1
done
# The simulated network: rush hour in process, and a slice of it on validator processes.
if [ -x "$build_dir/simulator/app/faregate-sim" ]; then
  echo
  echo "== sim_bench.sh"
  "$repo/bench/sim_bench.sh" "$build_dir" || status=1
fi
exit $status
