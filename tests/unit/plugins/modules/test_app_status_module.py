"""The app_status module: its options reach the module_utils, a bad period fails it, and it never reports a change."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.module_utils import app_status as utils
from ansible_collections.fasterapi.deploy.plugins.modules import app_status


def run(capsys: pytest.CaptureFixture[str], args: Dict[str, Any]) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        app_status.main()
    return json.loads(capsys.readouterr().out)


def test_options_reach_the_host_status_and_nothing_changes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Dict[str, Any]] = []

    def host_status(apps: List[str], unit_dir: str, since: str, **kwargs: Any) -> Dict[str, Any]:
        calls.append(dict(kwargs, apps=apps, unit_dir=unit_dir, since=since))
        return {"apps": [], "found": ["shop"], "faults": ["shop: not running (inactive/dead)"], "findings": [], "since": since,
                "checked_at": "2026-11-26T17:00:00Z"}

    monkeypatch.setattr(utils, "host_status", host_status)
    out = run(capsys, {"apps": ["shop"], "since": "1 day ago", "settle": -1, "exposure": False, "_ansible_check_mode": True})
    assert calls == [{"apps": ["shop"], "unit_dir": "/etc/systemd/system", "since": "1 day ago", "settle": 0.0, "with_exposure": False}]
    # Faults are reported, not failed on: the playbook fails after it has shown them.
    assert not out.get("failed") and out["changed"] is False and out["faults"] == ["shop: not running (inactive/dead)"]


def test_a_period_journalctl_refuses_fails_the_module(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def host_status(*_args: Any, **_kwargs: Any) -> Dict[str, Any]:
        raise ValueError("journalctl --since 'soon' failed: Failed to parse timestamp: soon")

    monkeypatch.setattr(utils, "host_status", host_status)
    out = run(capsys, {"since": "soon"})
    assert out["failed"] and "Failed to parse timestamp: soon" in out["msg"]
