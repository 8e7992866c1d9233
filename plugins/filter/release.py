# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Filters naming a release of the fasterapi.deploy.gunicorn role, and picking who resolves its lock.

``release_source`` writes what a release's code is as one string;
``release_name`` names a release from its version and everything it is
built from; ``release_lock`` tells a host that builds a release which host
resolves its lock and whether it resolves it itself. The logic is in
plugins/plugin_utils/release_naming.py.

A file defining several filters has no DOCUMENTATION of its own: each filter's
(for ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import release_naming


def release_name(inputs: Any, version: Any = "", source: str = "", git_version: Any = "HEAD", package: Any = "") -> str:
    """``<label>-<digest>``: the label from VERSION, SOURCE, GIT_VERSION and PACKAGE, the digest of INPUTS."""
    if not isinstance(inputs, (list, tuple)):
        raise AnsibleFilterError(f"release_name expects the list of what the release is built from, not {type(inputs).__name__}")
    try:
        return release_naming.release_name(inputs, release_naming.release_label(version, source, git_version, package))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"release_name: {error}") from None


def release_source(kind: Any, tree: Any = "", commit: Any = "", archive_checksum: Any = "", file_checksum: Any = "",
                   strip_components: Any = 0, package: Any = "") -> str:
    """What a release's code is (dir:, git:, archive:, wheel: or package:), as release_naming.source_ref writes it."""
    try:
        return release_naming.source_ref(str(kind), tree=tree, commit=commit, archive_checksum=archive_checksum,
                                         file_checksum=file_checksum, strip_components=strip_components, package=package)
    except ValueError as error:
        raise AnsibleFilterError(f"release_source: {error}") from None


def release_lock(hosts: Any, hostvars: Any, release: Any, host: Any, offline: Any = False, lock: Any = True) -> dict[str, Any]:
    """What HOST, which builds RELEASE, does about its lock: release_naming.lock_plan's answer."""
    if isinstance(hosts, (str, Mapping)) or not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("release_lock expects the play's hosts (a list) and hostvars (a mapping)")
    try:
        return release_naming.lock_plan(hosts, hostvars, str(release), str(host),
                                        offline=boolean(offline, strict=True), lock=boolean(lock, strict=True))
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"release_lock: {error}") from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"release_name": release_name, "release_source": release_source, "release_lock": release_lock}
