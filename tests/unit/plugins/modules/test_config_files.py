"""The config_files module, run as Ansible runs it (arguments in, JSON out), on real files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import config_files

ME = str(os.getuid())
MY_GROUP = str(os.getgid())


def run(capsys: pytest.CaptureFixture[str], **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        config_files.main()
    return json.loads(capsys.readouterr().out)


def a_file(dest: Path, content: str, mode: str = "0640", **extra: Any) -> Dict[str, Any]:
    return dict({"dest": str(dest), "content": content, "owner": ME, "group": MY_GROUP, "mode": mode}, **extra)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_directories_and_files_then_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dropin = tmp_path / "shop.service.d"
    args = {"directories": [{"path": str(dropin), "owner": ME, "group": MY_GROUP, "mode": "0750"}],
            "files": [a_file(tmp_path / "gunicorn.conf.py", "workers = 3\n"), a_file(dropin / "reload.conf", "[Service]\n", "0644")]}
    out = run(capsys, **args)
    assert out["changed"] and out["changed_paths"] == [str(dropin), str(tmp_path / "gunicorn.conf.py"), str(dropin / "reload.conf")]
    assert (tmp_path / "gunicorn.conf.py").read_text() == "workers = 3\n" and mode_of(tmp_path / "gunicorn.conf.py") == 0o640
    assert mode_of(dropin) == 0o750 and mode_of(dropin / "reload.conf") == 0o644
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []  # no temporary file left
    again = run(capsys, **args)
    assert not again["changed"] and again["changed_paths"] == []


def test_a_mode_drift_is_put_right(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("workers = 3\n")
    conf.chmod(0o666)
    out = run(capsys, files=[a_file(conf, "workers = 3\n")])
    assert out["changed_paths"] == [str(conf)] and mode_of(conf) == 0o640


def test_a_failed_validate_changes_no_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    unit, conf = tmp_path / "shop.service", tmp_path / "gunicorn.conf.py"
    unit.write_text("old unit\n")
    conf.write_text("workers = 3\n")
    out = run(capsys, files=[a_file(unit, "new unit\n"),
                             a_file(conf, "workers = 'x'\n", validate="grep -q '^workers = [0-9]' %s")])
    assert out["failed"] and out["dest"] == str(conf) and out["rc"] == 1 and "nothing was changed" in out["msg"]
    assert unit.read_text() == "old unit\n" and conf.read_text() == "workers = 3\n"
    assert sorted(os.listdir(tmp_path)) == ["gunicorn.conf.py", "shop.service"]


def test_validate_sees_the_new_content(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    out = run(capsys, files=[a_file(conf, "workers = 5\n", validate="grep -q '^workers = 5$' %s")])
    assert out["changed"] and conf.read_text() == "workers = 5\n"


def test_validate_without_a_placeholder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = run(capsys, files=[a_file(tmp_path / "x.conf", "x\n", validate="true")])
    assert out["failed"] and "must contain %s" in out["msg"] and not (tmp_path / "x.conf").exists()


def test_secret_content_is_in_no_diff_and_not_echoed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = tmp_path / "environment"
    env.write_text("TOKEN=old-token-value\n")
    out = run(capsys, secret_files=[a_file(env, "TOKEN=new-token-value\n")], _ansible_diff=True)
    assert out["changed"] and env.read_text() == "TOKEN=new-token-value\n"
    printed = json.dumps(out)
    assert "new-token-value" not in printed and "old-token-value" not in printed
    assert out["diff"][0]["after"] == "(secret content, changed)\n"


def test_diff_shows_the_content_before_and_after(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("workers = 3\n")
    out = run(capsys, files=[a_file(conf, "workers = 5\n", mode="0644")], _ansible_diff=True)
    assert out["diff"][0] == {"before_header": str(conf), "after_header": str(conf), "before": "workers = 3\n", "after": "workers = 5\n"}


def test_check_mode_reports_and_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf, old, dropin = tmp_path / "gunicorn.conf.py", tmp_path / "shop.socket", tmp_path / "shop.service.d"
    old.write_text("[Socket]\n")
    out = run(capsys, directories=[{"path": str(dropin), "owner": ME, "group": MY_GROUP}],
              files=[a_file(conf, "workers = 3\n", validate="false %s")], absent=[str(old)], _ansible_check_mode=True)
    assert out["changed"] and out["changed_paths"] == [str(dropin), str(conf), str(old)]
    assert not conf.exists() and not dropin.exists() and old.exists()


def test_absent_removes_files_and_refuses_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = tmp_path / "environment"
    old.write_text("A=1\n")
    out = run(capsys, absent=[str(old), str(tmp_path / "never-there")])
    assert out["changed_paths"] == [str(old)] and not old.exists()
    out = run(capsys, absent=[str(tmp_path)])
    assert out["failed"] and "is a directory" in out["msg"]


def test_a_missing_directory_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dest = tmp_path / "no" / "such" / "reload.conf"
    out = run(capsys, files=[a_file(dest, "[Service]\n")])
    assert out["failed"] and out["msg"] == f"{dest}: its directory {dest.parent} does not exist"


def test_validate_runs_with_the_new_environment_file_of_the_same_call(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # gunicorn.conf.py is checked with the environment file's new values, which no command line holds.
    conf, env = tmp_path / "gunicorn.conf.py", tmp_path / "environment"
    env.write_text('TOKEN="old"\n')
    check = "sh -c 'test \"$TOKEN\" = \"new-s3cr3t\" && grep -q workers \"$0\"' %s"
    out = run(capsys, files=[a_file(conf, "workers = 3\n", validate=check, validate_environment=str(env))],
              secret_files=[a_file(env, 'TOKEN="new-s3cr3t"\n')])
    assert out["changed"] and env.read_text() == 'TOKEN="new-s3cr3t"\n'
    # Unchanged environment file: the file as it is.
    conf.write_text("workers = 2\n")
    env.write_text('TOKEN="other"\n')
    out = run(capsys, files=[a_file(conf, "workers = 3\n", validate=check, validate_environment=str(env))])
    assert out["failed"] and "nothing was changed" in out["msg"] and conf.read_text() == "workers = 2\n"


def test_the_invocation_log_never_holds_a_secret_content(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    # AnsibleModule logs its arguments to syslog (the host's journal); a content of several lines escaped by str()
    # escaped its own no_log masking there.
    logged: list[str] = []
    monkeypatch.setattr(config_files.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    secret = 'TOKEN="s3cr3t-9f2c41 line one\nline two"\nOTHER="s3cr3t-9f2c41-b"\n'
    run(capsys, files=[a_file(tmp_path / "plain.conf", "workers = 3\n")], secret_files=[a_file(tmp_path / "environment", secret)])
    [invocation] = [msg for msg in logged if msg.startswith("Invoked with")]
    assert "s3cr3t" not in invocation and str(tmp_path / "environment") in invocation and "workers = 3" in invocation
