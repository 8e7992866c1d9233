# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""nginx's own binary upgrade under systemd: a new master beside the old one, then the old one out, no request lost.

A package upgrade replaces /usr/sbin/nginx, and Debian's maintainer scripts
then restart nginx: every connection is dropped, and new ones are refused
until it is back. nginx can instead start a new master from the new binary,
which inherits the listening sockets (USR2); the old master's workers then
stop taking connections and finish the ones they have (WINCH), and the old
master leaves (QUIT). Measured on Debian 12 (nginx 1.22.1) and 13 (1.26.3):
systemd's nginx.service (Type=forking, PIDFile=/run/nginx.pid) follows the
new master as its main process once the old one exits, and reload, stop and
start work after it.

This module holds the parts that read the host: the masters' pids, whether
the running master runs the binary on disk, its workers; the module
fasterapi.deploy.nginx_upgrade runs the steps.
"""

from __future__ import annotations

import os
from typing import List, Optional

PROC = "/proc"


def read_pid(path: str) -> Optional[int]:
    """The pid in nginx's pid file PATH, or None (no file, or not a number)."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except (FileNotFoundError, PermissionError):
        return None
    return int(text) if text.isdigit() else None


def alive(pid: int, proc: str = PROC) -> bool:
    """PID runs (and is not a zombie)."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return fields[0] != "Z"


def children(pid: int, proc: str = PROC) -> List[int]:
    """The live children of PID (a master's workers and cache processes)."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat"), encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def exe(pid: int, proc: str = PROC) -> str:
    """The binary PID runs, as the kernel names it (ending in ' (deleted)' once the file was replaced)."""
    try:
        return os.readlink(os.path.join(proc, str(pid), "exe"))
    except (FileNotFoundError, PermissionError):
        return ""


def runs_binary(pid: int, binary: str, proc: str = PROC) -> bool:
    """PID runs the file now at BINARY (not one a package upgrade replaced)."""
    name = exe(pid, proc)
    if not name or name.endswith(" (deleted)"):
        return False
    try:
        running, on_disk = os.stat(os.path.join(proc, str(pid), "exe")), os.stat(binary)
    except FileNotFoundError:
        return False
    return (running.st_dev, running.st_ino) == (on_disk.st_dev, on_disk.st_ino)
