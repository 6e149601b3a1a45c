#!/bin/sh
# Installs the Debian packages vtp needs (when run as root and some are
# missing) and builds vtp into build/. Safe to run again: it only does what
# is left to do.
set -eu
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' scripts/debian-packages.txt | tr '\n' ' ')
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "vtp needs these Debian packages:$missing" >&2
    echo "run this script as root, or: apt-get install$missing" >&2
    exit 1
  fi
  echo "installing:$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi

if [ ! -f build/build.ninja ]; then
  meson setup build -Dtests=enabled
fi
ninja -C build
