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
from ansible_collections.fasterapi.deploy.plugins.module_utils import restart  # noqa: E402  pylint: disable=wrong-import-position


def _run(argv: List[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(argv, capture_output=True, text=True, check=False)


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
    before = restart.parse_show(_run(["systemctl", "show", unit,
                                      "--property=ActiveState,LoadState,UnitFileState,MainPID,NeedDaemonReload"]).stdout)
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
        done = _run(["systemctl", "restart", unit])
        if done.returncode != 0:
            lines = _journal(unit)
            result["msg"] = "%s failed to restart: %s\nLast journal lines of %s:\n%s" % (unit, done.stderr.strip(), unit, "\n".join(lines))
            module.fail_json(**result)
        _clear(params["marker"])
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
    result["msg"] = "%s: %s" % (unit, restart.rolling_summary(said))
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "marker": {"type": "path", "required": True},
            "strategy": {"type": "str", "choices": ["rolling", "restart"], "default": "rolling"},
            "force": {"type": "str", "choices": ["", "rolling", "full"], "default": ""},
            "running_required": {"type": "bool", "default": False},
            "handover": {"type": "list", "elements": "str", "required": True},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
