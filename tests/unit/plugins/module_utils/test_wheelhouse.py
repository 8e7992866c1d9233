"""plugins/module_utils/wheelhouse.py: the target's tags, the lock's hashes, and a build with stand-in uv and pip."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from pathlib import Path

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import wheelhouse

GOOD = b"a wheel"
LOCK = ("anyio==4.16.0 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\n"
        "uvloop==0.23.0 ; sys_platform != 'win32' \\\n    --hash=sha256:%s\n"
        % (hashlib.sha256(GOOD).hexdigest(), "1" * 64, "2" * 64))


def test_platform_tags_go_down_from_the_hosts_glibc() -> None:
    tags = wheelhouse.platform_tags("x86_64", "2.36")
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux_2_5_x86_64" in tags
    assert "manylinux_2_37_x86_64" not in tags
    assert tags[-4:] == ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]


@pytest.mark.parametrize(("glibc", "expected"), [("2.41", "x86_64-manylinux_2_40"), ("2.36", "x86_64-manylinux_2_36"),
                                                 ("2.30", "x86_64-manylinux_2_28"), ("2.12", "x86_64-manylinux_2_17")])
def test_uv_platform_is_the_newest_uv_knows_for_the_glibc(glibc: str, expected: str) -> None:
    assert wheelhouse.uv_platform("x86_64", glibc) == expected


def test_lock_hashes_map_each_hash_to_its_requirement() -> None:
    found = wheelhouse.lock_hashes(LOCK)
    assert found["1" * 64] == "anyio==4.16.0"
    assert found["2" * 64] == "uvloop==0.23.0"
    assert len(found) == 3


@pytest.mark.parametrize(("python", "machine", "glibc", "error"), [
    ("3", "x86_64", "2.36", "python_version '3' is not MAJOR.MINOR"),
    ("3.11", "sparc", "2.36", "machine 'sparc' is none of"),
    ("3.11", "ppc64le", "2.36", "machine 'ppc64le' is none of x86_64, aarch64"),
    ("3.11", "x86_64", "", "glibc '' is not a glibc 2.x version"),
])
def test_targets_without_wheels_are_refused(python: str, machine: str, glibc: str, error: str) -> None:
    with pytest.raises(wheelhouse.WheelhouseError, match=error):
        wheelhouse.check_target(python, machine, glibc)


def test_target_name() -> None:
    assert wheelhouse.target_name("3.13", "aarch64", "2.41") == "cp313-manylinux_2_41_aarch64"


def _stand_ins(tmp_path: Path, wheel: bytes) -> tuple[str, str]:
    """A uv that narrows the lock to anyio, and a python whose 'pip download' writes WHEEL into --dest."""
    uv = tmp_path / "uv"
    uv.write_text("#!/bin/sh\necho 'anyio==4.16.0'\n")
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nwhile [ \"$1\" != --dest ]; do shift; done\necho \"$@\" > %s/args\n"
                      "printf '%%s' '%s' > \"$2/anyio-4.16.0-py3-none-any.whl\"\n" % (tmp_path, wheel.decode()))
    for tool in (uv, python):
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return str(uv), str(python)


def test_build_downloads_the_wheels_of_the_lock_for_the_target(tmp_path: Path) -> None:
    uv, python = _stand_ins(tmp_path, GOOD)
    got = wheelhouse.build(str(tmp_path / "w"), LOCK, "3.11", "x86_64", "2.36", uv, python)
    assert got == {"wheels": ["anyio-4.16.0-py3-none-any.whl"], "downloaded": ["anyio-4.16.0-py3-none-any.whl"],
                   "requirements": ["anyio==4.16.0"]}
    args = (tmp_path / "args").read_text()
    assert "--platform manylinux_2_36_x86_64" in args and "--requirement" in args
    again = wheelhouse.build(str(tmp_path / "w"), LOCK, "3.11", "x86_64", "2.36", uv, python)
    assert again["downloaded"] == []


def test_a_wheel_whose_hash_the_lock_lacks_is_removed_and_refused(tmp_path: Path) -> None:
    uv, python = _stand_ins(tmp_path, b"something else")
    with pytest.raises(wheelhouse.WheelhouseError, match="anyio-4.16.0-py3-none-any.whl is not a file the lock names"):
        wheelhouse.build(str(tmp_path / "w"), LOCK, "3.11", "x86_64", "2.36", uv, python)
    assert os.listdir(tmp_path / "w") == []


def test_a_failing_download_names_the_step(tmp_path: Path) -> None:
    uv, _python = _stand_ins(tmp_path, GOOD)
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'No matching distribution found for uvloop==0.23.0' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(wheelhouse.WheelhouseError, match=r"downloading the wheels \(pip download\) failed") as raised:
        wheelhouse.build(str(tmp_path / "w"), LOCK, "3.11", "x86_64", "2.36", uv, str(failing))
    assert "uvloop" in raised.value.output


def test_bundle_packs_only_what_the_host_lacks_owned_by_root(tmp_path: Path) -> None:
    dest = tmp_path / "w"
    dest.mkdir()
    for name in ("a-1-py3-none-any.whl", "b-2-py3-none-any.whl", "uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl"):
        (dest / name).write_bytes(name.encode())
    (dest / name).chmod(0o600)
    path, names = wheelhouse.bundle(str(dest), ["a-1-py3-none-any.whl", "not-here.whl"])
    try:
        assert names == ["b-2-py3-none-any.whl", "uv-0.13.9-py3-none-manylinux_2_17_x86_64.whl"]
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            assert [m.name for m in members] == names
            assert {(m.uid, m.gid, m.uname, m.mode, m.isfile()) for m in members} == {(0, 0, "root", 0o644, True)}
            extracted = tar.extractfile(names[1])
            assert extracted is not None and extracted.read() == names[1].encode()
    finally:
        os.unlink(path)


def test_bundle_makes_no_archive_when_the_host_has_everything(tmp_path: Path) -> None:
    (tmp_path / "a-1-py3-none-any.whl").write_bytes(b"x")
    assert wheelhouse.bundle(str(tmp_path), ["a-1-py3-none-any.whl"]) == ("", [])
