#!/usr/bin/env bash
# Acceptance of the sync link's mutual TLS with independent tools: OpenSSL's s_client against a
# real faregate-backoffice whose credentials come from faregate-keys, and a real
# faregate-validator against a back office of another operator.
# Usage: tls_openssl_test.sh KEYS_BIN BACKOFFICE_BIN VALIDATOR_BIN CASE
# Prints "PASS: CASE" when every check holds; anything else is a failure.
set -uo pipefail

keys=$1 backoffice=$2 validator=$3 case_name=$4
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

fail() { echo "FAIL: $case_name: $*"; [ -f bo.err ] && cat bo.err; exit 1; }
quiet() { "$@" > /dev/null 2>&1 || fail "'$*' failed"; }

# Reads the first line a background program prints, waiting at most 10 s.
first_line() {
  for _ in $(seq 100); do
    [ -s "$1" ] && { head -1 "$1"; return 0; }
    sleep 0.1
  done
  fail "no output in $1"
}

# The operator's PKI, a device, a device revoked, and a stranger's CA with a device of its own.
quiet "$keys" init-ca --ca-dir pki
quiet "$keys" issue-backoffice --ca-dir pki --out bo/tls
quiet "$keys" issue-device --ca-dir pki --device-id gate-1 --out gate1/tls
quiet "$keys" issue-device --ca-dir pki --device-id gate-2 --out gate2/tls
quiet "$keys" revoke-device --ca-dir pki --device-id gate-2 --install bo/tls/revoked.crl
quiet "$keys" init-ca --ca-dir stranger
quiet "$keys" issue-device --ca-dir stranger --device-id gate-1 --out stranger-gate/tls
quiet "$keys" issue-backoffice --ca-dir stranger --out stranger-bo/tls

start_backoffice() {  # DATA_DIR
  "$backoffice" --data-dir "$1" --port 0 --idle-timeout-s 1 --log-level info > "$1.out" 2> bo.err &
  pids+=($!)
  port=$(first_line "$1.out" | sed 's/.*://')
}

# A sync-protocol Hello from gate-1 (device_id "gate-1", protocol_version 1), framed.
printf '\x0c\x0a\x0a\x0a\x06gate-1\x18\x01' > hello.bin

# s_client CERT_DIR_OR_EMPTY: sends the Hello over TLS; out.bin gets what the server answered.
s_client() {
  local auth=()
  [ -n "$1" ] && auth=(-cert "$1/device.crt" -key "$1/device.key")
  timeout 20 openssl s_client -connect "127.0.0.1:$port" -quiet -verify_return_error \
    -CAfile pki/ca.crt -verify_hostname faregate-backoffice "${auth[@]}" \
    < hello.bin > out.bin 2> s_client.err
}
# True when out.bin starts with a framed ServerFrame carrying a HelloAck (field 1: 0x0a).
got_hello_ack() { [ -s out.bin ] && [ "$(od -An -tx1 -j1 -N1 out.bin | tr -d ' ')" = 0a ]; }
expect_refused() {  # REASON
  got_hello_ack && fail "a session was completed"
  for _ in $(seq 50); do grep -q "TLS handshake refused: $1" bo.err && return 0; sleep 0.1; done
  fail "the back office did not log '$1'"
}

case "$case_name" in
  device_certificate_gets_a_session)
    start_backoffice bo
    s_client gate1/tls
    got_hello_ack || { cat s_client.err; fail "no HelloAck for a device certificate from faregate-keys"; }
    ;;
  no_client_certificate_is_refused)
    start_backoffice bo
    s_client ""
    expect_refused no_certificate
    ;;
  certificate_from_another_ca_is_refused)
    start_backoffice bo
    s_client stranger-gate/tls
    expect_refused untrusted_certificate
    ;;
  revoked_certificate_is_refused)
    start_backoffice bo
    s_client gate2/tls
    expect_refused revoked_certificate
    ;;
  validator_refuses_a_backoffice_of_another_ca)
    start_backoffice stranger-bo
    mkdir -p gate1
    quiet "$keys" card-token-key --out gate1/card_token.key
    quiet "$keys" sealing-keypair --private-out sealing_private.pem --public-out gate1/sealing_public.pem
    "$validator" --data-dir gate1 --device-id gate-1 --stop-id central --reader sim \
      --backoffice "127.0.0.1:$port" --sync-interval-s 1 > v.out 2> v.err &
    pids+=($!)
    refused=0
    for _ in $(seq 100); do
      grep -q "untrusted_certificate" v.err && { refused=1; break; }
      sleep 0.1
    done
    [ "$refused" = 1 ] || { cat v.err; fail "the validator did not refuse the stranger's back office"; }
    grep -q "hello" bo.err && fail "the stranger's back office got a Hello"
    ;;
  validator_start_up_checks)
    mkdir -p gate1 lost
    quiet "$keys" card-token-key --out gate1/card_token.key
    quiet "$keys" sealing-keypair --private-out sealing_private.pem --public-out gate1/sealing_public.pem
    cp gate1/card_token.key gate1/sealing_public.pem lost/
    # A certificate for another device: the back office would refuse every session.
    "$validator" --data-dir gate1 --device-id gate-9 --stop-id central --reader sim \
      --tls-dir gate1/tls > v.out 2> v.err
    [ $? = 1 ] || fail "a validator started with another device's certificate"
    grep -q "is for device 'gate-1', not --device-id 'gate-9'" v.err || { cat v.err; fail "no reason given"; }
    # No credentials at all, and no --insecure-dev.
    "$validator" --data-dir lost --device-id gate-3 --stop-id central --reader sim > v.out 2> v.err
    [ $? = 1 ] || fail "a validator started without TLS credentials"
    grep -q "no usable TLS credentials" v.err || { cat v.err; fail "no reason given"; }
    ;;
  *)
    fail "unknown case"
    ;;
esac
echo "PASS: $case_name"
