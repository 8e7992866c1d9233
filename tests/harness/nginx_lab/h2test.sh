#!/usr/bin/env bash
# HTTP/2 during reloads: switch the lab site to "listen 443 ssl http2", then one
# curl process fetches many URLs over one connection at a fixed rate (--rate)
# while nginx is reloaded 3 times; report status codes, new connections and
# curl's exit code (200 URLs at 20/s, then 24 URLs at 2/s). Restores HTTP/1.1.
sed -i 's/listen 443 ssl default_server;/listen 443 ssl http2 default_server;/' /etc/nginx/sites-enabled/lab
nginx -t -q 2>/dev/null
systemctl reload nginx
sleep 1
curl -sk --http2 -o /dev/null -w 'proto=%{http_version}\n' https://127.0.0.1/
for RATE in 20/s 2/s; do
  if [ "$RATE" = 2/s ]; then N=24; else N=200; fi
  URLS=()
  for i in $(seq "$N"); do URLS+=("https://127.0.0.1/?i=$i"); done
  # -o applies to the first URL only: the others' bodies ("ok") also land in
  # h2.out, which is why only 3-field (-w) lines are counted below.
  (
    curl -k --http2 -s --rate "$RATE" -o /dev/null -w '%{http_code} %{num_connects} %{http_version}\n' \
      "${URLS[@]}" > /tmp/h2.out 2> /tmp/h2.err
    echo "curl rc=$?" >> /tmp/h2.out
  ) &
  sleep 2
  for _ in 1 2 3; do
    systemctl reload nginx
    sleep 2.5
  done
  wait
  echo "== rate $RATE, $N URLs on one curl, 3 reloads: codes: $(awk 'NF==3{print $1}' /tmp/h2.out | sort | uniq -c | tr '\n' ' ') new-connects: $(awk 'NF==3{s+=$2}END{print s}' /tmp/h2.out) $(grep rc= /tmp/h2.out) stderr: $(head -c 300 /tmp/h2.err)"
done
sed -i 's/listen 443 ssl http2 default_server;/listen 443 ssl default_server;/' /etc/nginx/sites-enabled/lab
systemctl reload nginx
