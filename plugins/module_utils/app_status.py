# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The state of the apps fasterapi.deploy.gunicorn deployed on a host, for the fasterapi.deploy.app_status module.

Everything is read from the host, never from the inventory: the apps are the
units the role wrote (its Documentation= URL, a gunicorn ExecStart=), the
config is what ExecStart= names, the base directory is the unit's
WorkingDirectory (``<base>/current/app``), the restart marker sits beside
the config. The worker count, address and health path are what the
installed hand-over helper reads from gunicorn.conf.py (``python -m
fasterapi_handover --unit APP.service --wait 0``, one request); the
releases are read by the releases module_utils, ``systemctl show`` and the
processes in /proc by host_processes (the reader the hand-over helper uses
too). Only reads: nothing on the host changes.

Standard library only: this runs with the host's python3 (3.9 or later).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.fasterapi.deploy.plugins.module_utils import companions, ledger, releases
# One reader of systemd and /proc, shared with the hand-over helper in the app's venv.
from ansible_collections.fasterapi.deploy.plugins.module_utils.host_processes import (
    age_of, children_of, exec_start_argv, memory_of, parse_show, show_argv)

# The role's unit (roles/gunicorn/templates/gunicorn.service.j2) names the
# collection as its documentation and runs gunicorn with --config.
DOCUMENTATION_URL = "https://galaxy.ansible.com/ui/repo/published/fasterapi/deploy/"
SHOW_PROPERTIES = ("Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecStart,WorkingDirectory,"
                   "NeedDaemonReload,NRestarts,TriggeredBy,LogsDirectory")
# The journal lines counted, as gunicorn's arbiter writes them, each naming a worker's PID. A worker that
# exits is named by "Worker exiting" (it stopped itself), "Worker (pid:N) was sent SIGKILL!" or "... exited
# with code N" (the master saw it end; a graceful stop of uvicorn's workers writes only this one): each
# PID counts once.
JOURNAL_LINES = {
    "booted": re.compile(r"Booting worker with pid: ([0-9]+)"),
    "exited": re.compile(r"Worker exiting \(pid: ([0-9]+)\)|Worker \(pid:([0-9]+)\) (?:was sent SIG|exited with code)"),
    "timeouts": re.compile(r"WORKER TIMEOUT \(pid:([0-9]+)\)"),
}
# The app's own errors: gunicorn's error log lines at ERROR and CRITICAL (uvicorn's "Exception in ASGI
# application" among them), and the last line of each traceback (the exception, one journal line of its own).
_ERROR_LINE = re.compile(r"\[(?:ERROR|CRITICAL)\]")
_EXCEPTION_LINE = r"^[A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception|Exit|Interrupt)(?:: |$)"
ERROR_LINES_KEPT = 6
_JOURNAL_GREP = r"Booting worker|Worker exiting|Worker \(pid:|WORKER TIMEOUT|\[ERROR\]|\[CRITICAL\]|" + _EXCEPTION_LINE
# systemd-analyze security's levels from which the exposure is a finding.
EXPOSED_LEVELS = ("EXPOSED", "UNSAFE")
# The app's ledger (the role's tasks/ledger.yml writes it), and how many of its last records status shows.
LEDGER = "ledger.jsonl"
LEDGER_LAST = 5
_EXPOSURE = re.compile(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?) ([A-Z]+)")
_HTTP_STATUS = re.compile(r"^HTTP ([0-9]{3})$")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run(argv: Sequence[str]) -> "subprocess.CompletedProcess[str]":
    """Run a command, capturing its output (a missing executable: exit 127, like a shell's)."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, errors="replace", check=False)
    except OSError as err:
        return subprocess.CompletedProcess(list(argv), 127, "", "%s: %s" % (argv[0], err.strerror))


# --- Which apps ------------------------------------------------------------

def is_role_unit(text: str) -> bool:
    """Whether the unit file TEXT is one the gunicorn role wrote: its Documentation= and a gunicorn --config ExecStart=."""
    lines = [line.strip() for line in text.splitlines()]
    return ("Documentation=" + DOCUMENTATION_URL in lines
            and any(line.startswith("ExecStart=") and "/gunicorn --config " in line for line in lines))


def discover(unit_dir: str) -> List[str]:
    """The apps whose unit in UNIT_DIR the role wrote (<app>.service), sorted."""
    apps = []
    try:
        names = os.listdir(unit_dir)
    except OSError:
        return []
    for name in names:
        path = os.path.join(unit_dir, name)
        if not name.endswith(".service") or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as unit:
                if is_role_unit(unit.read()):
                    apps.append(name[:-len(".service")])
        except OSError:
            continue
    return sorted(apps)


# --- What the unit names ---------------------------------------------------

def config_of(argv: Sequence[str]) -> str:
    """The gunicorn.conf.py a gunicorn command line loads (-c/--config), "" when none."""
    for position, arg in enumerate(argv):
        if arg in ("-c", "--config") and position + 1 < len(argv):
            value = argv[position + 1]
        elif arg.startswith("--config="):
            value = arg[len("--config="):]
        else:
            continue
        return value[len("file:"):] if value.startswith("file:") else value
    return ""


def base_of(working_directory: str) -> str:
    """The app's base directory from the unit's WorkingDirectory (<base>/current/app), "" when it is not one."""
    path = os.path.normpath(working_directory) if working_directory else ""
    suffix = os.sep + os.path.join("current", "app")
    return path[:-len(suffix)] if path.endswith(suffix) else ""


# --- Releases ----------------------------------------------------------------

def short_source(source: str) -> str:
    """What release.json's source (release_naming.source_ref) names, short: dir:/git: and 12 hex digits, a wheel's file, a package."""
    kind, _colon, rest = source.partition(":")
    if kind in ("dir", "git"):
        return f"{kind}:{rest[:12]}"
    if kind == "archive":
        return "archive:" + rest.split(":strip=")[0].split(":")[-1][:12]
    if kind == "wheel":
        return rest.split(":")[-1]
    return rest if kind == "package" else source


def release_version(base: str, name: str) -> str:
    """The version recorded in releases/NAME/release.json, or for a release built without one its source, short ("" when unreadable)."""
    if not name:
        return ""
    try:
        with open(os.path.join(base, "releases", name, releases.RELEASE_JSON), encoding="utf-8") as handle:
            built = json.load(handle)
        return str(built.get("version") or short_source(str(built.get("source") or "")))
    except (OSError, ValueError, AttributeError):
        return ""


def release_status(base: str) -> Dict[str, Any]:
    """current and previous (release and version), the built releases newest first, and interrupted builds."""
    state = releases.read_state(base)
    return {"current": state["current"], "current_version": release_version(base, state["current"]),
            "previous": state["previous"], "previous_version": release_version(base, state["previous"]),
            "built": state["built"], "unfinished": releases.unfinished_releases(os.path.join(base, "releases"))}


def ledger_status(base: str, last: int = LEDGER_LAST) -> Dict[str, Any]:
    """The last LAST records of the app's ledger (base/ledger.jsonl), how many it holds, and what is wrong with its chain."""
    try:
        records, problems = ledger.read(os.path.join(base, LEDGER))
    except OSError as err:
        return {"count": 0, "records": [], "problems": ["cannot read the ledger: %s" % err]}
    return {"count": len(records), "records": records[-last:], "problems": problems}


# --- Processes -----------------------------------------------------------------

def process(pid: int, proc: str = "/proc") -> Dict[str, Any]:
    """A process's PID, age in seconds and memory."""
    return dict({"pid": pid, "age_seconds": age_of(pid, proc)}, **memory_of(pid, proc))


# --- The journal, systemd-analyze and the health path ------------------------------

def journal_argv(unit: str, since: str) -> List[str]:
    """journalctl for UNIT since SINCE (journalctl's own time syntax), only the lines JOURNAL_LINES counts."""
    return ["journalctl", "--unit", unit, "--since", since, "--no-pager", "--quiet", "--output", "cat", "--grep", _JOURNAL_GREP]


def journal_counts(lines: Sequence[str]) -> Dict[str, int]:
    """How many workers booted, exited and timed out (each PID once) in the journal LINES."""
    counts = {}
    for key, pattern in JOURNAL_LINES.items():
        pids = set()
        for line in lines:
            for found in pattern.finditer(line):
                pids.add(next(group for group in found.groups() if group))
        counts[key] = len(pids)
    return counts


def journal_errors(lines: Sequence[str]) -> Dict[str, Any]:
    """How many error lines the app logged in the journal LINES, and the last few of them and of the exceptions raised."""
    exception = re.compile(_EXCEPTION_LINE)
    shown = [line.strip() for line in lines if _ERROR_LINE.search(line) or exception.match(line)]
    return {"errors": sum(1 for line in lines if _ERROR_LINE.search(line)), "error_lines": shown[-ERROR_LINES_KEPT:]}


def exposure(text: str) -> Dict[str, Any]:
    """systemd-analyze security's overall exposure (score and level) from its output."""
    found = _EXPOSURE.search(text)
    if not found:
        return {"score": None, "level": ""}
    return {"score": float(found.group(1)), "level": found.group(2)}


def health_answer(returncode: int, stdout: str) -> Dict[str, Any]:
    """What ``fasterapi_handover --wait 0`` said: the settings it read, and the health path's answer.

    It prints one JSON object: on an accepted status ``said`` ("HTTP 200")
    and ``seconds`` (the request's time); else ``msg`` ending in "last try:
    <answer>", or naming why it could not read the settings.
    """
    said: Dict[str, Any] = {}
    for line in reversed(stdout.strip().splitlines()):
        try:
            said = json.loads(line)
            break
        except ValueError:
            continue
    answer = str(said.get("said", ""))
    msg = str(said.get("msg", ""))
    if not answer and "; last try: " in msg:
        answer = msg.rsplit("; last try: ", 1)[1]
    status = _HTTP_STATUS.match(answer)
    url, unix_socket = str(said.get("health_url", "")), str(said.get("health_unix_socket") or "")
    return {
        "url": url, "unix_socket": unix_socket,
        # Where the request went, as an operator reads it: the URL, or the socket and the path.
        "target": "unix:%s %s" % (unix_socket, urllib.parse.urlsplit(url).path or "/") if unix_socket else url,
        "config_workers": said.get("workers"), "worker_class": said.get("worker_class", ""),
        "healthy": returncode == 0 and bool(said.get("healthy")),
        "status": int(status.group(1)) if status else None, "answer": answer,
        "ms": round(float(said["seconds"]) * 1000, 1) if returncode == 0 and "seconds" in said else None,
        "error": "" if answer or returncode == 0 else (msg or "no answer from fasterapi_handover (exit %d)" % returncode),
    }


# --- Judging -----------------------------------------------------------------------

def companion_status(app: str, unit_dir: str, runner: Runner) -> List[Dict[str, Any]]:
    """APP's companion instances (loaded or enabled) and scheduled-job timers, each with its state, release or next run."""
    marked = companions.marked_files(unit_dir, app)
    templates = [name for name in marked if name.endswith("@.service")]
    loaded = companions.parse_list_units(runner(companions.list_units_argv(app)).stdout)
    found = companions.instances_of(loaded + companions.wants_instances(unit_dir, app), templates)
    rows: List[Dict[str, Any]] = []
    for release, units in sorted(found.items()):
        for unit in units:
            shown = parse_show(runner(show_argv(unit, "ActiveState,SubState,MainPID,UnitFileState,NRestarts")).stdout)
            rows.append({"unit": unit, "kind": "companion", "release": release, "active": shown.get("ActiveState", ""),
                         "sub": shown.get("SubState", ""), "pid": int(shown.get("MainPID", "0") or 0),
                         "unit_file": shown.get("UnitFileState", ""), "n_restarts": int(shown.get("NRestarts", "0") or 0)})
    for timer in (name for name in marked if name.endswith(".timer")):
        shown = parse_show(runner(show_argv(timer, "ActiveState,SubState,UnitFileState,NextElapseUSecRealtime,LastTriggerUSec")).stdout)
        rows.append({"unit": timer, "kind": "timer", "release": "", "active": shown.get("ActiveState", ""),
                     "sub": shown.get("SubState", ""), "pid": 0, "unit_file": shown.get("UnitFileState", ""),
                     "next": shown.get("NextElapseUSecRealtime", ""), "last": shown.get("LastTriggerUSec", "")})
    return rows


def judge(app: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """The faults (the app is down or degraded, or owes a restart) and other findings of one app's status."""
    faults: List[str] = []
    findings: List[str] = []
    state, workers, health = app["state"], app["workers"], app["health"]
    if state["load"] != "loaded":
        faults.append("unit not loaded (LoadState=%s)" % state["load"])
    elif state["active"] != "active":
        faults.append("not running (%s/%s)" % (state["active"], state["sub"]))
    elif health.get("probed"):
        if not health["healthy"]:
            faults.append("health %s: %s" % (health["target"] or "?", health["answer"] or health["error"] or "no answer"))
    if state["active"] == "active" and workers["configured"] is not None and workers["running"] < workers["configured"]:
        faults.append("%d workers running, %d configured" % (workers["running"], workers["configured"]))
    if app["restart_pending"]["pending"]:
        faults.append("restart pending (%s, %s)" % (app["restart_pending"]["kind"] or "?", app["restart_pending"]["marker"]))
    if health.get("error") and not health.get("probed"):
        faults.append("cannot read its settings: %s" % health["error"])
    if app["journal"]["timeouts"]:
        findings.append("%d worker timeouts since %s" % (app["journal"]["timeouts"], app["journal"]["since"]))
    if state["active"] == "active" and workers["configured"] is not None and workers["running"] > workers["configured"]:
        findings.append("%d workers running, %d configured" % (workers["running"], workers["configured"]))
    if state.get("need_daemon_reload") == "yes":
        findings.append("its unit file changed on disk and is not loaded (daemon-reload)")
    if state.get("unit_file") and state["unit_file"] != "enabled":
        findings.append("unit is %s: not started at boot" % state["unit_file"])
    if app["releases"]["unfinished"]:
        findings.append("interrupted builds in releases/: %s" % ", ".join(app["releases"]["unfinished"]))
    findings += ["ledger: %s" % problem for problem in app.get("ledger", {}).get("problems", [])]
    current = app["releases"]["current"]
    for row in app.get("companions", []):
        if row["kind"] == "timer" and row["active"] == "inactive" and row["unit_file"] == "disabled":
            continue  # a singleton timer on a host that does not run the singletons
        if row["active"] not in ("active", "activating", "reloading"):
            faults.append("%s not running (%s/%s)" % (row["unit"], row["active"], row["sub"]))
        elif row["kind"] == "companion" and current and row["release"] != current:
            findings.append("%s runs release %s, not the current %s" % (row["unit"], row["release"], current))
    if app["exposure"]["level"] in EXPOSED_LEVELS:
        findings.append("exposure %s %s (systemd-analyze security)" % (app["exposure"]["score"], app["exposure"]["level"]))
    return faults, findings


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def app_status(app: str, since: str, runner: Runner = run, proc: str = "/proc", settle: float = 3.0,
               with_exposure: bool = True, unit_dir: str = "/etc/systemd/system") -> Dict[str, Any]:
    """Everything worth knowing about APP, read from the host, judged (``faults`` and ``findings``)."""
    unit = app + ".service"
    shown = parse_show(runner(show_argv(unit, SHOW_PROPERTIES)).stdout)
    argv = exec_start_argv(shown.get("ExecStart", ""))
    config = config_of(argv)
    base = base_of(shown.get("WorkingDirectory", ""))
    state = {"load": shown.get("LoadState", ""), "active": shown.get("ActiveState", ""), "sub": shown.get("SubState", ""),
             "unit_file": shown.get("UnitFileState", ""), "need_daemon_reload": shown.get("NeedDaemonReload", ""),
             "n_restarts": int(shown["NRestarts"]) if shown.get("NRestarts", "").isdigit() else None,
             "socket_activated": bool(shown.get("TriggeredBy", "").strip())}
    main_pid = int(shown["MainPID"]) if shown.get("MainPID", "").isdigit() else 0

    # The installed hand-over helper reads gunicorn.conf.py as gunicorn does and requests the health path once.
    # A stopped socket-activated app is not asked: the request would start it.
    health: Dict[str, Any] = {"probed": False, "url": "", "unix_socket": "", "target": "", "config_workers": None, "healthy": False,
                              "status": None, "answer": "", "ms": None, "error": ""}
    if argv and (state["active"] == "active" or not state["socket_activated"]):
        said = runner([argv[0], "-m", "fasterapi_handover", "--unit", unit, "--wait", "0"])
        health = dict(health_answer(said.returncode, said.stdout))
        health["probed"] = bool(health["url"])
        detail = (said.stderr.strip().splitlines() or [""])[-1]
        if not health["probed"] and detail and not said.stdout.strip():  # no JSON: a venv or helper that does not run
            health["error"] = "%s: %s" % (health["error"], detail)
    elif not argv:
        health["error"] = "the unit has no ExecStart="

    configured = health.pop("config_workers")
    running = children_of(main_pid, proc) if main_pid > 0 else []
    deadline = time.monotonic() + settle
    # A worker being replaced (recycling, a crash) is back within about a second: count again before calling it missing.
    while main_pid > 0 and configured is not None and len(running) < configured and time.monotonic() < deadline:
        time.sleep(0.25)
        running = children_of(main_pid, proc)

    journal = runner(journal_argv(unit, since))
    if journal.returncode not in (0, 1) or (journal.returncode == 1 and journal.stderr.strip()):
        raise ValueError("journalctl --since %r failed: %s" % (since, journal.stderr.strip() or "exit %d" % journal.returncode))
    marker = os.path.join(os.path.dirname(config), ".restart-pending") if config else ""
    marker_text = _read(marker) if marker else None
    result: Dict[str, Any] = {
        "name": app, "unit": unit, "config": config, "base_dir": base, "state": state,
        "releases": release_status(base) if base else
        {"current": "", "current_version": "", "previous": "", "previous_version": "", "built": [], "unfinished": []},
        "master": process(main_pid, proc) if main_pid > 0 else {"pid": 0, "age_seconds": None, "rss_kib": None, "pss_kib": None},
        "workers": {"running": len(running), "configured": configured, "processes": [process(pid, proc) for pid in running]},
        "journal": dict({"since": since}, **journal_counts(journal.stdout.splitlines()), **journal_errors(journal.stdout.splitlines())),
        "restart_pending": {"pending": marker_text is not None, "kind": (marker_text or "").strip(), "marker": marker},
        "exposure": exposure(runner(["systemd-analyze", "security", "--no-pager", unit]).stdout) if with_exposure
        else {"score": None, "level": ""},
        "health": health,
        "ledger": ledger_status(base) if base else {"count": 0, "records": [], "problems": []},
        "companions": companion_status(app, unit_dir, runner),
    }
    result["faults"], result["findings"] = judge(result)
    return result


def host_status(apps: Sequence[str], unit_dir: str, since: str, runner: Runner = run, proc: str = "/proc",
                settle: float = 3.0, with_exposure: bool = True) -> Dict[str, Any]:
    """The status of APPS (all the role's apps on the host when empty), with every fault and finding named by app."""
    found = discover(unit_dir)
    wanted = list(apps) or found
    statuses = []
    faults: List[str] = []
    findings: List[str] = []
    for app in wanted:
        if app not in found:
            faults.append("%s: no unit of fasterapi.deploy.gunicorn (%s)" % (app, os.path.join(unit_dir, app + ".service")))
            continue
        status = app_status(app, since, runner, proc, settle, with_exposure, unit_dir)
        statuses.append(status)
        faults += ["%s: %s" % (app, fault) for fault in status["faults"]]
        findings += ["%s: %s" % (app, finding) for finding in status["findings"]]
    return {"apps": statuses, "found": found, "faults": faults, "findings": findings, "since": since,
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
