#!/usr/bin/env bash
# Build systemd-capable Debian test images locally: no registry is needed.
# debootstrap a minimal system, then `docker import` it. An image is reused
# while its recipe (this file) is unchanged: the recipe's hash is a label.
#
#   tests/harness/build-images.sh [debian12] [debian13]
#
# Users with registry access can skip the build for a release by naming any
# systemd image in FASTERAPI_IMAGE_DEBIAN12 / FASTERAPI_IMAGE_DEBIAN13.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mirror=${FASTERAPI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=$(sha256sum "$0" | cut -c1-12)
packages=systemd,systemd-sysv,dbus,sudo,python3,python3-venv,python3-apt,ca-certificates,iproute2,procps

suite_of() {
  case "$1" in
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
    *) echo "build-images: unknown release '$1' (expected debian12 or debian13)" >&2; return 1 ;;
  esac
}

build() {
  local name=$1 suite tag override root
  suite=$(suite_of "$name")
  tag="fasterapi-deploy/${name}-systemd:local"
  override_var="FASTERAPI_IMAGE_$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  override=${!override_var:-}
  if [ -n "$override" ]; then
    echo "build-images: $name: using $override from $override_var"
    return 0
  fi
  if [ "$(docker image inspect -f '{{ index .Config.Labels "fasterapi.recipe" }}' "$tag" 2>/dev/null)" = "$recipe" ]; then
    echo "build-images: $name: $tag is up to date"
    return 0
  fi
  root=$(mktemp -d /var/tmp/fasterapi-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "build-images: $name: debootstrap $suite from $mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
    >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; return 1; }
  rm -f "$root.log"
  # A container boots straight to multi-user without consoles or udev.
  chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1
  chroot "$root" systemctl mask getty.target console-getty.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service \
    sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1
  : >"$root/etc/machine-id"
  echo "$name" >"$root/etc/hostname"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL fasterapi.recipe=$recipe" \
    --change 'ENV container=docker' \
    - "$tag" >/dev/null
  echo "build-images: $name: built $tag"
}

"$here/ensure-docker.sh"
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(debian12 debian13)
# Installed once, before the builds run in parallel (apt takes one at a time).
needs_build=0
for r in "${releases[@]}"; do
  tag="fasterapi-deploy/${r}-systemd:local"
  var="FASTERAPI_IMAGE_$(echo "$r" | tr '[:lower:]' '[:upper:]')"
  if [ -z "${!var:-}" ] && [ "$(docker image inspect -f '{{ index .Config.Labels "fasterapi.recipe" }}' "$tag" 2>/dev/null)" != "$recipe" ]; then
    needs_build=1
  fi
done
if [ "$needs_build" = 1 ] && ! command -v debootstrap >/dev/null; then
  echo "build-images: installing debootstrap"
  "$here/apt-install.sh" debootstrap
fi
pids=()
for r in "${releases[@]}"; do
  build "$r" & pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
