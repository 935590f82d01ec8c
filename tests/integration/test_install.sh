#!/usr/bin/env bash
# `make install DESTDIR=...` produces a tree an operator can use: binaries,
# the boards, a config that passes --check-config against the installed
# boards, the systemd unit with real paths, the udev rules.
set -euo pipefail
B=${SG_BUILD:?}
T=$(mktemp -d /tmp/sg-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make --no-print-directory -s O="$B" install DESTDIR="$T" PREFIX=/usr/local >"$T.log" 2>&1 \
  || { cat "$T.log"; rm -f "$T.log"; fail "make install"; }
rm -f "$T.log"
for f in usr/local/sbin/simgated usr/local/bin/simgate usr/local/bin/simpool usr/local/bin/modemsim; do
  [ -x "$T/$f" ] || fail "missing executable $f"
done
for b in virtual rpi-sim800 rpi-ec25 usb-huawei; do
  [ -f "$T/usr/local/share/simgate/boards/$b.conf" ] || fail "missing board $b"
done
[ -f "$T/etc/simgate/simgated.conf" ] || fail "missing config"
[ "$(stat -c %a "$T/etc/simgate/simgated.conf")" = 640 ] || fail "config should be 0640"
"$T/usr/local/sbin/simgated" --check-config -c "$T/etc/simgate/simgated.conf" \
  --boards-dir "$T/usr/local/share/simgate/boards" >/dev/null || fail "installed config invalid"
unit="$T/lib/systemd/system/simgated.service"
grep -q '^ExecStart=/usr/local/sbin/simgated --foreground -c /etc/simgate/simgated.conf$' "$unit" \
  || fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -q '@' "$unit" && fail "unit has unreplaced placeholders"
[ -f "$T/lib/udev/rules.d/99-simgate.rules" ] || fail "missing udev rules"
# A second install keeps the operator's edited config.
echo '# edited' >> "$T/etc/simgate/simgated.conf"
make --no-print-directory -s O="$B" install DESTDIR="$T" PREFIX=/usr/local >/dev/null 2>&1
grep -q '^# edited' "$T/etc/simgate/simgated.conf" || fail "reinstall overwrote the config"
echo "install ok"
