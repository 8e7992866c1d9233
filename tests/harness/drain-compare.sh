#!/usr/bin/env bash
# Failed requests during rolling restarts, with the collection's draining
# worker and with plain uvicorn_worker.UvicornWorker, in one run, in the demo
# container: for each worker class, deploy it with the role, then run the
# load generator (fresh connections and keep-alive, on loopback) through
# FASTERAPI_COMPARE_RESTARTS rolling restarts (systemctl reload).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=fasterapi-demo
restarts=${FASTERAPI_COMPARE_RESTARTS:-5}
clients=${FASTERAPI_COMPARE_CLIENTS:-4}

tests/harness/demo.sh >/dev/null
docker cp tests/tools/loadgen.py "$name:/root/loadgen.py"
for class in uvicorn_worker.UvicornWorker fasterapi_deploy_worker.DrainingUvicornWorker; do
  ansible-playbook site.yml -i inventories/demo -e "gunicorn_worker_class=$class" >/dev/null
  docker exec -i -e RESTARTS="$restarts" -e CLIENTS="$clients" -e CLASS="$class" "$name" bash -s <<'EOS'
set -euo pipefail
rm -f /root/cmp-*.json
for mode in fresh keepalive; do
  python3 /root/loadgen.py --clients "$CLIENTS" --mode "$mode" --duration 300 --interval 0.002 \
    --output "/root/cmp-$mode.json" >/dev/null 2>&1 &
done
sleep 2
for i in $(seq 1 "$RESTARTS"); do
  systemctl reload fasterapi
  sleep 1
done
pkill -TERM -f "^python3 /root/loadgen.py"
for _ in $(seq 1 50); do [ -s /root/cmp-fresh.json ] && [ -s /root/cmp-keepalive.json ] && break; sleep 0.2; done
python3 - <<'PY'
import json, os
for mode in ("fresh", "keepalive"):
    d = json.load(open(f"/root/cmp-{mode}.json"))
    print(f"{os.environ['CLASS']:48} {mode:9} {d['sent']:>7} sent {d['failed_total']:>4} failed {d['failed']}")
PY
EOS
done
