# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Deciding and reporting an app's restart, for the fasterapi.deploy.gunicorn_restart module.

A change that needs a restart leaves a marker file holding the kind owed:
``rolling`` (new code, venv or gunicorn.conf.py: a re-executed master loads
them) or ``full`` (a new environment file or unit: a re-executed master
keeps the environment it was started with). ``full`` wins. The restart
removes the marker, so a run that fails between a change and its restart
leaves the restart to the next run. The unit's state (``systemctl show``)
is read with host_processes.py, as app_status reads it.

Standard library only: this runs with the host's python3 (3.9 or later).
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

# An access log line ("GET /x HTTP/1.1" 200 ...): left out of failure reports.
_ACCESS_LINE = re.compile(r'HTTP/[0-9.]+"? [0-9]{3}( |$)')
_ERROR_LINE = re.compile(r"\[(ERROR|CRITICAL)\]")


def owed(marker_text: Optional[str], force: str = "") -> str:
    """The restart owed: the marker's kind and FORCE, "full" winning; "" when none."""
    kinds = {(marker_text or "").strip(), force}
    for kind in ("full", "rolling"):
        if kind in kinds:
            return kind
    return ""


def decide(kind: str, strategy: str, active_state: str) -> str:
    """How to restart for a restart of KIND: "rolling", "full" or "" (none owed)."""
    if not kind:
        return ""
    if strategy == "rolling" and active_state == "active" and kind == "rolling":
        return "rolling"
    return "full"


def why_full(kind: str, strategy: str, active_state: str) -> str:
    """Why a restart owed is a full one, in words for the operator."""
    if active_state != "active":
        return "the unit was not running"
    if strategy != "rolling":
        return "gunicorn_restart_strategy is restart"
    if kind == "full":
        return "the unit or a credential changed"
    return "a full restart was asked for"


def report_lines(journal: Sequence[str], errors: int = 15, last: int = 25, frames: int = 6) -> List[str]:
    """The app's own error lines first, then the last lines; access log lines left out.

    Error lines are those gunicorn and uvicorn mark [ERROR] or [CRITICAL],
    and tracebacks, each shortened to its innermost FRAMES lines. A
    traceback of gunicorn's HaltServer ("Worker failed to boot") is the
    consequence of the app's error, not its cause, and is left out.
    """
    lines = [line for line in journal if not _ACCESS_LINE.search(line)]
    entries: List[List[str]] = []
    traceback: List[str] = []
    for line in lines:
        if line.startswith("Traceback "):
            traceback = [line]
            continue
        if traceback:
            traceback.append(line)
            if line and not line.startswith(" "):  # the exception line ends it
                if "HaltServer" not in line:
                    entries.append(traceback[:1] + traceback[1:][-frames:])
                traceback = []
            continue
        if _ERROR_LINE.search(line):
            entries.append([line])
    picked = [line for entry in entries for line in entry]
    return picked[-errors:] + ["--- last lines ---"] + lines[-last:]


def rolling_summary(handover: Dict[str, object]) -> str:
    """One line on a rolling restart that worked, naming what it read from the host."""
    return ("rolling restart, master %(old_master)s -> %(new_master)s, %(workers)s workers ready %(seconds_to_ready)s s after USR2, "
            "%(health_url)s answered (as installed in %(config)s)" % dict(
                {"old_master": "?", "new_master": "?", "workers": "?", "seconds_to_ready": "?", "health_url": "?", "config": "?"},
                **handover))


# systemd's own exit statuses (systemd.exec(5), "Process Exit Codes") that a
# start with a new unit, environment file or credential can end with.
_SYSTEMD_EXIT = {
    200: "CHDIR (the working directory)", 203: "EXEC (the command)", 216: "GROUP", 217: "USER",
    226: "NAMESPACE (the sandbox's mounts)", 243: "CREDENTIALS (systemd could not load a credential)",
}


def exit_meaning(status: int) -> str:
    """What systemd's exit STATUS of a service means, in words; the status alone for the app's own."""
    meaning = _SYSTEMD_EXIT.get(status)
    return "status=%d/%s" % (status, meaning) if meaning else "exit status %d" % status


def transient_unit(stderr: str) -> str:
    """The unit systemd-run says it started ("Running as unit: run-u12.service"); "" when it says none."""
    for line in stderr.splitlines():
        if line.startswith("Running as unit: "):
            return line.split(": ", 1)[1].strip().rstrip(";")
    return ""
