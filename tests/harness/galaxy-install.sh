#!/usr/bin/env bash
# Build the collection tarball, install it into an empty collections path,
# and deploy the sample app with `ansible-playbook fasterapi.deploy.site` to
# a fresh systemd container: what a Galaxy user does, without Galaxy.
set -euo pipefail
cd "$(dirname "$0")/../.."
release=${FASTERAPI_GALAXY_RELEASE:-debian13}
image_var="FASTERAPI_IMAGE_$(echo "$release" | tr '[:lower:]' '[:upper:]')"
image=${!image_var:-fasterapi-deploy/${release}-systemd:local}
cache=${FASTERAPI_CACHE_DIR:-/var/cache/fasterapi-deploy}
ca=${FASTERAPI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
name=fasterapi-galaxy-test
work=$(mktemp -d)
trap 'docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

tests/harness/build-images.sh "$release"
# Nothing of this checkout's ansible.cfg (its .collections link) may help.
printf '[defaults]\ninterpreter_python = auto_silent\n[connection]\npipelining = true\n' >"$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball=$(ls "$work"/fasterapi-deploy-*.tar.gz)
echo "galaxy-install: built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) files)"
ansible-galaxy collection install --offline -p "$work/collections" "$tarball" >/dev/null 2>&1
echo "galaxy-install: installed into the empty path $work/collections"

docker rm -f "$name" >/dev/null 2>&1 || true
mkdir -p "$cache/pip"
docker run -d --name "$name" --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns=host \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --stop-signal RTMIN+3 \
  -v "$cache/pip:/var/cache/fasterapi-pip:rw" -v "$ca:/usr/local/share/fasterapi-host-ca.crt:ro" \
  "$image" /lib/systemd/systemd >/dev/null
installed="$work/collections/ansible_collections/fasterapi/deploy"
cat >"$work/inventory.yml" <<INV
fasterapi:
  hosts:
    $name:
      ansible_connection: community.docker.docker
  vars:
    gunicorn_app_src: $installed/tests/sample_app
    gunicorn_health_path: /version
    gunicorn_pip_cert: /usr/local/share/fasterapi-host-ca.crt
    gunicorn_pip_cache_dir: /var/cache/fasterapi-pip
INV
cd "$work"
ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  ansible-playbook fasterapi.deploy.site -i "$work/inventory.yml" >"$work/play.log" 2>&1 ||
  { cat "$work/play.log"; exit 1; }
tail -n 3 "$work/play.log" | grep -E "ok=|failed=" || true
answer=$(docker exec "$name" python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/version', timeout=5).read().decode())")
echo "galaxy-install: the app answers: $answer"
case "$answer" in *'"version": "1.0.0"'*) ;; *) echo "galaxy-install: unexpected answer" >&2; exit 1 ;; esac
