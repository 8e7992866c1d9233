# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""An app's companion processes (queue workers, schedulers) and scheduled jobs, as systemd units.

A companion NAME of app APP with N instances is N template units,
``APP-NAME-K@.service`` (K from 1 to N), whose instance is a release:
``APP-NAME-1@1.2.0-0123abcd.service`` runs release 1.2.0-0123abcd's venv and
code, whatever ``current`` points to. Two releases' instances can therefore
run side by side, which is how a deploy replaces them without a pause in the
queue's consumption: the new release's instances start, then the old ones
stop gracefully (their stop signal, then up to their stop timeout to finish
the job in hand). A singleton (a beat scheduler) never runs twice: its old
instance stops before the new one starts, and it runs on one host only.

A scheduled job NAME is ``APP-NAME.service`` (a oneshot through ``current``,
so each run takes the release live then) and ``APP-NAME.timer``.

The role writes every such unit file with MARKER in its first lines; what
carries the marker and is no longer configured is the module's to stop and
remove. This file holds what needs no host (names, plans, parsing); the
fasterapi.deploy.companions module runs systemctl.

Standard library only: it runs with the host's python3 (3.9 or later).
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Dict, Iterable, List, Optional, Tuple

# The first line of every unit file of a companion or scheduled job after ansible_managed's.
MARKER = "# fasterapi.deploy companion of "
# A release (and so an instance) name: the role's release names are <label>-<digest>.
_INSTANCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def marker_line(app: str) -> str:
    """The line that marks APP's companion and scheduled-job unit files."""
    return MARKER + app


def template(app: str, name: str, index: int) -> str:
    """The template unit of instance INDEX (1, 2, ...) of companion NAME: APP-NAME-INDEX@.service."""
    return "%s-%s-%d@.service" % (app, name, index)


def instance(app: str, name: str, index: int, release: str) -> str:
    """The unit that runs instance INDEX of companion NAME from RELEASE."""
    if not _INSTANCE.match(release):
        raise ValueError("release %r cannot name a systemd instance" % release)
    return "%s-%s-%d@%s.service" % (app, name, index, release)


def parse_instance(unit: str) -> Optional[Tuple[str, str]]:
    """(template, release) of an instance unit such as shop-worker-1@r1.service; None for a unit that is not one."""
    match = re.match(r"^(?P<prefix>[^@]+)@(?P<release>[^@]+)\.service$", unit)
    if not match:
        return None
    return match.group("prefix") + "@.service", match.group("release")


def wanted_templates(app: str, companions: Iterable[Dict[str, object]]) -> List[str]:
    """The template units the configured COMPANIONS (dicts with name and instances) need, in order."""
    names: List[str] = []
    for companion in companions:
        for index in range(1, int(str(companion.get("instances", 1))) + 1):
            names.append(template(app, str(companion["name"]), index))
    return names


def marked_files(unit_dir: str, app: str) -> List[str]:
    """The unit files in UNIT_DIR whose first lines carry APP's marker (file names, sorted)."""
    line = marker_line(app)
    found: List[str] = []
    try:
        entries = sorted(os.listdir(unit_dir))
    except OSError:
        return found
    for entry in entries:
        if not entry.startswith(app + "-") or not entry.endswith((".service", ".timer")):
            continue
        path = os.path.join(unit_dir, entry)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as unit_file:
                head = [unit_file.readline().rstrip("\n") for _line in range(10)]
        except OSError:
            continue
        if line in head:
            found.append(entry)
    return found


def list_units_argv(app: str) -> List[str]:
    """systemctl's list of the loaded instance units of APP's templates (active or not)."""
    return ["systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager", "--type=service", app + "-*@*.service"]


def parse_list_units(text: str) -> List[str]:
    """The unit names of ``systemctl list-units --plain --no-legend`` output."""
    units = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0].endswith(".service"):
            units.append(fields[0])
    return units


def instances_of(units: Iterable[str], templates: Iterable[str]) -> Dict[str, List[str]]:
    """UNITS (instance names) grouped by release, keeping those of TEMPLATES only."""
    known = set(templates)
    by_release: Dict[str, List[str]] = {}
    for unit in sorted(set(units)):
        parsed = parse_instance(unit)
        if parsed and parsed[0] in known:
            by_release.setdefault(parsed[1], []).append(unit)
    return by_release


def wants_instances(unit_dir: str, app: str) -> List[str]:
    """The instance units of APP enabled in UNIT_DIR's *.wants directories (enabled, whether loaded or not)."""
    found: List[str] = []
    try:
        entries = os.listdir(unit_dir)
    except OSError:
        return found
    for entry in entries:
        wants = os.path.join(unit_dir, entry)
        if not entry.endswith(".wants") or not os.path.isdir(wants):
            continue
        found.extend(name for name in os.listdir(wants) if name.startswith(app + "-") and "@" in name)
    return sorted(set(found))


def settled(state: Dict[str, str]) -> Optional[str]:
    """None while a started unit looks healthy from ``systemctl show`` STATE; else why it is not."""
    active = state.get("ActiveState", "")
    restarts = state.get("NRestarts", "0") or "0"
    if restarts.isdigit() and int(restarts) > 0:
        return "it exited and systemd restarted it (%s time%s)" % (restarts, "" if restarts == "1" else "s")
    if state.get("SubState") == "auto-restart":
        return "it exited (%s) and systemd is about to restart it" % (state.get("Result") or "unknown")
    if active in ("active", "activating", "reloading"):
        return None
    result = state.get("Result", "")
    return "it is %s%s" % (active or "unknown", " (%s)" % result if result and result != "success" else "")


def calendar_argv(expression: str) -> List[str]:
    """systemd-analyze's check of an OnCalendar= EXPRESSION (exit status 0 when systemd accepts it)."""
    return ["systemd-analyze", "calendar", "--iterations=1", expression]


def timer_units(app: str, name: str) -> Tuple[str, str]:
    """The service and timer units of APP's scheduled job NAME."""
    return "%s-%s.service" % (app, name), "%s-%s.timer" % (app, name)


def command_argv(command: object) -> List[str]:
    """A companion's or scheduled job's command as an argv: a list as it is, a string split as a shell would (no shell runs)."""
    if isinstance(command, (list, tuple)):
        return [str(part) for part in command]
    return shlex.split(str(command))


def _exec_quote(word: str) -> str:
    """WORD for an ExecStart= line: in double quotes, with systemd's escapes and its specifiers (%) and variables ($) kept literal."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return '"%s"' % escaped


def exec_line(command: object, venv_bin: str) -> str:
    """The ExecStart= value that runs COMMAND from VENV_BIN (which may hold systemd's %i): its program is the venv's."""
    argv = command_argv(command)
    if not argv:
        raise ValueError("an empty command")
    program = "python" if argv[0] in ("python", "python3") else argv[0]
    if "/" not in program:
        program = venv_bin.rstrip("/") + "/" + program
    return " ".join([program] + [_exec_quote(word) for word in argv[1:]])


def unit_files(app: str, unit_dir: str, companions: Iterable[Dict[str, object]],
               timers: Iterable[Dict[str, object]]) -> List[Dict[str, object]]:
    """The unit files of COMPANIONS and TIMERS: dest, the role's template that writes it, and that template's vars."""
    files: List[Dict[str, object]] = []
    for item in companions:
        for index in range(1, int(str(item.get("instances", 1))) + 1):
            name = template(app, str(item["name"]), index)
            files.append({"dest": os.path.join(unit_dir, name), "template": "companion.service.j2",
                          "vars": {"__gunicorn_item": dict(item), "__gunicorn_index": index, "__gunicorn_template": name}})
    for item in timers:
        service, timer = timer_units(app, str(item["name"]))
        files.append({"dest": os.path.join(unit_dir, service), "template": "timer.service.j2", "vars": {"__gunicorn_item": dict(item)}})
        files.append({"dest": os.path.join(unit_dir, timer), "template": "timer.timer.j2", "vars": {"__gunicorn_item": dict(item)}})
    return files
