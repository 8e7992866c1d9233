"""Filters for the fasterapi.deploy.status playbook.

``status_table`` lays out what the fasterapi.deploy.app_status module
returned for one host as a text table an operator reads in the play's
output: one row per app, one per process (memory), then the faults and
other findings.

A file defining filters has no DOCUMENTATION of its own: each filter's (for
ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ansible.errors import AnsibleFilterError


def duration(seconds: Optional[float]) -> str:
    """SECONDS as an operator reads an age: 42s, 5m 12s, 3h 05m, 2d 04h; "-" when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def _mib(kib: Optional[int]) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def _release(name: str, version: str) -> str:
    if not name:
        return "-"
    return f"{name} ({version})" if version else name


def _health(health: Mapping[str, Any]) -> str:
    if not health.get("probed"):
        return "not asked" + (f": {health['error']}" if health.get("error") else "")
    said = str(health.get("status") or health.get("answer") or "no answer")
    timing = f" in {health['ms']:g} ms" if health.get("ms") is not None else ""
    return f"{said}{timing} {health.get('target', '')}".rstrip()


def _columns(rows: list[list[str]]) -> list[str]:
    """ROWS as lines of left-aligned columns two spaces apart, without trailing blanks."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def status_table(status: Any, host: str = "") -> str:
    """The app_status module's result for one host as a text table; raise AnsibleFilterError when it is not one."""
    if not isinstance(status, Mapping) or not isinstance(status.get("apps"), Sequence):
        raise AnsibleFilterError(f"status_table expects the result of fasterapi.deploy.app_status, not {type(status).__name__}")
    apps = list(status["apps"])
    since = status.get("since", "")
    lines = [f"{host or 'host'}: {len(apps)} app{'' if len(apps) == 1 else 's'} of fasterapi.deploy.gunicorn"
             f" ({', '.join(app['name'] for app in apps) or 'none found'}), read {status.get('checked_at', '?')};"
             f' journal since "{since}"']
    if apps:
        rows = [["APP", "UNIT", "CURRENT (VERSION)", "PREVIOUS (VERSION)", "RELEASES", "MAINPID", "UP", "WORKERS",
                 "BOOTED/EXITED/TIMEOUTS", "RESTART", "EXPOSURE", "HEALTH"]]
        for app in apps:
            state, releases, master, workers = app["state"], app["releases"], app["master"], app["workers"]
            journal, exposure, pending = app["journal"], app["exposure"], app["restart_pending"]
            configured = "?" if workers.get("configured") is None else str(workers["configured"])
            rows.append([
                app["name"], f"{state['active']}/{state['sub']}",
                _release(releases["current"], releases["current_version"]),
                _release(releases["previous"], releases["previous_version"]),
                str(len(releases["built"])) + (f" +{len(releases['unfinished'])} unfinished" if releases["unfinished"] else ""),
                str(master["pid"] or "-"), duration(master.get("age_seconds")), f"{workers['running']}/{configured}",
                f"{journal['booted']}/{journal['exited']}/{journal['timeouts']}",
                (pending["kind"] or "yes") if pending["pending"] else "no",
                f"{exposure['score']:g} {exposure['level']}" if exposure.get("score") is not None else "-",
                _health(app["health"]),
            ])
        lines += [""] + _columns(rows)
        processes = [["PROCESS", "PID", "UP", "RSS MiB", "PSS MiB"]]
        for app in apps:
            members = ([("master", app["master"])] if app["master"]["pid"] else []) + [("worker", p) for p in app["workers"]["processes"]]
            for role, proc in members:
                processes.append([f"{app['name']} {role}", str(proc["pid"]), duration(proc.get("age_seconds")),
                                  _mib(proc.get("rss_kib")), _mib(proc.get("pss_kib"))])
            if members:
                pss = [proc["pss_kib"] for _role, proc in members if proc.get("pss_kib") is not None]
                # PSS splits shared pages between the processes that share them: it adds up (RSS would count them in each).
                processes.append([f"{app['name']} total", "", "", "", _mib(sum(pss)) if pss else "-"])
        if len(processes) > 1:
            lines += [""] + _columns(processes)
    companion_rows = [["COMPANION OR TIMER", "STATE", "RELEASE OR NEXT RUN", "MAINPID", "RESTARTS"]]
    for app in apps:
        for row in app.get("companions", []):
            companion_rows.append([row["unit"], f"{row['active']}/{row['sub']}",
                                   row["release"] if row["kind"] == "companion" else (row.get("next") or "-"),
                                   str(row["pid"] or "-"), str(row.get("n_restarts", "-")) if row["kind"] == "companion" else "-"])
    if len(companion_rows) > 1:
        lines += [""] + _columns(companion_rows)
    errors = [f"{app['name']}  {line}" for app in apps for line in app["journal"].get("error_lines", [])]
    if errors:
        lines += ["", f"RECENT ERRORS (the last of each app's, in the journal since \"{since}\")"] + errors
    ledger_rows = [["APP", "#", "TIME", "ACTION", "RESULT", "RELEASE", "PREVIOUS", "WHO", "TOOK"]]
    for app in apps:
        for record in app.get("ledger", {}).get("records", []):
            took = record.get("duration_s")
            ledger_rows.append([app["name"], str(record.get("seq", "?")), str(record.get("time", "-")), str(record.get("action", "-")),
                                str(record.get("result", "-")), str(record.get("release") or "-"),
                                str(record.get("previous_release") or "-"), str(record.get("who") or "-"),
                                duration(took) if isinstance(took, (int, float)) else "-"])
    if len(ledger_rows) > 1:
        lines += ["", "LEDGER (the last records of each app's, oldest first)"] + _columns(ledger_rows)
    lines.append("")
    lines += [f"FAULT    {fault}" for fault in status.get("faults", [])] or ["faults: none"]
    lines += [f"FINDING  {finding}" for finding in status.get("findings", [])] or ["other findings: none"]
    return "\n".join(lines)


class FilterModule:
    """fasterapi.deploy status filters."""

    def filters(self) -> dict[str, Any]:
        return {"status_table": status_table}
