#!/usr/bin/env bash
# Make sure a Docker engine answers. On a machine without one (a fresh CI
# machine here), install Debian's docker.io and start dockerd in the
# background. On a laptop with Docker running this does nothing.
set -euo pipefail

log=${FASTERAPI_DOCKERD_LOG:-/var/log/fasterapi-dockerd.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine answers and I am not root; start Docker and run again" >&2
    exit 1
  fi
  echo "ensure-docker: installing Debian's docker.io"
  "$(dirname "$0")/apt-install.sh" docker.io
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: dockerd is installed but not running, and I am not root to start it" >&2
    exit 1
  fi
  echo "ensure-docker: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-docker: dockerd did not answer within 30 s; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
fi
echo "ensure-docker: $(docker version --format 'engine {{.Server.Version}}')"
