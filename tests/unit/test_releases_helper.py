"""The host-side releases helper reads the release state and prunes old releases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _load import ROOT, load_module

helper = load_module("roles/gunicorn/files/fasterapi_releases.py", "fasterapi_releases")


def _release(base: Path, name: str, mtime: float | None) -> None:
    """A release directory; built (with release.json of MTIME) unless MTIME is None."""
    (base / "releases" / name / "app").mkdir(parents=True)
    if mtime is not None:
        marker = base / "releases" / name / "release.json"
        marker.write_text("{}")
        os.utime(marker, (mtime, mtime))


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    for number in range(1, 8):
        _release(tmp_path, f"v{number}", 1000.0 + number)
    _release(tmp_path, "half-built", None)
    (tmp_path / "current").symlink_to(tmp_path / "releases" / "v2")
    (tmp_path / "previous").symlink_to("releases/v1")
    return tmp_path


def test_state_names_links_and_built_releases_newest_first(base: Path) -> None:
    (base / "gunicorn.conf.py").write_text("")
    result = helper.state(str(base), str(base / "gunicorn.conf.py"), sys.executable)
    assert result == {"current": "v2", "previous": "v1", "built": [f"v{n}" for n in range(7, 0, -1)],
                      "config": True, "uv": True}


def test_state_of_a_new_host(tmp_path: Path) -> None:
    assert helper.state(str(tmp_path / "none"), str(tmp_path / "none.py"), str(tmp_path / "uv")) == {
        "current": "", "previous": "", "built": [], "config": False, "uv": False}


def test_prune_keeps_the_newest_and_both_links(base: Path) -> None:
    removed = helper.prune(str(base), 3)
    assert removed == ["half-built", "v3", "v4"]
    assert sorted(os.listdir(base / "releases")) == ["v1", "v2", "v5", "v6", "v7"]
    assert helper.prune(str(base), 3) == []


def test_the_role_runs_the_files_text_with_python_c(base: Path) -> None:
    code = (ROOT / "roles/gunicorn/files/fasterapi_releases.py").read_text()
    out = subprocess.run([sys.executable, "-c", code, "prune", str(base), "6"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["half-built"]
    bad = subprocess.run([sys.executable, "-c", code, "prune", str(base)], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr
