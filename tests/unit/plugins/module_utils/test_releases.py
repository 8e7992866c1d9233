"""plugins/module_utils/releases.py on real directories (no containers)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
from ansible_collections.fasterapi.deploy.plugins.module_utils import releases


def make_release(base: Path, name: str, mtime: float, built: bool = True) -> None:
    rel = base / "releases" / name
    (rel / "app").mkdir(parents=True)
    if built:
        (rel / "release.json").write_text("{}")
        os.utime(rel / "release.json", (mtime, mtime))


def link(base: Path, name: str, release: str) -> None:
    (base / name).symlink_to(f"releases/{release}")


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    for number in range(1, 8):
        make_release(tmp_path, f"1.0.{number}-aaaa", 1000.0 + number)
    make_release(tmp_path, "broken", 0, built=False)  # an interrupted build
    link(tmp_path, "current", "1.0.2-aaaa")
    link(tmp_path, "previous", "1.0.1-aaaa")
    return tmp_path


def test_state_lists_built_releases_newest_first(base: Path) -> None:
    state = releases.read_state(str(base))
    assert state["current"] == "1.0.2-aaaa" and state["previous"] == "1.0.1-aaaa"
    assert state["built"] == [f"1.0.{n}-aaaa" for n in range(7, 0, -1)]


def test_state_of_a_new_host(tmp_path: Path) -> None:
    assert releases.read_state(str(tmp_path / "nothing")) == {"current": "", "previous": "", "built": []}


def test_prune_keeps_the_newest_and_the_linked_ones(base: Path) -> None:
    assert releases.plan_prune(str(base), 3) == ["1.0.3-aaaa", "1.0.4-aaaa", "broken"]
    assert releases.prune(str(base), 3) == ["1.0.3-aaaa", "1.0.4-aaaa", "broken"]
    assert sorted(os.listdir(base / "releases")) == ["1.0.1-aaaa", "1.0.2-aaaa", "1.0.5-aaaa", "1.0.6-aaaa", "1.0.7-aaaa"]
    assert releases.prune(str(base), 3) == []


def test_switch_moves_previous_then_current_and_leaves_the_marker(base: Path) -> None:
    marker = base / ".restart-pending"
    done = releases.switch(str(base), "1.0.7-aaaa", restart_marker=str(marker))
    assert done["changed"] and done["before"] == {"current": "1.0.2-aaaa", "previous": "1.0.1-aaaa"}
    assert os.readlink(base / "current") == "releases/1.0.7-aaaa"
    assert os.readlink(base / "previous") == "releases/1.0.2-aaaa"
    assert marker.read_text() == "rolling\n" and stat.S_IMODE(marker.stat().st_mode) == 0o600
    assert not list(base.glob(".*.tmp"))


def test_switch_to_current_changes_nothing(base: Path) -> None:
    marker = base / ".restart-pending"
    assert not releases.switch(str(base), "1.0.2-aaaa", restart_marker=str(marker))["changed"]
    assert not marker.exists()
    assert os.readlink(base / "previous") == "releases/1.0.1-aaaa"


def test_a_full_restart_owed_is_not_downgraded(base: Path) -> None:
    marker = base / ".restart-pending"
    marker.write_text("full\n")
    releases.switch(str(base), "1.0.7-aaaa", restart_marker=str(marker))
    assert marker.read_text() == "full\n"


def test_switch_back_with_an_explicit_previous(base: Path) -> None:
    releases.switch(str(base), "1.0.7-aaaa")
    releases.switch(str(base), "1.0.2-aaaa", previous="1.0.1-aaaa")  # the rescue of a failed go-live
    assert (os.readlink(base / "current"), os.readlink(base / "previous")) == ("releases/1.0.2-aaaa", "releases/1.0.1-aaaa")


def test_rollback_swaps_current_and_previous(base: Path) -> None:
    releases.switch(str(base), "1.0.1-aaaa")
    assert (os.readlink(base / "current"), os.readlink(base / "previous")) == ("releases/1.0.1-aaaa", "releases/1.0.2-aaaa")


def test_first_release_has_no_previous(tmp_path: Path) -> None:
    make_release(tmp_path, "1.0.0-aaaa", 1.0)
    releases.switch(str(tmp_path), "1.0.0-aaaa")
    assert os.readlink(tmp_path / "current") == "releases/1.0.0-aaaa" and not (tmp_path / "previous").exists()


def test_a_release_that_is_not_built_is_refused(base: Path) -> None:
    with pytest.raises(releases.ReleaseError, match="broken is not built"):
        releases.switch(str(base), "broken")
    assert os.readlink(base / "current") == "releases/1.0.2-aaaa"


def test_prepare_starts_from_an_empty_directory(tmp_path: Path) -> None:
    rel = tmp_path / "r"
    (rel / "app").mkdir(parents=True)
    (rel / "app" / "left.py").write_text("")
    releases.prepare(str(rel))
    assert os.listdir(rel) == ["app"] and os.listdir(rel / "app") == []
    assert stat.S_IMODE(rel.stat().st_mode) == 0o755


@pytest.mark.parametrize(("mode", "is_dir", "expected"), [
    (0o600, False, 0o644), (0o700, False, 0o755), (0o777, False, 0o755), (0o666, False, 0o644),
    (0o700, True, 0o755), (0o2770, True, 0o2755), (0o640, False, 0o644),
])
def test_readable_mode_is_chmod_u_rwX_go_rX_go_w(mode: int, is_dir: bool, expected: int) -> None:
    assert releases.readable_mode(mode, is_dir) == expected


class Recorder:
    """Stands in for subprocess: records each command, fails the one that matches FAIL."""

    def __init__(self, purelib: Path, fail: str = "") -> None:
        self.calls: List[List[str]] = []
        self.purelib = purelib
        self.fail = fail

    def __call__(self, argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        self.calls.append(list(argv))
        if self.fail and self.fail in " ".join(argv):
            return subprocess.CompletedProcess(list(argv), 1, "", "ERROR: no such package fasterapi-deploy-no-such-package")
        joined = " ".join(argv)
        out = (str(self.purelib) + "\n" if "sysconfig" in joined else '["gunicorn==27.0.1"]\n' if "importlib.metadata" in joined
               else "3.11\n" if "version_info" in joined else "lock==1 \\\n    --hash=sha256:00\n" if " compile " in joined else "")
        return subprocess.CompletedProcess(list(argv), 0, out, "")


def _release(tmp_path: Path) -> Path:
    rel = tmp_path / "releases" / "1.0.0-aaaa"
    releases.prepare(str(rel))
    (rel / "app" / "requirements.txt").write_text("fastapi\n")
    return rel


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_build_with_uv_in_order_and_release_json_last(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    purelib = tmp_path / "purelib"
    purelib.mkdir()
    tool = tmp_path / "fasterapi_deploy_hooks.py"
    tool.write_text("X = 1\n")
    runner = Recorder(purelib)
    steps = releases.build(str(rel), "uv", "python3", ["gunicorn==27.0.1"], uv="/uv", requirements_file=str(rel / "app" / "requirements.txt"),
                           extra_args=["--no-cache"], venv_files={tool.name: tool.read_text()}, metadata={"name": "1.0.0-aaaa"},
                           runner=runner)
    assert steps == ["venv", "venv files", "bytecode", "release.json"]
    assert runner.calls[0] == ["/uv", "venv", "--quiet", "--python", "python3", f"{rel}/venv"]
    assert runner.calls[1] == ["/uv", "pip", "install", "--python", f"{rel}/venv/bin/python", "--compile-bytecode", "--no-cache",
                               "gunicorn==27.0.1", "--requirement", f"{rel}/app/requirements.txt"]
    assert runner.calls[-1][:4] == [f"{rel}/venv/bin/python", "-m", "compileall", "-q"]
    assert (purelib / "fasterapi_deploy_hooks.py").read_text() == "X = 1\n"
    assert json.loads((rel / "release.json").read_text()) == {"name": "1.0.0-aaaa", "packages": ["gunicorn==27.0.1"], "lock_source": "none"}
    assert not (rel / releases.LOCK).exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_a_build_from_a_lock_installs_the_lock_with_hashes_and_keeps_it(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (tmp_path / "purelib").mkdir()
    runner = Recorder(tmp_path / "purelib")
    releases.build(str(rel), "pip", "python3", ["gunicorn==27.0.1"], requirements_file=str(rel / "app" / "requirements.txt"),
                   lock="gunicorn==27.0.1 --hash=sha256:00\n", runner=runner)
    assert runner.calls[1] == [f"{rel}/venv/bin/pip", "install", "--require-virtualenv", "--require-hashes",
                               "--requirement", f"{rel}/{releases.LOCK}"]
    assert (rel / releases.LOCK).read_text() == "gunicorn==27.0.1 --hash=sha256:00\n"
    recorded = json.loads((rel / "release.json").read_text())
    assert recorded["lock_sha256"] == hashlib.sha256(b"gunicorn==27.0.1 --hash=sha256:00\n").hexdigest()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
@pytest.mark.parametrize("first_error, calls", [
    ("error: No solution found when resolving dependencies:\n  Because there is no version of idna==3.21", 2),
    ("error: Failed to download idna==3.21", 1),
])
def test_a_lock_install_reads_the_index_pages_again_once_when_uv_finds_no_pinned_version(
        tmp_path: Path, first_error: str, calls: int) -> None:
    rel = _release(tmp_path)
    (tmp_path / "purelib").mkdir()
    runner = Recorder(tmp_path / "purelib")
    installs: List[List[str]] = []

    def stale_once(argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        if argv[1:3] == ["pip", "install"]:
            installs.append(list(argv))
            if len(installs) == 1:
                return subprocess.CompletedProcess(list(argv), 1, "", first_error)
        return runner(argv, environment)

    lock = "gunicorn==27.0.1 --hash=sha256:00\n"
    if calls == 1:
        with pytest.raises(releases.ReleaseError, match="installing its dependencies with uv failed"):
            releases.build(str(rel), "uv", "python3", [], uv="/uv", lock=lock, runner=stale_once)
        assert not rel.exists()
    else:
        steps = releases.build(str(rel), "uv", "python3", [], uv="/uv", lock=lock, runner=stale_once)
        assert "index pages read again" in steps
        assert installs[1] == installs[0] + ["--refresh"]
    assert len(installs) == calls


def test_resolve_compiles_the_packages_and_requirements_for_the_hosts_python(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    runner = Recorder(tmp_path)
    seen: List[str] = []

    def recording(argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        if " compile " in " ".join(argv):
            seen.append(Path(argv[-1]).read_text())
        return runner(argv, environment)

    got = releases.resolve(str(rel), "/uv", "python3", ["gunicorn==27.0.1"], requirements_file=str(rel / "app" / "requirements.txt"),
                           runner=recording)
    assert got == {"lock": "lock==1 \\\n    --hash=sha256:00\n", "source": "resolved"}
    compile_call = runner.calls[1]
    assert compile_call[:9] == ["/uv", "pip", "compile", "--quiet", "--universal", "--generate-hashes", "--no-header",
                                "--python-version", "3.11"]
    assert seen == [f"gunicorn==27.0.1\n--requirement {rel}/app/requirements.txt\n"]


def test_resolve_takes_the_requirements_text_when_the_code_is_not_on_the_host_yet(tmp_path: Path) -> None:
    rel = tmp_path / "releases" / "r"
    seen: List[str] = []

    def recording(argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        if " compile " in " ".join(argv):
            listed = Path(argv[-1]).read_text()
            seen.append(listed)
            seen.append(Path(listed.splitlines()[1].split(" ", 1)[1]).read_text())
        return Recorder(tmp_path)(argv, environment)

    releases.resolve(str(rel), "/uv", "python3", ["gunicorn"], requirements_file=str(rel / "app" / "requirements.txt"),
                     requirements_text="fastapi==0.1\n", runner=recording)
    assert seen[1] == "fastapi==0.1\n"


def test_resolve_for_a_python_that_is_not_here(tmp_path: Path) -> None:
    runner = Recorder(tmp_path)
    releases.resolve(str(tmp_path / "r"), "/uv", "/nonexistent/python3", ["gunicorn"], python_version="3.13", runner=runner)
    assert len(runner.calls) == 1 and runner.calls[0][7:9] == ["--python-version", "3.13"]


def test_resolve_returns_the_lock_a_built_release_keeps(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (rel / releases.LOCK).write_text("kept\n")
    runner = Recorder(tmp_path)
    assert releases.resolve(str(rel), "/uv", "python3", ["gunicorn"], runner=runner) == {"lock": "kept\n", "source": "release"}
    assert runner.calls == []


def test_installed_lists_a_real_venv(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    listed = releases.installed_packages(str(tmp_path / "venv"))
    assert any(line.startswith("pip==") for line in listed), listed


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_build_with_pip_without_a_requirements_file(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (tmp_path / "purelib").mkdir()
    runner = Recorder(tmp_path / "purelib")
    releases.build(str(rel), "pip", "/usr/bin/python3", ["gunicorn==27.0.1"], requirements_file=str(rel / "app" / "missing.txt"), runner=runner)
    assert runner.calls[0] == ["/usr/bin/python3", "-m", "venv", f"{rel}/venv"]
    assert runner.calls[1] == [f"{rel}/venv/bin/pip", "install", "--require-virtualenv", "gunicorn==27.0.1"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_a_failed_install_removes_the_half_built_release_and_names_the_step(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    runner = Recorder(tmp_path, fail="pip install")
    with pytest.raises(releases.ReleaseError, match="installing its dependencies with uv failed") as raised:
        releases.build(str(rel), "uv", "python3", ["fasterapi-deploy-no-such-package"], uv="/uv", runner=runner)
    assert "fasterapi-deploy-no-such-package" in raised.value.output
    assert not rel.exists()


def test_a_real_pip_build(tmp_path: Path) -> None:
    """End to end with this machine's python: a venv without network (no packages), the tool installed and compiled."""
    if os.geteuid() != 0:
        pytest.skip("chown to root needs root")
    rel = _release(tmp_path)
    (rel / "app" / "main.py").write_text("app = None\n")
    tool = tmp_path / "fasterapi_deploy_hooks.py"
    tool.write_text("HOOKS = True\n")
    releases.build(str(rel), "pip", sys.executable, [], extra_args=["--no-index"], venv_files={tool.name: tool.read_text()}, metadata={"v": 1})
    out = subprocess.run([f"{rel}/venv/bin/python", "-c", "import fasterapi_deploy_hooks; print(fasterapi_deploy_hooks.HOOKS)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
    assert list((rel / "app" / "__pycache__").glob("main.*.pyc"))
    assert (rel / "release.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_a_venv_file_name_that_is_a_path_is_refused(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (tmp_path / "purelib").mkdir()
    with pytest.raises(releases.ReleaseError, match="'../x.py' is not a module file name"):
        releases.build(str(rel), "pip", "python3", ["gunicorn"], venv_files={"../x.py": ""}, runner=Recorder(tmp_path / "purelib"))
    assert not rel.exists()


def _tarball(path: Path, members: Dict[str, bytes], links: Optional[Dict[str, str]] = None,
             hard: Optional[Dict[str, str]] = None) -> Path:
    with tarfile.open(path, "w:gz") as out:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            out.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            out.addfile(info)
        for name, target in (hard or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            out.addfile(info)
    return path


def test_unpack_puts_the_code_in_place(tmp_path: Path) -> None:
    archive = _tarball(tmp_path / "code.tar.gz", {"main.py": b"app = 1\n", "pkg/__init__.py": b""}, links={"static": "/usr/share"})
    app = tmp_path / "rel" / "app"
    app.mkdir(parents=True)
    assert releases.unpack(str(archive), str(app)) == 3
    assert (app / "main.py").read_bytes() == b"app = 1\n" and (app / "pkg" / "__init__.py").exists()
    assert os.readlink(app / "static") == "/usr/share"


@pytest.mark.parametrize("members, hard", [
    ({"../escape.py": b"x"}, {}),
    ({"/etc/cron.d/x": b"x"}, {}),
    ({"a/../../escape.py": b"x"}, {}),
    ({}, {"passwd": "../../etc/passwd"}),
])
def test_unpack_refuses_a_member_outside_the_release_before_writing(
        tmp_path: Path, members: Dict[str, bytes], hard: Dict[str, str]) -> None:
    archive = _tarball(tmp_path / "bad.tar.gz", dict({"ok.py": b"x"}, **members), hard=hard)
    app = tmp_path / "rel" / "app"
    app.mkdir(parents=True)
    with pytest.raises(releases.ReleaseError, match="would land outside the release"):
        releases.unpack(str(archive), str(app))
    assert list(app.iterdir()) == [] and not (tmp_path / "escape.py").exists()


def test_unpack_of_a_broken_archive_is_a_release_error(tmp_path: Path) -> None:
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(releases.ReleaseError, match="unpacking the code failed"):
        releases.unpack(str(tmp_path / "broken.tar.gz"), str(tmp_path))


def test_copy_tree_leaves_out_git_entries_and_keeps_links(tmp_path: Path) -> None:
    src = tmp_path / "checkout"
    (src / ".git" / "objects").mkdir(parents=True)
    (src / "lib" / "sub").mkdir(parents=True)
    (src / "lib" / ".git").write_text("gitdir: ../.git/modules/lib\n")  # a submodule's .git is a file
    (src / "main.py").write_text("app = 1\n")
    (src / "lib" / "sub" / "x.py").write_text("X = 2\n")
    (src / "link.py").symlink_to("main.py")
    dest = tmp_path / "app"
    dest.mkdir()
    assert releases.copy_tree(str(src), str(dest)) == 3
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["lib", "lib/sub", "lib/sub/x.py", "link.py", "main.py"]
    assert os.readlink(dest / "link.py") == "main.py"


APP_LOCK = "starlette==0.38.6 \\\n    --hash=sha256:ss01\nanyio==4.16.0 --hash=sha256:aa01\n"


class IndexSays(Recorder):
    """Stands in for uv on an index that has INDEX_HASHES for starlette and anyio, and gunicorn 27.0.1."""

    def __init__(self, tmp_path: Path, starlette_hashes: str = "sha256:ss01 sha256:ss02") -> None:
        super().__init__(tmp_path)
        self.starlette = starlette_hashes
        self.inputs: List[str] = []

    def __call__(self, argv: Sequence[str], environment: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
        if " compile " not in " ".join(argv):
            return super().__call__(argv, environment)
        self.calls.append(list(argv))
        self.inputs.append(Path(argv[-1]).read_text())
        hashes = "".join(" \\\n    --hash=%s" % h for h in self.starlette.split())
        out = "anyio==4.16.0 \\\n    --hash=sha256:aa01\n    # via starlette\nstarlette==0.38.6%s\n    # via -r lock-pins.in\n" % hashes
        if argv[-1].endswith("collection.in"):
            out += "gunicorn==27.0.1 \\\n    --hash=sha256:gg01\n    # via -r collection.in\n"
        return subprocess.CompletedProcess(list(argv), 0, out, "")


def test_resolve_installs_the_apps_hashed_lock_as_it_is_plus_the_collections_packages(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (rel / "app" / "requirements.txt").write_text(APP_LOCK)
    uv = IndexSays(tmp_path)
    got = releases.resolve(str(rel), "/uv", "python3", ["gunicorn==27.0.1"], requirements_file=str(rel / "app" / "requirements.txt"),
                           extra_args=["--index-url", "https://mirror/simple"], runner=uv)
    assert got["source"] == "app"
    assert got["lock"].startswith(APP_LOCK) and got["lock"].endswith("gunicorn==27.0.1 \\\n    --hash=sha256:gg01\n")
    check, collection = [call for call in uv.calls if "compile" in call]
    # The lock's pins for this platform (no --universal), then the collection's packages for every platform, both held to the pins.
    assert "--universal" not in check and "--universal" in collection
    assert check[check.index("--constraint") - 2:check.index("--constraint")] == ["--index-url", "https://mirror/simple"]
    assert uv.inputs == ["starlette==0.38.6\nanyio==4.16.0\n", "gunicorn==27.0.1\n"]


def test_resolve_refuses_a_tampered_hash_before_the_release_is_built(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (rel / "app" / "requirements.txt").write_text(APP_LOCK.replace("ss01", "5501"))
    says = r"^requirements.txt \(gunicorn_app_requirements_file\): the hash sha256:5501 of starlette==0.38.6 matches none"
    with pytest.raises(releases.ReleaseError, match=says):
        releases.resolve(str(rel), "/uv", "python3", ["gunicorn==27.0.1"], requirements_file=str(rel / "app" / "requirements.txt"),
                         runner=IndexSays(tmp_path))


def test_resolve_takes_the_hashed_lock_from_the_text_when_the_code_is_not_on_the_host(tmp_path: Path) -> None:
    got = releases.resolve(str(tmp_path / "r"), "/uv", "python3", [], requirements_file=str(tmp_path / "r" / "app" / "requirements.txt"),
                           requirements_text=APP_LOCK, runner=IndexSays(tmp_path))
    assert got == {"lock": APP_LOCK, "source": "app"}


def test_resolve_refuses_a_python_that_does_not_run(tmp_path: Path) -> None:
    with pytest.raises(releases.ReleaseError, match=r"the Python /nonexistent/python3 does not run on this host \(gunicorn_python\)"):
        releases.resolve(str(tmp_path / "r"), "/uv", "/nonexistent/python3", ["gunicorn"], runner=Recorder(tmp_path))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_a_hashed_requirements_file_without_the_roles_lock_is_refused(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (rel / "app" / "requirements.txt").write_text(APP_LOCK)
    with pytest.raises(releases.ReleaseError, match=r"requirements.txt pins hashes: .*gunicorn_lock: true"):
        releases.build(str(rel), "uv", "python3", ["gunicorn==27.0.1"], uv="/uv", requirements_file=str(rel / "app" / "requirements.txt"),
                       runner=Recorder(tmp_path))
    assert not rel.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
def test_a_build_from_the_apps_lock_records_it_and_refuses_what_the_lock_does_not_pin(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    (rel / "app" / "requirements.txt").write_text(APP_LOCK)
    (tmp_path / "purelib").mkdir()
    lock = APP_LOCK + "gunicorn==27.0.1 --hash=sha256:gg01\n"
    releases.build(str(rel), "uv", "python3", [], uv="/uv", requirements_file=str(rel / "app" / "requirements.txt"), lock=lock,
                   runner=Recorder(tmp_path / "purelib"))
    assert json.loads((rel / "release.json").read_text())["lock_source"] == "app"
    rel = _release(tmp_path)
    with pytest.raises(releases.ReleaseError, match=r"against the lock failed: gunicorn==27.0.1 not in the lock"):
        releases.build(str(rel), "uv", "python3", [], uv="/uv", lock=APP_LOCK, runner=Recorder(tmp_path / "purelib"))
    assert not rel.exists()


def test_a_requirements_file_that_must_be_there_and_is_not_is_refused_naming_the_variable(tmp_path: Path) -> None:
    rel = _release(tmp_path)
    says = r"^requirements/prod.txt \(gunicorn_app_requirements_file\) is not in the code"
    with pytest.raises(releases.ReleaseError, match=says):
        releases.resolve(str(rel), "/uv", "python3", ["gunicorn"], requirements_file=str(rel / "app" / "requirements" / "prod.txt"),
                         requirements_required=True, runner=Recorder(tmp_path))
    with pytest.raises(releases.ReleaseError, match=says):
        releases.build(str(rel), "uv", "python3", ["gunicorn"], uv="/uv", requirements_file=str(rel / "app" / "requirements" / "prod.txt"),
                       requirements_required=True, runner=Recorder(tmp_path))
    assert not rel.exists()
