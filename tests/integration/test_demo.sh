#!/usr/bin/env bash
# `make demo` as CI runs it (CI=true, stdin not a terminal): tests/tools/demo.sh
# must exit 0 within 30 s, show the OTP going queued -> sending -> sent ->
# delivered and all six messages delivered, print the socket and a curl
# example, and leave no process and no temp dir behind.
set -uo pipefail
ROOT=${SG_ROOT:-$(pwd)}
BUILD=${SG_BUILD:-$ROOT/build}
for b in simgated simgate modemsim; do
  [ -x "$BUILD/$b" ] || { echo "SKIP: $BUILD/$b not built"; exit 77; }
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; echo "--- demo output"; cat "$out"; exit 1; }

start=$(date +%s)
CI=true timeout 60 bash "$ROOT/tests/tools/demo.sh" "$BUILD" </dev/null >"$out" 2>&1
rc=$?
took=$(($(date +%s) - start))
[ "$rc" -eq 0 ] || fail "demo exited $rc"
[ "$took" -lt 30 ] || fail "demo took ${took}s (limit 30)"

# The OTP's changes, in order, from `simgate send --wait`.
states=$(sed -n '/^\$ simgate send .*--priority otp/,/^$/p' "$out" |
  awk '$1 ~ /^[0-9][0-9]:[0-9][0-9]:/ { print $2 }' | tr '\n' ' ')
[ "$states" = "queued sending sent delivered " ] || fail "OTP states: '$states'"
grep -q '^all 6 messages delivered$' "$out" || fail "bulk not all delivered"
[ "$(grep -c 'delivered' "$out")" -ge 7 ] || fail "too few 'delivered'"
grep -q '^socket: /.*/api\.sock$' "$out" || fail "no socket path"
grep -q 'curl --unix-socket /.*/api\.sock http://localhost/v1/health' "$out" || fail "no curl example"
grep -q '"status":"ok"' "$out" || fail "the curl example was not shown working"

dir=$(sed -n 's/^==> temporary directory //p' "$out")
[ -n "$dir" ] || fail "no temp dir announced"
[ ! -e "$dir" ] || fail "temp dir $dir left behind"
if pgrep -f -- "$dir" >/dev/null; then fail "processes left running: $(pgrep -af -- "$dir")"; fi
echo "ok: demo in ${took}s"
