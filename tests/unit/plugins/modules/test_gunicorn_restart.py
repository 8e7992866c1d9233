"""The gunicorn_restart module with systemctl, journalctl and the hand-over stood in for."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import gunicorn_restart

HANDOVER = ["/opt/shop/current/venv/bin/python", "-m", "fasterapi_handover", "--unit", "shop.service"]


class Host:
    """systemctl, journalctl and fasterapi_handover as the module sees them; records what was run."""

    def __init__(self, active: str = "active", handover_rc: int = 0, restart_rc: int = 0, need_reload: str = "no",
                 output: List[str] | None = None) -> None:
        self.active, self.handover_rc, self.restart_rc, self.need_reload = active, handover_rc, restart_rc, need_reload
        self.output = output
        self.ran: List[List[str]] = []

    def __call__(self, argv: List[str]) -> "subprocess.CompletedProcess[str]":
        self.ran.append(argv)
        out, rc = "", 0
        if argv[:2] == ["systemctl", "show"]:
            out = f"ActiveState={self.active}\nLoadState=loaded\nUnitFileState=enabled\nMainPID=812\nNeedDaemonReload={self.need_reload}\n"
        elif argv[:2] == ["systemctl", "restart"]:
            rc = self.restart_rc
        elif argv[0] == "journalctl" and "--show-cursor" in argv:
            out = "-- cursor: s=abc\n"
        elif argv[0] == "journalctl":
            out = '[x] [9] [INFO] Booting\n1.2.3.4 "GET / HTTP/1.1" 200 2\n[x] [9] [ERROR] startup failed on purpose\n'
        elif argv == HANDOVER:
            rc = self.handover_rc
            failed = {"failed": True, "msg": "the new master 900 exited before it was ready"}
            if self.output is not None:
                failed["output"] = self.output
            out = json.dumps(failed if rc else
                             {"old_master": 812, "new_master": 900, "workers": 3, "seconds_to_ready": 1.2,
                              "health_url": "http://127.0.0.1:8000/health", "config": "/etc/shop/gunicorn.conf.py"})
        return subprocess.CompletedProcess(argv, rc, out + "\n", "")


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: Host, **args: Any) -> Dict[str, Any]:
    monkeypatch.setattr(gunicorn_restart, "_run", host)
    args = {"unit": "shop.service", "handover": HANDOVER, **args}
    with patch_module_args(args), pytest.raises(SystemExit):
        gunicorn_restart.main()
    return json.loads(capsys.readouterr().out)


def test_nothing_owed_changes_nothing(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host = Host()
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"))
    assert not out["changed"] and out["how"] == "none"
    assert [argv[:2] for argv in host.ran] == [["systemctl", "show"]]


def test_a_rolling_restart_clears_the_marker_and_says_what_it_read(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_text("rolling\n")
    out = run(capsys, monkeypatch, Host(), marker=str(marker))
    assert out["changed"] and out["how"] == "rolling" and out["handover"]["new_master"] == 900
    assert "3 workers ready" in out["msg"] and "/etc/shop/gunicorn.conf.py" in out["msg"]
    assert not marker.exists()


def test_a_failed_rolling_restart_keeps_the_marker_and_shows_the_apps_error(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_text("rolling\n")
    host = Host(handover_rc=1)
    out = run(capsys, monkeypatch, host, marker=str(marker))
    assert out["failed"]
    assert out["msg"].startswith("Rolling restart of shop.service failed: the new master 900 exited before it was ready. "
                                 "The old master still serves.")
    assert "startup failed on purpose" in out["msg"] and "GET /" not in out["msg"]
    assert ["journalctl", "--unit", "shop.service", "--no-pager", "--output", "cat", "--after-cursor=s=abc"] in host.ran
    assert marker.exists()  # the next run still owes the restart


@pytest.mark.parametrize(("marker_text", "force", "active", "strategy", "why"), [
    ("full\n", "", "active", "rolling", "the unit or a credential changed"),
    ("rolling\n", "", "inactive", "rolling", "the unit was not running"),
    ("rolling\n", "", "active", "restart", "gunicorn_restart_strategy is restart"),
    ("rolling\n", "full", "active", "rolling", "the unit or a credential changed"),
])
def test_full_restarts(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                       marker_text: str, force: str, active: str, strategy: str, why: str) -> None:
    marker = tmp_path / "marker"
    marker.write_text(marker_text)
    host = Host(active=active)
    out = run(capsys, monkeypatch, host, marker=str(marker), force=force, strategy=strategy)
    assert out["how"] == "full" and out["msg"] == f"shop.service: full restart (systemctl restart): {why}"
    assert ["systemctl", "restart", "shop.service"] in host.ran and HANDOVER not in host.ran
    assert not marker.exists()


def test_a_failed_full_restart_shows_the_journal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    out = run(capsys, monkeypatch, Host(restart_rc=1), marker=str(tmp_path / "marker"), force="full")
    assert out["failed"] and "shop.service failed to restart" in out["msg"] and "startup failed on purpose" in out["msg"]


def test_check_mode_decides_and_does_nothing(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host = Host()
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="rolling", _ansible_check_mode=True)
    assert out["changed"] and out["how"] == "rolling"
    assert [argv[:2] for argv in host.ran] == [["systemctl", "show"]]


def test_running_required_refuses_a_stopped_unit(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host = Host(active="inactive")
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="rolling", running_required=True)
    assert out["failed"] and out["msg"].startswith("shop.service is inactive: a rolling restart needs it running")
    assert [argv[:2] for argv in host.ran] == [["systemctl", "show"]]


@pytest.mark.parametrize("need_reload, check_mode, reloads", [("yes", False, True), ("no", False, False), ("yes", True, False)])
def test_a_unit_changed_on_disk_is_reloaded_before_the_restart(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        need_reload: str, check_mode: bool, reloads: bool) -> None:
    host = Host(need_reload=need_reload)
    run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="full", _ansible_check_mode=check_mode)
    assert (["systemctl", "daemon-reload"] in host.ran) == reloads
    if reloads:
        assert host.ran.index(["systemctl", "daemon-reload"]) < host.ran.index(["systemctl", "restart", "shop.service"])


def test_a_failed_rolling_restart_shows_the_new_generations_own_output_first(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the new master copied of its stderr is used, not the journal (whose rate limit may have dropped it)."""
    host = Host(handover_rc=1, output=["[x] [900] [INFO] Booting worker", "[x] [901] [ERROR] Exception in worker process",
                                       "RuntimeError: copied where journald cannot drop it"])
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="rolling")
    assert out["failed"] and "copied where journald cannot drop it" in out["msg"]
    assert "startup failed on purpose" not in out["msg"]  # the journal was not needed
    assert "The new generation's error lines:" in out["msg"]


PRECHECK = ["systemd-run", "--wait", "--pipe", "--property=LoadCredential=tls.key:/etc/shop/credentials/tls.key", "--",
            "/opt/shop/current/venv/bin/gunicorn", "--check-config"]


class PrecheckHost(Host):
    """A host whose precheck (systemd-run) ends with PRECHECK_RC, as systemd reports a credential it cannot load."""

    def __init__(self, precheck_rc: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.precheck_rc = precheck_rc

    def __call__(self, argv: List[str]) -> "subprocess.CompletedProcess[str]":
        if argv == PRECHECK:
            self.ran.append(argv)
            return subprocess.CompletedProcess(argv, self.precheck_rc, "", "Running as unit: run-u7.service\n")
        if argv[:3] == ["journalctl", "--unit", "run-u7.service"]:
            self.ran.append(argv)
            return subprocess.CompletedProcess(argv, 0, "run-u7.service: Failed to set up credentials: Protocol error\n", "")
        return super().__call__(argv)


def test_a_failed_precheck_restarts_nothing_and_names_systemds_reason(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_text("full\n")
    host = PrecheckHost(243)
    out = run(capsys, monkeypatch, host, marker=str(marker), precheck=PRECHECK)
    assert out["failed"] and out["precheck_rc"] == 243
    assert "status=243/CREDENTIALS" in out["msg"] and "Failed to set up credentials" in out["msg"]
    assert "The running app was not stopped and keeps serving" in out["msg"]
    assert not any(argv[:2] == ["systemctl", "restart"] for argv in host.ran)
    assert marker.exists() and "the restart stays owed" in out["msg"]  # nothing kept to go back to


def test_a_failed_precheck_puts_back_the_files_the_app_runs_with(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials, keep, marker = tmp_path / "credentials", tmp_path / "last-good", tmp_path / "marker"
    credentials.mkdir()
    (credentials / "tls.key").write_bytes(b"good")
    args = {"last_good_dir": str(keep), "last_good_paths": [str(credentials)], "precheck": PRECHECK}
    run(capsys, monkeypatch, Host(), marker=str(marker), **args)
    (credentials / "tls.key").write_bytes(b"x" * 2000000)
    marker.write_text("full\n")
    host = PrecheckHost(243)
    out = run(capsys, monkeypatch, host, marker=str(marker), **args)
    assert out["failed"] and "status=243/CREDENTIALS" in out["msg"] and "Put back the files it runs with" in out["msg"]
    assert (credentials / "tls.key").read_bytes() == b"good" and out["restored"] == [str(credentials / "tls.key")]
    assert ["systemctl", "daemon-reload"] in host.ran and not any(argv[:2] == ["systemctl", "restart"] for argv in host.ran)
    assert not marker.exists()  # what runs is what is on disk again


@pytest.mark.parametrize("active, runs", [("active", True), ("inactive", False)])
def test_a_passing_precheck_lets_the_restart_go_on(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, active: str, runs: bool) -> None:
    host = PrecheckHost(0, active=active)
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="full", precheck=PRECHECK)
    assert out["how"] == "full" and not out.get("failed")
    assert (PRECHECK in host.ran) == runs
    assert ["systemctl", "restart", "shop.service"] in host.ran


def test_a_failed_full_restart_puts_back_the_last_good_files(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    unit, credentials, keep = tmp_path / "shop.service", tmp_path / "credentials", tmp_path / "last-good"
    credentials.mkdir(mode=0o700)
    unit.write_text("[Service]\nLoadCredential=a:/x/a\n")
    (credentials / "a").write_bytes(b"good\r\n")
    paths = [str(unit), str(credentials), str(tmp_path / "shop.socket")]
    # A run that owes nothing keeps what runs now.
    out = run(capsys, monkeypatch, Host(), marker=str(tmp_path / "marker"), last_good_dir=str(keep), last_good_paths=paths)
    assert not out["changed"] and (keep / "manifest.json").exists()
    # Then a credential and the unit change, and the restart fails.
    unit.write_text("[Service]\nLoadCredential=a:/x/a\nLoadCredential=b:/x/b\n")
    (credentials / "a").write_bytes(b"bad")
    (credentials / "b").write_bytes(b"new")
    host = Host(restart_rc=1)
    out = run(capsys, monkeypatch, host, marker=str(tmp_path / "marker"), force="full", last_good_dir=str(keep), last_good_paths=paths)
    assert out["failed"] and "shop.service failed to restart" in out["msg"]
    assert "Put back the files shop.service last started well with" in out["msg"]
    assert unit.read_text() == "[Service]\nLoadCredential=a:/x/a\n"
    assert sorted(os.listdir(credentials)) == ["a"] and (credentials / "a").read_bytes() == b"good\r\n"
    assert sorted(out["restored"]) == sorted([str(unit), str(credentials / "a"), str(credentials / "b")])
    reload_at = host.ran.index(["systemctl", "daemon-reload"])
    assert host.ran[reload_at + 1] == ["systemctl", "restart", "shop.service"]


def test_a_failed_full_restart_with_nothing_kept_says_so(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = run(capsys, monkeypatch, Host(restart_rc=1), marker=str(tmp_path / "marker"), force="full",
              last_good_dir=str(tmp_path / "none"), last_good_paths=[str(tmp_path / "x")])
    assert out["failed"] and "Nothing kept from an earlier good start" in out["msg"]
