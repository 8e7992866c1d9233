#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.gunicorn_restart module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gunicorn_restart
short_description: Restart a gunicorn app when a change asks for it, without dropping a request where it can
version_added: 0.4.0
description:
  - Reads the restart owed (the O(marker) file a change left, and O(force)) and the unit's state, and decides how to restart.
  - A rolling restart runs O(handover) (C(fasterapi_handover) in the app's venv), which hands the running service over to a new
    gunicorn master, taking what it waits for from the unit and the installed C(gunicorn.conf.py). If the new generation
    fails, the old master keeps serving and the module fails with the app's own error lines from the journal.
  - A full restart (C(systemctl restart)) is done when the marker says C(full) (the role writes it when the unit or a
    credential changed), when the unit is not running, or with O(strategy=restart). A changed environment file is a rolling
    restart (the new master reads it).
  - Removes O(marker) once the restart succeeded. Changes nothing when no restart is owed.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  unit:
    description: The app's service unit.
    type: str
    required: true
  marker:
    description: The restart-pending marker file (containing C(rolling) or C(full)).
    type: path
    required: true
  strategy:
    description: C(rolling) hands over to a new master when it can; C(restart) always restarts in full.
    type: str
    choices: [rolling, restart]
    default: rolling
  force:
    description: A restart owed whatever the marker says (C(full) wins over C(rolling)); empty for none.
    type: str
    choices: ['', rolling, full]
    default: ''
  running_required:
    description: Fail, changing nothing, when the unit is not active (a rolling restart of a stopped unit is refused).
    type: bool
    default: false
  handover:
    description: The command line of the rolling restart (C(python -m fasterapi_handover --unit APP.service)).
    type: list
    elements: str
    required: true
  precheck:
    description:
      - A command that starts what a full restart would start, without stopping the running app. The role gives
        C(systemd-run) with the unit's user, environment file and credentials, running C(gunicorn --check-config), so systemd
        loads the credentials as it will for the service, and the app is imported with them.
      - Run before a full restart of a running unit. When it fails, nothing is restarted and the app keeps serving; the
        files of O(last_good_dir) (those the running app started with) are put back, so that systemd restarts it with them
        should it stop, and the module fails with the command's exit status, output and journal lines.
    type: list
    elements: str
    default: []
  last_good_dir:
    description:
      - A root-only directory where the files of O(last_good_paths) are kept after every start that worked (and on a run
        that owes no restart, while the unit runs; this is not reported as a change).
      - When a full restart fails, they are put back, systemd reloads the units and the app is started again; the module
        still fails, with the start's own error.
    type: path
  last_good_paths:
    description: The files and directories (of files) to keep in O(last_good_dir) (the unit, its drop-ins, the environment file, the credentials).
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    description: Reads the marker and the unit, and reports the restart it would do, without doing it.
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Restart shop if a change asks for it
  fasterapi.deploy.gunicorn_restart:
    unit: shop.service
    marker: /etc/shop/.restart-pending
    handover: [/opt/shop/current/venv/bin/python, -m, fasterapi_handover, --unit, shop.service]
  register: restart

- name: A rolling restart now, refused if shop is not running
  fasterapi.deploy.gunicorn_restart:
    unit: shop.service
    marker: /etc/shop/.restart-pending
    force: rolling
    running_required: true
    handover: [/opt/shop/current/venv/bin/python, -m, fasterapi_handover, --unit, shop.service]
"""

RETURN = r"""
how:
  description: C(rolling), C(full), or C(none) when no restart was owed.
  returned: always
  type: str
  sample: rolling
msg:
  description: What was done and why, in one line.
  returned: always
  type: str
  sample: rolling restart, master 812 -> 1407, 3 workers ready 1.4 s after USR2, http://127.0.0.1:8000/health answered
unit_before:
  description: The unit's ActiveState, LoadState, UnitFileState and MainPID before the restart.
  returned: always
  type: dict
restored:
  description: After a failed full restart, the paths put back from O(last_good_dir).
  returned: when a full restart failed and an earlier good start was kept
  type: list
  elements: str
restored_state:
  description: The unit's state (C(systemctl is-active)) after the last good files were put back and it was started again.
  returned: when a full restart failed and an earlier good start was kept
  type: str
  sample: active
precheck_rc:
  description: The exit status of O(precheck) when it failed.
  returned: when the precheck failed
  type: int
  sample: 243
handover:
  description: What the rolling restart reported (old and new master, workers, the health URL and config it read from the host).
  returned: when how is rolling
  type: dict
"""

import os  # noqa: E402  pylint: disable=wrong-import-position
import subprocess  # noqa: E402  pylint: disable=wrong-import-position
import json  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Dict, List  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import host_processes, last_good, restart  # noqa: E402  pylint: disable=wrong-import-position


def _run(argv: List[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)


def _journal_cursor(unit: str) -> str:
    out = _run(["journalctl", "--unit", unit, "--lines", "0", "--show-cursor", "--quiet"]).stdout
    return out.strip().replace("-- cursor: ", "")


def _journal(unit: str, cursor: str = "") -> List[str]:
    argv = ["journalctl", "--unit", unit, "--no-pager", "--output", "cat"]
    argv += ["--after-cursor=" + cursor] if cursor else ["--lines", "40"]
    return _run(argv).stdout.splitlines()


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as marker:
            return marker.read()
    except OSError:
        return ""


def _clear(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    """Decide, restart, clear the marker; return the result (or fail the module)."""
    params = module.params
    unit = params["unit"]
    before = host_processes.parse_show(_run(host_processes.show_argv(
        unit, "ActiveState,LoadState,UnitFileState,MainPID,NeedDaemonReload")).stdout)
    # A unit file changed on disk that systemd has not loaded (a run that
    # failed after writing it): a restart must start what the file says.
    if before.get("NeedDaemonReload") == "yes" and not module.check_mode:
        _run(["systemctl", "daemon-reload"])
    active = before.get("ActiveState", "")
    if params["running_required"] and active != "active":
        module.fail_json(msg="%s is %s: a rolling restart needs it running; start it (or apply the role) first."
                             % (unit, active if before.get("LoadState") == "loaded" else "not installed"), unit_before=before)
    kind = restart.owed(_read(params["marker"]), params["force"])
    how = restart.decide(kind, params["strategy"], active)
    result: Dict[str, Any] = {"changed": bool(how), "how": how or "none", "unit_before": before}
    if not how:
        result["msg"] = "%s: no restart owed" % unit
        if active == "active":
            _keep_last_good(module)
        return result
    if how == "full":
        result["msg"] = "%s: full restart (systemctl restart): %s" % (unit, restart.why_full(kind, params["strategy"], active))
    else:
        result["msg"] = "%s: rolling restart" % unit
    if module.check_mode:
        return result
    if how == "full":
        if before.get("LoadState") != "loaded":
            result["msg"] = "%s is not installed (LoadState=%s): nothing to restart" % (unit, before.get("LoadState"))
            module.fail_json(**result)
        if params["precheck"] and active == "active":
            _precheck(module, result)
        cursor = _journal_cursor(unit)
        done = _run(["systemctl", "restart", unit])
        if done.returncode != 0:
            lines = restart.report_lines(_journal(unit, cursor))
            result["msg"] = "%s failed to restart: %s\nIts journal lines since the restart:\n%s" % (unit, done.stderr.strip(), "\n".join(lines))
            result["msg"] += "\n" + _put_back_last_good(module, result)
            module.fail_json(**result)
        _clear(params["marker"])
        _keep_last_good(module)
        return result
    cursor = _journal_cursor(unit)
    done = _run(params["handover"])
    try:
        said = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    except ValueError:
        said = {}
    result["handover"] = said
    if done.returncode != 0:
        reason = said.get("msg") or done.stderr.strip() or "exit status %d" % done.returncode
        # The new generation's own copy of its stderr (which journald's rate
        # limit cannot drop), else the journal since the USR2.
        captured = [str(line) for line in said.get("output") or []]
        lines = restart.report_lines(captured or _journal(unit, cursor))
        result["msg"] = ("Rolling restart of %s failed: %s. The old master still serves. The new generation's error lines%s:\n%s"
                         % (unit, reason, "" if captured else " (from the journal since the USR2)", "\n".join(lines)))
        module.fail_json(**result)
    _clear(params["marker"])
    _keep_last_good(module)
    result["msg"] = "%s: %s" % (unit, restart.rolling_summary(said))
    return result


def _precheck(module: AnsibleModule, result: Dict[str, Any]) -> None:
    """Run the precheck; fail the module, the app still running, when it fails."""
    done = _run(module.params["precheck"])
    if done.returncode == 0:
        return
    transient = restart.transient_unit(done.stderr)
    journal = _run(["journalctl", "--unit", transient, "--no-pager", "--output", "cat"]).stdout.splitlines() if transient else []
    output = [line for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip() and not line.startswith("Running as unit")]
    result["precheck_rc"] = done.returncode
    result["msg"] = ("%s was not restarted: what a full restart would start fails first (%s). The running app was not stopped and "
                     "keeps serving. Its output:\n%s" % (
                         module.params["unit"], restart.exit_meaning(done.returncode),
                         "\n".join(restart.report_lines(output + journal, last=15))))
    result["msg"] += "\n" + _put_back_files(module, result)
    module.fail_json(**result)


def _put_back_files(module: AnsibleModule, result: Dict[str, Any]) -> str:
    """After a failed precheck: put back the files the running app started with, so that a crash restarts it with them."""
    if not module.params["last_good_dir"]:
        return "The new files stay in place, and the restart stays owed."
    try:
        put_back = last_good.restore(module.params["last_good_dir"])
    except (OSError, ValueError):
        return "The new files stay in place (no earlier good start was kept), and the restart stays owed."
    result["restored"] = put_back
    _run(["systemctl", "daemon-reload"])
    _clear(module.params["marker"])
    return ("Put back the files it runs with (%s), so that systemd restarts it with them should it stop; "
            "fix the change and run again." % (", ".join(put_back) or "none had changed"))


def _keep_last_good(module: AnsibleModule) -> bool:
    """Keep the files the app runs with now as the last good ones; whether anything was copied."""
    if not module.params["last_good_dir"] or module.check_mode:
        return False
    return last_good.save(module.params["last_good_paths"], module.params["last_good_dir"])


def _put_back_last_good(module: AnsibleModule, result: Dict[str, Any]) -> str:
    """After a failed full restart: put back the files of the last good start and start again; what happened, in words."""
    unit = module.params["unit"]
    if not module.params["last_good_dir"]:
        return "No earlier good start was kept to go back to."
    try:
        put_back = last_good.restore(module.params["last_good_dir"])
    except (OSError, ValueError) as err:
        return "Nothing kept from an earlier good start to go back to (%s)." % err
    result["restored"] = put_back
    _run(["systemctl", "daemon-reload"])
    again = _run(["systemctl", "restart", unit])
    state = _run(["systemctl", "is-active", unit]).stdout.strip()
    result["restored_state"] = state
    return ("Put back the files %s last started well with (%s) and started it again: %s%s. This run's changes stay owed; "
            "fix them and run again." % (unit, ", ".join(put_back) or "none had changed", state,
                                         "" if again.returncode == 0 else " (%s)" % again.stderr.strip()))


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "marker": {"type": "path", "required": True},
            "strategy": {"type": "str", "choices": ["rolling", "restart"], "default": "rolling"},
            "force": {"type": "str", "choices": ["", "rolling", "full"], "default": ""},
            "running_required": {"type": "bool", "default": False},
            "handover": {"type": "list", "elements": "str", "required": True},
            "precheck": {"type": "list", "elements": "str", "default": []},
            "last_good_dir": {"type": "path"},
            "last_good_paths": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
