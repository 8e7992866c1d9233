# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""How much environment and how many credential bytes can reach an app intact: the limits, and the sizes to check.

The environment file's variables reach each process of the app by
``execve``: systemd's start of the master, the rolling restart's re-exec of
a new master, and the role's checks and release commands
(fasterapi.deploy.app_command). Linux takes at most a quarter of the stack
limit (8 MiB by default, so 2 MiB) for a process's arguments and environment
together, and at most 128 KiB for one ``NAME=value`` string
(``MAX_ARG_STRLEN``). The role allows the environment file 1 MiB, the same
on every path, and leaves the other half to what systemd, the unit and the
command line add.

systemd refuses to start a service whose credentials (``LoadCredential=``)
are larger than 1 MiB, and the start fails with ``status=243/CREDENTIALS``.
Measured with transient units on Debian's systemd:

- 252: each credential's name and bytes count against one budget of
  1 MiB for the service (``CREDENTIALS_TOTAL_SIZE_MAX``): a credential
  named ``n0`` loads with 1,048,574 bytes and fails with 1,048,575;
- 257: the same, and the credentials directory is a tmpfs of 1 MiB in
  which each file takes whole 4 KiB pages: beside 100,000 bytes (25 pages)
  a second credential loads with 946,176 bytes (231 pages) and no more.

The role refuses what either would refuse.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable, Mapping
from typing import Any

MIB = 1024 * 1024
ENVIRONMENT_TOTAL_MAX = MIB
# One NAME=value string and its NUL (MAX_ARG_STRLEN, 32 pages of 4 KiB).
ENVIRONMENT_STRING_MAX = 128 * 1024
CREDENTIALS_TOTAL_MAX = MIB
PAGE = 4096

_VAULT_HEADER = b"$ANSIBLE_VAULT;"
_AES_BLOCK = 16


def environment_text(value: Any) -> str:
    """VALUE as the environment file holds it (what str() gives a number or a boolean)."""
    return value if isinstance(value, str) else str(value)


def environment_string_size(name: str, value: Any) -> int:
    """The bytes NAME=value takes in a process's environment, its NUL included."""
    return len(name.encode("utf-8")) + 1 + len(environment_text(value).encode("utf-8", "surrogatepass")) + 1


def environment_size(environment: Mapping[str, Any]) -> int:
    """The bytes the role's environment file gives a process: every variable, and FASTERAPI_ENVIRONMENT_KEYS naming them."""
    names = [str(name) for name in environment]
    keys = environment_string_size("FASTERAPI_ENVIRONMENT_KEYS", " ".join(sorted(names)))
    return keys + sum(environment_string_size(str(name), value) for name, value in environment.items())


def vault_plaintext_size(data: bytes) -> tuple[int, int] | None:
    """The smallest and largest plaintext an Ansible vault file DATA can hold; None when DATA is no vault file.

    The ciphertext's length is read from the file without decrypting it:
    AES-CTR with PKCS#7 padding of 1 to 16 bytes.
    """
    if not data.startswith(_VAULT_HEADER):
        return None
    body = b"".join(data.splitlines()[1:])
    try:
        parts = binascii.unhexlify(body).split(b"\n")
        ciphertext = len(parts[2]) // 2
    except (binascii.Error, ValueError, IndexError):
        return None
    return max(ciphertext - _AES_BLOCK, 0), max(ciphertext - 1, 0)


def credential_size(spec: Mapping[str, Any]) -> int | None:
    """The fewest bytes the credential SPEC ({src: FILE} or {content: TEXT}) can hold; None when it cannot be read.

    For a vault-encrypted file, the smallest plaintext its ciphertext allows:
    a credential refused by that is too large whatever the padding.
    """
    if "content" in spec:
        return len(str(spec["content"]).encode("utf-8", "surrogatepass"))
    src = spec.get("src")
    if not isinstance(src, str) or not os.path.isfile(src):
        return None
    with open(src, "rb") as handle:
        head = handle.read(len(_VAULT_HEADER))
    if head != _VAULT_HEADER:
        return os.path.getsize(src)
    with open(src, "rb") as handle:
        sizes = vault_plaintext_size(handle.read())
    return sizes[0] if sizes else os.path.getsize(src)


def credentials_cost(sizes: Mapping[str, int]) -> int:
    """What credentials of SIZES (name: bytes) take of systemd's 1 MiB: the larger of its two measures (module doc)."""
    named = sum(len(name.encode("utf-8")) + size for name, size in sizes.items())
    paged = sum(-(-size // PAGE) * PAGE for size in sizes.values())
    return max(named, paged)


def credential_problems(credentials: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(variable, message) for a credential over systemd's limit, or for all of them together."""
    problems = []
    sizes: dict[str, int] = {}
    for name, spec in credentials.items():
        size = credential_size(spec) if isinstance(spec, Mapping) else None
        if size is None:
            continue
        sizes[str(name)] = size
        if credentials_cost({str(name): size}) > CREDENTIALS_TOTAL_MAX:
            problems.append((f"gunicorn_credentials.{name}",
                             f"gunicorn_credentials.{name} holds {size:,} bytes: systemd loads at most {CREDENTIALS_TOTAL_MAX:,} "
                             "bytes (1 MiB) of credentials per service, the name included, and would refuse to start it "
                             "(status=243/CREDENTIALS)."))
    total = credentials_cost(sizes)
    if not problems and total > CREDENTIALS_TOTAL_MAX:
        problems.append(("gunicorn_credentials",
                         f"gunicorn_credentials take {total:,} bytes together ({_largest(sizes)}; each counted with its name, or "
                         f"in whole 4 KiB pages as systemd 257 stores them): systemd loads at most {CREDENTIALS_TOTAL_MAX:,} "
                         "bytes (1 MiB) of credentials per service and would refuse to start it (status=243/CREDENTIALS)."))
    return problems


def environment_problems(environment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(variable, message) when the environment file would not reach the app intact as a whole; names only, never a value."""
    total = environment_size(environment)
    if total <= ENVIRONMENT_TOTAL_MAX:
        return []
    sizes = {str(name): environment_string_size(str(name), value) for name, value in environment.items()}
    return [("gunicorn_environment",
             f"gunicorn_environment holds {total:,} bytes ({_largest(sizes)}; values not shown): the role delivers at most "
             f"{ENVIRONMENT_TOTAL_MAX:,} bytes (1 MiB) of environment, the same to every process of the app (each gets it by "
             "execve, which Linux limits to 2 MiB with the command line). Pass large values as files with gunicorn_credentials.")]


def _largest(sizes: Mapping[str, int], count: int = 3) -> str:
    largest: Iterable[tuple[str, int]] = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:count]
    return "largest " + ", ".join(f"{name} {size:,}" for name, size in largest)
