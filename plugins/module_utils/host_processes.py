# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""An app's processes as systemd (``systemctl show``) and /proc tell them.

One reader for the fasterapi.deploy.app_status module (through its
module_utils) and for the rolling restart's hand-over helper, to which the
build installs this file in each release's venv as
``fasterapi_host_processes`` (roles/gunicorn/vars/main.yml,
``_gunicorn_venv_sources``). Only reads: nothing on the host changes.

The /proc readers take the proc file system's root (``proc``), so that a
test can stand a directory in for it.

Standard library only, and no import of the collection: this runs with the
host's python3 (3.9 or later) as module_utils, and as a plain module with
the venv's.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

PROC = "/proc"
# /proc/PID/stat states of a process that has exited: a zombie (not yet reaped) or dead.
_GONE_STATES = ("Z", "X")


# --- systemd -----------------------------------------------------------------

def show_argv(unit: str, properties: str) -> List[str]:
    """The ``systemctl show`` command line that reads PROPERTIES (comma-separated) of UNIT."""
    return ["systemctl", "show", unit, "--property=" + properties]


def parse_show(text: str) -> Dict[str, str]:
    """``systemctl show``'s KEY=VALUE lines as a dict (a value keeps any "=" of its own)."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def exec_start_argv(exec_start: str) -> List[str]:
    """The argv of ``systemctl show``'s ExecStart= value (``{ path=... ; argv[]=A B C ; ... }``); [] when there is none."""
    marker = "argv[]="
    start = exec_start.find(marker)
    if start < 0:
        return []
    end = exec_start.find(" ;", start)
    return exec_start[start + len(marker):end if end >= 0 else None].split()


# --- /proc -------------------------------------------------------------------

def _stat_fields(pid: int, proc: str) -> List[str]:
    """The fields of PROC/PID/stat after the command name (the state is [0], the parent PID [1]); [] when the process is gone."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), encoding="ascii", errors="replace") as stat:
            # The command name, in parentheses, may itself hold ")" and blanks: the fields follow the last ")".
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def parent_of(pid: int, proc: str = PROC) -> Optional[int]:
    """The parent PID of process PID, None when it is gone or a zombie."""
    fields = _stat_fields(pid, proc)
    if len(fields) < 2 or fields[0] in _GONE_STATES:
        return None
    return int(fields[1])


def children_of(pid: int, proc: str = PROC) -> List[int]:
    """The live (not zombie) child processes of PID, sorted."""
    return sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit() and parent_of(int(entry), proc) == pid)


def age_of(pid: int, proc: str = PROC, ticks: Optional[int] = None) -> Optional[float]:
    """Seconds since process PID started (its stat start time against the uptime), None when it is gone.

    TICKS is the clock ticks per second of the start time (the host's SC_CLK_TCK when None).
    """
    fields = _stat_fields(pid, proc)
    if len(fields) < 20:
        return None
    try:
        with open(os.path.join(proc, "uptime"), encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    per_second = ticks or os.sysconf("SC_CLK_TCK")
    return round(max(0.0, up - int(fields[19]) / per_second), 1)


def memory_of(pid: int, proc: str = PROC) -> Dict[str, Optional[int]]:
    """Resident (RSS) and proportional (PSS) memory of PID in KiB, from smaps_rollup (RSS alone from status); None where unknown."""
    found: Dict[str, Optional[int]] = {"rss_kib": None, "pss_kib": None}
    for name, keys in (("smaps_rollup", {"Rss:": "rss_kib", "Pss:": "pss_kib"}), ("status", {"VmRSS:": "rss_kib"})):
        try:
            with open(os.path.join(proc, str(pid), name), encoding="ascii", errors="replace") as source:
                for line in source:
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] in keys and found[keys[parts[0]]] is None:
                        found[keys[parts[0]]] = int(parts[1])
        except (OSError, ValueError):
            continue
        if found["rss_kib"] is not None:
            break
    return found
