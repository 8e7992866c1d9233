"""The canary_sample module, run as Ansible runs it (arguments in, JSON out), on a log in a temporary directory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import canary_sample


def run(capsys: pytest.CaptureFixture[str], **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        canary_sample.main()
    return json.loads(capsys.readouterr().out)


def entry(t: float, ua: str = "10.0.0.3:8000", us: str = "200", urt: str = "0.004") -> str:
    return '{"t":%.3f,"m":"GET","s":200,"ua":"%s","us":"%s","urt":"%s","rt":0.005}\n' % (t, ua, us, urt)


def test_mark_then_sample_what_was_logged_since(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    log.write_text(entry(time.time() - 500) * 3)
    marked = run(capsys, log=str(log), state="mark", _ansible_check_mode=True)
    assert not marked["changed"] and marked["mark"]["offset"] == log.stat().st_size and marked["mark"]["path"] == str(log)
    now = marked["mark"]["time"]
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(entry(now + 0.001, "10.0.0.2:8000, 10.0.0.3:8000", "502, 200", "0.003, 0.004") + "junk\n")
    found = run(capsys, log=str(log), mark=marked["mark"], until=now + 60)
    assert not found["changed"] and (found["lines"], found["skipped"], found["rotated_unknown"]) == (2, 1, False)
    assert found["upstreams"]["10.0.0.2:8000"]["errors"] == 1 and found["upstreams"]["10.0.0.3:8000"]["requests"] == 1
    assert found["since"] == now and found["until"] == now + 60 and found["now"] >= now
    assert sum(found["upstreams"]["10.0.0.3:8000"]["latency"].values()) == 1


def test_recent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    now = time.time()
    log.write_text(entry(now - 120, "10.0.0.2:8000") + entry(now - 10) + entry(now - 5))
    found = run(capsys, log=str(log), state="recent", seconds=60)
    assert list(found["upstreams"]) == ["10.0.0.3:8000"] and found["upstreams"]["10.0.0.3:8000"]["requests"] == 2
    assert found["until"] - found["since"] == 60


def test_a_missing_log_names_the_path_and_the_setting(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "upstream.log")
    for args in ({"state": "mark"}, {"state": "recent"},
                 {"mark": {"path": missing, "inode": 1, "offset": 0, "time": 0.0}}):
        out = run(capsys, log=missing, **args)
        assert out["failed"] and missing in out["msg"] and "nginx_upstream_log" in out["msg"], args


def test_a_wrong_mark_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    log.write_text("")
    assert "missing: mark" in run(capsys, log=str(log))["msg"]
    out = run(capsys, log=str(log), mark={"path": str(log)})
    assert out["failed"] and "expected what canary_sample returned with state=mark" in out["msg"]
    out = run(capsys, log=str(log), mark={"path": "/var/log/other.log", "inode": log.stat().st_ino, "offset": 0, "time": 0})
    assert out["failed"] and "not of log=" in out["msg"]


def test_an_unreadable_log_fails_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "upstream.log"
    log.mkdir()  # unreadable as a file, even for root
    out = run(capsys, log=str(log), state="recent")
    assert out["failed"] and f"cannot read the access log {log}: Is a directory" == out["msg"]
