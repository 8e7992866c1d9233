#!/usr/bin/env bash
# Apply one nginx config variant, time how idle keep-alive connections are
# closed by a reload (idle_probe.py), then 5 reloads under load
# (run_reload.sh, label NAME-<Debian major>, e.g. out-kt300-12.json).
# usage: variant.sh kt300|kt0|linger|wst|kmin|kmin1|default
#   kmin and kmin1 need nginx >= 1.27.4 (keepalive_min_timeout).
V=${1:?usage: variant.sh kt300|kt0|linger|wst|kmin|kmin1|default}
rm -f /etc/nginx/conf.d/lab.conf /etc/nginx/modules-enabled/zz-lab.conf
case $V in
  kt300) echo 'keepalive_timeout 300s;' > /etc/nginx/conf.d/lab.conf ;;
  kt0) echo 'keepalive_timeout 0;' > /etc/nginx/conf.d/lab.conf ;;
  linger) echo 'lingering_close always; lingering_timeout 30s; lingering_time 60s;' > /etc/nginx/conf.d/lab.conf ;;
  # modules-enabled/*.conf is included at the main level, where this directive belongs
  wst) echo 'worker_shutdown_timeout 30s;' > /etc/nginx/modules-enabled/zz-lab.conf ;;
  kmin) echo 'keepalive_min_timeout 10s;' > /etc/nginx/conf.d/lab.conf ;;
  kmin1) echo 'keepalive_min_timeout 1s;' > /etc/nginx/conf.d/lab.conf ;;
  default) ;;
  *) echo "variant.sh: unknown variant '$V'" >&2; exit 2 ;;
esac
nginx -t -q || exit 1
systemctl reload nginx
sleep 2
echo "### variant $V: $(cat /etc/nginx/conf.d/lab.conf /etc/nginx/modules-enabled/zz-lab.conf 2>/dev/null)"
python3 /lab/idle_probe.py 5 'systemctl reload nginx' 8
sleep 1
/lab/run_reload.sh "$V-$(cut -d. -f1 /etc/debian_version)" reload 5
