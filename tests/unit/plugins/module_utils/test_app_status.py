"""plugins/module_utils/app_status.py: apps found, read and judged, with systemd, the journal, the hand-over helper and /proc stood in for."""

from __future__ import annotations

import json
import re
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import app_status, ledger

DOC = "Documentation=" + app_status.DOCUMENTATION_URL
UNIT = f"""# Ansible managed
[Unit]
Description=shop (gunicorn with uvicorn workers)
{DOC}

[Service]
Type=notify
ExecStart=/opt/shop/current/venv/bin/python /opt/shop/current/venv/bin/gunicorn --config /etc/shop/gunicorn.conf.py
"""
EXEC_START = ("{ path=/opt/shop/current/venv/bin/python ; argv[]=/opt/shop/current/venv/bin/python "
              "/opt/shop/current/venv/bin/gunicorn --config /etc/shop/gunicorn.conf.py ; ignore_errors=no ; "
              "start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")
PYTHON = "/opt/shop/current/venv/bin/python"
TICKS = 100
JOURNAL = """[2026-11-26 16:48:13 +0000] [584] [INFO] Booting worker with pid: 584
[2026-11-26 16:48:13 +0000] [585] [INFO] Booting worker with pid: 585
[2026-11-26 16:50:00 +0000] [583] [CRITICAL] WORKER TIMEOUT (pid:585)
[2026-11-26 16:50:00 +0000] [585] [INFO] Worker exiting (pid: 585)
[2026-11-26 16:50:00 +0000] [583] [ERROR] Worker (pid:585) was sent SIGABRT!
[2026-11-26 16:50:01 +0000] [590] [INFO] Booting worker with pid: 590
[2026-11-26 16:51:00 +0000] [583] [INFO] Worker (pid:584) was sent SIGTERM!
"""


def make_proc(root: Path, processes: Dict[int, tuple], uptime: float = 1000.0) -> str:
    """A /proc with `uptime` and, per PID, stat (parent, start tick) and smaps_rollup (RSS, PSS in KiB)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "uptime").write_text(f"{uptime} 1.0\n")
    for pid, (ppid, start, rss, pss) in processes.items():
        (root / str(pid)).mkdir()
        rest = " ".join(["0"] * 17)  # pgrp .. itrealvalue
        (root / str(pid) / "stat").write_text(f"{pid} (python (x)) S {ppid} {rest} {start} 0 0\n")
        (root / str(pid) / "smaps_rollup").write_text(f"00400000-7ff [rollup]\nRss: {rss} kB\nPss: {pss} kB\nPss_Anon: 1 kB\n")
    return str(root)


class Host:
    """systemctl, journalctl, systemd-analyze and fasterapi_handover as the module_utils sees them."""

    def __init__(self, root: Path, active: str = "active", main_pid: int = 500, health: Optional[Dict[str, Any]] = None,
                 health_rc: int = 0, journal_rc: int = 0, journal_err: str = "", triggered_by: str = "") -> None:
        # The app's base and config directories under ROOT (the base fixture's and the config fixture's).
        self.exec_start = EXEC_START.replace("/etc/shop/", f"{root}/etc/shop/")
        self.workdir = f"{root}/srv/shop/current/app"
        self.active, self.main_pid, self.health_rc = active, main_pid, health_rc
        self.health = health if health is not None else {
            "changed": False, "healthy": True, "said": "HTTP 200", "seconds": 0.004, "config": "/etc/shop/gunicorn.conf.py",
            "workers": 2, "health_url": "http://127.0.0.1:8000/health", "health_unix_socket": None, "worker_class": "x.W"}
        self.journal_rc, self.journal_err, self.triggered_by = journal_rc, journal_err, triggered_by
        self.ran: List[List[str]] = []
        # systemctl list-units' lines for the app's companion instances.
        self.listed = ""

    def __call__(self, argv: Sequence[str]) -> "subprocess.CompletedProcess[str]":
        argv = list(argv)
        self.ran.append(argv)
        out, err, rc = "", "", 0
        if argv[:2] == ["systemctl", "list-units"]:
            out = self.listed
        elif argv[:2] == ["systemctl", "show"] and argv[2] != "shop.service":
            out = (f"ActiveState={'failed' if '@1.0.0-' in argv[2] else 'active'}\nSubState=running\nMainPID=700\n"
                   f"UnitFileState=enabled\nNRestarts=0\nNextElapseUSecRealtime=Mon 2026-12-07 03:00:00 UTC\n")
        elif argv[:2] == ["systemctl", "show"]:
            out = (f"Id=shop.service\nLoadState=loaded\nActiveState={self.active}\nSubState={'running' if self.active == 'active' else 'dead'}\n"
                   f"UnitFileState=enabled\nMainPID={self.main_pid}\nExecStart={self.exec_start}\nWorkingDirectory={self.workdir}\n"
                   f"NeedDaemonReload=no\nNRestarts=0\nTriggeredBy={self.triggered_by}\nLogsDirectory=\n")
        elif argv[0] == PYTHON:
            out, rc = json.dumps(self.health) + "\n", self.health_rc
        elif argv[0] == "journalctl":
            out, err, rc = (JOURNAL if not self.journal_rc else ""), self.journal_err, self.journal_rc
        elif argv[:2] == ["systemd-analyze", "security"]:
            out = "  NAME  DESCRIPTION  EXPOSURE\n...\n\u2192 Overall exposure level for shop.service: 1.2 OK \U0001F642\n"
        return subprocess.CompletedProcess(argv, rc, out, err)


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    """/srv/shop as the role leaves it: releases 1.0.0 and 1.0.1 (current), an interrupted build."""
    root = tmp_path / "srv" / "shop"
    for name, version, built in (("1.0.0-aaaa", "1.0.0", 1000), ("1.0.1-aaaa", "1.0.1", 2000)):
        (root / "releases" / name).mkdir(parents=True)
        (root / "releases" / name / "release.json").write_text(json.dumps({"name": name, "version": version}))
        os.utime(root / "releases" / name / "release.json", (built, built))
    (root / "releases" / "broken").mkdir()
    (root / "current").symlink_to("releases/1.0.1-aaaa")
    (root / "previous").symlink_to("releases/1.0.0-aaaa")
    return root


def test_a_unit_of_the_role_is_told_by_its_documentation_and_gunicorn(tmp_path: Path) -> None:
    assert app_status.is_role_unit(UNIT)
    assert not app_status.is_role_unit(UNIT.replace(DOC, "Documentation=man:gunicorn(1)"))
    assert not app_status.is_role_unit(UNIT.replace("gunicorn --config", "uvicorn --config"))
    (tmp_path / "shop.service").write_text(UNIT)
    (tmp_path / "api.service").write_text(UNIT.replace("shop", "api"))
    (tmp_path / "shop.socket").write_text(UNIT)
    (tmp_path / "nginx.service").write_text("[Service]\nExecStart=/usr/sbin/nginx\n")
    (tmp_path / "shop.service.d").mkdir()
    assert app_status.discover(str(tmp_path)) == ["api", "shop"]
    assert app_status.discover(str(tmp_path / "missing")) == []


def test_what_the_unit_names() -> None:
    argv = app_status.exec_start_argv(EXEC_START)
    assert argv[0] == PYTHON and app_status.config_of(argv) == "/etc/shop/gunicorn.conf.py"
    assert app_status.config_of(["gunicorn", "--config=file:/etc/x.py"]) == "/etc/x.py"
    assert app_status.config_of(["gunicorn", "-c", "/etc/y.py"]) == "/etc/y.py"
    assert app_status.config_of(["gunicorn", "main:app"]) == ""
    assert app_status.exec_start_argv("") == []
    assert app_status.base_of("/opt/shop/current/app") == "/opt/shop"
    assert app_status.base_of("/opt/shop/current/app/") == "/opt/shop"
    assert app_status.base_of("/srv/elsewhere") == ""


def test_release_status_reads_versions_from_release_json(base: Path) -> None:
    assert app_status.release_status(str(base)) == {
        "current": "1.0.1-aaaa", "current_version": "1.0.1", "previous": "1.0.0-aaaa", "previous_version": "1.0.0",
        "built": ["1.0.1-aaaa", "1.0.0-aaaa"], "unfinished": ["broken"]}
    assert app_status.release_version(str(base), "broken") == "" and app_status.release_version(str(base), "") == ""


def test_processes_from_proc(tmp_path: Path) -> None:
    proc = make_proc(tmp_path / "proc", {500: (1, 10000, 29000, 12000), 501: (500, 20000, 30000, 13000),
                                         502: (500, 20050, 30100, 13100), 600: (1, 5, 1, 1)}, uptime=1000.0)
    (tmp_path / "proc" / "self").mkdir()
    assert app_status.children_of(500, proc) == [501, 502]
    assert app_status.age_of(500, proc, TICKS) == 900.0 and app_status.age_of(999, proc, TICKS) is None
    assert app_status.memory_of(501, proc) == {"rss_kib": 30000, "pss_kib": 13000}
    assert app_status.memory_of(999, proc) == {"rss_kib": None, "pss_kib": None}


def test_a_zombie_is_no_worker(tmp_path: Path) -> None:
    proc = make_proc(tmp_path / "proc", {500: (1, 1, 1, 1), 501: (500, 1, 1, 1)})
    stat = tmp_path / "proc" / "501" / "stat"
    stat.write_text(stat.read_text().replace(") S ", ") Z "))
    assert app_status.children_of(500, proc) == []


def test_memory_falls_back_to_status_without_smaps_rollup(tmp_path: Path) -> None:
    proc = make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)})
    (tmp_path / "proc" / "500" / "smaps_rollup").unlink()
    (tmp_path / "proc" / "500" / "status").write_text("Name:\tpython\nVmRSS:\t  4242 kB\n")
    assert app_status.memory_of(500, proc) == {"rss_kib": 4242, "pss_kib": None}


RAISED = """[2026-12-05 07:00:00 +0000] [590] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/opt/shop/current/app/main.py", line 114, in _raise
    raise RuntimeError("sample app: /raise raises on purpose")
RuntimeError: sample app: /raise raises on purpose
"""


def test_journal_errors_keep_the_error_lines_and_the_exceptions() -> None:
    got = app_status.journal_errors((JOURNAL + RAISED * 3).splitlines())
    assert got["errors"] == 5  # the timeout, the SIGABRT, three requests that raised
    assert got["error_lines"] == ["[2026-12-05 07:00:00 +0000] [590] [ERROR] Exception in ASGI application",
                                  "RuntimeError: sample app: /raise raises on purpose"] * 3
    assert app_status.journal_errors([]) == {"errors": 0, "error_lines": []}
    # What journalctl --grep is asked for lets every one of those lines through (PCRE, as Python reads it here).
    grep = re.compile(app_status._JOURNAL_GREP)  # pylint: disable=protected-access
    assert [line for line in (JOURNAL + RAISED).splitlines() if grep.search(line)] == [
        line for line in (JOURNAL + RAISED).splitlines() if not line.startswith(("Traceback", "  "))]


def test_journal_counts_each_worker_once() -> None:
    assert app_status.journal_counts(JOURNAL.splitlines()) == {"booted": 3, "exited": 2, "timeouts": 1}
    assert app_status.journal_counts([]) == {"booted": 0, "exited": 0, "timeouts": 0}
    argv = app_status.journal_argv("shop.service", "1 hour ago")
    assert argv[:5] == ["journalctl", "--unit", "shop.service", "--since", "1 hour ago"] and "--grep" in argv


def test_exposure() -> None:
    assert app_status.exposure("\u2192 Overall exposure level for shop.service: 9.6 UNSAFE \U0001F628") == {"score": 9.6, "level": "UNSAFE"}
    assert app_status.exposure("Unit shop.service not found.") == {"score": None, "level": ""}


@pytest.mark.parametrize(("rc", "said", "expected"), [
    (0, {"healthy": True, "said": "HTTP 200", "seconds": 0.004, "workers": 3, "health_url": "http://127.0.0.1:8000/health",
         "health_unix_socket": None},
     {"healthy": True, "status": 200, "answer": "HTTP 200", "ms": 4.0, "config_workers": 3, "target": "http://127.0.0.1:8000/health",
      "error": ""}),
    (1, {"failed": True, "msg": "http://localhost/health did not answer with 200 or 204 within 0 s; last try: HTTP 503",
         "workers": 2, "health_url": "http://localhost/health", "health_unix_socket": "/run/shop/gunicorn.sock"},
     {"healthy": False, "status": 503, "answer": "HTTP 503", "ms": None, "config_workers": 2,
      "target": "unix:/run/shop/gunicorn.sock /health", "error": ""}),
    (1, {"failed": True, "msg": "http://127.0.0.1:8000/health did not answer with 200 within 0 s; last try: [Errno 111] Connection refused",
         "workers": 2, "health_url": "http://127.0.0.1:8000/health", "health_unix_socket": None},
     {"healthy": False, "status": None, "answer": "[Errno 111] Connection refused", "ms": None, "config_workers": 2}),
    (1, {"failed": True, "msg": "/etc/shop/gunicorn.conf.py has no fasterapi_health_path: it was written by an older fasterapi.deploy"},
     {"healthy": False, "status": None, "answer": "", "config_workers": None, "url": "",
      "error": "/etc/shop/gunicorn.conf.py has no fasterapi_health_path: it was written by an older fasterapi.deploy"}),
])
def test_health_answer(rc: int, said: Dict[str, Any], expected: Dict[str, Any]) -> None:
    answer = app_status.health_answer(rc, "a warning first\n" + json.dumps(said) + "\n")
    assert {key: answer[key] for key in expected} == expected


def test_health_answer_without_json() -> None:
    answer = app_status.health_answer(1, "")
    assert not answer["healthy"] and answer["error"] == "no answer from fasterapi_handover (exit 1)"


@pytest.fixture()
def unit_dir(tmp_path: Path, base: Path) -> Path:
    """The unit in tmp_path/units, and the config its ExecStart= names (Host) in tmp_path/etc/shop."""
    config = tmp_path / "etc" / "shop" / "gunicorn.conf.py"
    config.parent.mkdir(parents=True)
    config.write_text("workers = 2\n")
    units = tmp_path / "units"
    units.mkdir()
    (units / "shop.service").write_text(UNIT)
    return units


def test_a_healthy_app(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    host = Host(tmp_path)
    status = app_status.app_status("shop", "1 hour ago", host, make_proc(tmp_path / "proc", {
        500: (1, 100, 29000, 12000), 501: (500, 200, 30000, 13000), 502: (500, 200, 30000, 13100)}), settle=0,
        unit_dir=str(unit_dir))
    assert status["faults"] == [] and status["state"]["active"] == "active"
    assert status["config"] == str(tmp_path / "etc" / "shop" / "gunicorn.conf.py")
    assert status["master"]["pid"] == 500 and status["master"]["pss_kib"] == 12000
    assert status["workers"]["running"] == status["workers"]["configured"] == 2
    assert [p["pid"] for p in status["workers"]["processes"]] == [501, 502]
    assert status["journal"] == {"since": "1 hour ago", "booted": 3, "exited": 2, "timeouts": 1, "errors": 2, "error_lines": [
        "[2026-11-26 16:50:00 +0000] [583] [CRITICAL] WORKER TIMEOUT (pid:585)",
        "[2026-11-26 16:50:00 +0000] [583] [ERROR] Worker (pid:585) was sent SIGABRT!"]}
    assert status["findings"] == ["1 worker timeouts since 1 hour ago", "interrupted builds in releases/: broken"]
    assert status["exposure"] == {"score": 1.2, "level": "OK"}
    assert status["health"]["healthy"] and status["health"]["ms"] == 4.0
    assert status["restart_pending"]["pending"] is False
    assert status["restart_pending"]["marker"] == str(tmp_path / "etc" / "shop" / ".restart-pending")
    assert status["base_dir"] == str(base)
    assert status["releases"]["current"] == "1.0.1-aaaa" and status["releases"]["previous_version"] == "1.0.0"
    assert status["releases"]["unfinished"] == ["broken"]
    # Only reads: systemctl show, the helper's one request, journalctl, systemd-analyze, systemctl list-units (companions).
    assert [argv[:2] for argv in host.ran] == [["systemctl", "show"], [PYTHON, "-m"], ["journalctl", "--unit"],
                                               ["systemd-analyze", "security"], ["systemctl", "list-units"]]
    assert status["companions"] == []
    assert host.ran[1][1:] == ["-m", "fasterapi_handover", "--unit", "shop.service", "--wait", "0"]


def test_companions_and_timers_are_shown_and_one_not_running_is_a_fault(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    mark = "# fasterapi.deploy companion of shop\n"
    for name in ("shop-worker-1@.service", "shop-report.service", "shop-report.timer"):
        (unit_dir / name).write_text("# Ansible managed\n" + mark)
    host = Host(tmp_path)
    host.listed = ("shop-worker-1@1.0.1-aaaa.service loaded active running shop worker 1 (release 1.0.1-aaaa)\n"
                   "shop-worker-1@1.0.0-aaaa.service loaded failed failed shop worker 1 (release 1.0.0-aaaa)\n"
                   "shop-other-1@1.0.1-aaaa.service loaded active running not the role's\n")
    status = app_status.app_status("shop", "1 hour ago", host, make_proc(tmp_path / "proc", {
        500: (1, 100, 29000, 12000), 501: (500, 200, 30000, 13000), 502: (500, 200, 30000, 13100)}), settle=0,
        unit_dir=str(unit_dir))
    assert [(row["unit"], row["release"], row["active"]) for row in status["companions"]] == [
        ("shop-worker-1@1.0.0-aaaa.service", "1.0.0-aaaa", "failed"), ("shop-worker-1@1.0.1-aaaa.service", "1.0.1-aaaa", "active"),
        ("shop-report.timer", "", "active")]
    assert status["companions"][2]["next"] == "Mon 2026-12-07 03:00:00 UTC"
    assert status["faults"] == ["shop-worker-1@1.0.0-aaaa.service not running (failed/running)"]
    # A timer stopped and disabled on purpose (a singleton's, on another host) is no fault.
    status["companions"] = [dict(status["companions"][2], active="inactive", sub="dead", unit_file="disabled")]
    assert app_status.judge(status)[0] == []
    status["companions"][0]["unit_file"] = "enabled"
    assert app_status.judge(status)[0] == ["shop-report.timer not running (inactive/dead)"]


def test_faults_of_a_degraded_app(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    (tmp_path / "etc" / "shop" / ".restart-pending").write_text("full\n")
    health = {"failed": True, "msg": "http://127.0.0.1:8000/health did not answer with 200 within 0 s; last try: HTTP 500",
              "workers": 3, "health_url": "http://127.0.0.1:8000/health", "health_unix_socket": None}
    status = app_status.app_status("shop", "1 hour ago", Host(tmp_path, health=health, health_rc=1), make_proc(tmp_path / "proc", {
        500: (1, 100, 1, 1), 501: (500, 200, 1, 1)}), settle=0.3)
    assert status["faults"] == ["health http://127.0.0.1:8000/health: HTTP 500", "1 workers running, 3 configured",
                                f"restart pending (full, {tmp_path / 'etc' / 'shop' / '.restart-pending'})"]


def test_a_stopped_app(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    health = {"failed": True, "msg": "x; last try: [Errno 111] Connection refused", "workers": 2,
              "health_url": "http://127.0.0.1:8000/health", "health_unix_socket": None}
    status = app_status.app_status("shop", "1 hour ago", Host(tmp_path, active="inactive", main_pid=0, health=health, health_rc=1),
                                   make_proc(tmp_path / "proc", {}), settle=0)
    assert status["faults"] == ["not running (inactive/dead)"]
    assert status["master"]["pid"] == 0 and status["workers"] == {"running": 0, "configured": 2, "processes": []}


def test_a_stopped_socket_activated_app_is_not_requested(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    host = Host(tmp_path, active="inactive", main_pid=0, triggered_by="shop.socket")
    status = app_status.app_status("shop", "1 hour ago", host, make_proc(tmp_path / "proc", {}), settle=0)
    assert PYTHON not in [argv[0] for argv in host.ran]
    assert status["faults"] == ["not running (inactive/dead)"] and not status["health"]["probed"]


def test_settings_that_cannot_be_read_are_a_fault(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    health = {"failed": True, "msg": "cannot load /etc/shop/gunicorn.conf.py: SyntaxError: bad"}
    status = app_status.app_status("shop", "1 hour ago", Host(tmp_path, health=health, health_rc=1),
                                   make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)}), settle=0)
    assert status["faults"] == ["cannot read its settings: cannot load /etc/shop/gunicorn.conf.py: SyntaxError: bad"]
    assert status["workers"]["configured"] is None


def test_a_helper_that_does_not_run_is_a_fault(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    host = Host(tmp_path)
    broken = host.__call__

    def runner(argv: Sequence[str]) -> "subprocess.CompletedProcess[str]":
        if argv[0] == PYTHON:
            return subprocess.CompletedProcess(list(argv), 1, "", "Traceback ...\nModuleNotFoundError: No module named 'fasterapi_handover'\n")
        return broken(argv)

    status = app_status.app_status("shop", "1 hour ago", runner, make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)}), settle=0)
    assert status["faults"] == ["cannot read its settings: no answer from fasterapi_handover (exit 1): "
                                "ModuleNotFoundError: No module named 'fasterapi_handover'"]


def test_a_bad_since_is_refused(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    with pytest.raises(ValueError, match="journalctl --since 'soon' failed: Failed to parse timestamp: soon"):
        app_status.app_status("shop", "soon", Host(tmp_path, journal_rc=1, journal_err="Failed to parse timestamp: soon"),
                              make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)}), settle=0)


def test_no_journal_line_is_no_error(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    status = app_status.app_status("shop", "1 hour ago", Host(tmp_path, journal_rc=1), make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)}),
                                   settle=0, with_exposure=False)
    assert status["journal"]["booted"] == 0 and status["exposure"] == {"score": None, "level": ""}


def test_host_status_names_each_fault_by_app(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    proc = make_proc(tmp_path / "proc", {500: (1, 1, 1, 1)})
    found = app_status.host_status(["shop", "api"], str(unit_dir), "1 hour ago", Host(tmp_path), proc, settle=0)
    assert found["found"] == ["shop"] and [app["name"] for app in found["apps"]] == ["shop"]
    assert found["faults"] == ["shop: 0 workers running, 2 configured",
                               f"api: no unit of fasterapi.deploy.gunicorn ({unit_dir / 'api.service'})"]
    assert found["findings"] == ["shop: 1 worker timeouts since 1 hour ago", "shop: interrupted builds in releases/: broken"]
    assert [app["name"] for app in app_status.host_status([], str(unit_dir), "1 hour ago", Host(tmp_path), proc, settle=0)["apps"]] == ["shop"]


def test_the_ledgers_last_records_and_a_record_edited_by_hand(tmp_path: Path, base: Path, unit_dir: Path) -> None:
    path = base / app_status.LEDGER
    for number in range(1, 8):
        ledger.append(str(path), {"time": f"2026-12-05T07:00:0{number}Z", "action": "deploy", "release": f"r{number}"})
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace('"r3"', '"r9"')
    path.write_text("\n".join(lines) + "\n")
    status = app_status.app_status("shop", "1 hour ago", Host(tmp_path), make_proc(tmp_path / "proc", {
        500: (1, 100, 29000, 12000), 501: (500, 200, 30000, 13000), 502: (500, 200, 30000, 13100)}), settle=0)
    assert status["ledger"]["count"] == 7 and [record["seq"] for record in status["ledger"]["records"]] == [3, 4, 5, 6, 7]
    assert status["ledger"]["problems"] == ["record 3 (2026-12-05T07:00:03Z deploy r9) was changed after it was written"]
    assert "ledger: record 3 (2026-12-05T07:00:03Z deploy r9) was changed after it was written" in status["findings"]
    assert status["faults"] == []


@pytest.mark.parametrize(("source", "shown"), [
    ("dir:" + "a" * 64, "dir:aaaaaaaaaaaa"), ("git:0123456789abcdef0123", "git:0123456789ab"),
    ("archive:sha256:" + "b" * 64 + ":strip=1", "archive:bbbbbbbbbbbb"),
    ("wheel:sha256:" + "c" * 64 + ":shop-1.0-py3-none-any.whl", "shop-1.0-py3-none-any.whl"),
    ("package:shop==1.0", "shop==1.0"), ("", "")])
def test_a_release_built_without_a_version_shows_its_source(base: Path, source: str, shown: str) -> None:
    release = base / "releases" / "release-cccc"
    release.mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({"name": "release-cccc", "version": "", "source": source}))
    assert app_status.release_version(str(base), "release-cccc") == shown
