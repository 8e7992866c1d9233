"""tests/tools/make_app_versions.py makes the sample app's versions the scenarios deploy."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from _load import load_module

make_app_versions = load_module("tests/tools/make_app_versions.py", "make_app_versions")
SAMPLE = Path(__file__).resolve().parents[1] / "sample_app"


def test_each_version_is_the_sample_with_its_number(tmp_path: Path) -> None:
    written = make_app_versions.make(tmp_path, SAMPLE, [("v1", "1.0.1"), ("v2", "1.0.2")])
    for name, version in (("v1", "1.0.1"), ("v2", "1.0.2")):
        assert (tmp_path / name / "VERSION").read_text() == version + "\n"
        assert (tmp_path / name / "main.py").read_bytes() == (SAMPLE / "main.py").read_bytes()
        assert (tmp_path / name / "static" / "hello.txt").read_bytes() == (SAMPLE / "static" / "hello.txt").read_bytes()
        assert oct((tmp_path / name / "main.py").stat().st_mode & 0o777) == "0o644"
        assert not (tmp_path / name / "FAIL_STARTUP").exists()
    assert str(tmp_path / "v1" / "main.py") in written


def test_a_second_run_writes_nothing(tmp_path: Path) -> None:
    args = ([("v1", "1.0.1"), ("bad", "9.9.1")], ["bad"], [], [("v1", "six==1.17.0")])
    assert make_app_versions.make(tmp_path, SAMPLE, *args)
    assert make_app_versions.make(tmp_path, SAMPLE, *args) == []


def test_the_broken_versions_and_the_requirements(tmp_path: Path) -> None:
    make_app_versions.make(tmp_path, SAMPLE, [("imp", "9.9.1"), ("start", "9.9.2"), ("deps", "1.0.10")],
                           break_import=["imp"], fail_startup=["start"],
                           requirements=[("deps", "six==1.17.0"), ("deps", "idna==3.20")])
    main = (tmp_path / "imp" / "main.py").read_text().split("\n")
    assert main[main.index("from __future__ import annotations") + 1] == "import module_that_does_not_exist"
    assert main.count("import module_that_does_not_exist") == 1
    with pytest.raises(ModuleNotFoundError, match="module_that_does_not_exist"):
        runpy.run_path(str(tmp_path / "imp" / "main.py"))
    assert (tmp_path / "start" / "FAIL_STARTUP").read_text() == "startup fails on purpose\n"
    assert (tmp_path / "deps" / "requirements.txt").read_text() == "six==1.17.0\nidna==3.20\n"
    assert (tmp_path / "start" / "requirements.txt").read_bytes() == (SAMPLE / "requirements.txt").read_bytes()


def test_a_version_that_is_no_longer_broken_loses_its_fail_startup_file(tmp_path: Path) -> None:
    make_app_versions.make(tmp_path, SAMPLE, [("v1", "1.0.1")], fail_startup=["v1"])
    assert make_app_versions.make(tmp_path, SAMPLE, [("v1", "1.0.1")]) == [str(tmp_path / "v1" / "FAIL_STARTUP")]
    assert not (tmp_path / "v1" / "FAIL_STARTUP").exists()


@pytest.mark.parametrize(("argv", "says"), [
    (["v1"], "'v1' is not NAME=VALUE"),
    (["../v1=1.0.1"], "is not NAME=VALUE with a plain directory name"),
    (["v1=1.0.1", "--fail-startup", "v2"], "v2 is not one of the versions made (v1)"),
])
def test_bad_arguments_are_refused(tmp_path: Path, argv: list[str], says: str) -> None:
    with pytest.raises(SystemExit, match=says.replace("(", r"\(").replace(")", r"\)")):
        make_app_versions.main([str(tmp_path)] + argv)
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_prints_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert make_app_versions.main([str(tmp_path), "v3=1.0.3", "--requirements", "v3=six==1.17.0"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert str(tmp_path / "v3" / "requirements.txt") in written and str(tmp_path / "v3" / "VERSION") in written


def test_a_faulty_version_gets_its_fault_file_and_loses_it_when_healed(tmp_path: Path) -> None:
    make_app_versions.make(tmp_path, SAMPLE, [("slow", "4.9.2"), ("ok", "4.0.1")], faults=[("slow", '{"delay": 0.2}')])
    assert json.loads((tmp_path / "slow" / "FAULT").read_text()) == {"delay": 0.2}
    assert not (tmp_path / "ok" / "FAULT").exists()
    assert make_app_versions.make(tmp_path, SAMPLE, [("slow", "4.9.2")]) == [str(tmp_path / "slow" / "FAULT")]
    with pytest.raises(SystemExit, match="not one of the versions made"):
        make_app_versions.make(tmp_path, SAMPLE, [("ok", "4.0.1")], faults=[("nope", '{"delay": 1}')])
