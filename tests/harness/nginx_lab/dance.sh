#!/usr/bin/env bash
# Binary-upgrade dance under load: USR2 to the master (a new master starts from
# /usr/sbin/nginx), WINCH (old workers stop), QUIT (old master exits), showing
# what systemd and the pid files say at each step; then systemctl
# reload / stop / start to check the unit still controls the new master.
# usage: dance.sh LABEL [noload]
#   Load summary in /lab/out-LABEL.json unless "noload".
#   NORESTART=1 skips the initial systemctl restart (keeps the running master).
L=${1:?usage: dance.sh LABEL [noload]}
MODE=${2:-}
rm -f /etc/nginx/conf.d/lab.conf /etc/nginx/modules-enabled/zz-lab.conf
if [ -z "${NORESTART:-}" ]; then
  systemctl restart nginx
  sleep 1
fi
ts() { date +%T.%3N; }
show() {
  echo "[$(ts)] $1: $(systemctl show -p MainPID,ActiveState,SubState,Result,NRestarts nginx | tr '\n' ' ') pidfile=$(cat /run/nginx.pid 2>/dev/null) oldbin=$(cat /run/nginx.pid.oldbin 2>/dev/null)"
  ps -o pid,ppid,stat,cmd -C nginx | sed 's/^/     /'
}
# Microseconds since the epoch (bash >= 5 EPOCHREALTIME, no bc needed).
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
T0=$(now_us)
rel() {
  local d
  d=$(($(now_us) - T0))
  printf 't=%d.%06d\n' $((d / 1000000)) $((d % 1000000))
}
LP=
if [ "$MODE" != noload ]; then
  python3 /lab/load.py 22 2 > "/lab/out-$L.json" &
  LP=$!
fi
sleep 4
OLD=$(cat /run/nginx.pid)
show "before (old master $OLD, exe $(readlink "/proc/$OLD/exe"))"
rel; kill -USR2 "$OLD"; echo USR2 sent
for _ in $(seq 50); do
  if [ -f /run/nginx.pid.oldbin ] && [ -s /run/nginx.pid ] && [ "$(cat /run/nginx.pid)" != "$OLD" ]; then break; fi
  sleep 0.1
done
NEW=$(cat /run/nginx.pid)
sleep 1
show "after USR2 (new master $NEW)"
rel; kill -WINCH "$OLD"; echo WINCH sent
# Wait until the old master has no child left except the new master.
for i in $(seq 100); do
  if ! pgrep -P "$OLD" | grep -qvx -- "$NEW"; then break; fi
  sleep 0.1
done
echo "old workers gone after ${i}x0.1s"
sleep 1
show "after WINCH"
rel; kill -QUIT "$OLD"; echo QUIT sent
for i in $(seq 100); do
  kill -0 "$OLD" 2>/dev/null || break
  sleep 0.1
done
echo "old master gone after ${i}x0.1s"
sleep 1
show "after QUIT old (new master $NEW exe=$(readlink "/proc/$NEW/exe") exe_inode=$(stat -Lc %i "/proc/$NEW/exe") bin_inode=$(stat -c %i /usr/sbin/nginx))"
sleep 3
show "3s later"
if [ -n "$LP" ]; then
  wait "$LP"
  echo "== load during dance ($L)"
  cat "/lab/out-$L.json"
fi
journalctl -u nginx --no-pager --since "-40s" | grep -v "Reload\|signal process" | sed 's/^/  J: /'
echo "--- systemctl reload"; systemctl reload nginx; echo "rc=$?"; sleep 1; show "after reload"
echo "--- systemctl stop"; systemctl stop nginx; echo "rc=$?"; sleep 1; show "after stop"
echo "--- systemctl start"; systemctl start nginx; echo "rc=$?"; sleep 1; show "after start"
curl -sk https://127.0.0.1/
