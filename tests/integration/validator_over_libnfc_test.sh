#!/usr/bin/env bash
# The validator program taps a virtual Visa card through the real libnfc, talking to the
# simulator's virtual PN532 on a pty, journals an accepted tap and syncs it to a real back office
# over mutual TLS, with certificates made by faregate-keys as an operator would.
# Usage: validator_over_libnfc_test.sh SIM_BIN VALIDATOR_BIN BACKOFFICE_BIN KEYS_BIN
set -euo pipefail
sim=$1 validator=$2 backoffice=$3 keys=$4
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Reads the first line a background program prints, waiting at most 10 s.
first_line() {
  for _ in $(seq 100); do
    [ -s "$1" ] && { head -1 "$1"; return 0; }
    sleep 0.1
  done
  echo "no output in $1" >&2
  return 1
}

"$sim" pn532 --card visa < /dev/null > "$work/pn532.out" 2> "$work/pn532.err" &
pids+=($!)
connstring=$(first_line "$work/pn532.out")
[[ $connstring == pn532_uart:/dev/pts/* ]] || { echo "bad connstring: $connstring"; exit 1; }

mkdir -p "$work/backoffice" "$work/validator"
"$keys" init-ca --ca-dir "$work/pki" > /dev/null
"$keys" issue-backoffice --ca-dir "$work/pki" --out "$work/backoffice/tls" > /dev/null
"$keys" issue-device --ca-dir "$work/pki" --device-id libnfc-gate-1 --out "$work/validator/tls" > /dev/null
"$backoffice" --data-dir "$work/backoffice" --port 0 --log-level warn > "$work/bo.out" 2> "$work/bo.err" &
pids+=($!)
port=$(first_line "$work/bo.out" | sed 's/.*://')

# The keys a simulated operator provisions: card-token key, sealing key, the test CA for ODA.
"$sim" provision --data-dir "$work/validator" --seed 7 --backoffice-key "$work/sealing.pem" > /dev/null
"$validator" --data-dir "$work/validator" --device-id libnfc-gate-1 --stop-id central \
  --reader "$connstring" --backoffice "127.0.0.1:$port" --sync-interval-s 1 \
  --ca-keys "$work/validator/sim_ca_keys.json" \
  > "$work/v.out" 2> "$work/v.err" &
vpid=$!
pids+=($vpid)

# Wait (bounded) for the tap to reach the back office.
stored=0
for _ in $(seq 100); do
  stored=$(sqlite3 "$work/backoffice/taps.db" "select count(*) from taps" 2>/dev/null || echo 0)
  [ "$stored" = 1 ] && break
  sleep 0.1
done
kill -TERM "$vpid"
wait "$vpid"
cat "$work/v.err"

[ "$stored" = 1 ] || { echo "FAIL: back office holds $stored taps"; exit 1; }
grep -q 'tap device=libnfc-gate-1 seq=1 decision=accept reason=ok oda=ODA_RESULT_FDDA' "$work/v.err" \
  || { echo "FAIL: no accepted tap with fDDA in the validator log"; exit 1; }
# One presentation is one tap: the card stayed on the reader and was not read again.
[ "$(sqlite3 "$work/validator/journal.db" 'select count(*) from taps')" = 1 ] \
  || { echo "FAIL: the card left on the reader was read twice"; exit 1; }
echo "PASS: tap over libnfc journaled and synced"
