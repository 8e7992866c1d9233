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


# links, and a call-level validate (nginx -t: the whole configuration, read from the real paths)


def hidden(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith("."))


def test_links_are_made_repointed_and_left_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    link = tmp_path / "enabled.conf"
    out = run(capsys, links=[{"dest": str(link), "src": "/etc/nginx/sites-available/a.conf"}], _ansible_diff=True)
    assert out["changed_paths"] == [str(link)] and os.readlink(link) == "/etc/nginx/sites-available/a.conf"
    assert out["diff"][0]["before"] == "(absent)\n" and out["diff"][0]["after"] == "symbolic link to /etc/nginx/sites-available/a.conf\n"
    again = run(capsys, links=[{"dest": str(link), "src": "/etc/nginx/sites-available/a.conf"}])
    assert not again["changed"]
    out = run(capsys, links=[{"dest": str(link), "src": "b.conf"}])
    assert out["changed_paths"] == [str(link)] and os.readlink(link) == "b.conf" and hidden(tmp_path) == []


def test_a_link_over_a_file_is_refused_before_anything_changes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf, link = tmp_path / "a.conf", tmp_path / "enabled.conf"
    link.write_text("a regular file\n")
    out = run(capsys, files=[a_file(conf, "new\n")], links=[{"dest": str(link), "src": str(conf)}])
    assert out["failed"] and out["msg"] == f"{link} exists and is not a symbolic link"
    assert not conf.exists() and link.read_text() == "a regular file\n"


def test_links_in_check_mode_change_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    link = tmp_path / "no-such-dir" / "enabled.conf"
    out = run(capsys, links=[{"dest": str(link), "src": "a.conf"}], _ansible_check_mode=True)
    assert out["changed_paths"] == [str(link)] and not link.parent.exists()


def test_validate_runs_once_with_every_new_path_in_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf_d, sites = tmp_path / "conf.d", tmp_path / "sites"
    conf_d.mkdir()
    http, site, link, old = conf_d / "shared.conf", tmp_path / "site.conf", sites / "site.conf", conf_d / "old.conf"
    http.write_text("old shared\n")
    old.write_text("old\n")
    log = tmp_path / "checks.log"
    check = (f"sh -c 'grep -qx \"new shared\" {http} && grep -qx \"new site\" {link} && test ! -e {old}"
             f" && echo checked >> {log}'")
    out = run(capsys, directories=[{"path": str(sites), "owner": ME, "group": MY_GROUP}],
              files=[a_file(http, "new shared\n", "0644"), a_file(site, "new site\n", "0644")],
              links=[{"dest": str(link), "src": str(site)}], absent=[str(old)], validate=check)
    assert out["changed"] and out["changed_paths"] == [str(sites), str(http), str(site), str(link), str(old)]
    assert log.read_text() == "checked\n"
    assert http.read_text() == "new shared\n" and os.readlink(link) == str(site) and not old.exists()
    assert hidden(tmp_path) == [] and hidden(conf_d) == [] and hidden(sites) == []  # no backup, no temporary left


def test_a_failed_validate_puts_every_path_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf_d, sites = tmp_path / "conf.d", tmp_path / "sites"
    conf_d.mkdir()
    http, site, proxy = conf_d / "shared.conf", tmp_path / "site.conf", tmp_path / "proxy.conf"
    old, moved, link = conf_d / "old.conf", tmp_path / "moved.conf", tmp_path / "moved-link.conf"
    http.write_text("old shared\n")
    http.chmod(0o640)
    inode = http.stat().st_ino
    proxy.write_text("proxy\n")
    proxy.chmod(0o600)  # only its mode changes
    old.write_text("old\n")
    link.symlink_to("first.conf")
    out = run(capsys, directories=[{"path": str(sites / "deep"), "owner": ME, "group": MY_GROUP}],
              files=[a_file(http, "new shared\n", "0644"), a_file(site, "new site\n", "0644"), a_file(proxy, "proxy\n", "0644")],
              links=[{"dest": str(sites / "deep" / "site.conf"), "src": str(site)}, {"dest": str(link), "src": "second.conf"}],
              absent=[str(old), str(moved)],
              validate="sh -c 'echo \"nginx: [emerg] cannot load certificate\" >&2; exit 1'")
    assert out["failed"] and out["validate_failed"] and out["rc"] == 1
    assert out["stderr"].strip() == "nginx: [emerg] cannot load certificate"
    assert "every path was put back as it was" in out["msg"] and "not_put_back" not in out
    assert http.read_text() == "old shared\n" and mode_of(http) == 0o640 and http.stat().st_ino == inode
    assert mode_of(proxy) == 0o600 and not site.exists() and old.read_text() == "old\n"
    assert os.readlink(link) == "first.conf" and not sites.exists()
    assert hidden(tmp_path) == [] and hidden(conf_d) == []


def test_validate_does_not_run_when_nothing_changed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "a.conf"
    conf.write_text("same\n")
    conf.chmod(0o644)
    out = run(capsys, files=[a_file(conf, "same\n", "0644")], validate="false")
    assert not out.get("failed") and not out["changed"]


def test_validate_does_not_run_in_check_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "a.conf"
    out = run(capsys, files=[a_file(conf, "new\n")], validate="false", _ansible_check_mode=True, _ansible_diff=True)
    assert not out.get("failed") and out["changed_paths"] == [str(conf)] and out["diff"][0]["after"] == "new\n"
    assert not conf.exists()


def test_a_missing_validate_command_puts_every_path_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "a.conf"
    conf.write_text("old\n")
    out = run(capsys, files=[a_file(conf, "new\n")], validate="/no/such/nginx -t")
    assert out["failed"] and out["validate_failed"] and out["rc"] == 127 and "/no/such/nginx" in out["stderr"]
    assert conf.read_text() == "old\n" and hidden(tmp_path) == []


def test_a_failure_after_a_change_puts_it_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The file is in place when the link's directory turns out missing.
    conf = tmp_path / "a.conf"
    conf.write_text("old\n")
    link = tmp_path / "missing" / "a.conf"
    out = run(capsys, files=[a_file(conf, "new\n")], links=[{"dest": str(link), "src": str(conf)}], validate="true")
    assert out["failed"] and "its directory" in out["msg"]
    assert conf.read_text() == "old\n" and hidden(tmp_path) == []


def test_a_private_copy_is_kept_where_hard_links_fail(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    env = tmp_path / "environment"
    env.write_text("TOKEN=old\n")
    env.chmod(0o640)

    def no_link(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError("hard links refused")
    monkeypatch.setattr(config_files.os, "link", no_link)
    out = run(capsys, secret_files=[a_file(env, "TOKEN=new\n")], validate="false")
    assert out["failed"] and env.read_text() == "TOKEN=old\n" and mode_of(env) == 0o640 and hidden(tmp_path) == []
    out = run(capsys, secret_files=[a_file(env, "TOKEN=new\n")], validate="true")
    assert out["changed"] and env.read_text() == "TOKEN=new\n" and hidden(tmp_path) == []


def test_a_per_file_validate_still_runs_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf, log = tmp_path / "a.conf", tmp_path / "log"
    out = run(capsys, files=[a_file(conf, "new\n", validate="false %s")], validate=f"sh -c 'echo ran > {log}'")
    assert out["failed"] and out["validate_failed"] and out["dest"] == str(conf) and "nothing was changed" in out["msg"]
    assert not conf.exists() and not log.exists()
