"""Filters for the fasterapi.deploy.gunicorn role.

``gunicorn_bind`` parses one gunicorn bind address into its parts so the
role can validate it early and derive a health-check target from it;
``python_literal`` renders an Ansible value as Python source for
``gunicorn.conf.py``; the ``ip_allow_*`` filters check and pick out entries of
systemd's ``IPAddressAllow=``; ``lock_host`` picks the host that resolves a
release's packages for all the hosts that build it.

A file defining several filters has no DOCUMENTATION of its own: each filter's
(for ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ansible.errors import AnsibleFilterError

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EXPECTED = "expected HOST:PORT, [IPV6]:PORT, unix:/absolute/path or fd://N"


def _port(text: str, value: str) -> int:
    if not text.isdigit():
        raise AnsibleFilterError(f"bind address {value!r}: port {text!r} is not a number; {_EXPECTED}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise AnsibleFilterError(f"bind address {value!r}: port {port} is outside 1-65535")
    return port


def gunicorn_bind(value: Any) -> dict[str, Any]:
    """Parse one gunicorn bind address; raise AnsibleFilterError when it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise AnsibleFilterError(f"bind address {value!r} is not a non-empty string; {_EXPECTED}")
    text = value.strip()
    result: dict[str, Any] = {"kind": "tcp", "host": None, "port": None, "path": None, "fd": None,
                              "probe_host": None, "address": text, "loopback": False, "privileged": False,
                              "listen": None}
    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if not path.startswith("/") or "\x00" in path or path.endswith("/"):
            raise AnsibleFilterError(f"bind address {value!r}: a unix socket needs an absolute file path; {_EXPECTED}")
        if len(path.encode()) > 107:
            raise AnsibleFilterError(f"bind address {value!r}: unix socket path longer than 107 bytes")
        result.update(kind="unix", path=path, loopback=True, listen=path)
        return result
    if text.startswith("fd://"):
        fd = text[len("fd://"):]
        if not fd.isdigit():
            raise AnsibleFilterError(f"bind address {value!r}: fd://N needs a file descriptor number")
        result.update(kind="fd", fd=int(fd))
        return result
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise AnsibleFilterError(f"bind address {value!r}: an IPv6 address needs a port, as [::1]:8000")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AnsibleFilterError(f"bind address {value!r}: {host!r} is not an IPv6 address") from None
        port = _port(rest[1:], text)
        address6 = ipaddress.IPv6Address(host)
        probe = "::1" if address6.is_unspecified else host
        result.update(host=host, port=port, probe_host=probe, loopback=address6.is_loopback,
                      privileged=port < 1024, listen=f"[{host}]:{port}")
        return result
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise AnsibleFilterError(f"bind address {value!r} has no host and port; {_EXPECTED}")
    if ":" in host:
        raise AnsibleFilterError(f"bind address {value!r}: write an IPv6 address in brackets, as [::1]:8000")
    port = _port(port_text, text)
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
            raise AnsibleFilterError(f"bind address {value!r}: {host!r} is neither an IPv4 address nor a host name") from None
        result.update(host=host, port=port, probe_host=host, loopback=host == "localhost", privileged=port < 1024)
        return result
    probe = "127.0.0.1" if address.is_unspecified else host
    result.update(host=host, port=port, probe_host=probe, loopback=address.is_loopback, privileged=port < 1024,
                  listen=f"{host}:{port}")
    return result


def gunicorn_bind_error(value: Any) -> str:
    """The reason VALUE is not a gunicorn bind address, or "" when it is one."""
    try:
        gunicorn_bind(value)
    except AnsibleFilterError as err:
        return str(err.message)
    return ""


_IP_KEYWORDS = ("any", "localhost", "link-local", "multicast")


def ip_allow_error(value: Any) -> str:
    """Why VALUE is not an entry of systemd's IPAddressAllow=, or "" when it is one."""
    if isinstance(value, str) and value in _IP_KEYWORDS:
        return ""
    try:
        if "%" in str(value):  # an IPv6 zone (fe80::1%eth0): systemd takes none
            raise ValueError(value)
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return (f"{value!r} is not an IP address or CIDR prefix (e.g. 10.0.0.5 or 10.0.0.0/24), "
                f"nor one of {', '.join(_IP_KEYWORDS)}")
    return ""


def ip_allow_entries(values: Any) -> list[str]:
    """The VALUES that are IPAddressAllow= entries (e.g. the host's name servers), in order, others dropped."""
    return [value for value in values or [] if isinstance(value, str) and not ip_allow_error(value)]


def ip_allow_reaches_beyond_loopback(entries: Any) -> bool:
    """True when an IPAddressAllow= list lets in more than this host's loopback addresses."""
    for entry in entries or []:
        if entry in ("any", "link-local", "multicast"):
            return True
        if entry == "localhost" or ip_allow_error(entry):
            continue
        if not ipaddress.ip_network(str(entry), strict=False).is_loopback:
            return True
    return False


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
    """For each release in RELEASES (host: release), the host that gives its lock.

    HOSTS is the play's hosts in order; BUILT maps a host to the releases
    built on it. A host that has the release built already (its kept lock)
    comes first, else the first host that builds it, so every host of a
    release installs one lock, whenever it joined.
    """
    if not isinstance(releases, dict) or not isinstance(built, dict):
        raise AnsibleFilterError("lock_host expects a mapping of host to release and one of host to built releases")
    chosen: dict[str, str] = {}
    for host in hosts:
        release = releases.get(host)
        if release and host in built and release in (built.get(host) or []) and release not in chosen:
            chosen[release] = host
    for host in hosts:
        release = releases.get(host)
        if release and release not in chosen:
            chosen[release] = host
    return chosen


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


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"gunicorn_bind": gunicorn_bind, "gunicorn_bind_error": gunicorn_bind_error,
                "python_literal": python_literal, "ip_allow_error": ip_allow_error,
                "ip_allow_entries": ip_allow_entries,
                "ip_allow_reaches_beyond_loopback": ip_allow_reaches_beyond_loopback,
                "lock_host": lock_host, "systemd_env_quote": systemd_env_quote}
