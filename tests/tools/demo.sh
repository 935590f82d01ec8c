#!/usr/bin/env bash
# simgate demo (`make demo`): the gateway on two simulated modems, driven
# with the `simgate` CLI.
#
#   tests/tools/demo.sh [BUILD_DIR]      (default: build)
#
# In a new temporary directory: starts two modemsims (a SIMCom SIM800 and a
# Quectel EC25, each sending a delivery report ~0.8 s after a send that asks
# for one), writes a simgated config pointing at their ptys, starts simgated
# in the foreground (its log goes to the temp dir), waits until it is
# healthy, then shows the modems, sends an OTP and follows it to
# `delivered`, sends a small bulk batch and lists it until every message is
# delivered, and prints how to talk to the API with curl.
#
# With a terminal on stdin and CI unset it then keeps running until Ctrl-C;
# otherwise it stops at once. Either way every process it started is
# stopped and the temp dir removed, also on errors. Exit 0 on success.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SIMGATE="$BUILD/simgate"
for b in simgated simgate modemsim; do
  if [ ! -x "$BUILD/$b" ]; then
    echo "demo: $BUILD/$b is missing; build first (make all O=...)" >&2
    exit 1
  fi
done

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/simgate-demo.XXXXXX")
SOCK="$DEMO_DIR/api.sock"
export SIMGATE_SOCKET="$SOCK"
DAEMON_PID=""
SIM_PIDS=()

# Stops what this script started (by pid: the daemon first, so it lets go
# of the ptys cleanly, then the simulators) and removes the temp dir.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  [ -n "$DAEMON_PID" ] && wait "$DAEMON_PID" 2>/dev/null || true
  for p in "${SIM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SIM_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && [ -f "$DEMO_DIR/simgated.log" ]; then
    echo "--- last lines of simgated's log" >&2
    tail -n 30 "$DEMO_DIR/simgated.log" >&2
  fi
  rm -rf "$DEMO_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "==> stopping"; exit 0' INT TERM

say() { printf '\n==> %s\n' "$*"; }
# Shows a command as one could type it (simgate for $SIMGATE), then runs it.
run() {
  local a shown=()
  for a in "$@"; do
    [ "$a" = "$SIMGATE" ] && a=simgate
    case "$a" in
      *[!A-Za-z0-9_./:=+@%-]*) a="'${a//\'/\'\\\'\'}'" ;;
    esac
    shown+=("$a")
  done
  printf '$ %s\n' "${shown[*]}"
  "$@"
}

say "temporary directory $DEMO_DIR"
echo "simgate below is $SIMGATE, talking to SIMGATE_SOCKET=$SOCK"

start_modemsim() { # name profile
  "$BUILD/modemsim" --profile "$2" --link "$DEMO_DIR/$1.pty" --control "$DEMO_DIR/$1.ctl" \
    --log "$DEMO_DIR/$1.pdus" --sr-delay-ms 800 >"$DEMO_DIR/$1.out" 2>"$DEMO_DIR/$1.err" &
  SIM_PIDS+=("$!")
}
start_modemsim m1 sim800
start_modemsim m2 ec25
for n in m1 m2; do
  for _ in $(seq 50); do [ -L "$DEMO_DIR/$n.pty" ] && break; sleep 0.1; done
  [ -L "$DEMO_DIR/$n.pty" ] || { echo "demo: modemsim $n did not start" >&2; exit 1; }
done
echo "modemsim m1 (SIM800) on $(head -n 1 "$DEMO_DIR/m1.out"), m2 (EC25) on $(head -n 1 "$DEMO_DIR/m2.out")"

cat >"$DEMO_DIR/simgated.conf" <<EOF
state_dir = "$DEMO_DIR/state";
log_level = "info";
api = { socket = "$SOCK"; };
modems = (
  { id = "m1"; port = "$DEMO_DIR/m1.pty"; vendor = "sim800"; },
  { id = "m2"; port = "$DEMO_DIR/m2.pty"; vendor = "ec25"; }
);
EOF

say "starting simgated (log: $DEMO_DIR/simgated.log)"
"$BUILD/simgated" -f -c "$DEMO_DIR/simgated.conf" >"$DEMO_DIR/simgated.log" 2>&1 &
DAEMON_PID=$!
healthy=""
for _ in $(seq 100); do
  kill -0 "$DAEMON_PID" 2>/dev/null || { echo "demo: simgated exited" >&2; exit 1; }
  if "$SIMGATE" health >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.1
done
[ -n "$healthy" ] || { echo "demo: simgated did not become healthy" >&2; exit 1; }
run "$SIMGATE" health

say "the modems"
run "$SIMGATE" modems

say "an OTP, with a delivery report, followed to its final state"
run "$SIMGATE" send --to +33612345678 --text "Your verification code is 482913" \
  --priority otp --status-report --wait --timeout 20

say "a bulk batch of 5"
for i in 1 2 3 4 5; do
  run "$SIMGATE" send --to "+3361234560$i" --priority bulk --status-report \
    --text "Your order #100$i has shipped"
done

say "the messages, until every one is delivered"
last=""
all=""
for _ in $(seq 100); do
  out=$("$SIMGATE" list)
  if [ "$out" != "$last" ]; then
    printf '$ simgate list\n%s\n\n' "$out"
    last=$out
  fi
  if ! printf '%s\n' "$out" | awk 'NR > 1 && $3 != "delivered" { bad = 1 } END { exit bad }'; then
    sleep 0.2
    continue
  fi
  all=1
  break
done
[ -n "$all" ] || { echo "demo: not every message was delivered" >&2; exit 1; }
echo "all 6 messages delivered"

say "the API"
echo "socket: $SOCK"
echo "try:    curl --unix-socket $SOCK http://localhost/v1/health"
echo "        curl --unix-socket $SOCK -H 'Content-Type: application/json' \\"
echo "          -d '{\"to\": \"+33612345678\", \"text\": \"hello\"}' http://localhost/v1/messages"
echo "        SIMGATE_SOCKET=$SOCK $SIMGATE events --follow"
if command -v curl >/dev/null; then
  run curl -s --unix-socket "$SOCK" http://localhost/v1/health
  echo
fi

if [ -t 0 ] && [ -z "${CI:-}" ]; then
  say "running; press Ctrl-C to stop"
  while kill -0 "$DAEMON_PID" 2>/dev/null; do sleep 1; done
  echo "demo: simgated exited" >&2
  exit 1
fi
say "done (not interactive: stopping)"
