"""Filters for the fasterapi.deploy.gunicorn role.

``gunicorn_bind`` parses one gunicorn bind address into its parts so the
role can validate it early and derive a health-check target from it;
``python_literal`` renders an Ansible value as Python source for
``gunicorn.conf.py``; the ``ip_allow_*`` filters check and pick out entries of
systemd's ``IPAddressAllow=``; ``lock_host`` picks the host that resolves a
release's packages for all the hosts that build it; ``systemd_env_quote``
writes a value for a systemd EnvironmentFile= line.

The bind address parser and the ``ip_allow_*`` checks are
plugins/plugin_utils/binds.py's (the gunicorn role's checks use them too),
the lock host's choice is plugins/plugin_utils/release_naming.py's.

A file defining several filters has no DOCUMENTATION of its own: each filter's
(for ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.fasterapi.deploy.plugins.module_utils import companions
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import binds, release_naming
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.binds import (
    gunicorn_bind_error, ip_allow_entries, ip_allow_error, ip_allow_reaches_beyond_loopback)


def gunicorn_bind(value: Any) -> dict[str, Any]:
    """Parse one gunicorn bind address; raise AnsibleFilterError when it is not one."""
    try:
        return binds.gunicorn_bind(value)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None


def python_literal(value: Any) -> str:
    """Render a YAML-born value as Python source (str, int, float, bool, None, list, dict)."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    raise AnsibleFilterError(f"cannot write a value of type {type(value).__name__} into gunicorn.conf.py: {value!r}")


def lock_host(hosts: Any, releases: Any, built: Any) -> dict[str, str]:
    """For each release in RELEASES (host: release), the host that gives its lock, as release_naming.lock_hosts chooses it.

    HOSTS: the play's hosts in order; BUILT: host to the releases built there (plugins/filter/lock_host.yml).
    """
    try:
        return release_naming.lock_hosts(hosts, releases, built)
    except TypeError as error:
        raise AnsibleFilterError(str(error)) from None


# Characters systemd's environment-file parser unescapes after a backslash
# inside double quotes (its SHELL_NEED_ESCAPE); every other character,
# newlines included, stands for itself there.
_SYSTEMD_ENV_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"}


def systemd_env_quote(value: Any) -> str:
    """A value for a systemd EnvironmentFile= line, which systemd reads back exactly.

    Double-quoted, with backslash, double quote, dollar and backtick escaped;
    line breaks, tabs and characters beyond ASCII are written as they are (systemd keeps
    them inside double quotes). A NUL cannot be in an environment value: refused.
    """
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise AnsibleFilterError("systemd_env_quote: an environment value cannot hold a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise AnsibleFilterError("systemd_env_quote: an environment value must be valid Unicode text "
                                 f"(systemd drops values that are not UTF-8): {error.reason}") from None
    return '"' + "".join(_SYSTEMD_ENV_ESCAPES.get(char, char) for char in text) + '"'


def companion_exec(command: Any, venv_bin: str) -> str:
    """The ExecStart= value that runs a companion's or scheduled job's COMMAND from VENV_BIN (plugins/filter/companion_exec.yml)."""
    try:
        return companions.exec_line(command, venv_bin)
    except ValueError as error:
        raise AnsibleFilterError(f"companion_exec: {error}") from None


def companion_units(companions_: Any, app: str, unit_dir: str, timers: Any) -> list[dict[str, Any]]:
    """The unit files of an app's companions and scheduled jobs, with the templates that write them (plugins/filter/companion_units.yml)."""
    try:
        return companions.unit_files(app, unit_dir, companions_ or [], timers or [])
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"companion_units: {error}") from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"gunicorn_bind": gunicorn_bind, "gunicorn_bind_error": gunicorn_bind_error,
                "python_literal": python_literal, "ip_allow_error": ip_allow_error,
                "ip_allow_entries": ip_allow_entries,
                "ip_allow_reaches_beyond_loopback": ip_allow_reaches_beyond_loopback,
                "lock_host": lock_host, "systemd_env_quote": systemd_env_quote,
                "companion_exec": companion_exec, "companion_units": companion_units}
