#!/usr/bin/env bash
# apt-get install --reinstall of nginx package(s) under load: does the package
# maintainer script restart or binary-upgrade the running nginx, and do clients
# notice? Shows the master (pid, exe, inode) before and after, the load summary
# (/lab/out-LABEL.json) and the unit's journal.
# usage: reinstall.sh LABEL "APT ARGS" [policy]
#   APT ARGS: package names (and apt options), e.g. "nginx" or "nginx nginx-common"
#   policy: install /usr/sbin/policy-rc.d exiting 101 (deny service actions)
#           for the duration of the reinstall
L=${1:?usage: reinstall.sh LABEL "APT ARGS" [policy]}
read -ra PKGS <<< "${2:?usage: reinstall.sh LABEL \"APT ARGS\" [policy]}"
POL=${3:-}
export DEBIAN_FRONTEND=noninteractive
rm -f /etc/nginx/conf.d/lab.conf /etc/nginx/modules-enabled/zz-lab.conf
# Pre-download so that the timing below is just dpkg.
apt-get install --reinstall -y -q --download-only "${PKGS[@]}" > /dev/null 2>&1
systemctl restart nginx
sleep 1
# Microseconds since the epoch (bash >= 5 EPOCHREALTIME, no bc needed).
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
show() {
  local m
  m=$(cat /run/nginx.pid 2>/dev/null)
  echo "[$(date +%T.%3N)] $1: $(systemctl show -p MainPID,ActiveState,SubState,Result nginx | tr '\n' ' ') pidfile=$m exe=$(readlink "/proc/$m/exe" 2>/dev/null) inode=$(stat -Lc %i "/proc/$m/exe" 2>/dev/null) bin_inode=$(stat -c %i /usr/sbin/nginx)"
  ps -o pid,ppid,lstart,cmd -C nginx | sed 's/^/     /'
}
if [ "$POL" = policy ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
python3 /lab/load.py 24 2 > "/lab/out-$L.json" &
LP=$!
sleep 4
show before
T=$(now_us)
apt-get install --reinstall -y "${PKGS[@]}" 2>&1 \
  | grep -v "^debconf\|^(Reading\|^Reading\|^Building\|^Get\|^Fetched" | sed 's/^/   apt: /'
D=$(($(now_us) - T))
printf 'apt took %d.%06ds (started at load t=~4s)\n' $((D / 1000000)) $((D % 1000000))
sleep 1
show after
wait "$LP"
echo "== load during reinstall ($L)"
cat "/lab/out-$L.json"
rm -f /usr/sbin/policy-rc.d
journalctl -u nginx --no-pager --since "-30s" | sed 's/^/  J: /'
