#!/usr/bin/env bash
# faregate-flash as a technician uses it, with faregate-sign and faregate-boot around it.
# Usage: flash_cli_test.sh FAREGATE_FLASH FAREGATE_SIGN FAREGATE_BOOT DEV_SIGNING_KEY CASE
# Prints "PASS: CASE" when every check of the case holds; anything else is a failure.
set -uo pipefail

flash=$1
sign=$2
boot=$3
dev_key=$4
case_name=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir gate

fail() { echo "FAIL: $case_name: $*"; exit 1; }
expect_exit() {
  local want=$1
  shift
  "$@" >out 2>&1
  local got=$?
  [ "$got" -eq "$want" ] || { cat out; fail "'$*' exited $got, expected $want"; }
}
expect_output() { grep -q -- "$1" out || { cat out; fail "output lacks '$1'"; }; }

# A stand-in validator that reports healthy to faregate-boot and exits.
cat > healthy.sh <<'SCRIPT'
#!/bin/sh
echo "validator $FAREGATE_FIRMWARE_VERSION running"
printf 'healthy boot %s\n' "$FAREGATE_BOOT_ID" > "$FAREGATE_HEALTH_FILE"
SCRIPT
image() {  # image VERSION COUNTER -> VERSION.fgi signed with the development key
  expect_exit 0 "$sign" sign --key "$dev_key" --version "$1" --counter "$2" --in healthy.sh --out "$1.fgi"
}

case "$case_name" in
  help)
    expect_exit 0 "$flash" --help
    expect_output "Examples:"
    expect_output "Exit codes"
    expect_exit 0 "$flash" install --help
    ;;
  bad_args)
    image 1.0.0 1
    expect_exit 1 "$flash"
    expect_exit 1 "$flash" --data-dir gate
    expect_output "give either --status or install"
    expect_exit 1 "$flash" install 1.0.0.fgi
    expect_exit 1 "$flash" install --data-dir gate missing.fgi
    expect_exit 1 "$flash" install --data-dir no-such-dir 1.0.0.fgi
    expect_output "does not exist"
    expect_exit 1 "$flash" --status --data-dir gate install 1.0.0.fgi
    expect_exit 1 "$flash" --status --data-dir gate --pub missing.pem
    ;;
  install_and_status)
    image 1.0.0 1
    image 2.0.0 2
    expect_exit 0 "$flash" --status --data-dir gate
    expect_output "runs:             nothing"
    expect_exit 0 "$flash" install --data-dir gate 1.0.0.fgi
    expect_output "verified 1.0.0.fgi: version 1.0.0"
    expect_output "writing: 100%"
    expect_output "verified slot a after writing"
    expect_output "installed: version 1.0.0 in slot a, active"
    expect_exit 0 "$flash" install --data-dir gate 2.0.0.fgi --json
    expect_output '"role":"pending"'
    expect_output '"slot":"b"'
    expect_exit 0 "$flash" --status --data-dir gate
    expect_output "runs:             slot a, version 1.0.0"
    expect_output "pending:          slot b, version 2.0.0, 0 trial boot(s) started"
    expect_exit 0 "$flash" --status --data-dir gate --json
    expect_output '"active":"a"'
    expect_output '"pending":"b"'
    # The launcher tries 2.0.0, it reports healthy, and the status follows.
    expect_exit 0 "$boot" --data-dir gate --once
    expect_output "validator 2.0.0 running"
    expect_exit 0 "$flash" --status --data-dir gate
    expect_output "runs:             slot b, version 2.0.0"
    expect_output "pending:          nothing"
    expect_output "security counter: 2"
    expect_exit 0 "$flash" install --data-dir gate 2.0.0.fgi
    expect_output "already installed"
    ;;
  refusals_keep_the_current_image)
    image 1.0.0 1
    image 3.0.0 3
    image 2.0.0 2
    expect_exit 0 "$flash" install --data-dir gate 1.0.0.fgi
    expect_exit 0 "$flash" install --data-dir gate 3.0.0.fgi
    expect_exit 0 "$boot" --data-dir gate --once
    "$flash" --status --data-dir gate --json > before.json || fail "status"
    cp 3.0.0.fgi tampered.fgi
    printf '\x01' | dd of=tampered.fgi bs=1 seek=170 conv=notrunc status=none
    expect_exit 2 "$flash" install --data-dir gate tampered.fgi
    expect_output "REFUSED: payload SHA-256 does not match the header"
    expect_output "keeps its current image"
    "$sign" keygen --out-key other.pem --out-pub other.pub.pem >/dev/null || fail "keygen"
    "$sign" sign --key other.pem --version 9.0.0 --counter 9 --in healthy.sh --out foreign.fgi >/dev/null || fail "sign"
    expect_exit 2 "$flash" install --data-dir gate foreign.fgi
    expect_output "REFUSED: image signed by a different key"
    expect_exit 2 "$flash" install --data-dir gate 2.0.0.fgi --json
    expect_output '"result":"refused"'
    expect_output "security counter 2 of image 2.0.0 is lower than 3"
    "$flash" --status --data-dir gate --json > after.json || fail "status"
    cmp before.json after.json || fail "a refused install changed the validator"
    expect_exit 0 "$boot" --data-dir gate --once
    expect_output "validator 3.0.0 running"
    # With the other key named explicitly, the device's own image is the foreign one.
    expect_exit 2 "$flash" install --data-dir gate --pub other.pub.pem 3.0.0.fgi
    expect_output "signed by a different key"
    ;;
  *)
    fail "unknown case" ;;
esac
echo "PASS: $case_name"
