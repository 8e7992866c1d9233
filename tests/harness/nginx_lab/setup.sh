#!/usr/bin/env bash
# One-time lab setup inside the container: a self-signed certificate and the
# lab site (/lab/site.conf: listen 443 ssl, return 200 "ok\n"), then reload
# nginx (or restart it when the reload fails) and check the site answers.
set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout /etc/nginx/lab.key -out /etc/nginx/lab.crt \
  -days 30 -subj /CN=localhost 2>/dev/null
cp /lab/site.conf /etc/nginx/sites-enabled/lab
if ! { nginx -t && systemctl reload nginx; }; then
  systemctl restart nginx
fi
sleep 1
curl -sk https://127.0.0.1/
