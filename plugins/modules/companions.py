#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.companions module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: companions
short_description: Start, replace and retire an app's companion processes and scheduled jobs (systemd units)
version_added: 0.9.0
description:
  - An app's companions are commands from its release venv (a Celery worker, a beat scheduler, a queue consumer), each run as
    C(instances) systemd units C(APP-NAME-K@RELEASE.service) of the templates C(APP-NAME-K@.service) the role writes. An
    instance runs the release it is named after, so two releases' instances can run side by side.
  - O(action=start) starts (and enables) the instances of O(release) that are not running, restarts those that are when
    O(restart) is set, one at a time (C(systemctl restart)), and watches them for O(settle_seconds). A companion that exits in that time fails
    the task with its own journal lines, after the instances this task started are stopped again; other releases' instances
    are left running. Singletons are left to O(action=retire).
  - O(action=retire) stops gracefully (each unit's stop signal and stop timeout) and disables every instance of a release
    other than O(release), all at once, then starts the singletons of O(release) (after their old instance stopped, so that a
    singleton never runs twice) and the timers of O(timers); it stops and removes the marked unit files that are no longer
    configured. A singleton that fails to start fails the task after its old instance is started again.
  - O(action=stop) stops and disables the instances of O(release) (after a failed switch).
  - O(action=check) changes nothing. Without O(release_dir), it fails, naming the variable, when systemd rejects a timer's
    C(on_calendar) (the role checks them once, before anything changes). With O(release_dir), when a command is not in
    that release's venv (or its C(python -m) module cannot be found there).
  - O(action=info) reads the units' state.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  action:
    description: What to do (see the description).
    type: str
    choices: [start, retire, stop, check, info]
    required: true
  app:
    description: The app's name (the units' prefix).
    type: str
    required: true
  release:
    description: The release the companions run from (an instance name). Required by C(start), C(retire) and C(stop).
    type: str
    default: ''
  companions:
    description: The configured companions (C(gunicorn_companions)); C(name), C(instances), C(singleton) and C(command) are read.
    type: list
    elements: dict
    default: []
  singletons_here:
    description: Whether this host runs the singleton companions (one host of the fleet does); elsewhere they are stopped.
    type: bool
    default: true
  timers:
    description:
      - The configured scheduled jobs (C(gunicorn_timers)); C(name), C(command), C(on_calendar) and C(singleton) are read.
      - C(retire) enables and starts their timers; a singleton's only where O(singletons_here), and stops it elsewhere.
    type: list
    elements: dict
    default: []
  enabled:
    description: Whether the units start at boot.
    type: bool
    default: true
  restart:
    description: Restart the running instances of O(release) too (their unit or environment changed); C(retire) restarts the singletons.
    type: bool
    default: false
  settle_seconds:
    description: How long a started companion must keep running to count as started.
    type: float
    default: 5
  unit_dir:
    description: Where the role writes the unit files.
    type: path
    default: /etc/systemd/system
  release_dir:
    description: With C(check), the release whose venv must hold the commands (none are looked for without it).
    type: path
  daemon_reload:
    description: Reload systemd's units first (the role wrote some).
    type: bool
    default: false
  journal_lines:
    description: How many of a failed companion's journal lines the message shows.
    type: int
    default: 20
attributes:
  check_mode:
    description: Reports what would change; C(check) and C(info) run in full (they only read).
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Start release r2's workers beside r1's
  fasterapi.deploy.companions:
    action: start
    app: shop
    release: 2.0.0-0123abcd4567
    companions: [{name: worker, instances: 2, singleton: false}, {name: beat, instances: 1, singleton: true}]

- name: Stop r1's workers once r2 serves, then move the beat scheduler and the timers
  fasterapi.deploy.companions:
    action: retire
    app: shop
    release: 2.0.0-0123abcd4567
    companions: [{name: worker, instances: 2, singleton: false}, {name: beat, instances: 1, singleton: true}]
    timers: [{name: cleanup, command: python -m shop.cleanup, on_calendar: daily}]
"""

RETURN = r"""
started:
  description: The units started (or restarted).
  returned: always
  type: list
  elements: str
stopped:
  description: The units stopped.
  returned: always
  type: list
  elements: str
removed:
  description: The unit files removed (companions and scheduled jobs no longer configured).
  returned: always
  type: list
  elements: str
units:
  description: With C(info), each instance and timer unit with its C(ActiveState), C(MainPID) and release (or next run).
  returned: always
  type: list
  elements: dict
"""

import json  # noqa: E402  pylint: disable=wrong-import-position
import os  # noqa: E402  pylint: disable=wrong-import-position
import shutil  # noqa: E402  pylint: disable=wrong-import-position
import time  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Dict, List  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible.module_utils.parsing.convert_bool import boolean  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import companions as units  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils.host_processes import parse_show  # noqa: E402  pylint: disable=wrong-import-position

_STATE = "ActiveState,SubState,Result,NRestarts,MainPID"


class Companions:
    """One run of the module: systemctl calls, and what they changed."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.app: str = module.params["app"]
        self.result: Dict[str, Any] = {"changed": False, "started": [], "stopped": [], "removed": [], "units": []}

    # --- systemd ---------------------------------------------------------------

    def systemctl(self, *args: str, check: bool = True) -> str:
        """Run systemctl ARGS; fail the task (with the units' lines) when CHECK and it fails."""
        rc, out, err = self.module.run_command(["systemctl"] + list(args))
        if rc != 0 and check:
            self.fail("systemctl %s failed (exit %d): %s" % (" ".join(args), rc, (err or out).strip()))
        return out

    def state(self, unit: str) -> Dict[str, str]:
        """systemctl show's state of UNIT."""
        return parse_show(self.systemctl("show", unit, "--property=" + _STATE, check=False))

    def journal(self, unit: str, since: float) -> List[str]:
        """UNIT's journal lines since SINCE (epoch seconds), the last journal_lines of them.

        journald reads a unit's output after the unit has changed state: a failed companion's own lines (the
        traceback) may come a moment after systemd's, so the read waits until they stop coming (3 s at most).
        """
        argv = ["journalctl", "--unit", unit, "--since", "@%d" % int(since), "--no-pager", "--quiet", "--output", "cat"]
        lines: List[str] = []
        deadline = time.time() + 3
        while True:
            rc, out, _err = self.module.run_command(argv)
            found = out.splitlines() if rc == 0 else []
            if (found and found == lines) or time.time() >= deadline:
                lines = found
                break
            lines = found
            time.sleep(0.5)
        return lines[-int(self.params["journal_lines"]):]

    def fail(self, msg: str, **extra: Any) -> None:
        """Fail the task, with what was done so far."""
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    # --- what is on the host ---------------------------------------------------

    def configured(self, singleton: bool) -> List[Dict[str, Any]]:
        """The configured companions that are (or are not) singletons."""
        return [item for item in self.params["companions"] if boolean(item.get("singleton", False), strict=False) == singleton]

    def templates(self, companions: List[Dict[str, Any]]) -> List[str]:
        """The template units of COMPANIONS."""
        return units.wanted_templates(self.app, companions)

    def marked_templates(self) -> List[str]:
        """Every companion template the role wrote for this app (configured or not any more)."""
        return [name for name in units.marked_files(self.params["unit_dir"], self.app) if name.endswith("@.service")]

    def instances(self) -> Dict[str, List[str]]:
        """The instance units of this app's companions, loaded or enabled, by release."""
        loaded = units.parse_list_units(self.systemctl(*units.list_units_argv(self.app)[1:], check=False))
        enabled = units.wants_instances(self.params["unit_dir"], self.app)
        known = set(self.marked_templates()) | set(self.templates(self.params["companions"]))
        return units.instances_of(loaded + enabled, known)

    def release_units(self, companions: List[Dict[str, Any]], release: str) -> List[str]:
        """The instance units of COMPANIONS for RELEASE."""
        return [template.replace("@.service", "@%s.service" % release) for template in self.templates(companions)]

    # --- changes ---------------------------------------------------------------

    def start_units(self, names: List[str], restart: List[str]) -> Dict[str, str]:
        """Start NAMES (restart those of RESTART, one at a time) and watch them settle: {unit: why} of those that did not.

        Those that did not settle are stopped again (restarted ones too), with their journal lines in self.result.
        """
        if not names:
            return {}
        self.result["changed"] = True
        self.result["started"].extend(names)
        if self.module.check_mode:
            return {}
        since = time.time()
        fresh = [name for name in names if name not in restart]
        if self.params["enabled"]:
            self.systemctl("enable", *names)
        for name in restart:
            self.systemctl("restart", name, check=False)
        if fresh:
            # All at once: systemctl waits for each (Type=exec: until the command runs).
            self.systemctl("start", *fresh, check=False)
        deadline = time.time() + float(self.params["settle_seconds"])
        while True:
            problems = {name: units.settled(self.state(name)) for name in names}
            problems = {name: why for name, why in problems.items() if why}
            if problems or time.time() >= deadline:
                break
            time.sleep(0.5)
        if problems:
            self.result["failed_units"] = sorted(problems)
            self.result["journal"] = {name: self.journal(name, since - 1) for name in sorted(problems)}
            self.stop_units(names)
        return {name: why for name, why in problems.items() if why}

    def fail_to_start(self, problems: Dict[str, str], kept: str) -> None:
        """Fail with the first companion that did not keep running, its reason and journal lines; KEPT says what still runs."""
        name, why = sorted(problems.items())[0]
        lines = self.result.get("journal", {}).get(name, [])
        self.fail("Companion %s did not keep running: %s. %s Its journal:\n%s"
                  % (name, why, kept, "\n".join(lines) or "(no lines)"))

    def stop_units(self, names: List[str]) -> None:
        """Stop NAMES gracefully, all at once (each unit's KillSignal= and TimeoutStopSec=), and disable them."""
        if not names:
            return
        self.result["changed"] = True
        self.result["stopped"].extend(names)
        if self.module.check_mode:
            return
        self.systemctl("disable", *names, check=False)
        self.systemctl("stop", *names, check=False)
        # A unit that failed stays listed (and counted by status) until systemd forgets it.
        self.systemctl("reset-failed", *names, check=False)

    # --- actions ---------------------------------------------------------------

    def start(self) -> None:
        """The release's instances (singletons aside) running; restarted when asked."""
        names = self.release_units(self.configured(False), self.params["release"])
        running = [name for name in names if self.state(name).get("ActiveState") == "active"]
        restart = running if self.params["restart"] else []
        problems = self.start_units([name for name in names if name not in running] + restart, restart)
        if problems:
            self.fail_to_start(problems, "The instances started were stopped again; those of other releases were left running.")

    def retire(self) -> None:
        """Other releases' instances stopped, then the singletons and timers in place, and what is unconfigured removed."""
        release = self.params["release"]
        found = self.instances()
        wanted = set(self.release_units(self.params["companions"], release))
        single_templates = set(self.templates(self.configured(True)))
        single_units = self.release_units(self.configured(True), release) if self.params["singletons_here"] else []
        retired = [unit for rel, names in found.items() for unit in names
                   if rel != release or unit not in wanted or (units.parse_instance(unit) or ("", ""))[0] in single_templates
                   and unit not in single_units]
        old_singles = [unit for unit in retired if (units.parse_instance(unit) or ("", ""))[0] in single_templates
                       and self.state(unit).get("ActiveState") == "active"]
        # Every old instance at once: each finishes its job in hand within its own stop timeout.
        self.stop_units(retired)
        running = [name for name in single_units if self.state(name).get("ActiveState") == "active"]
        restart = running if self.params["restart"] else []
        # A restart stops before it starts: a singleton restarted this way never runs twice either.
        problems = self.start_units([name for name in single_units if name not in running] + restart, restart)
        if problems:
            back = self.start_units(old_singles, [])
            self.fail_to_start(problems, "Its previous instance was started again%s." % (" (and failed too)" if back else ""))
        self._timers()
        self._remove_unconfigured()

    def _timers(self) -> None:
        """Each timer enabled (or not) and waiting; a singleton's only where the singletons run, stopped elsewhere."""
        here = self.params["singletons_here"]
        for item in self.params["timers"]:
            timer = units.timer_units(self.app, str(item["name"]))[1]
            if boolean(item.get("singleton", False), strict=False) and not here:
                if self.state(timer).get("ActiveState") == "active" or \
                        self.systemctl("is-enabled", timer, check=False).strip() == "enabled":
                    self.stop_units([timer])
                continue
            state = self.state(timer)
            enabled = self.systemctl("is-enabled", timer, check=False).strip()
            if state.get("ActiveState") == "active" and (enabled == "enabled") == self.params["enabled"]:
                continue
            self.result["changed"] = True
            self.result["started"].append(timer)
            if not self.module.check_mode:
                self.systemctl("enable" if self.params["enabled"] else "disable", timer)
                self.systemctl("start", timer)

    def _remove_unconfigured(self) -> None:
        keep = set(self.templates(self.params["companions"]))
        for item in self.params["timers"]:
            keep.update(units.timer_units(self.app, str(item["name"])))
        stale = [name for name in units.marked_files(self.params["unit_dir"], self.app) if name not in keep]
        if not stale:
            return
        self.result["changed"] = True
        self.result["removed"].extend(stale)
        if self.module.check_mode:
            return
        timers = [name for name in stale if name.endswith(".timer")]
        services = [name for name in stale if name.endswith(".service") and "@" not in name]
        self.stop_units(timers + services)
        for name in stale:
            path = os.path.join(self.params["unit_dir"], name)
            os.unlink(path)
            dropins = path + ".d"
            if os.path.isdir(dropins):
                shutil.rmtree(dropins)
        self.systemctl("daemon-reload")

    def stop(self) -> None:
        """The release's instances stopped (a switch that failed after they started)."""
        names = self.release_units(self.params["companions"], self.params["release"])
        self.stop_units([name for name in names if self.state(name).get("ActiveState") in ("active", "activating", "reloading")])

    def check(self) -> None:
        """Fail, naming the variables, when a calendar is rejected or (with release_dir) a command is not in the release's venv."""
        problems = []
        for index, item in enumerate([] if self.params["release_dir"] else self.params["timers"]):
            calendar = item.get("on_calendar")
            for expression in calendar if isinstance(calendar, list) else [calendar]:
                rc, out, err = self.module.run_command(units.calendar_argv(str(expression)))
                if rc != 0:
                    said = ((err or out).strip().splitlines() or [""])[-1]
                    problems.append("gunicorn_timers[%d].on_calendar=%s: systemd rejects it (%s); expected an OnCalendar= "
                                    "expression such as \"daily\" or \"*-*-* 03:15:00\" (man systemd.time)"
                                    % (index, json.dumps(expression), said))
        if self.params["release_dir"]:
            venv_bin = os.path.join(self.params["release_dir"], "venv", "bin")
            for variable in ("companions", "timers"):
                for index, item in enumerate(self.params[variable]):
                    problem = self._command_problem(units.command_argv(item.get("command", "")), venv_bin)
                    if problem:
                        problems.append("gunicorn_%s[%d].command: %s" % (variable, index, problem))
        if problems:
            self.fail("%d problem%s with the companions and scheduled jobs of %s; nothing live was changed:\n- %s"
                      % (len(problems), "s" if len(problems) > 1 else "", self.app, "\n- ".join(problems)))

    def _command_problem(self, argv: List[str], venv_bin: str) -> str:
        program = argv[0] if argv else ""
        # As the unit runs it (module_utils.companions.exec_line): python3 is the venv's python.
        path = program if os.path.isabs(program) else os.path.join(venv_bin, "python" if program == "python3" else program)
        if not program or "/" in program and not os.path.isabs(program):
            return "%r is not a command name; expected one of the release venv's commands (%s)" % (program, venv_bin)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return ("%r is not in the release's venv (%s); expected a command the app's requirements install there, "
                    "such as celery, or python -m MODULE" % (program, venv_bin))
        if os.path.basename(program).startswith("python") and len(argv) >= 3 and argv[1] == "-m":
            module = argv[2]
            app_dir = os.path.join(os.path.dirname(os.path.dirname(venv_bin)), "app")
            rc, _out, _err = self.module.run_command(
                [path, "-c", "import importlib.util, sys; raise SystemExit(importlib.util.find_spec(sys.argv[1]) is None)", module],
                cwd=app_dir if os.path.isdir(app_dir) else None)
            if rc != 0:
                return "python -m %s: no module %r in the release's code or venv" % (module, module)
        return ""

    def info(self) -> None:
        """Each instance with its state and release, and each timer with its next run."""
        for release, names in sorted(self.instances().items()):
            for name in names:
                state = self.state(name)
                self.result["units"].append({"unit": name, "release": release, "ActiveState": state.get("ActiveState", ""),
                                             "MainPID": state.get("MainPID", "0")})
        for item in self.params["timers"]:
            timer = units.timer_units(self.app, str(item["name"]))[1]
            state = parse_show(self.systemctl("show", timer, "--property=ActiveState,NextElapseUSecRealtime,LastTriggerUSec",
                                              check=False))
            self.result["units"].append({"unit": timer, "ActiveState": state.get("ActiveState", ""),
                                         "next": state.get("NextElapseUSecRealtime", ""), "last": state.get("LastTriggerUSec", "")})


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True, "choices": ["start", "retire", "stop", "check", "info"]},
            "app": {"type": "str", "required": True},
            "release": {"type": "str", "default": ""},
            "companions": {"type": "list", "elements": "dict", "default": []},
            "singletons_here": {"type": "bool", "default": True},
            "timers": {"type": "list", "elements": "dict", "default": []},
            "enabled": {"type": "bool", "default": True},
            "restart": {"type": "bool", "default": False},
            "settle_seconds": {"type": "float", "default": 5},
            "unit_dir": {"type": "path", "default": "/etc/systemd/system"},
            "release_dir": {"type": "path"},
            "daemon_reload": {"type": "bool", "default": False},
            "journal_lines": {"type": "int", "default": 20},
        },
        required_if=[("action", "start", ["release"]), ("action", "retire", ["release"]), ("action", "stop", ["release"])],
        supports_check_mode=True,
    )
    run = Companions(module)
    if module.params["daemon_reload"] and not module.check_mode:
        run.systemctl("daemon-reload")
    try:
        getattr(run, module.params["action"])()
    except ValueError as error:
        run.fail(str(error))
    module.exit_json(**run.result)


if __name__ == "__main__":
    main()
