#!/usr/bin/env bash
# Coverage-guided fuzzing of one fuzz target with AFL++ and g++ (see docs/fuzzing.md).
#
#   tools/fuzz.sh TARGET [SECONDS]
#
# TARGET is a fuzz target of tests/fuzz (fuzz_tlv, fuzz_apdu, fuzz_transit_kernel, fuzz_framing,
# ...; the "fuzz_" prefix may be left out). Installs what is missing (the build's Debian packages
# and afl++), configures an AFL++ build with AddressSanitizer and UBSan, builds the target, and
# fuzzes it for SECONDS (default 60) starting from tests/fuzz/corpus/TARGET/. Prints executions,
# corpus growth, edges covered and crashes; exits 1 if a crash or a hang was found, 2 on bad usage,
# 130 if stopped early (Ctrl-C) with nothing found.
#
# Examples:
#   tools/fuzz.sh fuzz_tlv            # one minute on the TLV codec
#   tools/fuzz.sh apdu 600            # ten minutes on the APDU layer
#   FAREGATE_FUZZ_BUILD_DIR=$HOME/fuzz-build tools/fuzz.sh fuzz_transit_kernel
#
# Environment: FAREGATE_FUZZ_BUILD_DIR (default: build-fuzz), FAREGATE_JOBS (default: nproc).
# The findings stay in BUILD_DIR/afl/TARGET/default/ (queue/, crashes/, hangs/, fuzzer_stats).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FAREGATE_FUZZ_BUILD_DIR:-$repo/build-fuzz}
jobs=${FAREGATE_JOBS:-$(nproc)}

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() { printf '[fuzz.sh] %s\n' "$*" >&2; }

case "${1:-}" in
  ""|-h|--help|help)
    if [ -z "${1:-}" ]; then usage >&2; exit 2; fi
    usage; exit 0 ;;
esac

target=$1
[[ $target == fuzz_* ]] || target="fuzz_$target"
seconds=${2:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  log "SECONDS must be a positive whole number, not '$seconds'"
  exit 2
fi
corpus=$repo/tests/fuzz/corpus/$target
targets_file=$repo/tests/fuzz/CMakeLists.txt
if ! grep -q "^faregate_fuzz_target($target " "$targets_file" || [ ! -d "$corpus" ]; then
  log "unknown fuzz target '$target'; targets with a corpus:"
  sed -n 's/^faregate_fuzz_target(\(fuzz_[a-z0-9_]*\) .*/\1/p' "$targets_file" >&2
  exit 2
fi

install_deps() {
  "$repo/tools/dev.sh" deps
  dpkg-query -W -f='${Status}' afl++ 2>/dev/null | grep -q "install ok installed" && return 0
  log "installing the Debian package afl++"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends afl++ >/dev/null
}

# Reads one field of afl-fuzz's fuzzer_stats file.
afl_stat() {
  sed -n "s/^$1 *: *//p" "$stats"
}

install_deps

if [ ! -f "$build_dir/build.ninja" ]; then
  log "configuring the AFL++ build in $build_dir"
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER=g++ -DFAREGATE_FUZZ_ENGINE=afl -DFAREGATE_BUILD_BENCH=OFF >/dev/null
elif ! grep -q '^FAREGATE_FUZZ_ENGINE:STRING=afl$' "$build_dir/CMakeCache.txt"; then
  log "$build_dir is not an AFL++ build (FAREGATE_FUZZ_ENGINE=afl);" \
      "pick another FAREGATE_FUZZ_BUILD_DIR"
  exit 2
fi
log "building $target ($jobs jobs)"
cmake --build "$build_dir" -j "$jobs" --target "$target"
binary=$build_dir/tests/fuzz/$target

out=$build_dir/afl/$target
rm -rf "$out"
mkdir -p "$out"
afl_log=$out/afl-fuzz.log
stats=$out/default/fuzzer_stats

# afl-fuzz wants sanitizers to abort (so that it sees a crash) and not to symbolise (slow).
export ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0:allocator_may_return_null=1
ASAN_OPTIONS+=:malloc_context_size=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0
# No curses screen; no CPU pinning (the machine is shared); no refusal over the CPU governor or
# a core_pattern that pipes crashes to systemd-coredump or apport.
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

log "fuzzing $target for $seconds s from $corpus (log: $afl_log)"
# -c 0: CmpLog with the same binary, fed by g++'s -fsanitize-coverage=trace-cmp (it solves
# magic values and lengths). -t 1000: a run over one second is a hang, not machine load.
afl-fuzz -V "$seconds" -t 1000 -c 0 -i "$corpus" -o "$out" -- "$binary" >"$afl_log" 2>&1 &
afl_pid=$!
# Ctrl-C stops the run early; the summary below still comes.
interrupted=0
trap 'interrupted=1; kill -TERM "$afl_pid" 2>/dev/null' INT TERM
# afl-fuzz 4.04c can leave a fork server's last child behind when it exits, stopped between two
# persistent-mode runs. Each fork server is a child of afl-fuzz that leads its own process group:
# note them while afl-fuzz runs, and end whatever is left in those groups afterwards.
fork_servers=" "
while kill -0 "$afl_pid" 2>/dev/null; do
  for pid in $(ps -o pid= --ppid "$afl_pid" 2>/dev/null); do
    [[ $fork_servers == *" $pid "* ]] || fork_servers+="$pid "
  done
  sleep 1
done
afl_status=0
wait "$afl_pid" || afl_status=$?
trap - INT TERM
for group in $fork_servers; do
  kill -KILL -- "-$group" 2>/dev/null || true
done
if [ "$afl_status" -ne 0 ] || [ ! -f "$stats" ]; then
  log "afl-fuzz failed (status $afl_status); the end of its log:"
  sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$afl_log" | grep -v '^\[\*\] Fuzzing test case' | tail -20 >&2
  exit 1
fi

crashes=$(find "$out/default/crashes" -type f -name 'id:*' | wc -l)
hangs=$(find "$out/default/hangs" -type f -name 'id:*' | wc -l)
seeds=$(find "$corpus" -maxdepth 1 -type f | wc -l)
printf '%s: %s s, %s executions (%s/s), corpus %s -> %s inputs, %s edges covered, ' \
  "$target" "$(afl_stat run_time)" "$(afl_stat execs_done)" "$(afl_stat execs_per_sec)" \
  "$seeds" "$(afl_stat corpus_count)" "$(afl_stat edges_found)"
printf 'stability %s, %s crashes, %s hangs\n' "$(afl_stat stability)" "$crashes" "$hangs"

if [ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]; then
  if [ "$interrupted" -eq 1 ]; then
    log "stopped before the $seconds s were up"
    exit 130
  fi
  exit 0
fi
# Replay each finding with a symbolised report, so that the place in the code is shown at once.
export ASAN_OPTIONS=abort_on_error=1:symbolize=1:detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# Five at most: one bug often leaves many crashing inputs behind.
shown=0
for kind in crashes hangs; do
  for input in "$out/default/$kind"/id:*; do
    [ -f "$input" ] || continue
    if [ "$shown" -eq 5 ]; then
      printf '
(more in %s/default/%s/)
' "$out" "$kind"
      break
    fi
    shown=$((shown + 1))
    printf '\n=== %s: %s\n' "$kind" "$input"
    od -A x -t x1z -v "$input" | head -8
    status=0
    timeout 10 "$binary" "$input" >"$out/replay.txt" 2>&1 &
    # Quietly: bash would add an "Aborted" line of its own to the report.
    { wait $! || status=$?; } 2>/dev/null
    # The report up to its summary line, without the shadow memory dump.
    sed '/^SUMMARY/q' "$out/replay.txt" | grep -v '^Reading\|^Execution successful' | head -60
    if [ "$status" -eq 124 ]; then echo "(still running after 10 s)"; fi
  done
done
printf '\nReproduce with: %s FILE. Once fixed, copy the file into %s/ so that ctest replays it.\n' \
  "$binary" "$corpus"
exit 1
