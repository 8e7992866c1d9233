# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""gunicorn bind addresses and systemd IPAddressAllow= entries (controller side).

:func:`gunicorn_bind` parses one of gunicorn's bind addresses into its parts,
so that the gunicorn role can check it early and derive a health-check
target and the sandbox's facts from it; the ``ip_allow_*`` functions check
and pick out entries of systemd's ``IPAddressAllow=``.

Used by the gunicorn role's checks (gunicorn_checks.py) and by the filters
of the same names in ``plugins/filter/gunicorn.py``. :func:`gunicorn_bind`
raises ``ValueError``, which its filter turns into Ansible's error.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EXPECTED = "expected HOST:PORT, [IPV6]:PORT, unix:/absolute/path or fd://N"
_IP_KEYWORDS = ("any", "localhost", "link-local", "multicast")


def _port(text: str, value: str) -> int:
    if not text.isdigit():
        raise ValueError(f"bind address {value!r}: port {text!r} is not a number; {_EXPECTED}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"bind address {value!r}: port {port} is outside 1-65535")
    return port


def gunicorn_bind(value: Any) -> dict[str, Any]:
    """Parse one gunicorn bind address; raise ValueError (naming VALUE and what is expected) when it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"bind address {value!r} is not a non-empty string; {_EXPECTED}")
    text = value.strip()
    result: dict[str, Any] = {"kind": "tcp", "host": None, "port": None, "path": None, "fd": None,
                              "probe_host": None, "address": text, "loopback": False, "privileged": False,
                              "listen": None}
    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if not path.startswith("/") or "\x00" in path or path.endswith("/"):
            raise ValueError(f"bind address {value!r}: a unix socket needs an absolute file path; {_EXPECTED}")
        if len(path.encode()) > 107:
            raise ValueError(f"bind address {value!r}: unix socket path longer than 107 bytes")
        result.update(kind="unix", path=path, loopback=True, listen=path)
        return result
    if text.startswith("fd://"):
        fd = text[len("fd://"):]
        if not fd.isdigit():
            raise ValueError(f"bind address {value!r}: fd://N needs a file descriptor number")
        result.update(kind="fd", fd=int(fd))
        return result
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bind address {value!r}: an IPv6 address needs a port, as [::1]:8000")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"bind address {value!r}: {host!r} is not an IPv6 address") from None
        port = _port(rest[1:], text)
        address6 = ipaddress.IPv6Address(host)
        probe = "::1" if address6.is_unspecified else host
        result.update(host=host, port=port, probe_host=probe, loopback=address6.is_loopback,
                      privileged=port < 1024, listen=f"[{host}]:{port}")
        return result
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"bind address {value!r} has no host and port; {_EXPECTED}")
    if ":" in host:
        raise ValueError(f"bind address {value!r}: write an IPv6 address in brackets, as [::1]:8000")
    port = _port(port_text, text)
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
            raise ValueError(f"bind address {value!r}: {host!r} is neither an IPv4 address nor a host name") from None
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
    except ValueError as error:
        return str(error)
    return ""


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
