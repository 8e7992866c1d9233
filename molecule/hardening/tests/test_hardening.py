"""Least privilege, secrets, socket activation and failure behaviour of the hardened apps (testinfra)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

APPS = {"fasterapi": 8000, "sockapp": 8100}
CAP_NET_BIND_SERVICE = 1 << 10

HTTP_GET = """
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        print(json.dumps({"status": r.status, "body": r.read().decode()}))
except urllib.error.HTTPError as err:
    print(json.dumps({"status": err.code, "body": ""}))
"""


def get(host: Any, url: str) -> dict[str, Any]:
    return json.loads(host.check_output("python3 -c %s %s", HTTP_GET, url))


def probe(host: Any, port: int, path: str) -> dict[str, Any]:
    answer = get(host, f"http://127.0.0.1:{port}{path}")
    assert answer["status"] == 200, answer
    return json.loads(answer["body"])


def main_pid(host: Any, unit: str) -> int:
    return int(host.check_output("systemctl show --property=MainPID --value %s", unit))


def proc_status(host: Any, pid: int) -> dict[str, str]:
    lines = host.file(f"/proc/{pid}/status").content_string.splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def outcome(host: Any, name: str) -> dict[str, Any]:
    return json.loads(host.file(f"/root/{name}.json").content_string)


# --- least privilege -------------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_systemd_analyze_security_scores_at_most_1_5(host: Any, app: str) -> None:
    out = host.check_output("systemd-analyze security %s.service", app)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 1.5, out


@pytest.mark.parametrize("app", APPS)
def test_master_runs_unprivileged_in_the_sandbox(host: Any, app: str) -> None:
    status = proc_status(host, main_pid(host, app))
    assert status["Uid"].split()[0] == str(host.user(app).uid)
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"
    # fasterapi binds port 80 itself: that one capability; sockapp gets its sockets from systemd: none.
    expected = CAP_NET_BIND_SERVICE if app == "fasterapi" else 0
    assert int(status["CapEff"], 16) == expected and int(status["CapBnd"], 16) == expected


def test_privileged_ports_answer(host: Any) -> None:
    # Port 80: gunicorn bound it (CAP_NET_BIND_SERVICE); port 81: systemd did (socket activation).
    assert probe(host, 80, "/version")["ppid"] == main_pid(host, "fasterapi")
    assert probe(host, 81, "/version")["ppid"] == main_pid(host, "sockapp")
    listeners = host.check_output("ss -Hltnp")
    assert re.search(r"127\.0\.0\.1:81 .*\"systemd\",pid=1,", listeners), listeners
    assert not re.search(r"127\.0\.0\.1:80 .*\"systemd\"", listeners), listeners


@pytest.mark.parametrize(
    ("app", "directory", "writable"),
    [
        ("fasterapi", "/srv/fasterapi-uploads", True),  # gunicorn_systemd_read_write_paths
        ("fasterapi", "/var/lib/fasterapi", True),
        ("fasterapi", "/tmp", True),  # private
        ("fasterapi", "/opt/fasterapi/current/app", False),
        ("fasterapi", "/etc/fasterapi", False),
        ("fasterapi", "/var/tmp", True),
        ("sockapp", "/srv/fasterapi-uploads", False),
        ("sockapp", "/var/lib/sockapp", True),
        ("sockapp", "/opt/sockapp/current/venv", False),
    ],
)
def test_the_app_writes_only_where_allowed(host: Any, app: str, directory: str, writable: bool) -> None:
    result = probe(host, APPS[app], f"/write?dir={directory}")
    assert result["ok"] is writable, result


@pytest.mark.parametrize("app", APPS)
def test_the_app_sees_its_own_tmp_and_a_read_only_system(host: Any, app: str) -> None:
    mounts = [line.split() for line in host.file(f"/proc/{main_pid(host, app)}/mountinfo").content_string.splitlines()]
    points = {fields[4]: fields[5].split(",") for fields in mounts}
    assert "/tmp" in points and "rw" in points["/tmp"]  # PrivateTmp=
    assert "ro" in points["/"]  # ProtectSystem=strict: the whole tree read-only ...
    assert "rw" in points[f"/var/lib/{app}"]  # ... but for its state directory


def test_outbound_connections_follow_the_allow_list(host: Any) -> None:
    address = host.check_output("hostname -I").split()[0]
    host.run("systemctl stop probe-listener.service")
    host.check_output(f"systemd-run --unit probe-listener python3 -m http.server --bind {address} 9000")
    try:
        for _attempt in range(50):
            if host.run(f"python3 -c 'import socket; socket.create_connection((\"{address}\", 9000), 1)'").rc == 0:
                break
        denied = probe(host, 8000, f"/connect?host={address}&port=9000")
        allowed = probe(host, 8100, f"/connect?host={address}&port=9000")
        local = probe(host, 8000, "/connect?host=127.0.0.1&port=8100")
    finally:
        host.run("systemctl stop probe-listener.service")
    # IPAddressDeny=any drops the packets: the connect fails (EPERM, or no answer within the probe's 3 s).
    assert denied["ok"] is False and re.search(r"Errno (1|110)\]", denied["error"]), denied
    assert allowed == {"ok": True, "error": None}
    assert local == {"ok": True, "error": None}


def test_name_servers_are_allowed_unless_turned_off(host: Any) -> None:
    name = "deb.debian.org"  # the host resolves it (Debian's mirror is reachable here)
    assert host.run("getent hosts %s", name).rc == 0
    assert probe(host, 8000, f"/resolve?name={name}") == {"ok": True, "error": None}
    assert probe(host, 8100, f"/resolve?name={name}")["ok"] is False  # gunicorn_systemd_ip_allow_resolvers: false


def test_a_client_on_the_allow_list_reaches_the_public_bind(host: Any) -> None:
    address = host.check_output("hostname -I").split()[0]
    assert get(host, f"http://{address}:8101/health")["status"] == 200


@pytest.mark.parametrize("app", APPS)
def test_code_and_venv_not_writable_by_the_app_user(host: Any, app: str) -> None:
    for path in (f"/opt/{app}/current/app", f"/opt/{app}/current/venv/lib", f"/etc/{app}"):
        assert host.run("runuser -u %s -- test -w %s", app, path).rc != 0, path


def test_environment_file_is_root_owned_0640_app_group(host: Any) -> None:
    env = host.file("/etc/fasterapi/environment")
    assert (env.user, env.group, env.mode) == ("root", "fasterapi", 0o640)
    assert host.run("runuser -u nobody -- cat /etc/fasterapi/environment").rc != 0


def test_control_socket_refuses_other_users(host: Any) -> None:
    ctl = host.file("/run/fasterapi/gunicorn.ctl")
    assert ctl.is_socket and ctl.user == "fasterapi" and ctl.mode == 0o600
    code = "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])"
    other = host.run("runuser -u nobody -- python3 -c %s %s", code, "/run/fasterapi/gunicorn.ctl")
    assert other.rc != 0 and "PermissionError" in other.stderr, other.stderr
    assert host.run("runuser -u fasterapi -- python3 -c %s %s", code, "/run/fasterapi/gunicorn.ctl").rc == 0
    # sockapp's unix socket: systemd made it for the app user and group only.
    sock = host.file("/run/sockapp/app.sock")
    assert sock.is_socket and (sock.user, sock.group, sock.mode) == ("sockapp", "sockapp", 0o660)
    assert host.run("runuser -u nobody -- python3 -c %s %s", code, "/run/sockapp/app.sock").rc != 0


def test_secrets_never_appear_in_the_play_output(host: Any) -> None:
    run = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secret-run.json").read_text())
    assert run["rc"] == 0, run["output"][-3000:]
    # The run changed the secret on the host (with --diff and -vv) ...
    assert 'SAMPLE_APP_SECRET="s3cr3t-side-effect-0002"' in host.file("/etc/fasterapi/environment").content_string
    # The task that wrote it says so, and its diff shows no content.
    assert "Write gunicorn.conf.py" in run["output"] and "(secret content, changed)" in run["output"]
    # ... and neither the new nor the old value is in what the operator saw.
    assert "s3cr3t-side-effect-0002" not in run["output"]
    assert "s3cr3t-converge-0001" not in run["output"]


# --- socket activation and failures (measured in side_effect.yml) ---------------


@pytest.mark.parametrize("case", ["plain", "socket"])
def test_rolling_restart_drops_nothing_with_or_without_socket_activation(host: Any, case: str) -> None:
    result = outcome(host, f"disrupt-reload-{case}")
    assert result["action_rc"] == 0 and result["recovered_after"] is not None
    assert result["new_master"] not in (0, result["old_master"])
    assert result["load"]["failed_total"] == 0, result["load"]
    assert host.check_output("systemctl is-active %s", "sockapp" if case == "socket" else "fasterapi") == "active"


def test_full_restart_refuses_connections_without_socket_activation_and_none_with_it(host: Any) -> None:
    plain, socket = outcome(host, "disrupt-restart-plain"), outcome(host, "disrupt-restart-socket")
    for case in (plain, socket):
        assert case["action_rc"] == 0 and case["recovered_after"] is not None
        assert case["new_master"] != case["old_master"]
    assert socket["load"]["failed_total"] == 0, socket["load"]
    assert plain["load"]["failed"].get("refused", 0) > 0, plain["load"]


@pytest.mark.parametrize("case", ["plain", "socket"])
def test_systemd_brings_a_killed_master_back(host: Any, case: str) -> None:
    result = outcome(host, f"disrupt-kill-master-{case}")
    assert result["action_rc"] == 0
    assert result["recovered_after"] is not None and result["recovered_after"] < 15, result
    assert result["new_master"] not in (0, result["old_master"])
    # systemd SIGKILLs the workers with their master (KillMode=mixed): requests in flight are reset. Without
    # socket activation new connections are refused until the new master listens; with it they wait.
    if case == "socket":
        assert result["load"]["failed"].get("refused", 0) == 0, result["load"]
    else:
        assert result["load"]["failed"].get("refused", 0) > 0, result["load"]


@pytest.mark.parametrize("case", ["plain", "socket"])
def test_a_killed_worker_is_replaced_and_the_master_stays(host: Any, case: str) -> None:
    result = outcome(host, f"disrupt-kill-worker-{case}")
    assert result["action_rc"] == 0
    assert result["recovered_after"] is not None and result["recovered_after"] < 5, result
    assert result["new_master"] == result["old_master"]


def test_an_app_that_raises_answers_500_and_keeps_its_processes(host: Any) -> None:
    result = outcome(host, "raise")
    assert result["statuses"] == [500] * 20 and result["health"] == 200
    assert result["master_before"] == result["master_after"]
    assert result["workers_before"] == result["workers_after"]
    journal = "\n".join(result["journal"])
    assert "Exception in ASGI application" in journal and "raises on purpose" in journal
    # The status playbook's module shows the app's own error lines: the last requests' and their exceptions.
    shown = result["status_journal"]
    raised = "RuntimeError: sample app: /raise raises on purpose"
    assert shown["errors"] >= 20 and shown["error_lines"][-1] == raised, shown
    assert shown["error_lines"].count(raised) == 3, shown
    assert sum(line.endswith("[ERROR] Exception in ASGI application") for line in shown["error_lines"]) == 3, shown


def test_a_hanging_request_gets_its_worker_killed_and_replaced(host: Any) -> None:
    result = outcome(host, "disrupt-hang")
    assert result["action_rc"] != 0  # the hanging request's connection was closed, not answered
    # gunicorn_timeout is 5 s, counted from the worker's last heartbeat (sent every 2.5 s).
    assert 2.5 <= result["action_seconds"] < 8, result
    assert result["recovered_after"] is not None and result["new_master"] == result["old_master"]
    journal = host.check_output("journalctl --unit fasterapi --no-pager --output cat")
    assert "WORKER TIMEOUT" in journal


def test_socket_activation_can_be_turned_off_and_on_again(host: Any) -> None:
    off = outcome(host, "socket-off")
    assert off["answers_from"] == [off["main"], off["main"]]  # gunicorn bound 8100 and 81 itself
    assert off["socket_unit_file"] is False and off["systemd_listens"] is False
    # ... and on again: systemd holds the sockets (the other tests run after this).
    assert host.check_output("systemctl is-active sockapp.socket") == "active"
    assert probe(host, 8100, "/version")["ppid"] == main_pid(host, "sockapp")


def test_the_apps_come_back_after_a_reboot(host: Any) -> None:
    result = outcome(host, "reboot")
    assert result["active"] == {"fasterapi.service": "active", "sockapp.service": "active", "sockapp.socket": "active"}
    assert all(seconds is not None and seconds < 60 for seconds in result["seconds"].values()), result
    assert host.check_output("systemctl show --property=NRestarts --value fasterapi") == "0"
