"""The code tree: the release name's digest (same tree, same digest; any real change, a new one) and its tarball."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.code_tree import digest as tree_digest
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.code_tree import pack


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "pkg").mkdir(parents=True)
    (root / "main.py").write_text("app = None\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "requirements.txt").write_text("httpx==0.28.1\n")
    return root


def test_same_tree_same_digest_wherever_it_lives(app: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere"
    shutil.copytree(app, copy, symlinks=True)
    assert tree_digest(app) == tree_digest(copy)
    assert len(tree_digest(app)) == 64


def test_content_name_and_exec_bit_changes_give_a_new_digest(app: Path) -> None:
    seen = {tree_digest(app)}
    (app / "main.py").write_text("app = 1\n")
    seen.add(tree_digest(app))
    (app / "main.py").chmod(0o755)
    seen.add(tree_digest(app))
    (app / "pkg" / "__init__.py").rename(app / "pkg" / "other.py")
    seen.add(tree_digest(app))
    (app / "requirements.txt").write_text("httpx==0.28.2\n")
    seen.add(tree_digest(app))
    assert len(seen) == 5


def test_bytecode_and_vcs_dirs_do_not_count(app: Path) -> None:
    before = tree_digest(app)
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (app / ".git").mkdir()
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / "stale.pyc").write_bytes(b"\0")
    assert tree_digest(app) == before


def test_symlinks_count_by_target_and_directory_links_are_not_followed(app: Path) -> None:
    before = tree_digest(app)
    (app / "static").symlink_to("/usr/share")
    with_link = tree_digest(app)
    assert with_link != before
    (app / "static").unlink()
    (app / "static").symlink_to("/usr/lib")
    assert tree_digest(app) not in {before, with_link}


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        tree_digest(tmp_path / "nope")


def test_the_tarball_holds_what_the_digest_covers(app: Path, tmp_path: Path) -> None:
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (app / ".git").mkdir()
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / "empty").mkdir()
    (app / "run.sh").write_text("#!/bin/sh\n")
    (app / "run.sh").chmod(0o755)
    (app / "static").symlink_to("pkg")
    tarball = tmp_path / "code.tar.gz"
    assert pack(app, tarball) == 5
    with tarfile.open(tarball) as packed:
        names = {member.name: member for member in packed.getmembers()}
        assert sorted(names) == ["empty", "main.py", "pkg", "pkg/__init__.py", "requirements.txt", "run.sh", "static"]
        assert names["run.sh"].mode & 0o111 and names["static"].issym() and names["static"].linkname == "pkg"
        unpacked = tmp_path / "unpacked"
        packed.extractall(unpacked)  # trusted: made just above
    assert tree_digest(unpacked) == tree_digest(app)
