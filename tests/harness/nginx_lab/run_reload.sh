#!/usr/bin/env bash
# Run load.py for 2N+8 s and, from t=4 s, perform ACTION N times 2 s apart;
# the load summary goes to /lab/out-LABEL.json and is printed.
# usage: run_reload.sh LABEL [ACTION] [N]
#   ACTION: reload (default, systemctl reload) | restart (systemctl restart)
#           | hup (SIGHUP to the master from /run/nginx.pid) | none (baseline)
#   N: number of actions (default 10)
L=${1:?usage: run_reload.sh LABEL [ACTION] [N]}
A=${2:-reload}
N=${3:-10}
case $A in
  reload | restart | hup | none) ;;
  *) echo "run_reload.sh: unknown action '$A'" >&2; exit 2 ;;
esac
python3 /lab/load.py $((N * 2 + 8)) 2 > "/lab/out-$L.json" &
LP=$!
sleep 4
for _ in $(seq "$N"); do
  case $A in
    reload) systemctl reload nginx ;;
    restart) systemctl restart nginx ;;
    hup) kill -HUP "$(cat /run/nginx.pid)" ;;
    none) : ;;
  esac
  sleep 2
done
wait "$LP"
echo "== $L ($A x$N) $(nginx -v 2>&1)"
cat "/lab/out-$L.json"
