#!/usr/bin/env bash
# Runs every benchmark built in BUILD_DIR (Release) and prints their tables. Called by
# `tools/dev.sh bench`; extra arguments go to each Google Benchmark program
# (e.g. --benchmark_filter=Append).
set -euo pipefail
build_dir=${1:?usage: bench/run.sh BUILD_DIR [benchmark args...]}
shift || true

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "bench dir: ${FAREGATE_BENCH_DIR:-${TMPDIR:-/tmp}} ($(df -T "${FAREGATE_BENCH_DIR:-${TMPDIR:-/tmp}}" | awk 'NR==2 {print $2}'))"
status=0
for bench in "$build_dir"/bench/bench_*; do
  [ -x "$bench" ] || continue
  echo
  echo "== $(basename "$bench")"
  "$bench" --benchmark_counters_tabular=true "$@" || status=1
done
exit $status
