#!/usr/bin/env bash
# The daemon skeleton as an operator meets it: --check-config, start in the
# foreground, a second instance refused, SIGHUP with a bad then a good file,
# journald priority prefixes, clean stop on SIGTERM.
set -euo pipefail
B=${SG_BUILD:?}
T=$(mktemp -d /tmp/sg-skel.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/log" ] && sed 's/^/  log: /' "$T/log"; exit 1; }
wait_for() { # pattern file seconds
  for _ in $(seq 1 $(( $3 * 20 ))); do grep -q -- "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

cat > "$T/good.conf" <<CONF
state_dir = "$T/state";
api = { socket = "$T/api.sock"; };
modems = ( { id = "m1"; port = "/dev/null"; vendor = "sim800"; } );
CONF

"$B/simgated" --version | grep -q '^simgated ' || fail "--version"
"$B/simgated" --help | grep -q -- '--check-config' || fail "--help"
set +e; "$B/simgated" --bogus >/dev/null 2>&1; rc=$?; set -e
[ $rc -eq 2 ] || fail "unknown option should exit 2, got $rc"

out=$("$B/simgated" --check-config -c "$T/good.conf") || fail "good config rejected: $out"
echo "$out" | grep -q "configuration ok (1 modem)" || fail "check-config output: $out"

printf 'state_dir = "%s/state";\nmodems = ( { id = "m1"; port = "/dev/null";\n  baud = 1234; } );\n' "$T" > "$T/bad.conf"
set +e; out=$("$B/simgated" --check-config -c "$T/bad.conf" 2>&1); rc=$?; set -e
[ $rc -eq 1 ] || fail "bad config should exit 1, got $rc"
[ "$out" = "$T/bad.conf:3: modems[0].baud is 1234; must be one of 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600" ] \
  || fail "bad config message: $out"

# Start under a fake journald so lines carry "<N>" priorities.
cp "$T/good.conf" "$T/live.conf"
JOURNAL_STREAM=8:1234 "$B/simgated" -f -c "$T/live.conf" 2>"$T/log" &
PID=$!
wait_for 'event=start' "$T/log" 5 || fail "no start line"
grep -q '^<5>notice event=start version=' "$T/log" || fail "journald prefix missing"
[ -d "$T/state" ] || fail "state dir not created"

set +e; "$B/simgated" -f -c "$T/live.conf" 2>"$T/log2"; rc=$?; set -e
[ $rc -eq 3 ] || fail "second instance should exit 3, got $rc"
grep -q "is in use by another simgated" "$T/log2" || fail "second instance message: $(cat "$T/log2")"

cp "$T/bad.conf" "$T/live.conf"
kill -HUP "$PID"
wait_for 'event=reload result=rejected' "$T/log" 5 || fail "bad reload not reported"
grep -q 'action=keeping-old-config' "$T/log" || fail "bad reload should keep the old config"
kill -0 "$PID" || fail "daemon died on a bad reload"

sed 's/^state_dir/log_level = "debug";\nstate_dir/' "$T/good.conf" > "$T/live.conf"
kill -HUP "$PID"
wait_for 'event=reload result=ok' "$T/log" 5 || fail "good reload not reported"
grep -q 'event=reload result=ok.*log_level=debug' "$T/log" || fail "reload did not apply log level"

# Going back to info is applied too (no false "partial" from the shorter name).
cp "$T/good.conf" "$T/live.conf"
kill -HUP "$PID"
wait_for 'event=reload result=ok file=.* log_level=info' "$T/log" 5 || fail "log level back to info"
# Anything else is not applied live, and the log says so.
sed 's/^state_dir/retention = { max_age_days = 7; };\nstate_dir/' "$T/good.conf" > "$T/live.conf"
kill -HUP "$PID"
wait_for 'event=reload result=partial' "$T/log" 5 || fail "partial reload not reported"
grep -q 'restart simgated to apply the other changes' "$T/log" || fail "partial reload note"

kill -TERM "$PID"
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID" 2>/dev/null && fail "daemon did not stop on SIGTERM"
wait "$PID"; rc=$?; PID=""
[ $rc -eq 0 ] || fail "exit status after SIGTERM: $rc"
grep -q 'event=stopped' "$T/log" || fail "no stop line"
echo "daemon skeleton ok"
