#!/usr/bin/env bash
# Installs the Debian packages simgate needs to build and test, only those
# missing. Idempotent; uses sudo when not root; prints what it installs.
set -euo pipefail

PKGS=(
  build-essential pkg-config make git
  libserialport-dev libgpiod-dev libsqlite3-dev libconfig-dev libuv1-dev
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libsodium-dev
  libcmocka-dev
  python3 python3-gammu gammu gammu-smsd socat curl sqlite3
  clang libclang-rt-14-dev clang-format clang-tidy cppcheck
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are absent or older than a day, so a
# fresh machine can install and a warm one does not wait on the network.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
