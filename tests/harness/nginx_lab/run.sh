#!/usr/bin/env bash
# Rerun the nginx lab measurements (reload, binary-upgrade dance, package
# reinstall, HTTP/2) in a systemd container of the project's Debian test image.
#
#   tests/harness/nginx_lab/run.sh 12|13
#
# The lab scripts are copied into the results directory ($LAB_OUT, default
# /tmp/nginx-lab-results), which is mounted at /lab in the container: the
# scripts write their out-*.json there and each step's output is saved as
# <step>.log next to them. The container (nginx-lab-12 or nginx-lab-13) is
# removed at the end. Build the image first with
# tests/harness/build-images.sh debian12|debian13.
set -euo pipefail

usage() {
  echo "usage: $0 12|13   (results in \$LAB_OUT, default /tmp/nginx-lab-results)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
REL=$1
case $REL in
  12 | 13) ;;
  *) usage ;;
esac
IMAGE=fasterapi-deploy/debian$REL-systemd:local
NAME=nginx-lab-$REL
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_OUT=${LAB_OUT:-/tmp/nginx-lab-results}
mkdir -p "$LAB_OUT"
LAB_DIR=$(cd "$LAB_OUT" && pwd)  # docker -v needs an absolute path

if ! docker image inspect "$IMAGE" > /dev/null 2>&1; then
  echo "nginx_lab: image $IMAGE not found; build it with tests/harness/build-images.sh debian$REL" >&2
  exit 1
fi

# Replace a changed file by rename, never in place: a run for the other release
# may be executing it from the same directory.
for f in dance.sh h2test.sh policy_then_dance.sh reinstall.sh run_reload.sh setup.sh variant.sh \
  idle_probe.py load.py site.conf; do
  if ! cmp -s "$HERE/$f" "$LAB_DIR/$f"; then
    cp "$HERE/$f" "$LAB_DIR/.$f.tmp"
    case $f in *.sh) chmod +x "$LAB_DIR/.$f.tmp" ;; esac
    mv -f "$LAB_DIR/.$f.tmp" "$LAB_DIR/$f"
  fi
done

docker run -d --name "$NAME" --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --cgroupns host --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  -v "$LAB_DIR":/lab --stop-signal SIGRTMIN+3 "$IMAGE" /lib/systemd/systemd > /dev/null
# Only now: a failed docker run (e.g. a name clash) must not remove someone's container.
cleanup() { docker rm -f "$NAME" > /dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "nginx_lab: waiting for systemd in $NAME"
state=
for _ in $(seq 120); do
  if [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2> /dev/null)" != true ]; then
    docker logs "$NAME" 2>&1 | tail -n 20 >&2
    echo "nginx_lab: container $NAME exited before systemd was up (its log is above)" >&2
    exit 1
  fi
  state=$(docker exec "$NAME" systemctl is-system-running 2> /dev/null || true)
  case $state in running | degraded) break ;; esac
  sleep 1
done
case $state in
  running | degraded) ;;
  *) echo "nginx_lab: systemd in $NAME did not come up (state: '${state:-none}')" >&2; exit 1 ;;
esac

echo "nginx_lab: installing nginx python3 curl openssl (log: $LAB_DIR/inst$REL.log)"
if ! docker exec -e DEBIAN_FRONTEND=noninteractive "$NAME" \
  sh -c 'apt-get update && apt-get install -y nginx python3 curl openssl' > "$LAB_DIR/inst$REL.log" 2>&1; then
  tail -n 30 "$LAB_DIR/inst$REL.log" >&2
  exit 1
fi
docker exec "$NAME" nginx -v 2>&1 | tee -a "$LAB_DIR/inst$REL.log"

failed=()
step() {  # step LOG CMD...: run CMD in the container, output to the screen and LOG.log
  local log=$1
  shift
  echo "=== $log: $*"
  if ! docker exec "$NAME" "$@" 2>&1 | tee "$LAB_DIR/$log.log"; then
    echo "=== $log: failed" >&2
    failed+=("$log")
  fi
}

step "setup$REL" /lab/setup.sh
if [ ${#failed[@]} -gt 0 ]; then
  echo "nginx_lab: setup failed, no measurement run" >&2
  exit 1
fi
step "d$REL-baseline" /lab/run_reload.sh "d$REL-baseline" none 10
step "d$REL-reload" /lab/run_reload.sh "d$REL-reload" reload 10
for v in kt300 linger wst default; do
  step "variant-$v-$REL" /lab/variant.sh "$v"
done
step "dance$REL" /lab/dance.sh "dance$REL"
step "reinst$REL" /lab/reinstall.sh "reinst$REL" nginx
step "reinstpol$REL" /lab/reinstall.sh "reinstpol$REL" nginx policy
step "h2test$REL" /lab/h2test.sh

echo "nginx_lab: results in $LAB_DIR (out-*.json, *.log)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "nginx_lab: steps that exited non-zero: ${failed[*]}" >&2
  exit 1
fi
