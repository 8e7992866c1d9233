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
def phases(client: Any) -> list[dict[str, Any]]:
    return json.loads(client.file("/root/front-door.json").content_string)["phases"]


def _failed(phase: dict[str, Any]) -> dict[str, str]:
    return {name: f"{report['failed_total']} of {report['sent']} {report['failed']}" for name, report in phase["load"].items()}


def test_print_the_table(phases: list[dict[str, Any]]) -> None:
    """Each phase, failed of sent per client kind, as a markdown table (the README's and the issue notes')."""
    for phase in phases:
        print(phase["name"], _failed(phase), {name: report["versions"] for name, report in phase["load"].items()})
    kinds = sorted({name.split("-", 1)[1] for phase in phases for name in phase["load"]})
    print("| phase | " + " | ".join(kinds) + " | WebSocket |")
    for phase in phases:
        by_kind = {name.split("-", 1)[1]: report for name, report in phase["load"].items()}
        cells = [f"{by_kind[kind]['failed_total'] + sum(n for code, n in by_kind[kind]['answered'].items() if code != '200')}"
                 f" of {by_kind[kind]['sent']:,}" if kind in by_kind else "" for kind in kinds]
        ws = phase.get("ws") or {}
        ends = ", ".join(connection["end"] for connection in ws.get("connections", []))
        print(f"| {phase['name']} | " + " | ".join(cells) + f" | {ends} |")


@pytest.mark.parametrize("name", ["one host, code deploy", "one host, rolling restart",
                                  "one host, full restart, socket activation", "pool, code deploy on app2", "pool, full restart on app2",
                                  "pool, full restart on front"])
def test_no_client_of_nginx_saw_a_failure(phases: list[dict[str, Any]], name: str) -> None:
    phase = next(phase for phase in phases if phase["name"] == name)
    for run, report in phase["load"].items():
        assert report["sent"] > 100, (run, report)
        answered = dict(report["answered"])
        if name == "pool, full restart on app2" and run.endswith("-post"):
            # systemctl restart closes app2's idle upstream connections. nginx sends a GET that meets one being
            # closed to app1 (proxy_next_upstream), but never a POST it has sent already: a non-idempotent request
            # may have reached the app. Seen: 1 of 1,628 keep-alive POSTs got that 502. Taking a host out of the
            # pool before its restart (issue 26) avoids it; here it is counted and bounded.
            bad_gateway = answered.pop("502", 0)
            print(name, run, f"502 for {bad_gateway} of {report['sent']} POSTs")
            assert bad_gateway <= max(1, report["sent"] // 1000), (name, run, report)
        assert report["failed_total"] == 0 and set(answered) == {"200"}, (name, run, report)


# The front door's own work, and how many times each reloads nginx.
DOOR_PHASES = {"pool, site change": 1, "pool, 10 reloads": 10, "pool, rolling reboot of app2 and app3": 4,
               "acme site, certificate renewal": 1, "pool, nginx package reinstall": 1}


@pytest.mark.parametrize("name", sorted(DOOR_PHASES))
def test_the_front_doors_work_fails_no_request(phases: list[dict[str, Any]], name: str, reload_losses: Any) -> None:
    """New connections (GET, JSON POST) and the WebSocket: nothing failed; every answer was 200.

    Kept-alive connections (HTTP/1.1, blind or checked, and HTTP/2) may lose a request only to a connection a
    reload closed while idle: at most one per client and reload, and only of that kind. The counts are printed.
    """
    phase = next(phase for phase in phases if phase["name"] == name)
    for run, report in phase["load"].items():
        assert report["sent"] > 50, (run, report)
        assert set(report["answered"]) == {"200"}, (name, run, report)
        if report["mode"] == "fresh":
            assert report["failed_total"] == 0, (name, run, report)
            continue
        reload_losses(name, run, report, DOOR_PHASES[name])
    ws = phase["ws"]
    print(name, "WebSocket:", [(c["version"], c["echoes"], c["end"]) for c in ws["connections"]])
    assert ws["connect_failures"] == [] and ws["connections"][-1]["echoes"] > 0, ws
    # An nginx upgrade cuts a WebSocket still open on an old worker after nginx_upgrade_timeout; it reconnects.
    assert len(ws["unclean_ends"]) <= (1 if name == "pool, nginx package reinstall" else 0), ws


def test_maintenance_report(client: Any) -> None:
    seen = json.loads(client.file("/root/front-door.json").content_string)["maintenance"]
    for host in seen["hosts"]:
        print(f"{host['host']}: out of the pool {host['out_seconds']} s, {host['connections_at_start']} connection(s) "
              f"when taken out, drained in {host['drain_seconds']} s, {host['connections_cut']} cut")
    print(f"maintenance run: {seen['wall_seconds']} s")
    assert [host["host"] for host in seen["hosts"]] == ["app2", "app3"]
    assert all(float(host["out_seconds"]) > 0 for host in seen["hosts"])


def test_maintenance_put_each_host_back(front: Any) -> None:
    pool = json.loads(front.file("/etc/nginx/fasterapi-deploy/pools/pool.json").content_string)
    assert [(entry["host"], entry["out"]) for entry in pool["servers"]] == [("front", False), ("app2", False), ("app3", False)]
    servers = [line for line in front.file("/etc/nginx/fasterapi-deploy/pools/pool.conf").content_string.splitlines()
               if line.startswith("server ")]
    assert len(servers) == 3 and not any(" down" in line for line in servers), servers


@pytest.mark.parametrize("hostname", ["app2", "app3"])
def test_maintenance_rebooted_the_host_and_the_app_came_back(host: Any, hostname: str) -> None:
    if host.backend.get_hostname() != hostname:
        pytest.skip("checked on app2 and app3")
    # reboot.yml wrote it to /run, a tmpfs, just before the restart.
    assert not host.file("/run/fasterapi-before-reboot").exists
    assert host.file("/root/fasterapi-rebooted").exists
    assert host.service("pool").is_running


def test_the_nginx_upgrade_moved_onto_the_new_binary_without_a_restart(front: Any) -> None:
    seen = json.loads(front.file("/root/nginx-upgrade.json").content_string)
    report = seen["report"]
    print("nginx upgrade:", json.dumps(seen, sort_keys=True))
    assert report["old_master"] == seen["before"] and report["old_binary"] == "/usr/sbin/nginx (deleted)"
    assert "nginx" in report["upgraded"] and "nginx-common" in report["upgraded"]
    # Old workers still holding a connection (the WebSocket) after nginx_upgrade_timeout (10 s here) are stopped.
    assert report["cut"] <= 2 and report["seconds"] < 20
    new_master = report["new_master"]
    assert seen["after"] == {"MainPID": str(new_master), "ActiveState": "active", "NRestarts": "0"}
    # The master runs the binary on disk (not the replaced one), and systemctl controls it.
    assert front.check_output(f"readlink /proc/{new_master}/exe") == "/usr/sbin/nginx"
    assert front.check_output("cat /run/nginx.pid") == str(new_master)
    assert not front.file("/usr/sbin/policy-rc.d").exists


@pytest.mark.parametrize(("case", "words"), [
    ("expired", ['nginx_certificate_file="', '/bad-certs/expired.pem" (CN=front) expired', "days ago; expected a certificate valid now"]),
    ("other-names", ["(CN=www.example.org) does not cover front of nginx_server_names: its names are www.example.org"]),
    ("wrong-key", ['nginx_certificate_key_file="', '/bad-certs/wrong-key.key" is not the key of nginx_certificate_file']),
    ("no-chain", ["the chain is incomplete: it ends with CN=front, issued by CN=fasterapi.deploy test intermediate",
                  "nginx_certificate_ca_file ("]),
])
def test_a_bad_certificate_is_refused_before_any_change(front: Any, case: str, words: list[str]) -> None:
    seen = json.loads(front.file("/root/cert-refusals.json").content_string)
    message = seen["refusals"][case]
    print(case, "->", message)
    assert "problem with the site of pool on front; nothing was changed" in message
    for word in words:
        assert word in message
    assert seen["before"] == seen["after"]


def test_status_shows_the_certificates_and_the_pool(client: Any) -> None:
    door = json.loads(client.file("/root/front-door.json").content_string)["status"]["front"]["front_door"]
    print("front door status:", json.dumps(door, sort_keys=True))
    sites = {site["name"]: site for site in door["sites"]}
    acme = sites["fasterapi"]["certificate"]
    assert acme["acme"] and acme["path"] == "/etc/letsencrypt/live/fasterapi/fullchain.pem" and acme["days_left"] > 7
    # Renewed by the scenario a moment ago: due by its renew_before_expiry, but not for longer than certbot needs.
    assert acme["due_for_days"] < 1
    files = sites["pool"]["certificate"]
    assert not files["acme"] and files["path"] == "/etc/nginx/fasterapi-deploy/tls/pool/fullchain.pem"
    assert 28 < files["days_left"] <= 30
    assert [(host["host"], host["in"]) for host in sites["pool"]["pool"]] == [("front", True), ("app2", True), ("app3", True)]
    assert door["faults"] == [] and door["findings"] == []


def test_a_failed_maintenance_stops_and_leaves_the_host_out(front: Any) -> None:
    seen = json.loads(front.file("/root/failed-maintenance.json").content_string)
    said = " ".join(seen["said"].split())
    print("failed maintenance:", said[said.find("Maintenance of"):][:600])
    assert 'Maintenance of app2 failed at "Fail, as a broken upgrade would"' in said
    assert "the kernel package did not configure" in said
    assert "app2 stays out of the pool of pool on front, and the hosts after it were not touched" in said
    assert "ansible-playbook fasterapi.deploy.pool -e pool_in=app2" in said
    out = {entry["host"]: entry for entry in seen["after_failure"]["servers"]}
    assert out["app2"]["out"] and out["app2"]["reason"].startswith("maintenance (tasks) since ")
    assert not out["app3"]["out"] and not out["front"]["out"]
    assert not any(entry["out"] for entry in seen["put_back"]["servers"])


def test_a_wrong_acme_directory_is_refused_before_any_change(front: Any) -> None:
    seen = json.loads(front.file("/root/wrong-acme.json").content_string)
    said = " ".join(seen["said"].split())
    print("wrong ACME directory:", said)
    assert 'nginx_acme_directory_url="https://client:14000/no-such-directory" is not an ACME directory front can use' in said
    assert "Nothing was changed, certbot's renewal configuration included." in said
    assert seen["before"] == seen["after"]


def test_maintenance_with_bad_variables_is_refused_before_any_change(client: Any) -> None:
    said = json.loads(client.file("/root/front-door.json").content_string)["maintenance_refused"]
    assert "Host maintenance refused; nothing was changed" in said
    assert "maintenance_tasks is empty, and maintenance_action is tasks" in said
    assert "maintenance_drain_timeout=-1: expected seconds, 0 or more" in said


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
