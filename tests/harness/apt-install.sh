#!/usr/bin/env bash
# Installs Debian packages for the test harness: apt-install.sh PACKAGE...
# The suite's stages run two at once, and more than one of them may install
# something on a fresh machine (debootstrap for the images, the linter of
# shell scripts for sanity, docker.io): apt holds its lists and dpkg for
# one process at a time and fails at once in any other ("Could not get lock
# /var/lib/apt/lists/lock", seen in a CI run). Our installs take turns on a
# lock of their own. The install also waits up to 10 minutes for dpkg's lock
# held by another program (DPkg::Lock::Timeout); `apt-get update` does not
# wait for the lists' lock (measured: refused at once even with the option).
set -euo pipefail
[ $# -gt 0 ] || { echo "apt-install.sh: name the packages to install" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
exec 9>/var/lock/fasterapi-apt-install.lock
flock 9
missing=()
for package in "$@"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
