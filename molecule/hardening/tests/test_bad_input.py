"""Bad settings against a host that serves the app: each is refused early, by name, and changes nothing.

Each case runs bad_input.yml (the converged app's settings) with bad
settings in --extra-vars against both hosts, then asserts on each host: the
play failed with a message naming the variable, the bad value and what is
expected; the app still answers; its unit, config, environment file,
releases, links, master and installed tools (uv's virtualenvs) are as they
were before the first case.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

PLAYBOOK = Path(__file__).resolve().parents[1] / "bad_input.yml"

# (extra vars, fragments the failure message must contain). Every refusal of
# the variables is a unit test (tests/unit/plugins/plugin_utils/test_gunicorn_checks.py);
# these few prove, on live hosts, that each kind of refusal leaves the host untouched.
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    # The argument spec (meta/argument_specs.yml) refuses a type.
    "workers not a number": ({"gunicorn_workers": "many"}, ["gunicorn_workers", "many", "int"]),
    # The variables' check (the gunicorn_problems filter) refuses a value.
    "privileged port": ({"gunicorn_systemd_privileged_ports": False},
                        ["gunicorn_bind", "127.0.0.1:80", "below 1024", "gunicorn_systemd_privileged_ports=true"]),
    # ... and reports every problem at once, without an environment value.
    "several problems": ({"gunicorn_workers": 0, "gunicorn_bind": ["127.0.0.1:99999"],
                          "gunicorn_environment": {"1BAD": "x", "SAMPLE_APP_SECRET": "s3cr3t-bad\u0000value"}},
                         ["gunicorn_workers=0", "1 or more", "127.0.0.1:99999", "outside 1-65535",
                          "gunicorn_environment has invalid variable names", "1BAD", "SAMPLE_APP_SECRET",
                          "cannot be given to the app intact", "gunicorn_credentials"]),
    # Only the release can tell: its venv cannot import the worker class.
    "worker class not importable": ({"gunicorn_worker_class": "nosuchmodule.Worker"},
                                    ['gunicorn_worker_class="nosuchmodule.Worker"', "No module named 'nosuchmodule'",
                                     "expected an importable gunicorn worker class"]),
    # Only the host can tell, in the read before any change: its Python, and the index's uv versions.
    "python that does not run": ({"gunicorn_python": "/usr/bin/python3.99"},
                                 ["gunicorn_python=/usr/bin/python3.99 does not run on", "Nothing was changed"]),
    "uv version the index lacks": ({"gunicorn_uv_version": "0.13.99"},
                                   ["gunicorn_uv_version=0.13.99", "lists no file of uv 0.13.99", "Nothing was changed"]),
}
# Values that must never appear in the output.
SECRETS = ["s3cr3t-bad"]

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
                  "tools": sorted(os.listdir("/usr/local/lib/fasterapi-deploy")),
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


def test_each_kind_of_refusal_is_here() -> None:
    assert len(CASES) >= 4


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
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} in the output"
