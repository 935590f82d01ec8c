#!/usr/bin/env bash
# Short libFuzzer run of every built fuzz target (`make fuzz`).
#   tests/tools/fuzz-smoke.sh BUILD_DIR [RUNS]
# Runs each BUILD_DIR/fuzz/fuzz_<name> for RUNS executions (default 20000)
# starting from its committed seeds in tests/fuzz/seeds/<name>/. The corpus
# is copied to a temporary directory first, so new inputs libFuzzer finds
# never land in the repository. A crash, leak or timeout makes the script
# exit non-zero; the reproducer is kept in the printed directory.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:?usage: fuzz-smoke.sh BUILD_DIR [RUNS]}
RUNS=${2:-20000}
case "$RUNS" in ''|*[!0-9]*) echo "fuzz-smoke: RUNS must be a number, not '$RUNS'" >&2; exit 2 ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/simgate-fuzz.XXXXXX")
failed=0
ran=0
for bin in "$BUILD"/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds="tests/fuzz/seeds/${name#fuzz_}"
  corpus="$TMP/$name/corpus"
  mkdir -p "$corpus"
  if [ -d "$seeds" ]; then
    cp -r "$seeds"/. "$corpus"/
  else
    echo "fuzz-smoke: warning: no seeds in $seeds for $name" >&2
  fi
  log="$TMP/$name/log"
  "$bin" -runs="$RUNS" -max_len=4096 -timeout=10 -artifact_prefix="$TMP/$name/" \
    "$corpus" >"$log" 2>&1
  rc=$?
  ran=$((ran + 1))
  execs=$(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' "$log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    failed=$((failed + 1))
    echo "FAIL $name (exit $rc); reproducer and log in $TMP/$name/"
    tail -n 40 "$log" | sed 's/^/    /'
  else
    echo "ok   $name (${execs:-?} executions)"
  fi
done
if [ $ran -eq 0 ]; then
  echo "fuzz-smoke: no fuzz targets in $BUILD/fuzz (build them with make fuzz)" >&2
  rm -rf "$TMP"
  exit 1
fi
if [ $failed -eq 0 ]; then
  rm -rf "$TMP"
  echo "fuzz: $ran targets, no crash"
  exit 0
fi
echo "fuzz: $failed of $ran targets failed"
exit 1
