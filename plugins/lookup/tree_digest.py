# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE or https://opensource.org/license/mit)
# SPDX-License-Identifier: MIT
"""Lookup plugin: a content digest of a directory tree on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tree_digest
author: fasterapi.deploy maintainers (@fasterapi)
short_description: SHA-256 of a directory tree's content on the controller
description:
  - Hashes every file's relative path, executable bit and content, in a fixed order, so the same tree
    gives the same digest on any controller. Symlinks are hashed by their target path.
  - Skips what never belongs in a release (C(__pycache__), C(*.pyc), C(.git)), so bytecode on the
    controller does not make a new release.
  - The role names a release by it, so deploying the same code again changes nothing.
options:
  _terms:
    description: Directory paths on the controller.
    required: true
"""

EXAMPLES = r"""
- name: Digest of the app's code
  ansible.builtin.debug:
    msg: "{{ lookup('fasterapi.deploy.tree_digest', '/src/app') }}"
"""

RETURN = r"""
_raw:
  description: One hex SHA-256 digest per directory.
  type: list
  elements: str
"""

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def tree_digest(root: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of the tree at ROOT (paths, exec bits, contents)."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"{base} is not a directory")
    digest = hashlib.sha256()
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        # os.walk lists a symlink to a directory among the directories and
        # does not descend: hash it as a link.
        names = filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]
        for name in names:
            if not name.endswith(SKIPPED_SUFFIXES):
                path = Path(dirpath, name)
                entries.append((path.relative_to(base).as_posix(), path))
    for relative, path in sorted(entries):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, payload = b"l", os.readlink(path).encode()
        else:
            kind = b"x" if info.st_mode & 0o111 else b"f"
            payload = hashlib.sha256(path.read_bytes()).digest()
        digest.update(relative.encode() + b"\0" + kind + b"\0" + payload + b"\n")
    return digest.hexdigest()


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        results = []
        for term in terms:
            try:
                results.append(tree_digest(str(term)))
            except OSError as err:
                raise AnsibleLookupError(f"tree_digest: cannot read {term!r}: {err}") from err
        return results
