#!/usr/bin/env bash
# faregate-keys as an operator uses it. Usage: keys_cli_test.sh FAREGATE_KEYS CASE
# Prints "PASS: CASE" when every check of the case holds; anything else is a failure. OpenSSL
# (Debian's openssl package) is the independent judge of the certificates and lists it writes.
set -uo pipefail

keys=$1
case_name=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() { echo "FAIL: $case_name: $*"; exit 1; }
# expect_exit CODE COMMAND...: runs COMMAND, output in $work/out, and checks its exit code.
expect_exit() {
  local want=$1
  shift
  "$@" >out 2>&1
  local got=$?
  [ "$got" -eq "$want" ] || { cat out; fail "'$*' exited $got, expected $want"; }
}
expect_output() { grep -q -- "$1" out || { cat out; fail "output lacks '$1'"; }; }
mode_of() { stat -c %a "$1"; }

provision() {
  expect_exit 0 "$keys" init-ca --ca-dir pki --org "Metro Transit"
  expect_exit 0 "$keys" issue-backoffice --ca-dir pki --out bo/tls
  expect_exit 0 "$keys" issue-device --ca-dir pki --device-id gate-1 --out gate1/tls
  expect_exit 0 "$keys" issue-device --ca-dir pki --device-id gate-2 --out gate2/tls
}

case "$case_name" in
  help)
    expect_exit 0 "$keys" --help
    expect_output "Examples"
    expect_output "Exit codes"
    expect_output "init-ca"
    for sub in init-ca issue-backoffice issue-device revoke-device crl card-token-key sealing-keypair show; do
      expect_exit 0 "$keys" "$sub" --help
      expect_output "$sub"
    done
    ;;
  bad_args)
    expect_exit 1 "$keys"
    expect_exit 1 "$keys" no-such-command
    expect_exit 1 "$keys" issue-device --ca-dir pki --device-id gate-1 --out x
    expect_output "no CA in pki"
    expect_exit 0 "$keys" init-ca --ca-dir pki
    expect_exit 1 "$keys" issue-device --ca-dir pki --device-id "gate 1" --out x
    expect_output "not a valid device id"
    expect_exit 1 "$keys" issue-device --ca-dir pki --device-id ../../etc --out x
    expect_exit 1 "$keys" issue-backoffice --ca-dir pki --server-name "Bad_Name" --out x
    expect_exit 1 "$keys" init-ca --ca-dir other --days 0
    expect_exit 1 "$keys" revoke-device --ca-dir pki --device-id never-issued
    expect_output "no unrevoked device certificate"
    [ ! -e x ] || fail "a refused command wrote files"
    ;;
  provision_in_order)
    provision
    for f in pki/ca.crt pki/ca.key pki/issued.tsv pki/revoked.tsv pki/revoked.crl \
             bo/tls/server.crt bo/tls/server.key bo/tls/device-ca.crt bo/tls/revoked.crl \
             gate1/tls/device.crt gate1/tls/device.key gate1/tls/backoffice-ca.crt; do
      [ -s "$f" ] || fail "$f missing"
    done
    for secret in pki/ca.key bo/tls/server.key gate1/tls/device.key; do
      [ "$(mode_of "$secret")" = 600 ] || fail "$secret has mode $(mode_of "$secret")"
    done
    expect_exit 0 openssl verify -CAfile pki/ca.crt bo/tls/server.crt gate1/tls/device.crt
    expect_exit 0 openssl verify -purpose sslclient -CAfile pki/ca.crt gate1/tls/device.crt
    expect_exit 0 openssl verify -purpose sslserver -CAfile pki/ca.crt bo/tls/server.crt
    # The roles do not mix: a device certificate is no server certificate.
    expect_exit 2 openssl verify -purpose sslserver -CAfile pki/ca.crt gate1/tls/device.crt
    expect_exit 0 openssl x509 -in gate1/tls/device.crt -noout -subject
    expect_output "CN = gate-1"
    expect_exit 0 openssl x509 -in bo/tls/server.crt -noout -ext subjectAltName
    expect_output "DNS:faregate-backoffice"
    expect_exit 0 openssl crl -in pki/revoked.crl -noout -CAfile pki/ca.crt
    expect_output "verify OK"
    [ "$(grep -c device pki/issued.tsv)" = 2 ] || fail "issued.tsv does not list both devices"
    ;;
  revoke)
    provision
    expect_exit 0 "$keys" revoke-device --ca-dir pki --device-id gate-2 --install bo/tls/revoked.crl --json
    expect_output '"done":"revoked"'
    cmp -s pki/revoked.crl bo/tls/revoked.crl || fail "the installed list differs from the CA's"
    expect_exit 0 openssl crl -in bo/tls/revoked.crl -noout -CAfile pki/ca.crt
    expect_output "verify OK"
    expect_exit 0 openssl verify -crl_check -CRLfile bo/tls/revoked.crl -CAfile pki/ca.crt gate1/tls/device.crt
    expect_exit 2 openssl verify -crl_check -CRLfile bo/tls/revoked.crl -CAfile pki/ca.crt gate2/tls/device.crt
    expect_output "certificate revoked"
    # Revoking again finds nothing new; a renewed certificate is a new serial, not revoked.
    expect_exit 1 "$keys" revoke-device --ca-dir pki --device-id gate-2
    expect_exit 0 "$keys" issue-device --ca-dir pki --device-id gate-2 --out gate2/tls --force
    expect_exit 0 openssl verify -crl_check -CRLfile bo/tls/revoked.crl -CAfile pki/ca.crt gate2/tls/device.crt
    expect_exit 0 "$keys" crl --ca-dir pki --install bo/tls/revoked.crl
    expect_exit 0 openssl crl -in bo/tls/revoked.crl -noout -text
    expect_output "Serial Number"
    ;;
  refuses_existing_files)
    provision
    expect_exit 1 "$keys" init-ca --ca-dir pki
    expect_output "already exists"
    expect_exit 1 "$keys" issue-device --ca-dir pki --device-id gate-1 --out gate1/tls
    expect_output "already exists"
    expect_exit 1 "$keys" issue-backoffice --ca-dir pki --out bo/tls
    expect_exit 0 "$keys" card-token-key --out card_token.key
    expect_exit 1 "$keys" card-token-key --out card_token.key
    expect_output "never replaced"
    expect_exit 0 "$keys" sealing-keypair --private-out s.pem --public-out p.pem
    expect_exit 1 "$keys" sealing-keypair --private-out s.pem --public-out p.pem
    expect_exit 0 "$keys" sealing-keypair --private-out s.pem --public-out p.pem --force
    ;;
  key_formats)
    expect_exit 0 "$keys" card-token-key --out card_token.key
    [ "$(mode_of card_token.key)" = 600 ] || fail "card_token.key has mode $(mode_of card_token.key)"
    grep -Eqx '[0-9a-f]{64}' card_token.key || fail "card_token.key is not 64 hex digits"
    expect_exit 0 "$keys" sealing-keypair --private-out sealing_private.pem --public-out sealing_public.pem
    [ "$(mode_of sealing_private.pem)" = 600 ] || fail "private key mode"
    grep -q "BEGIN EC PRIVATE KEY" sealing_private.pem || fail "private key is not PEM SEC1"
    grep -q "BEGIN PUBLIC KEY" sealing_public.pem || fail "public key is not PEM SubjectPublicKeyInfo"
    openssl pkey -in sealing_private.pem -pubout > derived.pem 2>/dev/null || fail "openssl cannot read the private key"
    cmp -s derived.pem sealing_public.pem || fail "the public key is not the private key's"
    expect_exit 0 openssl pkey -pubin -in sealing_public.pem -noout -text
    expect_output "prime256v1"
    ;;
  show)
    provision
    expect_exit 0 "$keys" show --cert gate1/tls/device.crt --json
    expect_output '"common_name":"gate-1"'
    expect_output '"ca":false'
    expect_exit 0 "$keys" show --cert pki/ca.crt
    expect_output "CA:          yes"
    expect_exit 1 "$keys" show --cert pki/issued.tsv
    ;;
  *)
    fail "unknown case"
    ;;
esac
echo "PASS: $case_name"
