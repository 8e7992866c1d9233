"""Bad settings against a host that serves the app: each is refused early, by name, and changes nothing.

Each case runs bad_input.yml (the converged app's settings) with one bad
setting in --extra-vars against both hosts, then asserts on each host: the
play failed with a message naming the variable, the bad value and what is
expected; the app still answers; its unit, config, environment file,
releases, links and master are as they were before the first case.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

PLAYBOOK = Path(__file__).resolve().parents[1] / "bad_input.yml"

# (extra vars, fragments the failure message must contain)
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "app name": ({"gunicorn_app_name": "Bad Name"}, ['gunicorn_app_name="Bad Name"', "expected 1-31 characters"]),
    "app module": ({"gunicorn_app_module": "main"}, ['gunicorn_app_module="main"', "module:callable"]),
    "root user": ({"gunicorn_user": "root"}, ['gunicorn_user="root"', "must not run as root"]),
    "empty bind": ({"gunicorn_bind": []}, ["gunicorn_bind is empty", "expected at least one address"]),
    "port range": ({"gunicorn_bind": ["127.0.0.1:99999"]}, ["gunicorn_bind", "127.0.0.1:99999", "outside 1-65535"]),
    "relative unix socket": ({"gunicorn_bind": ["unix:app.sock"]}, ["gunicorn_bind", "unix:app.sock", "absolute file path"]),
    "ipv6 without brackets": ({"gunicorn_bind": ["::1:8000"]}, ["gunicorn_bind", "::1:8000", "in brackets"]),
    "privileged port": ({"gunicorn_systemd_privileged_ports": False},
                        ["gunicorn_bind", "127.0.0.1:80", "below 1024", "gunicorn_systemd_privileged_ports=true"]),
    "public bind, loopback allow-list": ({"gunicorn_bind": ["0.0.0.0:8000"]},
                                         ["gunicorn_systemd_ip_address_allow", "only loopback may connect", "0.0.0.0:8000"]),
    "allow-list entry": ({"gunicorn_systemd_ip_address_allow": ["localhost", "db.example.org"]},
                         ["gunicorn_systemd_ip_address_allow", "'db.example.org' is not an IP address or CIDR prefix"]),
    "no workers": ({"gunicorn_workers": 0}, ["gunicorn_workers=0", "1 or more"]),
    "workers not a number": ({"gunicorn_workers": "many"}, ["gunicorn_workers", "many", "int"]),
    "timeout zero": ({"gunicorn_timeout": 0}, ["gunicorn_timeout=0", "above 0"]),
    "graceful beyond stop": ({"gunicorn_graceful_timeout": 60, "gunicorn_systemd_timeout_stop_sec": 45},
                             ["gunicorn_systemd_timeout_stop_sec=45", "gunicorn_graceful_timeout=60"]),
    "keepalive negative": ({"gunicorn_keepalive": -1}, ["gunicorn_keepalive=-1", "0 or more"]),
    "health path": ({"gunicorn_health_path": "health"}, ['gunicorn_health_path="health"', "starting with /"]),
    "health status": ({"gunicorn_health_status": [700]}, ["gunicorn_health_status=[700]", "100 to 599"]),
    "worker class syntax": ({"gunicorn_worker_class": "not a class"}, ['gunicorn_worker_class="not a class"', "dotted path"]),
    "worker class not importable": ({"gunicorn_worker_class": "nosuchmodule.Worker"},
                                    ['gunicorn_worker_class="nosuchmodule.Worker"', "No module named 'nosuchmodule'",
                                     "expected an importable gunicorn worker class"]),
    "env name digit": ({"gunicorn_environment": {"1BAD": "x"}}, ["gunicorn_environment", "1BAD", "not starting with a digit"]),
    "env name dash": ({"gunicorn_environment": {"BAD-NAME": "x"}}, ["gunicorn_environment", "BAD-NAME", "letters, digits and _"]),
    "control socket mode": ({"gunicorn_control_socket_mode": "999"}, ['gunicorn_control_socket_mode="999"', "octal mode"]),
    "relative base dir": ({"gunicorn_base_dir": "opt/app"}, ['gunicorn_base_dir="opt/app"', "absolute paths"]),
    "installer": ({"gunicorn_installer": "conda"}, ["gunicorn_installer", "conda", "uv, pip"]),
    "restart strategy": ({"gunicorn_restart_strategy": "sometimes"}, ["gunicorn_restart_strategy", "sometimes", "rolling, restart"]),
    "writable code": ({"gunicorn_systemd_read_write_paths": ["/opt/fasterapi/current/app"]},
                      ["gunicorn_systemd_read_write_paths", "/opt/fasterapi/current/app", "code and venvs"]),
    "relative writable path": ({"gunicorn_systemd_read_write_paths": ["uploads"]},
                               ["gunicorn_systemd_read_write_paths", "uploads", "absolute paths"]),
    "unknown sandbox directive": ({"gunicorn_systemd_sandbox_overrides": {"MemoryDenyWriteExec": "no"}},
                                  ["gunicorn_systemd_sandbox_overrides", "MemoryDenyWriteExec", "not in the role's sandbox"]),
    "socket activation of a host name": ({"gunicorn_systemd_socket_activation": True, "gunicorn_bind": ["localhost:8000"]},
                                         ["gunicorn_bind", "localhost:8000", "IP addresses and unix paths only"]),
    "drain seconds": ({"gunicorn_worker_drain_seconds": 30}, ["gunicorn_worker_drain_seconds=30", "from 0 to 10"]),
    "releases to keep": ({"gunicorn_releases_keep": 0}, ["gunicorn_releases_keep=0", "1 or more"]),
    "two sources": ({"gunicorn_app_package": "myapp==1.0"}, ["more than one source", "gunicorn_app_src", "gunicorn_app_package"]),
    "archive url without checksum": ({"gunicorn_app_src": "", "gunicorn_app_archive": "https://example.org/app.tar.gz"},
                                     ['gunicorn_app_archive="https://example.org/app.tar.gz"', "sha256:<hex>"]),
    "max requests": ({"gunicorn_max_requests": -5}, ["gunicorn_max_requests=-5", "0 (off) or more"]),
    "python path": ({"gunicorn_python": "python3"}, ['gunicorn_python="python3"', "absolute path"]),
    "gunicorn version": ({"gunicorn_version": "latest"}, ['gunicorn_version="latest"', "release number to pin"]),
    "index url": ({"gunicorn_pip_index_url": "pypi.internal/simple"},
                  ['gunicorn_pip_index_url="pypi.internal/simple"', "http(s) URL"]),
    "extra setting name": ({"gunicorn_extra_settings": {"Bad-Name": 1}},
                           ["gunicorn_extra_settings", "Bad-Name", "gunicorn setting names"]),
    "trusted host": ({"gunicorn_pip_extra_args": ["--trusted-host", "pypi.org"]}, ["gunicorn_pip_extra_args", "--trusted-host"]),
}

FINGERPRINT = r"""
import hashlib, json, os, subprocess, urllib.request
def digest(path):
    try:
        st = os.stat(path)
        return [hashlib.sha256(open(path, "rb").read()).hexdigest(), oct(st.st_mode), st.st_uid, st.st_gid]
    except FileNotFoundError:
        return None
files = ["/etc/systemd/system/fasterapi.service", "/etc/systemd/system/fasterapi.service.d/reload.conf",
         "/etc/fasterapi/gunicorn.conf.py", "/etc/fasterapi/environment", "/etc/fasterapi/.restart-pending"]
show = subprocess.run(["systemctl", "show", "fasterapi", "--property=MainPID,ActiveState,NRestarts"],
                      capture_output=True, text=True).stdout.split()
try:
    with urllib.request.urlopen("http://127.0.0.1:8000/health", timeout=5) as r:
        health = r.status
except OSError as err:
    health = str(err)
print(json.dumps({"files": {f: digest(f) for f in files},
                  "units": sorted(u for u in os.listdir("/etc/systemd/system") if u.startswith("fasterapi")),
                  "releases": sorted(os.listdir("/opt/fasterapi/releases")),
                  "links": [os.readlink("/opt/fasterapi/" + l) if os.path.islink("/opt/fasterapi/" + l) else None
                            for l in ("current", "previous")],
                  "service": show, "health": health}))
"""

_before: dict[str, dict[str, Any]] = {}
_runs: dict[str, subprocess.CompletedProcess[str]] = {}


def fingerprint(host: Any) -> dict[str, Any]:
    return json.loads(host.check_output("python3 -c %s", FINGERPRINT))


def run_case(name: str) -> subprocess.CompletedProcess[str]:
    """Run the playbook once per case for both hosts; later hosts reuse the outcome."""
    if name not in _runs:
        _runs[name] = subprocess.run(
            ["ansible-playbook", str(PLAYBOOK), "--inventory", os.environ["MOLECULE_INVENTORY_FILE"],
             "--extra-vars", json.dumps(CASES[name][0])],
            capture_output=True, text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
            timeout=600, check=False)
    return _runs[name]


def test_enough_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", CASES)
def test_bad_setting_is_refused_and_changes_nothing(host: Any, name: str) -> None:
    hostname = host.backend.get_hostname()
    if hostname not in _before:
        _before[hostname] = fingerprint(host)
        assert _before[hostname]["health"] == 200 and "ActiveState=active" in _before[hostname]["service"]
    run = run_case(name)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    # The host's own failure (each host fails the same way).
    assert f"fatal: [{hostname}]" in output or f"failed: [{hostname}]" in output, output[-3000:]
    # Messages wrap across lines in the output: compare with whitespace folded.
    flat = " ".join(output.replace("\\n", " ").replace("\\\"", "\"").split())
    for fragment in CASES[name][1]:
        assert fragment in flat, f"{fragment!r} not in:\n{output[-3000:]}"
    # Refused before anything on the host changed: the role's first change is the apt or user task.
    assert "changed: [" not in output, output[-3000:]
    assert fingerprint(host) == _before[hostname]
