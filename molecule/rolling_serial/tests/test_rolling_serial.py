"""A serial rollout stops at the first broken host (testinfra)."""

from __future__ import annotations

import json
import re
from typing import Any

EXPECTED = {"serial1": "1.0.2", "serial2": "1.0.1", "serial3": "1.0.1"}


def _version(host: Any) -> str:
    out = host.check_output("python3 -c %s",
                            "import json, urllib.request; "
                            "print(json.load(urllib.request.urlopen('http://127.0.0.1:8000/version', timeout=5))['version'])")
    return out.strip()


def test_rollout_failed_and_stopped_at_the_broken_host(host: Any) -> None:
    rollout = json.loads(host.file("/root/rollout.json").content_string)
    assert rollout["rc"] != 0
    output = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(rollout["stdout"]))
    before_recap = output.split("PLAY RECAP")[0]
    recap = output.split("PLAY RECAP")[1]
    assert "serial1" in recap and "serial2" in recap and "serial3" not in recap
    assert re.search(r"\bfailed=1\b", next(line for line in recap.splitlines() if "serial2" in line))
    # Errors go to stdout or stderr depending on the ansible-core version.
    words = " ".join((before_recap + "\n".join(rollout["stderr"])).split())  # the callback folds long messages
    assert "Rolling restart of fasterapi.service failed" in words
    assert "startup failed on purpose" in words
    # serial 1 with max_fail_percentage 0: serial3 was never touched.
    assert "serial3" not in before_recap


def test_each_host_serves_the_version_it_should(host: Any) -> None:
    name = host.backend.get_hostname()
    assert _version(host) == EXPECTED[name]
    assert host.service("fasterapi").is_running
    # On serial2 the broken release went live, failed, and current was switched back.
    assert host.file("/opt/fasterapi/current/app/VERSION").content_string.strip() == EXPECTED[name]
    built = host.check_output("cat /opt/fasterapi/releases/*/app/VERSION").split()
    assert ("9.9.2" in built) == (name == "serial2")


def test_the_broken_host_left_nothing_behind(host: Any) -> None:
    if host.backend.get_hostname() != "serial2":
        return
    assert not host.file("/run/fasterapi/gunicorn.pid.2").exists
    main_pid = host.check_output("systemctl show fasterapi --property MainPID --value").strip()
    assert host.file("/run/fasterapi/gunicorn.pid").content_string.strip() == main_pid
    assert host.file("/etc/fasterapi/.restart-pending").exists  # the owed restart is kept for the next run
