"""The companions module's check, run as Ansible runs it on a real release tree and this machine's systemd-analyze.

(Starting, replacing and retiring units needs systemd: molecule/companions.)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import companions


def run(capsys: pytest.CaptureFixture[str], **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        companions.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def release(tmp_path: Path) -> Path:
    """A release as the role builds it: venv/bin with celery and python, app/ with the module jobs."""
    top = tmp_path / "releases" / "1.0.0-aaaa"
    (top / "venv" / "bin").mkdir(parents=True)
    (top / "app").mkdir()
    celery = top / "venv" / "bin" / "celery"
    celery.write_text("#!/bin/sh\n")
    celery.chmod(0o755)
    os.symlink(sys.executable, top / "venv" / "bin" / "python")
    (top / "app" / "jobs.py").write_text("raise RuntimeError('a check must not run the module')\n")
    return top


def test_commands_found_in_the_release_pass(capsys: pytest.CaptureFixture[str], release: Path) -> None:
    out = run(capsys, action="check", app="shop", release_dir=str(release),
              companions=[{"name": "worker", "command": "celery -A jobs worker"}, {"name": "consumer", "command": "python -m jobs"}],
              timers=[{"name": "report", "command": ["python3", "-m", "jobs"], "on_calendar": "daily"}])
    assert not out.get("failed") and out["changed"] is False


def test_a_command_not_in_the_venv_and_a_module_not_found_are_refused_by_name(
        capsys: pytest.CaptureFixture[str], release: Path) -> None:
    out = run(capsys, action="check", app="shop", release_dir=str(release),
              companions=[{"name": "worker", "command": "celeryd -A jobs worker"}, {"name": "ok", "command": "celery -A jobs beat"}],
              timers=[{"name": "report", "command": "python -m nosuchmodule", "on_calendar": "daily"}])
    assert out["failed"]
    assert out["msg"].startswith("2 problems with the companions and scheduled jobs of shop; nothing live was changed:")
    assert "- gunicorn_companions[0].command: 'celeryd' is not in the release's venv (%s/venv/bin)" % release in out["msg"]
    assert "- gunicorn_timers[0].command: python -m nosuchmodule: no module 'nosuchmodule'" in out["msg"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_a_calendar_systemd_rejects_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, action="check", app="shop",
              timers=[{"name": "a", "command": "x", "on_calendar": ["daily", "every tuesday at noonish"]},
                      {"name": "b", "command": "x", "on_calendar": "*:*:0/5"}])
    assert out["failed"]
    assert ('gunicorn_timers[0].on_calendar="every tuesday at noonish": systemd rejects it (Failed to parse calendar '
            "specification 'every tuesday at noonish'") in out["msg"]
    assert "gunicorn_timers[1]" not in out["msg"] and out["msg"].startswith("1 problem ")
