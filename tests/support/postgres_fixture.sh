#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and benchmarks, on loopback only.
#
#   postgres_fixture.sh start STATE_DIR   initdb in a fresh temporary directory, start the server on
#                                         a free 127.0.0.1 port (its unix socket in that directory
#                                         too), create the database faregate_test, and write its
#                                         URI to STATE_DIR/uri
#   postgres_fixture.sh stop STATE_DIR    stop that server and delete its directory
#
# ctest runs `start` and `stop` as the setup and cleanup of the fixture faregate_postgres
# (tests/support/postgres_fixture.cmake); bench/run.sh runs them around the benchmarks.
# `start` exits non-zero, with the server log on stderr, if the server cannot be started: the
# tests that need it then fail rather than skip.
#
# PostgreSQL refuses to run as root. Started by root (CI containers), the server runs as
# FAREGATE_PG_USER (default: nobody); the data lives in a directory that user owns.
#
# Environment:
#   FAREGATE_PG_BINDIR  server programs (default: `pg_config --bindir`, else the newest
#                       /usr/lib/postgresql/*/bin)
#   FAREGATE_PG_USER    the user the server runs as when started by root (default: nobody)
#   FAREGATE_PG_FSYNC   on | off (default: off). Off for tests: a throw-away server needs no crash
#                       safety and every test creates tables. The benchmarks turn it on.
#   TMPDIR              where the temporary directory is made (default: /tmp)
set -euo pipefail

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

log() { printf '[postgres_fixture] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 2 ] || usage
action=$1
state_dir=$2

find_bindir() {
  if [ -n "${FAREGATE_PG_BINDIR:-}" ]; then
    echo "$FAREGATE_PG_BINDIR"
    return
  fi
  local dir
  if dir=$(pg_config --bindir 2>/dev/null) && [ -x "$dir/initdb" ]; then
    echo "$dir"
    return
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] || die "no PostgreSQL server programs found (install the Debian package 'postgresql' or set FAREGATE_PG_BINDIR)"
  echo "$dir"
}

# Runs a command as the server's user: ourselves, or FAREGATE_PG_USER when we are root.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$server_user" -- "$@"
  else
    "$@"
  fi
}

stop_server() {
  local base=$1
  [ -d "$base" ] || return 0
  if [ -f "$base/data/postmaster.pid" ]; then
    as_server_user "$bindir/pg_ctl" -D "$base/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_server_user "$bindir/pg_ctl" -D "$base/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      log "could not stop the server in $base"
  fi
  rm -rf "$base"
}

server_user=${FAREGATE_PG_USER:-nobody}
if [ "$(id -u)" -eq 0 ]; then
  id -u "$server_user" >/dev/null 2>&1 || die "running as root, and the user '$server_user' that should run the server does not exist (set FAREGATE_PG_USER)"
  [ "$(id -u "$server_user")" -ne 0 ] || die "FAREGATE_PG_USER must not be root: PostgreSQL refuses to run as root"
fi

case "$action" in
  start) ;;
  stop)
    bindir=$(find_bindir)
    if [ -f "$state_dir/base" ]; then
      stop_server "$(cat "$state_dir/base")"
    fi
    rm -f "$state_dir/uri" "$state_dir/base"
    exit 0 ;;
  *) usage ;;
esac

bindir=$(find_bindir)
mkdir -p "$state_dir"
# A server left behind by an interrupted run is stopped first.
if [ -f "$state_dir/base" ]; then
  stop_server "$(cat "$state_dir/base")"
fi
rm -f "$state_dir/uri" "$state_dir/base"

parent=${TMPDIR:-/tmp}
if [ "$(id -u)" -eq 0 ] && ! runuser -u "$server_user" -- test -w "$parent" -a -x "$parent"; then
  parent=/tmp  # e.g. TMPDIR under /root, which the server's user cannot enter
fi
base=$(mktemp -d "$parent/faregate-pg-XXXXXX")
echo "$base" >"$state_dir/base"
if [ "$(id -u)" -eq 0 ]; then
  chown "$server_user" "$base"
fi

fsync=${FAREGATE_PG_FSYNC:-off}
case "$fsync" in on|off) ;; *) die "FAREGATE_PG_FSYNC must be on or off" ;; esac

# trust: only loopback and the private socket directory can reach this server, and it lives for
# one test run.
if ! as_server_user "$bindir/initdb" -D "$base/data" -U faregate --auth=trust -E UTF8 \
      --locale=C --no-sync >"$base/initdb.log" 2>&1; then
  cat "$base/initdb.log" >&2
  stop_server "$base"
  die "initdb failed"
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  port_in_use "$port" && continue
  if as_server_user "$bindir/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -p $port -k $base -c fsync=$fsync -c max_connections=200" \
       start >/dev/null 2>&1; then
    started=$port
    break
  fi
  # Another program took the port between the check and the bind: try another one.
  grep -q "could not bind\|Address already in use" "$base/server.log" 2>/dev/null || break
done
if [ -z "$started" ]; then
  [ -f "$base/server.log" ] && tail -n 30 "$base/server.log" >&2
  stop_server "$base"
  die "the PostgreSQL server did not start"
fi

if ! "$bindir/createdb" -h 127.0.0.1 -p "$started" -U faregate faregate_test 2>"$base/createdb.log"; then
  cat "$base/createdb.log" >&2
  stop_server "$base"
  die "createdb failed"
fi

uri="postgresql://faregate@127.0.0.1:$started/faregate_test"
echo "$uri" >"$state_dir/uri.tmp"
mv "$state_dir/uri.tmp" "$state_dir/uri"
echo "PostgreSQL test server at $uri (data in $base)"
