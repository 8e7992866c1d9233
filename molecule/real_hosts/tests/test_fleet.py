"""One deploy at a time, and a ledger of every change on each host (testinfra).

side_effect.yml ran, with the collection's playbooks: the site converge, a
deploy of 1.0.2, a deploy to userconf whose index does not answer, a
rollback, the site rollout of 1.0.3 with serial 1 that stopped at sysca,
then two deploys of v3's code to airgap and pipconf under the labels 1.0.4
and 1.0.5, started at the same moment (each waiting for the lock), and a
third (1.0.6), started once the lock was held, that does not wait. It kept the runs and every host's ledger in
/root/fleet.json.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List

import pytest

# What each host's ledger of the app "fasterapi" holds, in order: (action, result, version);
# 1.0.x: 1.0.4 or 1.0.5, in the order the two deploys took the lock.
EXPECTED = {
    "airgap": [("site", "ok", ""), ("deploy", "ok", "1.0.2"), ("rollback", "ok", ""), ("site", "ok", ""),
               ("deploy", "ok", "1.0.x"), ("deploy", "ok", "1.0.x")],
    "pipconf": [("site", "ok", ""), ("deploy", "ok", "1.0.2"), ("rollback", "ok", ""), ("site", "ok", ""),
                ("deploy", "ok", "1.0.x"), ("deploy", "ok", "1.0.x")],
    "sysca": [("site", "ok", ""), ("deploy", "ok", "1.0.2"), ("rollback", "ok", ""), ("site", "failed", "")],
    "userconf": [("site", "ok", ""), ("deploy", "ok", "1.0.2"), ("deploy", "failed", "1.0.3"), ("rollback", "ok", "")],
}


@pytest.fixture(scope="module")
def fleet(host: Any, hostname: str) -> Dict[str, Any]:
    return json.loads(host.file("/root/fleet.json").content_string)


def records(text: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_each_change_and_failed_attempt_is_one_record_in_order(host: Any, hostname: str, fleet: Dict[str, Any]) -> None:
    ledger = records(fleet["ledgers"][hostname])
    got = [(record["action"], record["result"], record.get("version", "") if record["action"] == "deploy" else "")
           for record in ledger]
    got = [(action, result, "1.0.x" if version in ("1.0.4", "1.0.5") else version) for action, result, version in got]
    assert got == EXPECTED[hostname], [(r["action"], r["result"], r.get("release"), r.get("message", "")[:200]) for r in ledger]
    for record in ledger:
        assert record["app"] == "fasterapi" and record["who"] and record["time"] <= record["finished"]
        assert record["playbook"] == record["action"].replace("restart", "rolling_restart") and len(record["run"]) == 16
        if record["result"] == "failed":
            assert record["message"], record
    # A deploy or site run that went well names what it put live and what was there before.
    switched = [record for record in ledger if record["result"] == "ok" and record["action"] != "site"]
    assert all(record["release"] and record["previous_release"] and record["source"] for record in switched)
    assert all("switch" in record["phases"] for record in switched if record["release"] != record["previous_release"])
    # The rollback went back to the release the deploy before it replaced.
    deploy = next(record for record in ledger if record["action"] == "deploy" and record["result"] == "ok")
    rollback = next(record for record in ledger if record["action"] == "rollback")
    assert rollback["release"] == deploy["previous_release"] and rollback["previous_release"] == deploy["release"]


def test_the_ledger_is_the_hosts_own_file_chained_to_its_head(host: Any, hostname: str, fleet: Dict[str, Any]) -> None:
    ledger_file = host.file("/opt/fasterapi/ledger.jsonl")
    assert (ledger_file.user, ledger_file.group, ledger_file.mode) == ("root", "root", 0o644)
    lines = [line for line in ledger_file.content_string.splitlines() if line.strip()]
    assert "\n".join(lines) == "\n".join(line for line in fleet["ledgers"][hostname].splitlines() if line.strip())
    previous = ""
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        assert (record["seq"], record["prev"]) == (number, previous)
        previous = hashlib.sha256(line.encode()).hexdigest()
    assert json.loads(host.file("/opt/fasterapi/ledger.jsonl.head").content_string) == {"seq": len(lines), "digest": previous}


def test_two_deploys_at_the_same_moment_never_interleave(hostname: str, fleet: Dict[str, Any]) -> None:
    assert fleet["together"] == [0, 0], fleet["together_stdout"]
    runs: Dict[str, List[Dict[str, Any]]] = {}
    for name in ("airgap", "pipconf"):
        for record in records(fleet["ledgers"][name])[-2:]:
            runs.setdefault(record["run"], []).append(record)
    assert len(runs) == 2 and all(len(both) == 2 for both in runs.values()), runs
    first, second = sorted(runs.values(), key=lambda both: min(record["time"] for record in both))
    # Every host of the first run finished before any host of the second began (times to the second).
    assert max(record["finished"] for record in first) <= min(record["time"] for record in second)
    # Each built, switched to and restarted into its own release; the second went from the first's release.
    assert {record["version"] for record in first} != {record["version"] for record in second}
    for record in first + second:
        assert record["phases"] == ["build", "switch", "rolling restart"], record
    for name in ("airgap", "pipconf"):
        earlier, later = records(fleet["ledgers"][name])[-2:]
        assert later["previous_release"] == earlier["release"] and later["run"] != earlier["run"]


def test_a_run_that_does_not_wait_is_refused_naming_the_holder(hostname: str, fleet: Dict[str, Any]) -> None:
    refused = fleet["refused"]
    said = " ".join(refused["output"].split())
    assert refused["rc"] == 2, said[-2000:]
    assert re.search(r"another run has the deploy lock \(/var/lib/fasterapi-deploy/locks/fasterapi\.json\): held by \S+@\S+, "
                     r"playbook deploy, release 1\.0\.[45], since \S+Z \(\d+ s ago\), lease ends \S+Z \(in \d+ s\), "
                     r"run id [a-z0-9]{16}",
                     said), said[-2000:]
    # It changed nothing: no record of it on any host.
    assert all(len(records(text)) == len(EXPECTED[name]) for name, text in fleet["ledgers"].items())


def test_the_lock_is_given_back_at_the_end(hostname: str, fleet: Dict[str, Any]) -> None:
    assert fleet["lock_after"] is False
