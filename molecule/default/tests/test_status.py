"""Verify the status playbook's runs of side_effect.yml (testinfra).

side_effect.yml ran ``ansible-playbook fasterapi.deploy.status`` against this
scenario's first host (--limit), healthy and with one fault at a time, and
after each run looked at the host (files/status_look.py): every run's exit
status, output and JSON (status_json) and the host's own view are in
status-cases.json in the ephemeral directory. (This was the status scenario,
on a host of its own with the first app at 3 workers; here the first app runs
the default, 2 x vCPUs + 1.)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "status-cases.json").read_text())
BY_NAME = {case["name"]: case for case in CASES}
FAULTS = [case for case in CASES if case.get("expect_fault")]
STATUS_HOST = next(iter(CASES[0]["host"]))
# second writes its logs to files (gunicorn_errorlog), which the status playbook does not read: its journal counts are 0.
JOURNAL_APPS = ("fasterapi",)


def apps(case: dict[str, Any], hostname: str) -> dict[str, dict[str, Any]]:
    return {app["name"]: app for app in case["json"][hostname]["apps"]}


def table(case: dict[str, Any]) -> str:
    """The table the playbook printed (the debug task's msg, a list of lines, in YAML or JSON); "" when none was."""
    found = re.search(r"TASK \[Show the apps of [^\n]*\n(?:ok|changed): \[[^\]]+\] => (.*?)\n\n(?:TASK|PLAY) \[", case["stdout"], re.S)
    return "\n".join(yaml.safe_load(found.group(1))["msg"]) if found else ""


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    name = host.backend.get_hostname()
    if name != STATUS_HOST:
        pytest.skip(f"the status playbook ran on {STATUS_HOST}")
    return name


@pytest.fixture(scope="module")
def workers(host: Any, hostname: str) -> dict[str, int]:
    """The workers each app is configured with: the first app's default (2 x vCPUs + 1) and second's 2."""
    return {"fasterapi": 2 * int(host.check_output("nproc --all")) + 1, "second": 2}


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_print_the_table(case: dict[str, Any], hostname: str) -> None:
    print(f"\n--- {case['name']}: ansible-playbook fasterapi.deploy.status {''.join(arg + ' ' for arg in case.get('args', []))}"
          f"exited {case['rc']} after {case['seconds']} s ---")
    # No table when the host could not be read: the failure as the play printed it, its lines joined.
    failures = re.findall(r"fatal: .*?(?=\n\n|\Z)", case["stdout"] + case["stderr"], re.S)
    print(table(case) or "\n".join(re.sub(r"\s*\n\s*", " ", failure) for failure in failures))
    assert case["rc"] == case["expect_rc"], (case["stdout"] + case["stderr"])[-3000:]


@pytest.mark.parametrize("name", ["healthy", "healthy again", "healthy with Ansible's default output"])
def test_the_healthy_host_passes_and_the_json_agrees_with_the_host(name: str, hostname: str, workers: dict[str, int]) -> None:
    case = BY_NAME[name]
    assert case["rc"] == 0, (case["stdout"] + case["stderr"])[-3000:]
    document = case["json"][hostname]
    assert document["found"] == ["fasterapi", "second"] and document["faults"] == [] and document["findings"] == []
    assert "faults: none" in table(case)
    for app, status in apps(case, hostname).items():
        seen = case["host"][hostname][app]
        assert status["state"]["active"] == seen["active"] == "active"
        # systemctl show -p MainPID, and the master's children (pgrep -P).
        assert status["master"]["pid"] == seen["main_pid"] > 0
        assert sorted(p["pid"] for p in status["workers"]["processes"]) == seen["workers"]
        assert status["workers"]["running"] == status["workers"]["configured"] == workers[app] == len(seen["workers"])
        # readlink current / previous, ls releases/.
        assert status["releases"]["current"] == seen["current"] and status["releases"]["previous"] == seen["previous"]
        assert sorted(status["releases"]["built"]) == seen["releases"]
        assert status["restart_pending"]["pending"] is seen["restart_pending"] is False
        # systemd-analyze security's last line.
        assert f"{status['exposure']['score']} {status['exposure']['level']}" in seen["exposure"]
        assert status["health"]["healthy"] and status["health"]["status"] == 200 and status["health"]["ms"] is not None
        assert status["master"]["age_seconds"] > 0 and status["master"]["pss_kib"] > 0 and status["master"]["rss_kib"] > 0
        assert all(p["pss_kib"] > 0 and p["rss_kib"] >= p["pss_kib"] for p in status["workers"]["processes"])
        if app in JOURNAL_APPS:
            assert status["journal"]["booted"] >= workers[app] and status["journal"]["timeouts"] == 0


def test_versions_and_health_targets_come_from_the_host(hostname: str) -> None:
    status = apps(BY_NAME["healthy"], hostname)
    # 1.0.1 was deployed with gunicorn_app_version; the releases before it were built without one: their
    # version column shows the code's digest instead (a directory on the controller: dir: and 12 hex digits).
    assert status["fasterapi"]["releases"]["current_version"] == "1.0.1"
    assert status["fasterapi"]["releases"]["previous"].startswith("release-")
    assert re.fullmatch(r"dir:[0-9a-f]{12}", status["fasterapi"]["releases"]["previous_version"])
    assert status["second"]["releases"]["current"].startswith("release-")
    assert re.fullmatch(r"dir:[0-9a-f]{12}", status["second"]["releases"]["current_version"])
    assert status["second"]["releases"]["previous"] == ""
    assert status["fasterapi"]["health"]["url"] == "http://127.0.0.1:8000/health"
    # The first bind of second is its unix socket.
    assert status["second"]["health"]["target"] == "unix:/run/second/gunicorn.sock /health"


@pytest.mark.parametrize("case", FAULTS, ids=[case["name"] for case in FAULTS])
def test_each_fault_fails_the_play_naming_host_app_and_fault(case: dict[str, Any], hostname: str) -> None:
    assert case["rc"] == 2, (case["stdout"] + case["stderr"])[-3000:]
    output = case["stdout"] + case["stderr"]
    assert f"fatal: [{hostname}]: FAILED!" in output
    assert f"msg: '{hostname}: {case['expect_fault']}" in re.sub(r"\n\s+", " ", output)
    document = case["json"][hostname]
    assert document["faults"] == [case["expect_fault"]]
    faulted = case["expect_fault"].split(":")[0]
    for app, status in apps(case, hostname).items():
        assert bool(status["faults"]) is (app == faulted), (app, status["faults"])
    assert f"FAULT    {case['expect_fault']}" in table(case)


def test_a_stopped_app_shows_no_master(hostname: str) -> None:
    case = BY_NAME["app stopped"]
    second = apps(case, hostname)["second"]
    assert case["host"][hostname]["second"]["active"] == "inactive"
    assert second["master"]["pid"] == 0 and second["workers"]["running"] == 0 and second["workers"]["configured"] == 2


def test_fewer_workers_counts_the_masters_children(hostname: str, workers: dict[str, int]) -> None:
    case = BY_NAME["fewer workers than configured"]
    fasterapi = apps(case, hostname)["fasterapi"]
    configured = workers["fasterapi"]
    assert len(case["host"][hostname]["fasterapi"]["workers"]) == configured - 1
    assert sorted(p["pid"] for p in fasterapi["workers"]["processes"]) == case["host"][hostname]["fasterapi"]["workers"]
    assert (fasterapi["workers"]["running"], fasterapi["workers"]["configured"]) == (configured - 1, configured)


def test_a_pending_restart_names_its_kind(hostname: str) -> None:
    case = BY_NAME["restart pending"]
    assert case["host"][hostname]["second"]["restart_pending"] is True
    assert apps(case, hostname)["second"]["restart_pending"] == {"pending": True, "kind": "rolling",
                                                                 "marker": "/etc/second/.restart-pending"}


def test_check_mode_reads_the_same_and_writes_the_json(hostname: str) -> None:
    case = BY_NAME["healthy under --check"]
    assert case["rc"] == 0 and "faults: none" in table(case)
    assert {app: status["master"]["pid"] for app, status in apps(case, hostname).items()} == {
        app: seen["main_pid"] for app, seen in case["host"][hostname].items()}


def test_a_bad_period_fails_the_host_with_journalctls_words(hostname: str) -> None:
    case = BY_NAME["a bad status_since"]
    assert case["rc"] == 2
    output = re.sub(r"\n\s+", " ", case["stdout"] + case["stderr"])
    assert f"fatal: [{hostname}]: FAILED!" in output
    assert f"{hostname}: cannot read the apps: journalctl --since" in output and "failed: Failed to parse timestamp: soon" in output
    assert "apps" not in case["json"][hostname] and "Failed to parse timestamp: soon" in case["json"][hostname]["msg"]


def test_status_apps_limits_the_apps_read(hostname: str) -> None:
    case = BY_NAME["app stopped, the other app asked"]
    assert case["host"][hostname]["second"]["active"] == "inactive"
    assert case["rc"] == 0 and list(apps(case, hostname)) == ["fasterapi"]


def test_the_host_is_as_before_the_faults(host: Any, hostname: str, workers: dict[str, int]) -> None:
    for app, count in workers.items():
        assert host.service(app).is_running
        assert not host.file(f"/etc/{app}/.restart-pending").exists
        master = host.check_output(f"systemctl show --property=MainPID --value {app}")
        assert len(host.check_output(f"pgrep -P {master}").split()) == count


def test_the_table_reads_as_lines_with_ansibles_default_output(hostname: str) -> None:
    """Without the repository's callback_result_format: each line of the table is a line of the output, not a \\n."""
    output = BY_NAME["healthy with Ansible's default output"]["stdout"]
    assert '"msg": [' in output and "\\n" not in output.split('"msg": [')[1].split("]")[0]
    assert re.search(r'^ +"faults: none",$', output, re.M), output[-3000:]
    # The same table as under the YAML format (ages and timings aside): the same lines, cell for cell in the first column.
    shown, yaml_shown = table(BY_NAME["healthy with Ansible's default output"]), table(BY_NAME["healthy"])
    assert shown.startswith(f"{hostname}: 2 apps of fasterapi.deploy.gunicorn (fasterapi, second)")
    assert [line.split("  ")[0] for line in shown.splitlines()[1:]] == [line.split("  ")[0] for line in yaml_shown.splitlines()[1:]]


def test_the_ledger_shows_each_change_and_a_record_edited_by_hand(hostname: str) -> None:
    ledger = apps(BY_NAME["healthy"], hostname)["fasterapi"]["ledger"]
    records = ledger["records"]
    assert ledger["problems"] == [] and ledger["count"] >= 2
    assert [record["seq"] for record in records] == list(range(ledger["count"] - len(records) + 1, ledger["count"] + 1))
    # The converge's first run set the app up; the last change is the deploy of 1.0.1 (with a rolling restart).
    last = records[-1]
    assert (last["action"], last["result"], last["version"]) == ("deploy", "ok", "1.0.1")
    status = apps(BY_NAME["healthy"], hostname)["fasterapi"]["releases"]
    assert last["release"] == status["current"] and last["previous_release"] == status["previous"]
    assert "rolling restart" in last["phases"] and "build" in last["phases"] and last["who"]
    assert last["source"] and last["time"] <= last["finished"] and last["duration_s"] > 0
    assert all(earlier["time"] <= later["time"] for earlier, later in zip(records, records[1:]))
    shown = table(BY_NAME["healthy"])
    assert f"fasterapi  {last['seq']}" in re.sub(" +", "  ", shown) and last["release"] in shown.split("LEDGER")[1]
    edited = BY_NAME["a ledger record edited by hand"]
    findings = edited["json"][hostname]["findings"]
    assert edited["rc"] == 0 and len(findings) == 1, findings
    assert re.fullmatch(r"fasterapi: ledger: record 1 \(\S+ site \S+\) was changed after it was written", findings[0]), findings
    assert f"FINDING  {findings[0]}" in table(edited)
