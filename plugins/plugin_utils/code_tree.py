# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""An app's code directory on the controller: what belongs to a release, its digest, and its tarball.

The tree_digest lookup names a release by the digest; the gunicorn_release
action packs the same files into the tarball it sends. Both skip what never
belongs in a release (bytecode, version-control and tool caches), so the
digest covers exactly what is shipped.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from pathlib import Path

SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def members(root: str | os.PathLike[str]) -> tuple[list[str], list[tuple[str, Path]]]:
    """The directories and the files (and symlinks) of the tree at ROOT, relative and sorted."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"{base} is not a directory")
    directories: list[str] = []
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        # os.walk lists a symlink to a directory among the directories and
        # does not descend: it is a member as a link.
        links = [d for d in dirnames if Path(dirpath, d).is_symlink()]
        directories += [Path(dirpath, d).relative_to(base).as_posix() for d in dirnames if d not in links]
        for name in filenames + links:
            if not name.endswith(SKIPPED_SUFFIXES):
                path = Path(dirpath, name)
                entries.append((path.relative_to(base).as_posix(), path))
    return sorted(directories), sorted(entries)


def digest(root: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of the tree at ROOT (relative paths, exec bits, contents; symlinks by target)."""
    hashed = hashlib.sha256()
    for relative, path in members(root)[1]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, payload = b"l", os.readlink(path).encode()
        else:
            kind = b"x" if info.st_mode & 0o111 else b"f"
            payload = hashlib.sha256(path.read_bytes()).digest()
        hashed.update(relative.encode() + b"\0" + kind + b"\0" + payload + b"\n")
    return hashed.hexdigest()


def pack(root: str | os.PathLike[str], tarball: str | os.PathLike[str]) -> int:
    """Write the tree at ROOT (its members only) to TARBALL, gzipped; return the number of files."""
    directories, entries = members(root)
    with tarfile.open(tarball, "w:gz", compresslevel=6) as out:
        for relative in directories:
            out.add(Path(root, relative), arcname=relative, recursive=False)
        for relative, path in entries:
            out.add(path, arcname=relative, recursive=False)
    return len(entries)
