"""The gunicorn_release module, run as Ansible runs it (arguments in, JSON out), on real directories."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.modules import gunicorn_release, gunicorn_release_info


def run(capsys: pytest.CaptureFixture[str], module: Any = gunicorn_release, **args: Any) -> Dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    for number, name in enumerate(["1.0.1-aaaa", "1.0.2-bbbb", "1.0.3-cccc"]):
        (tmp_path / "releases" / name / "app").mkdir(parents=True)
        (tmp_path / "releases" / name / "release.json").write_text("{}")
        os.utime(tmp_path / "releases" / name / "release.json", (1000 + number, 1000 + number))
    (tmp_path / "current").symlink_to("releases/1.0.2-bbbb")
    return tmp_path


def test_info(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, gunicorn_release_info, base_dir=str(base), paths={"config": str(base / "current"), "uv": str(base / "uv")})
    assert (out["changed"], out["current"], out["previous"]) == (False, "1.0.2-bbbb", "")
    assert out["built"] == ["1.0.3-cccc", "1.0.2-bbbb", "1.0.1-aaaa"]
    assert out["exists"] == {"config": True, "uv": False}
    assert out["unfinished"] == []
    (base / "releases" / "1.0.4-dddd" / "app").mkdir(parents=True)
    assert run(capsys, gunicorn_release_info, base_dir=str(base))["unfinished"] == ["1.0.4-dddd"]


def test_current_in_check_mode_shows_the_diff_and_changes_nothing(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, base_dir=str(base), state="current", name="1.0.3-cccc", _ansible_check_mode=True, _ansible_diff=True)
    assert out["changed"] and (out["current"], out["previous"]) == ("1.0.3-cccc", "1.0.2-bbbb")
    assert out["diff"]["after"] == "current -> 1.0.3-cccc\nprevious -> 1.0.2-bbbb\n"
    assert os.readlink(base / "current") == "releases/1.0.2-bbbb"


def test_current_switches_and_is_idempotent(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    marker = base / "marker"
    out = run(capsys, base_dir=str(base), state="current", name="1.0.3-cccc", restart_marker=str(marker))
    assert out["changed"] and (out["current"], out["previous"]) == ("1.0.3-cccc", "1.0.2-bbbb")
    assert marker.read_text() == "rolling\n"
    marker.unlink()
    again = run(capsys, base_dir=str(base), state="current", name="1.0.3-cccc", restart_marker=str(marker))
    assert not again["changed"] and not marker.exists()


def test_current_refuses_a_release_that_is_not_built(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, base_dir=str(base), state="current", name="9.9.9-zzzz")
    assert out["failed"] and "release 9.9.9-zzzz is not built" in out["msg"] and "1.0.3-cccc, 1.0.2-bbbb, 1.0.1-aaaa" in out["msg"]
    assert os.readlink(base / "current") == "releases/1.0.2-bbbb"


@pytest.mark.parametrize("name", ["../etc", ".", "a/b"])
def test_a_name_that_is_no_directory_name_is_refused(capsys: pytest.CaptureFixture[str], base: Path, name: str) -> None:
    out = run(capsys, base_dir=str(base), state="prepared", name=name)
    assert out["failed"] and "is not a release directory name" in out["msg"]


def test_name_is_required_to_build(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, base_dir=str(base), state="built")
    assert out["failed"] and out["msg"] == "name is required with state=built"


def test_pruned_in_check_mode_lists_and_keeps(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, base_dir=str(base), state="pruned", keep=1, _ansible_check_mode=True)
    assert out["changed"] and out["removed"] == ["1.0.1-aaaa"]  # current (1.0.2) and the newest (1.0.3) stay
    assert (base / "releases" / "1.0.1-aaaa").exists()
    out = run(capsys, base_dir=str(base), state="pruned", keep=1)
    assert out["removed"] == ["1.0.1-aaaa"] and out["built"] == ["1.0.3-cccc", "1.0.2-bbbb"]


def test_a_failed_build_names_the_step_and_removes_the_release(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown to root needs root")
    run(capsys, base_dir=str(base), state="prepared", name="2.0.0-dddd")
    out = run(capsys, base_dir=str(base), state="built", name="2.0.0-dddd", installer="pip", python="/nonexistent/python3",
              packages=["gunicorn"], environment={"PIP_INDEX_URL": "https://user:secret@example.invalid/simple"})
    assert out["failed"]
    assert out["msg"].startswith("Release 2.0.0-dddd was not built: installing its dependencies with pip failed")
    assert "secret" not in json.dumps(out)
    assert not (base / "releases" / "2.0.0-dddd").exists()


def test_a_code_archive_starts_an_empty_release_and_a_bad_one_leaves_none(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    release = base / "releases" / "2.0.0-eeee"
    (release / "app").mkdir(parents=True)
    (release / "app" / "left-from-an-interrupted-build.py").write_text("")
    bad = base / "bad.tar"
    with tarfile.open(bad, "w") as out:
        info = tarfile.TarInfo("../../escape.py")
        out.addfile(info)
    out = run(capsys, base_dir=str(base), state="built", name="2.0.0-eeee", installer="pip", code_archive=str(bad))
    assert out["failed"] and out["step"] == "code" and "would land outside the release" in out["msg"]
    assert not release.exists() and out["msg"].startswith("Release 2.0.0-eeee was not built: ")


def test_src_is_for_the_action_plugin(capsys: pytest.CaptureFixture[str], base: Path) -> None:
    out = run(capsys, base_dir=str(base), state="built", name="2.0.0-eeee", installer="pip", src="/home/me/app")
    assert out["failed"] and "the action plugin sends it" in out["msg"]
