"""The fasterapi.deploy.status_table filter: the app_status module's result as the table the status playbook prints."""

from __future__ import annotations

import copy
from typing import Any, Dict

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fasterapi.deploy.plugins.filter.status import FilterModule, duration, status_table


def proc(pid: int, age: float, rss: int, pss: int) -> Dict[str, Any]:
    return {"pid": pid, "age_seconds": age, "rss_kib": rss, "pss_kib": pss}


APP: Dict[str, Any] = {
    "name": "shop", "unit": "shop.service",
    "state": {"load": "loaded", "active": "active", "sub": "running"},
    "releases": {"current": "1.0.1-aaaa", "current_version": "1.0.1", "previous": "1.0.0-aaaa", "previous_version": "1.0.0",
                 "built": ["1.0.1-aaaa", "1.0.0-aaaa"], "unfinished": []},
    "master": proc(500, 3725, 29368, 12540),
    "workers": {"running": 2, "configured": 2, "processes": [proc(501, 3724, 30564, 13857), proc(502, 59, 30600, 13876)]},
    "journal": {"since": "1 hour ago", "booted": 2, "exited": 0, "timeouts": 0},
    "restart_pending": {"pending": False, "kind": "", "marker": "/etc/shop/.restart-pending"},
    "exposure": {"score": 1.2, "level": "OK"},
    "health": {"probed": True, "healthy": True, "status": 200, "answer": "HTTP 200", "ms": 3.0,
               "target": "http://127.0.0.1:8000/health", "error": ""},
    "faults": [], "findings": [],
}
STATUS: Dict[str, Any] = {"apps": [APP], "found": ["shop"], "faults": [], "findings": [], "since": "1 hour ago",
                          "checked_at": "2026-11-26T17:00:00Z"}


def test_the_filter_is_registered() -> None:
    assert FilterModule().filters()["status_table"] is status_table


@pytest.mark.parametrize(("seconds", "shown"), [(None, "-"), (0.4, "0s"), (59, "59s"), (61, "1m 01s"), (3725, "1h 02m"),
                                                (90061, "1d 01h")])
def test_duration(seconds: Any, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_healthy_host() -> None:
    lines = status_table(STATUS, "web1").splitlines()
    assert lines[0] == 'web1: 1 app of fasterapi.deploy.gunicorn (shop), read 2026-11-26T17:00:00Z; journal since "1 hour ago"'
    header, row = lines[2], lines[3]
    assert header.split()[:4] == ["APP", "UNIT", "CURRENT", "(VERSION)"]
    assert row.split() == ["shop", "active/running", "1.0.1-aaaa", "(1.0.1)", "1.0.0-aaaa", "(1.0.0)", "2", "500", "1h", "02m",
                           "2/2", "2/0/0", "no", "1.2", "OK", "200", "in", "3", "ms", "http://127.0.0.1:8000/health"]
    # Columns line up: each header starts where its cells do.
    assert row.index("1.0.1-aaaa") == header.index("CURRENT") and row.index("2/2") == header.index("WORKERS")
    assert [line.split() for line in lines[5:10]] == [
        ["PROCESS", "PID", "UP", "RSS", "MiB", "PSS", "MiB"], ["shop", "master", "500", "1h", "02m", "28.7", "12.2"],
        ["shop", "worker", "501", "1h", "02m", "29.8", "13.5"], ["shop", "worker", "502", "59s", "29.9", "13.6"],
        ["shop", "total", "39.3"]]
    assert lines[-2:] == ["faults: none", "other findings: none"]
    assert all(line == line.rstrip() for line in lines)


def test_faults_findings_and_a_stopped_app() -> None:
    status = copy.deepcopy(STATUS)
    app = status["apps"][0]
    app["state"].update(active="inactive", sub="dead")
    app["master"] = {"pid": 0, "age_seconds": None, "rss_kib": None, "pss_kib": None}
    app["workers"] = {"running": 0, "configured": None, "processes": []}
    app["releases"].update(previous="", previous_version="", unfinished=["broken"])
    app["restart_pending"].update(pending=True, kind="full")
    app["exposure"] = {"score": None, "level": ""}
    app["health"] = {"probed": False, "error": "the unit has no ExecStart="}
    status["faults"] = ["shop: not running (inactive/dead)", "shop: restart pending (full, /etc/shop/.restart-pending)"]
    status["findings"] = ["shop: interrupted builds in releases/: broken"]
    text = status_table(status, "web1")
    row = text.splitlines()[3].split()
    assert row[:5] == ["shop", "inactive/dead", "1.0.1-aaaa", "(1.0.1)", "-"]
    assert row[5:] == ["2", "+1", "unfinished", "-", "-", "0/?", "2/0/0", "full", "-", "not", "asked:", "the", "unit", "has", "no",
                       "ExecStart="]
    assert "PROCESS" not in text
    assert text.endswith("FAULT    shop: not running (inactive/dead)\nFAULT    shop: restart pending (full, /etc/shop/.restart-pending)\n"
                         "FINDING  shop: interrupted builds in releases/: broken")


def test_a_host_without_apps() -> None:
    text = status_table(dict(STATUS, apps=[], found=[]), "web2")
    assert text.splitlines()[0].startswith("web2: 0 apps of fasterapi.deploy.gunicorn (none found)")
    assert "APP" not in text


@pytest.mark.parametrize("value", [None, "text", {"msg": "unreachable"}])
def test_refuses_what_is_not_a_status(value: Any) -> None:
    with pytest.raises(AnsibleFilterError, match="expects the result of fasterapi.deploy.app_status"):
        status_table(value)


def test_the_ledgers_last_records_follow_the_processes() -> None:
    status = copy.deepcopy(STATUS)
    status["apps"][0]["ledger"] = {"count": 2, "problems": [], "records": [
        {"seq": 1, "time": "2026-12-05T07:00:00Z", "action": "site", "result": "ok", "release": "1.0.0-aaaa",
         "previous_release": "", "who": "ana@laptop", "duration_s": 84.2},
        {"seq": 2, "time": "2026-12-05T08:00:00Z", "action": "deploy", "result": "failed", "release": "1.0.1-bbbb",
         "previous_release": "1.0.0-aaaa", "who": "ana@laptop", "duration_s": 12.0}]}
    lines = status_table(status, "web1").splitlines()
    start = lines.index("LEDGER (the last records of each app's, oldest first)")
    assert [line.split() for line in lines[start + 1:start + 4]] == [
        ["APP", "#", "TIME", "ACTION", "RESULT", "RELEASE", "PREVIOUS", "WHO", "TOOK"],
        ["shop", "1", "2026-12-05T07:00:00Z", "site", "ok", "1.0.0-aaaa", "-", "ana@laptop", "1m", "24s"],
        ["shop", "2", "2026-12-05T08:00:00Z", "deploy", "failed", "1.0.1-bbbb", "1.0.0-aaaa", "ana@laptop", "12s"]]


def test_the_apps_recent_errors_are_shown_as_logged() -> None:
    status = copy.deepcopy(STATUS)
    status["apps"][0]["journal"]["error_lines"] = ["[2026-12-05 07:00:00 +0000] [590] [ERROR] Exception in ASGI application",
                                                   "RuntimeError: boom"]
    lines = status_table(status, "web1").splitlines()
    start = lines.index('RECENT ERRORS (the last of each app\'s, in the journal since "1 hour ago")')
    assert lines[start + 1:start + 3] == ["shop  [2026-12-05 07:00:00 +0000] [590] [ERROR] Exception in ASGI application",
                                          "shop  RuntimeError: boom"]
    assert not any(line.startswith("RECENT ERRORS") for line in status_table(STATUS, "web1").splitlines())


def test_the_companions_and_timers_follow_the_processes() -> None:
    status = copy.deepcopy(STATUS)
    status["apps"][0]["companions"] = [
        {"unit": "shop-worker-1@1.0.1-aaaa.service", "kind": "companion", "release": "1.0.1-aaaa", "active": "active",
         "sub": "running", "pid": 700, "unit_file": "enabled", "n_restarts": 0},
        {"unit": "shop-report.timer", "kind": "timer", "release": "", "active": "active", "sub": "waiting", "pid": 0,
         "unit_file": "enabled", "next": "Mon 2026-12-07 03:00:00 UTC", "last": ""}]
    lines = status_table(status, "web1").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("COMPANION OR TIMER"))
    assert [line.split() for line in lines[start:start + 3]] == [
        ["COMPANION", "OR", "TIMER", "STATE", "RELEASE", "OR", "NEXT", "RUN", "MAINPID", "RESTARTS"],
        ["shop-worker-1@1.0.1-aaaa.service", "active/running", "1.0.1-aaaa", "700", "0"],
        ["shop-report.timer", "active/waiting", "Mon", "2026-12-07", "03:00:00", "UTC", "-", "-"]]
    assert not any(line.startswith("COMPANION") for line in status_table(STATUS, "web1").splitlines())
