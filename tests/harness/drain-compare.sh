#!/usr/bin/env bash
# Failed requests during rolling restarts, in one run, in the demo container,
# with plain uvicorn_worker.UvicornWorker, with the collection's draining
# worker given at most 0.3 s for a just-accepted connection's request (about
# what 0.4.0's fixed pause did), and with the draining worker's default (10 s):
# for each, deploy it with the role, then run the load generator (fresh
# connections and keep-alive, on loopback) through FASTERAPI_COMPARE_RESTARTS
# rolling restarts (systemctl reload), with FASTERAPI_COMPARE_CPU_HOGS busy
# processes on the same cores (default: one per CPU, so the CPU is saturated).
# Then, for each, tests/tools/late_sender.py: 20 connections accepted before a
# rolling restart whose request comes 1 s after the old master got SIGTERM (a
# client slower than any fixed pause), answered or failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=fasterapi-demo
restarts=${FASTERAPI_COMPARE_RESTARTS:-5}
clients=${FASTERAPI_COMPARE_CLIENTS:-4}
hogs=${FASTERAPI_COMPARE_CPU_HOGS:-$(nproc)}

tests/harness/demo.sh >/dev/null
docker cp tests/tools/loadgen.py "$name:/root/loadgen.py"
docker cp tests/tools/late_sender.py "$name:/root/late_sender.py"
for variant in uvicorn_worker.UvicornWorker:10 fasterapi_deploy_worker.DrainingUvicornWorker:0.3 \
               fasterapi_deploy_worker.DrainingUvicornWorker:10; do
  class=${variant%%:*}
  drain=${variant##*:}
  ansible-playbook site.yml -i inventories/demo -e "gunicorn_worker_class=$class gunicorn_worker_drain_seconds=$drain" >/dev/null
  label=$class
  [ "$class" = uvicorn_worker.UvicornWorker ] || label="$class (drain at most $drain s)"
  docker exec -i -e RESTARTS="$restarts" -e CLIENTS="$clients" -e HOGS="$hogs" -e LABEL="$label" \
    "$name" bash -s <<'EOS'
set -euo pipefail
rm -f /root/cmp-*.json
for _hog in $(seq 1 "$HOGS"); do python3 -c 'while True: pass' & done
for mode in fresh keepalive; do
  python3 /root/loadgen.py --clients "$CLIENTS" --mode "$mode" --duration 300 --interval 0.002 \
    --output "/root/cmp-$mode.json" >/dev/null 2>&1 &
done
sleep 2
for _restart in $(seq 1 "$RESTARTS"); do
  systemctl reload fasterapi
  sleep 1
done
pkill -TERM -f "^python3 /root/loadgen.py"
pkill -KILL -f "^python3 -c while True: pass" || true
for _ in $(seq 1 50); do [ -s /root/cmp-fresh.json ] && [ -s /root/cmp-keepalive.json ] && break; sleep 0.2; done
python3 - <<'PY'
import json, os
for mode in ("fresh", "keepalive"):
    d = json.load(open(f"/root/cmp-{mode}.json"))
    print(f"{os.environ['LABEL']:58} {mode:9} {d['sent']:>7} sent {d['failed_total']:>4} failed {d['failed']}")
PY
sleep 2
echo "$LABEL late senders: $(python3 /root/late_sender.py --connections 20 --late 1.0)"
EOS
done
# Back to the defaults.
ansible-playbook site.yml -i inventories/demo >/dev/null
