"""A serial rollout stops at the first broken host (testinfra).

side_effect.yml ran the site playbook with serial 1 over the four app hosts
last, in the inventory's order (Molecule sorts it): airgap (offline) and
pipconf got 1.0.3, sysca a version whose startup fails, so userconf was never
touched (its facts are gathered in the first play, which changes nothing
without a migration step). (This was the rolling_serial scenario's, on three hosts of its own.)
"""

from __future__ import annotations

import json
import re
from typing import Any


EXPECTED = {"airgap": "1.0.3", "pipconf": "1.0.3", "sysca": "1.0.1", "userconf": "1.0.1"}
BROKEN = "sysca"
UNTOUCHED = "userconf"


def _version(host: Any) -> str:
    out = host.check_output("python3 -c %s",
                            "import json, urllib.request; "
                            "print(json.load(urllib.request.urlopen('http://127.0.0.1:8000/version', timeout=5))['version'])")
    return out.strip()


def test_rollout_failed_and_stopped_at_the_broken_host(host: Any, hostname: str) -> None:
    rollout = json.loads(host.file("/root/rollout.json").content_string)
    assert rollout["rc"] != 0
    output = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(rollout["stdout"]))
    before_recap = output.split("PLAY RECAP")[0]
    recap = output.split("PLAY RECAP")[1]
    assert "airgap" in recap and "pipconf" in recap and BROKEN in recap
    # The untouched host took part in the first play only (facts and the lock), changing nothing.
    assert re.search(r"\bchanged=0\b.*\bfailed=0\b", " ".join(next(line for line in recap.splitlines() if UNTOUCHED in line).split()))
    assert re.search(r"\bfailed=1\b", next(line for line in recap.splitlines() if BROKEN in line))
    for name in ("airgap", "pipconf"):
        assert re.search(r"\bfailed=0\b", next(line for line in recap.splitlines() if name in line)), name
    # Errors go to stdout or stderr depending on the ansible-core version.
    words = " ".join((before_recap + "\n".join(rollout["stderr"])).split())  # the callback folds long messages
    assert "Rolling restart of fasterapi.service failed" in words
    assert "startup failed on purpose" in words
    # serial 1 with max_fail_percentage 0: the batches stopped at the broken host; the one after it never switched.
    batches = before_recap.split("PLAY [Deploy ASGI apps with gunicorn and uvicorn workers, a batch of hosts at a time]", 1)[1]
    assert UNTOUCHED not in batches


def test_each_host_serves_the_version_it_should(host: Any, hostname: str) -> None:
    assert _version(host) == EXPECTED[hostname]
    assert host.service("fasterapi").is_running
    # On the broken host the broken release went live, failed, and current was switched back.
    assert host.file("/opt/fasterapi/current/app/VERSION").content_string.strip() == EXPECTED[hostname]
    built = host.check_output("cat /opt/fasterapi/releases/*/app/VERSION").split()
    assert ("9.9.2" in built) == (hostname == BROKEN)
    assert ("1.0.3" in built) == (EXPECTED[hostname] == "1.0.3")


def test_the_broken_host_left_nothing_behind(host: Any, hostname: str) -> None:
    if hostname != BROKEN:
        return
    assert not host.file("/run/fasterapi/gunicorn.pid.2").exists
    main_pid = host.check_output("systemctl show fasterapi --property MainPID --value").strip()
    assert host.file("/run/fasterapi/gunicorn.pid").content_string.strip() == main_pid
    assert host.file("/etc/fasterapi/.restart-pending").exists  # the owed restart is kept for the next run
