#!/usr/bin/env bash
# Deploy the sample app into a local systemd container with site.yml and
# inventories/demo, then print the app's answers. Rerunning converges the
# same container again (FASTERAPI_DEMO_FRESH=1 starts from a new one).
set -euo pipefail
cd "$(dirname "$0")/../.."

name=fasterapi-demo
release=${FASTERAPI_DEMO_RELEASE:-debian12}
image_var="FASTERAPI_IMAGE_$(echo "$release" | tr '[:lower:]' '[:upper:]')"
image=${!image_var:-fasterapi-deploy/${release}-systemd:local}
cache=${FASTERAPI_CACHE_DIR:-/var/cache/fasterapi-deploy}
ca=${FASTERAPI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# nginx's HTTPS in the container, published on this port of this machine.
https_port=${FASTERAPI_DEMO_HTTPS_PORT:-8443}

tests/harness/build-images.sh "$release"
mkdir -p "$cache/pip"

if [ "${FASTERAPI_DEMO_FRESH:-0}" = 1 ]; then
  docker rm -f "$name" >/dev/null 2>&1 || true
fi
# A container from an older image, a stopped one, or one without the port is replaced.
if [ "$(docker inspect -f '{{.Image}}' "$name" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$image")" ] ||
   [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ] ||
   ! docker port "$name" 443/tcp 2>/dev/null | grep -q ":$https_port\$"; then
  docker rm -f "$name" >/dev/null 2>&1 || true
  echo "demo: starting container $name from $image"
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --stop-signal RTMIN+3 -p "127.0.0.1:$https_port:443" \
    -v "$cache/pip:/var/cache/fasterapi-pip:rw" \
    -v "$ca:/usr/local/share/fasterapi-host-ca.crt:ro" \
    "$image" /lib/systemd/systemd >/dev/null
  for _ in $(seq 1 50); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
  done
fi

ansible-playbook site.yml -i inventories/demo

echo
echo "demo: the app answers inside $name:"
docker exec -i "$name" python3 - <<'PY'
import urllib.request
for path in ("/", "/version", "/health"):
    with urllib.request.urlopen("http://127.0.0.1:8000" + path, timeout=5) as r:
        print(f"GET {path} -> {r.status} {r.read().decode().strip()}")
PY
# From this machine, through nginx: HTTPS and HTTP/2, verified against the
# demo's self-signed certificate (copied out of the container).
cert=$(docker exec "$name" sh -c 'ls /etc/nginx/fasterapi-deploy/tls/fasterapi/self-signed-*.pem' | head -n 1)
mkdir -p .cache && docker exec "$name" cat "$cert" > .cache/demo-cert.pem
echo
echo "demo: through nginx, from this machine:"
echo "\$ curl --cacert .cache/demo-cert.pem https://localhost:$https_port/version"
curl -sS --fail --cacert .cache/demo-cert.pem -w '\n(HTTP/%{http_version} %{http_code})\n' "https://localhost:$https_port/version"
echo "demo: explore with: docker exec -it $name bash   (systemctl status fasterapi, journalctl -u fasterapi)"
