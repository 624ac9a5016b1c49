#!/usr/bin/env bash
# faregate-sign as a release engineer uses it. Usage: sign_cli_test.sh FAREGATE_SIGN CASE
# Prints "PASS: CASE" when every check of the case holds; anything else is a failure.
set -uo pipefail

sign=$1
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

make_signed_image() {
  printf '#!/bin/sh\necho validator\n' > validator.bin
  head -c 5000 /dev/urandom >> validator.bin
  expect_exit 0 "$sign" keygen --out-key key.pem --out-pub pub.pem
  expect_exit 0 "$sign" sign --key key.pem --version 1.4.0 --counter 3 --in validator.bin --out image.fgi
}

case "$case_name" in
  help)
    expect_exit 0 "$sign" --help
    expect_output "Examples:"
    expect_output "Exit codes"
    for sub in keygen sign verify show export; do
      expect_exit 0 "$sign" "$sub" --help
    done
    ;;
  bad_args)
    expect_exit 1 "$sign"
    expect_exit 1 "$sign" frobnicate
    expect_exit 1 "$sign" sign --version 1.0 --counter 1 --in /etc/hostname --out x.fgi
    make_signed_image
    expect_exit 1 "$sign" sign --key key.pem --version 1.0 --counter minus-one --in validator.bin --out x.fgi
    expect_exit 1 "$sign" sign --key key.pem --version "1.0 beta" --counter 1 --in validator.bin --out x.fgi
    expect_output "printable"
    expect_exit 1 "$sign" sign --key pub.pem --version 1.0 --counter 1 --in validator.bin --out x.fgi
    expect_output "not a PEM private key"
    expect_exit 1 "$sign" verify --pub pub.pem missing.fgi
    expect_exit 1 "$sign" verify --pub key.pem image.fgi
    expect_exit 1 "$sign" show
    ;;
  round_trip)
    make_signed_image
    [ "$(stat -c %a key.pem)" = 600 ] || fail "private key is not mode 600"
    expect_exit 0 "$sign" verify --pub pub.pem image.fgi
    expect_output "OK: image.fgi is version 1.4.0, security counter 3"
    expect_exit 0 "$sign" verify --pub pub.pem image.fgi --json
    expect_output '"valid":true'
    expect_exit 0 "$sign" show image.fgi
    expect_output "firmware version:  1.4.0"
    expect_output "security counter:  3"
    expect_output "payload:           $(stat -c %s validator.bin) bytes, SHA-256 $(sha256sum validator.bin | cut -d' ' -f1)"
    expect_exit 0 "$sign" show image.fgi --json
    expect_output '"firmware_version":"1.4.0"'
    expect_output '"signature_checked":false'
    # The image is the program, byte for byte, after the 160-byte header.
    tail -c +161 image.fgi | head -c "$(stat -c %s validator.bin)" | cmp - validator.bin || fail "payload differs"
    ;;
  refuses_existing_files)
    make_signed_image
    expect_exit 1 "$sign" keygen --out-key key.pem --out-pub other.pem
    expect_output "exists"
    expect_exit 1 "$sign" sign --key key.pem --version 2.0 --counter 1 --in validator.bin --out image.fgi
    expect_exit 0 "$sign" sign --key key.pem --version 2.0 --counter 1 --in validator.bin --out image.fgi --force
    ;;
  openssl_verifies_export)
    # The acceptance check: OpenSSL, not our code, verifies what faregate-sign signed.
    command -v openssl >/dev/null || fail "openssl is not installed"
    make_signed_image
    expect_exit 0 "$sign" export image.fgi --header-and-payload hp.bin --signature sig.der
    [ "$(($(stat -c %s hp.bin) + $(stat -c %s sig.der)))" -eq "$(stat -c %s image.fgi)" ] || fail "parts do not add up"
    openssl dgst -sha256 -verify pub.pem -signature sig.der hp.bin >out 2>&1 || { cat out; fail "openssl refused"; }
    expect_output "Verified OK"
    # And OpenSSL refuses a changed byte, so the check above can fail.
    printf '\x01' | dd of=hp.bin bs=1 seek=200 conv=notrunc status=none
    if openssl dgst -sha256 -verify pub.pem -signature sig.der hp.bin >out 2>&1; then fail "openssl accepted a changed byte"; fi
    ;;
  openssl_key_signs)
    # Keys made elsewhere (openssl, faregate-keys) work: SEC1 and PKCS#8 private keys.
    command -v openssl >/dev/null || fail "openssl is not installed"
    printf 'program' > validator.bin
    openssl ecparam -name prime256v1 -genkey -noout -out sec1.pem 2>/dev/null || fail "openssl ecparam"
    openssl pkcs8 -topk8 -nocrypt -in sec1.pem -out pkcs8.pem || fail "openssl pkcs8"
    openssl ec -in sec1.pem -pubout -out pub.pem 2>/dev/null || fail "openssl ec"
    for key in sec1.pem pkcs8.pem; do
      expect_exit 0 "$sign" sign --key "$key" --version 1.0 --counter 1 --in validator.bin --out "$key.fgi"
      expect_exit 0 "$sign" verify --pub pub.pem "$key.fgi"
    done
    openssl ecparam -name secp384r1 -genkey -noout -out p384.pem 2>/dev/null || fail "openssl ecparam p384"
    expect_exit 1 "$sign" sign --key p384.pem --version 1.0 --counter 1 --in validator.bin --out p384.fgi
    expect_output "not an ECDSA P-256 key"
    ;;
  refusals_have_their_own_messages)
    make_signed_image
    expect_exit 0 "$sign" keygen --out-key other.pem --out-pub other.pub.pem
    cp image.fgi payload.fgi
    printf '\x55' | dd of=payload.fgi bs=1 seek=1000 conv=notrunc status=none
    expect_exit 2 "$sign" verify --pub pub.pem payload.fgi
    expect_output "REFUSED: payload.fgi: payload SHA-256 does not match the header"
    cp image.fgi header.fgi
    printf '\x55' | dd of=header.fgi bs=1 seek=20 conv=notrunc status=none
    expect_exit 2 "$sign" verify --pub pub.pem header.fgi
    expect_output "header check failed"
    cp image.fgi signature.fgi
    size=$(stat -c %s signature.fgi)
    printf '\x55' | dd of=signature.fgi bs=1 seek=$((size - 5)) conv=notrunc status=none
    expect_exit 2 "$sign" verify --pub pub.pem signature.fgi
    expect_output "signature does not verify"
    expect_exit 2 "$sign" verify --pub other.pub.pem image.fgi
    expect_output "signed by a different key"
    expect_exit 2 "$sign" verify --pub pub.pem image.fgi --min-counter 4
    expect_output "security counter 3 of image 1.4.0 is lower than 4"
    expect_exit 2 "$sign" verify --pub pub.pem image.fgi --min-counter 4 --json
    expect_output '"valid":false'
    head -c 100 image.fgi > short.fgi
    expect_exit 2 "$sign" show short.fgi
    expect_output "truncated"
    ;;
  *)
    fail "unknown case" ;;
esac
echo "PASS: $case_name"
