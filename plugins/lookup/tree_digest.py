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
  - Skips what never belongs in a release (C(__pycache__), C(*.pyc), C(.git) and other version-control and tool
    caches), so bytecode on the controller does not make a new release. The role ships the same files.
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

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.code_tree import digest


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        results = []
        for term in terms:
            try:
                results.append(digest(str(term)))
            except OSError as err:
                raise AnsibleLookupError(f"tree_digest: cannot read {term!r}: {err}") from err
        return results
