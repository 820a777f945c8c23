#!/bin/sh
# Installs bubblewrap when `bwrap` is missing, with the distribution's package manager.
set -eu
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
if command -v apt-get >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
elif command -v dnf >/dev/null 2>&1; then
  as_root dnf install -y bubblewrap
elif command -v pacman >/dev/null 2>&1; then
  as_root pacman -S --noconfirm bubblewrap
elif command -v zypper >/dev/null 2>&1; then
  as_root zypper --non-interactive install bubblewrap
else
  echo "install bubblewrap (bwrap) with your distribution's package manager" >&2
  exit 1
fi
bwrap --version
