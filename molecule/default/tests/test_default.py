"""Verify the live hosts after converging the gunicorn role (testinfra)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

APPS = {
    # name: (tcp port, unix socket or None, expected workers or None = 2 x vCPUs + 1)
    "fasterapi": (8000, None, None),
    "second": (8001, "/run/second/gunicorn.sock", 2),
}

HTTP_GET = """
import http.client, json, socket, sys
path, port, sock = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if sock:
    class C(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sock)
    conn = C("localhost", timeout=5)
else:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
conn.request("GET", path)
r = conn.getresponse()
print(json.dumps({"status": r.status, "body": r.read().decode()}))
"""


def http_get(host: Any, path: str, port: int = 8000, sock: str = "") -> dict[str, Any]:
    out = host.check_output("python3 -c %s %s %s %s", HTTP_GET, path, str(port), sock)
    return json.loads(out)


def show(host: Any, unit: str, *props: str) -> dict[str, str]:
    out = host.check_output("systemctl show %s " + " ".join("--property=" + p for p in props), unit)
    return dict(line.split("=", 1) for line in out.splitlines())


def expected_workers(host: Any, app: str) -> int:
    fixed = APPS[app][2]
    if fixed is not None:
        return fixed
    vcpus = int(host.check_output("nproc --all"))
    return 2 * vcpus + 1


def rendered_config(host: Any, app: str) -> dict[str, Any]:
    code = (
        "import json, runpy, types; c = runpy.run_path('/etc/%s/gunicorn.conf.py'); "
        "print(json.dumps({k: f'{v.__module__}.{v.__name__}' if callable(v) else v for k, v in c.items()"
        " if not k.startswith('__') and not isinstance(v, types.ModuleType)}))" % app
    )
    # The venv's python: the config imports the collection's hooks from it.
    return json.loads(host.check_output("/opt/%s/current/venv/bin/python -c %s", app, code))


@pytest.mark.parametrize("app", APPS)
def test_system_user_has_no_shell_and_no_writable_home(host: Any, app: str) -> None:
    user = host.user(app)
    assert user.exists and user.group == app
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000
    assert user.home == f"/opt/{app}"
    assert host.file(user.home).user == "root"
    assert host.run("runuser -u %s -- test -w %s", app, user.home).rc != 0


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize(
    ("path", "owner", "group", "mode"),
    [
        ("/opt/{app}", "root", "{app}", 0o750),
        ("/opt/{app}/releases", "root", "root", 0o755),
        ("/opt/{app}/current/app", "root", "root", 0o755),
        ("/opt/{app}/current/app/main.py", "root", "root", 0o644),
        ("/opt/{app}/current/venv", "root", "root", 0o755),
        ("/opt/{app}/current/release.json", "root", "root", 0o644),
        ("/etc/{app}", "root", "{app}", 0o750),
        ("/etc/{app}/gunicorn.conf.py", "root", "{app}", 0o640),
        ("/var/lib/{app}", "{app}", "{app}", 0o750),
        ("/run/{app}", "{app}", "{app}", 0o750),
    ],
)
def test_owners_and_modes(host: Any, app: str, path: str, owner: str, group: str, mode: int) -> None:
    f = host.file(path.format(app=app))
    assert f.exists
    assert (f.user, f.group, f.mode) == (owner.format(app=app), group.format(app=app), mode)


@pytest.mark.parametrize("app", APPS)
def test_app_user_cannot_write_code_venv_or_config(host: Any, app: str) -> None:
    for path in (f"/opt/{app}/current", f"/opt/{app}/releases", f"/opt/{app}/current/app",
                 f"/opt/{app}/current/app/main.py", f"/opt/{app}/current/venv/bin",
                 f"/opt/{app}/current/venv/lib", f"/etc/{app}/gunicorn.conf.py"):
        assert host.run("runuser -u %s -- test -w %s", app, path).rc != 0, path
    assert host.run("runuser -u %s -- test -w /var/lib/%s", app, app).rc == 0


def test_environment_file_is_private(host: Any) -> None:
    f = host.file("/etc/fasterapi/environment")
    assert (f.user, f.group, f.mode) == ("root", "fasterapi", 0o640)
    assert 'SAMPLE_APP_SECRET="s3cr3t-never-in-output"' in f.content_string
    assert host.run("runuser -u nobody -- cat /etc/fasterapi/environment").rc != 0
    assert host.run("runuser -u second -- cat /etc/fasterapi/environment").rc != 0


def test_two_apps_changed_in_one_play_both_restart_with_their_own_change(host: Any) -> None:
    outcome = json.loads(host.file("/root/two_apps_one_play.json").content_string)
    assert all(int(pid) > 0 for pid in outcome["before"] + outcome["after"])
    assert outcome["before"][0] != outcome["after"][0] and outcome["before"][1] != outcome["after"][1]
    for app, greeting in (("fasterapi", "changed"), ("second", "changed-too")):
        pid = show(host, app, "MainPID")["MainPID"]
        environ = host.check_output("tr '\\0' '\\n' < /proc/%s/environ", pid).splitlines()
        assert f"SAMPLE_APP_GREETING={greeting}" in environ, app
    assert not host.file("/etc/fasterapi/.restart-pending").exists
    assert not host.file("/etc/second/.restart-pending").exists


@pytest.mark.parametrize("app", APPS)
def test_venv_holds_pinned_packages_with_uvloop_and_httptools(host: Any, app: str) -> None:
    listing = host.check_output(
        "/opt/%s/current/venv/bin/python -c 'import importlib.metadata as m; "
        "[print(d.metadata[\"Name\"], d.version) for d in m.distributions()]'", app)
    versions = dict(line.lower().split() for line in listing.splitlines())
    assert versions["gunicorn"] == "27.0.1"
    assert versions["uvicorn"] == "0.54.0"
    assert versions["uvicorn-worker"] == "0.4.0"
    assert "uvloop" in versions and "httptools" in versions
    # Importable by the interpreter that runs the app.
    host.check_output("/opt/%s/current/venv/bin/python -c 'import uvloop, httptools, uvicorn_worker'", app)


def test_rendered_config_of_the_defaults(host: Any) -> None:
    conf = rendered_config(host, "fasterapi")
    assert conf["workers"] == expected_workers(host, "fasterapi")
    assert conf["worker_class"] == "fasterapi_deploy_worker.DrainingUvicornWorker"
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["wsgi_app"] == "main:app" and conf["chdir"] == "/opt/fasterapi/current/app"
    assert (conf["backlog"], conf["worker_connections"]) == (2048, 1000)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (0, 0)
    assert (conf["timeout"], conf["graceful_timeout"], conf["keepalive"]) == (30, 30, 5)
    assert (conf["accesslog"], conf["errorlog"], conf["loglevel"]) == (None, "-", "info")
    assert conf["access_log_format"] == '%(h)s "%(r)s" %(s)s %(b)s %(D)sμs'
    assert conf["proc_name"] == "fasterapi" and conf["preload_app"] is True
    assert conf["pidfile"] == "/run/fasterapi/gunicorn.pid"
    assert conf["control_socket"] == "/run/fasterapi/gunicorn.ctl" and conf["control_socket_mode"] == 0o600
    hooks = {name: conf[name] for name in ("on_exit", "pre_exec", "when_ready")}
    assert hooks == {name: f"fasterapi_deploy_hooks.{name}" for name in hooks}
    assert (conf["fasterapi_health_path"], conf["fasterapi_health_status"]) == ("/health", [200])
    assert "Ansible managed" in host.file("/etc/fasterapi/gunicorn.conf.py").content_string


def test_workers_recycle_by_memory_by_default(host: Any) -> None:
    """The installed gunicorn.conf.py, loaded as a master loads it, leaves the workers' recycling limits in the
    environment they inherit (the rolling_restart scenario proves the recycling itself under load)."""
    code = ("import os, runpy; runpy.run_path('/etc/fasterapi/gunicorn.conf.py'); "
            "print(os.environ['FASTERAPI_WORKER_MAX_MEMORY_MB'], os.environ['FASTERAPI_WORKER_MAX_AGE_SECONDS'])")
    assert host.check_output("/opt/fasterapi/current/venv/bin/python -c %s", code).split() == ["1024", "0"]


def test_rendered_config_of_the_second_app(host: Any) -> None:
    conf = rendered_config(host, "second")
    assert conf["workers"] == 2 and conf["worker_class"] == "uvicorn_worker.UvicornH11Worker"
    assert conf["bind"] == ["unix:/run/second/gunicorn.sock", "127.0.0.1:8001"]
    assert conf["control_socket_disable"] is True and conf["preload_app"] is False


@pytest.mark.parametrize("app", APPS)
def test_unit_properties(host: Any, app: str) -> None:
    props = show(host, app, "Type", "KillMode", "TimeoutStopUSec", "Restart", "RestartUSec", "User", "Group",
                 "WorkingDirectory", "RuntimeDirectory", "ActiveState", "SubState", "UnitFileState",
                 "ExecStart", "NRestarts", "Result", "ExecReload", "PIDFile", "DropInPaths")
    assert props["Type"] == "notify" and props["KillMode"] == "mixed"
    assert props["TimeoutStopUSec"] == "45s"  # graceful_timeout 30 + 15
    assert props["Restart"] == "on-failure" and props["RestartUSec"] == "1s"
    assert (props["User"], props["Group"]) == (app, app)
    assert props["WorkingDirectory"] == f"/opt/{app}/current/app"
    assert props["RuntimeDirectory"] == f"{app} {app}/ready"
    assert (props["ActiveState"], props["SubState"], props["UnitFileState"]) == ("active", "running", "enabled")
    # The venv's python through `current`, so a re-exec (USR2) runs the release current points to.
    assert f"argv[]=/opt/{app}/current/venv/bin/python /opt/{app}/current/venv/bin/gunicorn" in props["ExecStart"]
    assert props["NRestarts"] == "0" and props["Result"] == "success"
    assert props["PIDFile"] == f"/run/{app}/gunicorn.pid"
    assert f"/etc/systemd/system/{app}.service.d/reload.conf" in props["DropInPaths"]
    assert "-m fasterapi_handover" in props["ExecReload"] and "--systemd-reload" in props["ExecReload"]


@pytest.mark.parametrize("app", APPS)
def test_one_master_and_its_workers_run_as_the_app_user(host: Any, app: str) -> None:
    main_pid = int(show(host, app, "MainPID")["MainPID"])
    assert main_pid > 0
    master = host.check_output("ps -o user:32=,args= -p %s", str(main_pid)).split(None, 1)
    assert master[0] == app and f"/opt/{app}/current/venv/bin/gunicorn" in master[1]
    workers = [line.split() for line in host.check_output("ps -o user:32=,pid= --ppid %s", str(main_pid)).splitlines()]
    assert len(workers) == expected_workers(host, app)
    assert {user for user, _pid in workers} == {app}
    masters = host.check_output("pgrep -u %s -f 'gunicorn --config' -P 1 || true", app).split()
    assert masters == [str(main_pid)]
    pidfile = host.file(f"/run/{app}/gunicorn.pid")
    assert int(pidfile.content_string.strip()) == main_pid


@pytest.mark.parametrize("app", APPS)
def test_sockets_listen(host: Any, app: str) -> None:
    port, sock, _workers = APPS[app]
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    if sock:
        assert host.file(sock).is_socket
        assert host.socket(f"unix://{sock}").is_listening


@pytest.mark.parametrize("app", APPS)
def test_app_answers_from_its_workers(host: Any, app: str) -> None:
    port, sock, _workers = APPS[app]
    main_pid = int(show(host, app, "MainPID")["MainPID"])
    for s in ("", sock or ""):
        health = http_get(host, "/health", port, s)
        assert health == {"status": 200, "body": "ok\n"}
        version = json.loads(http_get(host, "/version", port, s)["body"])
        assert version["ppid"] == main_pid and version["lifespan"] is True
        assert version["version"] == host.file(f"/opt/{app}/current/app/VERSION").content_string.strip()


def test_preload_imports_in_the_master_only_when_on(host: Any) -> None:
    first = json.loads(http_get(host, "/version", 8000)["body"])
    assert first["imported_in_pid"] == int(show(host, "fasterapi", "MainPID")["MainPID"])
    second = json.loads(http_get(host, "/version", 8001)["body"])
    assert second["imported_in_pid"] == second["pid"]


@pytest.mark.parametrize("app", APPS)
def test_journal_shows_gunicorn_and_uvicorn_lines(host: Any, app: str) -> None:
    if app == "second":  # it logs to files (gunicorn_errorlog)
        journal = host.check_output("cat /var/log/second/error.log*")
    else:
        journal = host.check_output("journalctl --unit %s --no-pager --output cat", app)
    port = APPS[app][0]
    assert f"Listening at: http://127.0.0.1:{port}" in journal or f"Listening at: unix:/run/{app}/" in journal
    assert "Booting worker with pid" in journal
    assert "Application startup complete." in journal
    assert "Control server error" not in journal
    assert "Traceback" not in journal


def test_control_socket_is_private_and_answers(host: Any) -> None:
    ctl = host.file("/run/fasterapi/gunicorn.ctl")
    assert ctl.is_socket and ctl.user == "fasterapi" and ctl.mode == 0o600
    out = host.run("runuser -u fasterapi -- /opt/fasterapi/current/venv/bin/gunicornc -s /run/fasterapi/gunicorn.ctl -j -c 'show workers'")
    assert out.rc == 0, out.stderr
    assert not host.file("/run/second/gunicorn.ctl").exists


def test_bad_input_fails_early_and_leaves_the_service_alone(host: Any) -> None:
    result = json.loads(host.file("/root/side_effect.json").content_string)
    assert result["bad_module"].get("failed") is True
    assert "gunicorn.conf.py was not installed" in result["bad_module"]["msg"]
    assert "no_such_app" in result["bad_module"]["msg"]
    assert result["bad_bind"].get("failed") is True
    assert "gunicorn_bind" in result["bad_bind"]["msg"] and "99999" in result["bad_bind"]["msg"]
    assert result["mainpid_before"] == result["mainpid_after"] == show(host, "fasterapi", "MainPID")["MainPID"]
    assert result["conf_before"] == result["conf_after"]
    assert http_get(host, "/health")["status"] == 200
    assert "s3cr3t-never-in-output" not in json.dumps(result)


def test_an_app_that_never_answers_fails_the_role_with_its_journal(host: Any) -> None:
    result = json.loads(host.file("/root/side_effect.json").content_string)
    msg = result["broken"].get("msg", "")
    assert result["broken"].get("failed") is True
    assert "broken is not healthy: http://127.0.0.1:8002/health did not answer with 200 within 8 s" in msg
    # The app's own words, from the unit's journal.
    assert "startup failed on purpose (SAMPLE_APP_FAIL_STARTUP)" in msg
    assert "Application startup failed" in msg


def test_each_tag_runs_alone_and_configure_applies_a_change_with_a_rolling_restart(host: Any) -> None:
    runs = json.loads(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "tags.json").read_text())
    hostname = host.backend.get_hostname()
    # The runs are limited to the first host (debian12); the other is left out.
    if hostname != "default-debian12":
        assert all(not re.search(rf"\b{hostname}\b", run[2]) for run in runs)
        return
    for (item, rc, stdout) in runs:
        label = f"--tags {item['tags']} check={item['check']} {item['vars']}"
        assert rc == 0, (label, stdout[-3000:])
        restarted = re.findall(r"fasterapi.service: rolling restart, master (\d+) -> (\d+)", stdout)
        if item["check"]:
            assert not restarted, label  # nothing restarted in --check
        elif item["tags"] == "gunicorn_configure":
            # The changed timeout (31, then back to 30) went live by a hand-over.
            assert len(restarted) == 1 and all(old != new for old, new in restarted), (label, stdout[-3000:])
    assert re.search(rf"{hostname}\s+: ok=\d+\s+changed=0\s", runs[0][2]), runs[0][2][-2000:]  # preflight alone changes nothing


def test_file_logs_are_rotated_and_reopened(host: Any) -> None:
    """The second app logs to files: a forced rotation moves them aside and gunicorn (USR1) writes new ones."""
    # The access log names the path (not the query): a path of its own for each request (404 is fine).
    get = ("import http.client, sys\nc = http.client.HTTPConnection('127.0.0.1', 8001, timeout=5)\n"
           "c.request('GET', '/' + sys.argv[1])\nc.getresponse().read()")
    host.check_output("python3 -c %s %s", get, "before-rotation")
    for _attempt in range(50):  # the line is written just after the answer
        if "before-rotation" in host.file("/var/log/second/access.log").content_string:
            break
        time.sleep(0.1)
    assert "before-rotation" in host.file("/var/log/second/access.log").content_string
    rotated = host.run("logrotate --force /etc/logrotate.d/second")
    assert rotated.rc == 0, rotated.stderr
    assert "before-rotation" in host.file("/var/log/second/access.log.1").content_string
    host.check_output("python3 -c %s %s", get, "after-rotation")
    access = host.file("/var/log/second/access.log")
    for _attempt in range(50):
        if "after-rotation" in access.content_string:
            break
        time.sleep(0.1)
    assert "after-rotation" in access.content_string and "before-rotation" not in access.content_string
    assert (access.user, access.group, access.mode) == ("second", "second", 0o640)
    assert host.file("/var/log/second/error.log").exists
