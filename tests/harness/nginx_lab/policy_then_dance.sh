#!/usr/bin/env bash
# Reinstall nginx with /usr/sbin/policy-rc.d exiting 101: the master is left
# running the replaced (deleted) binary; then a USR2 dance without restart
# (dance.sh, NORESTART=1) and compare /proc/<master>/exe and inodes again.
export DEBIAN_FRONTEND=noninteractive
master_info() {  # master_info PID: exe, inodes and the workers' exes
  echo "exe=$(readlink "/proc/$1/exe") exe_inode=$(stat -Lc %i "/proc/$1/exe") bin_inode=$(stat -c %i /usr/sbin/nginx) worker exes: $(for w in $(pgrep -P "$1"); do readlink "/proc/$w/exe"; done | sort | uniq -c | tr '\n' ' ')"
}
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
M=$(cat /run/nginx.pid)
echo "before: master $M exe=$(readlink "/proc/$M/exe") bin_inode=$(stat -c %i /usr/sbin/nginx)"
apt-get install --reinstall -y -q nginx 2>&1 | grep -i "nginx\|policy"
rm -f /usr/sbin/policy-rc.d
M2=$(cat /run/nginx.pid)
if [ "$M" = "$M2" ]; then SAME=yes; else SAME=no; fi
echo "after reinstall: master $M2 (same=$SAME) $(master_info "$M2")"
NORESTART=1 /lab/dance.sh pol noload 2>&1 | grep -E "^\[.*(before|after QUIT)|gone"
M3=$(cat /run/nginx.pid)
echo "after USR2 dance: master $M3 $(master_info "$M3")"
systemctl show -p MainPID,ActiveState,SubState nginx | tr '\n' ' '
echo
