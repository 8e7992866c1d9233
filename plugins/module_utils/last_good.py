# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The files an app last started well with, kept to put back when a full restart fails.

A full restart (``systemctl restart``) stops the app before systemd reads a
new unit, environment file or credential; if the start then fails, the app
is down until something good is in place again. After every start that
worked, the fasterapi.deploy.gunicorn_restart module keeps a copy of those
files (the unit, its drop-ins, the environment file, the credentials,
gunicorn.conf.py) in a root-only directory; after a full restart that
fails, it puts them back and starts the app again.

The copy is a directory holding ``manifest.json`` (each kept path, and
whether it was a file, a directory or absent) and the files by number,
with their owners and modes. Standard library only: this runs with the
host's python3 (3.9 or later).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from typing import Dict, List, Sequence

MANIFEST = "manifest.json"


def _copy(source: str, dest: str) -> None:
    """SOURCE to DEST (a file), with its owner, mode and times, replaced atomically."""
    temporary = "%s.fasterapi-new" % dest
    shutil.copy2(source, temporary)
    info = os.stat(source)
    os.chown(temporary, info.st_uid, info.st_gid)
    os.replace(temporary, dest)


def _same_file(first: str, second: str) -> bool:
    if not (os.path.isfile(first) and os.path.isfile(second)):
        return False
    a, b = os.stat(first), os.stat(second)
    return (a.st_mode, a.st_uid, a.st_gid) == (b.st_mode, b.st_uid, b.st_gid) and filecmp.cmp(first, second, shallow=False)


def _entries(paths: Sequence[str]) -> List[Dict[str, object]]:
    entries: List[Dict[str, object]] = []
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            entries.append({"path": path, "kind": "directory", "files": sorted(
                name for name in os.listdir(path) if os.path.isfile(os.path.join(path, name)))})
        elif os.path.isfile(path):
            entries.append({"path": path, "kind": "file"})
        else:
            entries.append({"path": path, "kind": "absent"})
    return entries


def matches(paths: Sequence[str], keep_dir: str) -> bool:
    """Whether KEEP_DIR holds PATHS as they are now (nothing to copy)."""
    try:
        with open(os.path.join(keep_dir, MANIFEST), encoding="utf-8") as handle:
            kept = json.load(handle)
    except (OSError, ValueError):
        return False
    entries = _entries(paths)
    if [(e["path"], e["kind"], e.get("files")) for e in entries] != [(e["path"], e["kind"], e.get("files")) for e in kept]:
        return False
    for number, entry in enumerate(entries):
        stored = os.path.join(keep_dir, str(number))
        path = str(entry["path"])
        if entry["kind"] == "file" and not _same_file(path, stored):
            return False
        if entry["kind"] == "directory":
            if os.stat(path).st_mode != os.stat(stored).st_mode:
                return False
            if not all(_same_file(os.path.join(path, name), os.path.join(stored, name)) for name in entry["files"]):  # type: ignore[union-attr]
                return False
    return True


def save(paths: Sequence[str], keep_dir: str) -> bool:
    """Keep PATHS as they are now in KEEP_DIR (root only), replacing what it held; whether anything was copied."""
    if matches(paths, keep_dir):
        return False
    new = keep_dir + ".new"
    shutil.rmtree(new, ignore_errors=True)
    os.makedirs(new, mode=0o700)
    entries = _entries(paths)
    for number, entry in enumerate(entries):
        stored = os.path.join(new, str(number))
        path = str(entry["path"])
        if entry["kind"] == "file":
            _copy(path, stored)
        elif entry["kind"] == "directory":
            os.makedirs(stored)
            shutil.copystat(path, stored)
            info = os.stat(path)
            os.chown(stored, info.st_uid, info.st_gid)
            for name in entry["files"]:  # type: ignore[union-attr]
                _copy(os.path.join(path, name), os.path.join(stored, name))
    with open(os.path.join(new, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(entries, handle, indent=1)
    old = keep_dir + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(keep_dir):
        os.rename(keep_dir, old)
    os.rename(new, keep_dir)
    shutil.rmtree(old, ignore_errors=True)
    return True


def restore(keep_dir: str) -> List[str]:
    """Put back what KEEP_DIR holds; the paths that changed. Raises OSError or ValueError when nothing is kept."""
    with open(os.path.join(keep_dir, MANIFEST), encoding="utf-8") as handle:
        entries = json.load(handle)
    changed = []
    for number, entry in enumerate(entries):
        stored = os.path.join(keep_dir, str(number))
        path = entry["path"]
        if entry["kind"] == "file":
            if not _same_file(path, stored):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                _copy(stored, path)
                changed.append(path)
        elif entry["kind"] == "absent":
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                changed.append(path)
            elif os.path.lexists(path):
                os.unlink(path)
                changed.append(path)
        else:
            if not os.path.isdir(path):
                if os.path.lexists(path):
                    os.unlink(path)
                os.makedirs(path)
            info = os.stat(stored)
            os.chmod(path, info.st_mode & 0o7777)
            os.chown(path, info.st_uid, info.st_gid)
            for name in sorted(os.listdir(path)):
                if name not in entry["files"] and os.path.isfile(os.path.join(path, name)):
                    os.unlink(os.path.join(path, name))
                    changed.append(os.path.join(path, name))
            for name in entry["files"]:
                if not _same_file(os.path.join(path, name), os.path.join(stored, name)):
                    _copy(os.path.join(stored, name), os.path.join(path, name))
                    changed.append(os.path.join(path, name))
    return changed
