"""The app_command module, run as Ansible runs it, on real commands: values from the file, never on a command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import app_command

SECRET = "s3cr3t-7c1e9f0a \"quoted\" $HOME\r\nline two"
# Prints the variables it was given and its own command line.
SHOW = "import json, os, sys; print(json.dumps({'env': dict(os.environ), 'argv': sys.argv, 'cmdline': open('/proc/self/cmdline').read()}))"


def run(capsys: pytest.CaptureFixture[str], **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        app_command.main()
    return json.loads(capsys.readouterr().out)


def test_the_command_gets_the_files_values_byte_for_byte(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env_file = tmp_path / "environment"
    env_file.write_bytes(('API_TOKEN="%s"\nPLAIN=1\n' % SECRET.replace('"', '\\"').replace("$", "\\$")).encode())
    out = run(capsys, argv=[sys.executable, "-c", SHOW], environment_file=str(env_file),
              set_environment={"PATH": "/venv/bin:/usr/bin:/bin"}, chdir=str(tmp_path))
    seen = json.loads(out["stdout"])
    assert seen["env"]["API_TOKEN"] == SECRET and seen["env"]["PLAIN"] == "1" and seen["env"]["PATH"] == "/venv/bin:/usr/bin:/bin"
    assert "s3cr3t" not in seen["cmdline"] and out["variables"] == ["API_TOKEN", "PATH", "PLAIN"]
    assert "s3cr3t" not in json.dumps(out["invocation"])


def test_a_failing_command_reports_its_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env_file = tmp_path / "environment"
    env_file.write_text("A=1\n")
    out = run(capsys, argv=[sys.executable, "-c", "import sys; sys.exit('it broke')"], environment_file=str(env_file))
    assert out["failed"] and out["rc"] == 1 and out["stderr"] == "it broke\n"


def test_an_unreadable_file_fails_like_a_command_naming_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = run(capsys, argv=["true"], environment_file=str(tmp_path / "missing"))
    assert out["failed"] and out["rc"] == 2 and "cannot read the environment file %s" % (tmp_path / "missing") in out["stderr"]


def test_the_content_a_file_is_about_to_get(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # For a check before anything is written: parsed as the file will be, and never logged or echoed.
    content = 'API_TOKEN="%s"\n' % SECRET.replace('"', '\\"').replace("$", "\\$")
    out = run(capsys, argv=[sys.executable, "-c", SHOW], environment_content=content)
    seen = json.loads(out["stdout"])
    assert seen["env"]["API_TOKEN"] == SECRET and "s3cr3t" not in seen["cmdline"]
    assert "s3cr3t" not in json.dumps(out["invocation"]) and out["variables"] == ["API_TOKEN"]
    out = run(capsys, argv=["true"])
    assert out["failed"] and "one of the following is required: environment_file, environment_content" in out["msg"]
