#!/usr/bin/env bash
# Requests per second of the role's defaults (uvicorn[standard]: uvloop +
# httptools, uvicorn_worker.UvicornWorker) against the deployment guide's
# install (plain `pip install gunicorn uvicorn`, uvicorn.workers.UvicornWorker),
# in the same demo container, same gunicorn.conf.py and worker count, with
# wrk on loopback, rounds interleaved. Prints each round and the ratio.
#
#   tests/harness/throughput.sh            (FASTERAPI_PERF_ROUNDS=3, FASTERAPI_PERF_SECONDS=10)
set -euo pipefail
cd "$(dirname "$0")/../.."
name=fasterapi-demo
rounds=${FASTERAPI_PERF_ROUNDS:-3}
seconds=${FASTERAPI_PERF_SECONDS:-10}
connections=${FASTERAPI_PERF_CONNECTIONS:-64}

echo "throughput: deploying the sample app with the role's defaults (make demo)"
tests/harness/demo.sh >/dev/null

docker exec -i -e ROUNDS="$rounds" -e SECONDS_EACH="$seconds" -e CONNS="$connections" "$name" bash -s <<'EOS'
set -euo pipefail
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ ! -x /opt/plain-venv/bin/gunicorn ]; then
  python3 -m venv /opt/plain-venv
  /opt/plain-venv/bin/pip install -q --cert /usr/local/share/fasterapi-host-ca.crt \
    --cache-dir /var/cache/fasterapi-pip gunicorn uvicorn
fi
plain=$(/opt/plain-venv/bin/pip list --format freeze | grep -iE '^(gunicorn|uvicorn|uvloop|httptools)==' | tr '\n' ' ')
# The role's venv is built by uv, which seeds no pip: ask the interpreter.
role=$(/opt/fasterapi/current/venv/bin/python -c 'import importlib.metadata as m; print(*sorted(d.metadata["Name"] + "==" + d.version for d in m.distributions() if d.metadata["Name"].lower() in ("gunicorn", "uvicorn", "uvloop", "httptools")))')
workers=$(/opt/fasterapi/current/venv/bin/python -c "import runpy; print(runpy.run_path('/etc/fasterapi/gunicorn.conf.py')['workers'])")
systemctl stop plain-bench.service 2>/dev/null || true
systemctl reset-failed plain-bench.service 2>/dev/null || true
systemd-run --quiet --unit plain-bench --property User=fasterapi --property Group=fasterapi \
  --property RuntimeDirectory=plain-bench --working-directory /opt/fasterapi/current/app \
  /opt/plain-venv/bin/gunicorn --config /etc/fasterapi/gunicorn.conf.py --bind 127.0.0.1:8100 \
  --worker-class uvicorn.workers.UvicornWorker --pid /run/plain-bench/gunicorn.pid --no-control-socket
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8100/health', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
echo "role defaults (port 8000): $role"
echo "guide install (port 8100): $plain"
echo "workers: $workers each; wrk -t2 -c$CONNS -d${SECONDS_EACH}s, $ROUNDS rounds, interleaved"
bench() {
  local out rps errors
  out=$(wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" "http://127.0.0.1:$1/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errors=$(awk '/Socket errors|Non-2xx/ {printf "%s ", $0}' <<<"$out")
  echo "$rps${errors:+ ($errors)}"
}
role_all=(); plain_all=()
for r in $(seq 1 "$ROUNDS"); do
  a=$(bench 8000); b=$(bench 8100)
  role_all+=("${a%% *}"); plain_all+=("${b%% *}")
  echo "round $r: role defaults $a req/s, guide install $b req/s"
done
systemctl stop plain-bench.service
python3 - "${role_all[*]}" "${plain_all[*]}" <<'PY'
import statistics, sys
role = [float(x) for x in sys.argv[1].split()]
plain = [float(x) for x in sys.argv[2].split()]
print(f"median: role defaults {statistics.median(role):,.0f} req/s, guide install {statistics.median(plain):,.0f} req/s, "
      f"ratio {statistics.median(role) / statistics.median(plain):.2f}x")
PY
EOS
