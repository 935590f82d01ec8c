#!/bin/bash
# make bench: builds the load generator into $O/bench/ and runs the five
# simgated benchmarks against the release binaries in $O (simgated, modemsim).
# Prints a table; writes tests/bench/results.json. Not a pass/fail test: the
# exit status is 0 whenever every benchmark produced its numbers.
# Usage: tests/bench/run.sh [BUILD_DIR] [bench.py options, e.g. --only 1,4]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=${1:-build}
shift || true
case $O in /*) ;; *) O=$ROOT/$O ;; esac
for b in simgated modemsim; do
    [ -x "$O/$b" ] || { echo "run.sh: $O/$b missing: run 'make O=$O all' first" >&2; exit 1; }
done
mkdir -p "$O/bench"
WARN="-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual -Wundef -Wvla -Werror"
if [ ! "$O/bench/loadgen" -nt "$ROOT/tests/bench/loadgen.c" ]; then
    ${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE $WARN -pthread \
        -o "$O/bench/loadgen" "$ROOT/tests/bench/loadgen.c"
fi
if [ ! "$O/bench/slowsync.so" -nt "$ROOT/tests/bench/slowsync.c" ]; then
    ${CC:-cc} -std=gnu11 -O2 -D_GNU_SOURCE $WARN -shared -fPIC \
        -o "$O/bench/slowsync.so" "$ROOT/tests/bench/slowsync.c" -ldl
fi
cd "$ROOT"
exec env SG_BUILD="$O" SG_ROOT="$ROOT" /usr/bin/python3 tests/bench/bench.py \
    --loadgen "$O/bench/loadgen" --slowsync "$O/bench/slowsync.so" --out "$ROOT/tests/bench/results.json" "$@"
