#!/usr/bin/env bash
# Faregate's one entry point for developers, operators trying it out, and CI.
#
#   tools/dev.sh demo    install what is missing, build, run the simulated network end to end
#   tools/dev.sh test    install what is missing, build, run the whole test suite (ctest)
#   tools/dev.sh bench   install what is missing, build, run the benchmarks
#   tools/dev.sh build   install what is missing and build only
#   tools/dev.sh deps    install the Debian packages only
#
# Environment: FAREGATE_BUILD_DIR (default: build), FAREGATE_JOBS (default: nproc),
# FAREGATE_TEST_ARGS (extra ctest arguments, e.g. "-L fault" or "-R journal").
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FAREGATE_BUILD_DIR:-$repo/build}
jobs=${FAREGATE_JOBS:-$(nproc)}

# Debian packages the build and the tests need. Keep in step with cmake/FaregateDependencies.cmake.
packages=(
  build-essential cmake ninja-build pkg-config
  libnfc-dev libnfc-bin libmbedtls-dev libsqlite3-dev sqlite3
  libboost-dev libboost-system-dev libprotobuf-dev protobuf-compiler
  catch2 nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libhowardhinnant-date-dev tzdata libbenchmark-dev libpq-dev postgresql openssl
)

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

log() { printf '[dev.sh] %s\n' "$*" >&2; }

install_deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

configure_and_build() {
  local type=$1 dir=$2
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $type build in $dir"
    cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null
  fi
  log "building ($jobs jobs)"
  cmake --build "$dir" -j "$jobs"
}

cmd=${1:-}
shift || true
case "$cmd" in
  deps)
    install_deps ;;
  build)
    install_deps
    configure_and_build RelWithDebInfo "$build_dir" ;;
  test)
    install_deps
    configure_and_build RelWithDebInfo "$build_dir"
    # shellcheck disable=SC2086
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" ${FAREGATE_TEST_ARGS:-} "$@" ;;
  demo)
    install_deps
    configure_and_build RelWithDebInfo "$build_dir"
    exec "$build_dir/simulator/app/faregate-sim" demo "$@" ;;
  bench)
    # The same optimised (-O2) build as the tests: g++ 12 at -O3 reports false buffer overflows
    # inside libstdc++ (stringop-overflow), and one build serves both.
    install_deps
    configure_and_build RelWithDebInfo "$build_dir"
    exec "$repo/bench/run.sh" "$build_dir" "$@" ;;
  -h|--help|help)
    usage ;;
  *)
    usage >&2
    exit 2 ;;
esac
