#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.nginx_upgrade module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upgrade
short_description: Move nginx onto its binary on disk (after a package upgrade) without refusing or dropping a connection
version_added: 0.11.0
description:
  - nginx's binary upgrade, under systemd. C(systemctl restart nginx), which Debian's package scripts run after an
    upgrade, closes every connection and refuses new ones until nginx is back. This module does it without either.
  - When the running master does not run the binary on disk (a package upgrade or reinstall replaced it), or with
    O(force=true), it checks the configuration with the new binary (C(nginx -t)), then signals the old master. C(USR2)
    starts a new master from the new binary, which inherits the listening sockets and starts its workers. C(WINCH)
    makes the old workers stop taking connections and finish the ones they have, for up to O(timeout) seconds. C(QUIT)
    then makes the old master leave.
  - systemd's C(nginx.service) (C(Type=forking), C(PIDFile=)) takes the new master as its main process when the old
    one exits; the module checks that it did.
  - When the new master does not start, the old one serves on (nginx puts its pid file back), and the module fails
    with the reason.
  - A connection still open on an old worker after O(timeout) seconds (a WebSocket) is closed by C(TERM); RV(cut) counts
    the old workers that were still running then.
  - With O(packages), upgrades them first (C(apt-get install), O(reinstall=true) reinstalls them), with a
    C(policy-rc.d) in place that stops Debian's package scripts from restarting nginx; a C(policy-rc.d) already there
    still decides for every other service, and is put back after.
  - A master started by systemd gets systemd's sandbox of nginx.service; the new master of a binary upgrade inherits
    the old one's. A changed sandbox needs C(systemctl restart nginx).
author: fasterapi.deploy maintainers (@fasterapi)
options:
  packages:
    description: Debian packages to upgrade (to their candidate version) before the move, such as C(nginx); none by default.
    type: list
    elements: str
    default: []
  reinstall:
    description: Reinstall O(packages) even when they are at their candidate version.
    type: bool
    default: false
  update_cache:
    description: Fetch the package lists before upgrading O(packages).
    type: bool
    default: true
  force:
    description: Move onto a new master even when the running one runs the binary on disk.
    type: bool
    default: false
  timeout:
    description: Seconds the old workers have to finish their connections.
    type: float
    default: 60
  start_timeout:
    description: Seconds the new master has to start its workers.
    type: float
    default: 15
  binary:
    description: nginx's binary.
    type: path
    default: /usr/sbin/nginx
  pid_file:
    description: nginx's pid file (C(PIDFile=) of the unit).
    type: path
    default: /run/nginx.pid
  unit:
    description: nginx's systemd unit.
    type: str
    default: nginx.service
attributes:
  check_mode:
    description: Says whether nginx would move (and, with O(packages), what apt would upgrade), and changes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Move nginx onto the upgraded binary
  fasterapi.deploy.nginx_upgrade:
  register: upgrade
"""

RETURN = r"""
upgraded:
  description: The packages apt upgraded or reinstalled (as C(apt-get) reported them).
  returned: always
  type: list
  elements: str
old_master:
  description: The pid of the master before.
  returned: always
  type: int
new_master:
  description: The pid of the master after (the unit's main process).
  returned: when changed
  type: int
old_binary:
  description: The binary the old master ran, as the kernel names it (C(/usr/sbin/nginx (deleted)) after an upgrade).
  returned: always
  type: str
seconds:
  description: How long the move took, from C(USR2) to the old master's exit.
  returned: when changed
  type: float
cut:
  description: Old workers still running after O(timeout) seconds, stopped with C(TERM).
  returned: when changed
  type: int
"""

import os
import signal
import time
from typing import Any, Callable, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import front_door, nginx_binary


def _wait(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _main_pid(module: AnsibleModule, unit: str) -> Optional[int]:
    rc, out, _err = module.run_command(["systemctl", "show", "--property", "MainPID", "--value", unit])
    return int(out.strip()) if rc == 0 and out.strip().isdigit() else None


POLICY = "/usr/sbin/policy-rc.d"
POLICY_ASIDE = POLICY + ".fasterapi-deploy"
# Debian's package scripts ask policy-rc.d before they start, stop or restart a service: 101 is "not allowed".
MARKER = "# fasterapi.deploy.nginx_upgrade, while it upgrades"
POLICY_TEXT = f"""#!/bin/sh
{MARKER} nginx's packages: nginx
# moves onto the new binary with its own binary upgrade, not a restart.
# invoke-rc.d asks for "nginx" (after --quiet), deb-systemd-invoke (nginx-common's restart) for "nginx.service".
for argument; do
    case "$argument" in -*) continue ;; nginx|nginx.service) exit 101 ;; esac
    break
done
[ -x {POLICY_ASIDE} ] && exec {POLICY_ASIDE} "$@"
exit 0
"""


def upgrade_packages(module: AnsibleModule) -> List[str]:
    """Upgrade module.params' packages with nginx's restarts held back; the packages apt unpacked."""
    params = module.params
    environment = {"DEBIAN_FRONTEND": "noninteractive"}
    if params["update_cache"] and not module.check_mode:
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=environment)
        if rc != 0:
            module.fail_json(msg=f"apt-get update failed; nothing was changed: {(err or out).strip()}")
    argv = ["apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o",
            "Dpkg::Options::=--force-confold"] + (["--reinstall"] if params["reinstall"] else []) + params["packages"]
    if module.check_mode:
        rc, out, err = module.run_command(argv[:2] + ["--simulate"] + argv[2:], environ_update=environment)
        return [line.split()[1] for line in out.splitlines() if line.startswith(("Inst ", "Reinst "))]
    # A run killed during apt may have left ours in place (replaced, never kept as the host's own) and the
    # host's own aside (put back after this run).
    had_policy = os.path.exists(POLICY_ASIDE)
    if not had_policy and os.path.exists(POLICY) and MARKER not in (front_door.read_text(POLICY) or ""):
        os.replace(POLICY, POLICY_ASIDE)
        had_policy = True
    try:
        with open(POLICY, "w", encoding="ascii") as handle:
            handle.write(POLICY_TEXT)
        os.chmod(POLICY, 0o755)
        rc, out, err = module.run_command(argv, environ_update=environment)
    finally:
        if had_policy:
            os.replace(POLICY_ASIDE, POLICY)
        elif os.path.exists(POLICY):
            os.unlink(POLICY)
    if rc != 0:
        module.fail_json(msg=f"apt-get install {' '.join(params['packages'])} failed; nginx was not restarted: "
                             f"{(err or out).strip()[-2000:]}")
    return [line.split()[1] for line in out.splitlines() if line.startswith(("Unpacking ", "Setting up "))
            and line.split()[1].split(":")[0] in params["packages"]]


def run(module: AnsibleModule) -> Dict[str, Any]:
    params = module.params
    pid_file, oldbin = params["pid_file"], params["pid_file"] + ".oldbin"
    old = nginx_binary.read_pid(pid_file)
    if old is None or not nginx_binary.alive(old):
        module.fail_json(msg=f"nginx is not running ({pid_file} names no live master): nothing to move; start it")
    if os.path.exists(oldbin):
        module.fail_json(msg=f"{oldbin} exists: another binary upgrade is under way (or one was left half done); finish it "
                             "first (QUIT to the master it names, or HUP it to go back); nothing was changed")
    upgraded = sorted(set(upgrade_packages(module))) if params["packages"] else []
    result: Dict[str, Any] = {"changed": bool(upgraded), "upgraded": upgraded, "old_master": old,
                              "old_binary": nginx_binary.exe(old)}
    if module.check_mode:
        result["changed"] = bool(upgraded) or params["force"] or not nginx_binary.runs_binary(old, params["binary"])
        return result
    if not params["force"] and nginx_binary.runs_binary(old, params["binary"]):
        return result
    result["changed"] = True
    rc, out, err = module.run_command([params["binary"], "-t", "-q"])
    if rc != 0:
        module.fail_json(msg=f"{params['binary']} -t refused the configuration; nginx was not touched and serves on: "
                             f"{(err or out).strip()}", **result)
    started = time.monotonic()
    os.kill(old, signal.SIGUSR2)

    def new_master() -> Optional[int]:
        pid = nginx_binary.read_pid(pid_file)
        return pid if pid not in (None, old) and nginx_binary.read_pid(oldbin) == old else None

    started_new = _wait(lambda: bool(new_master()) and bool(nginx_binary.children(new_master() or 0)),
                        params["start_timeout"])
    new = new_master()
    if not started_new or new is None:
        module.fail_json(msg=f"the new nginx master did not start its workers within {params['start_timeout']} s; the old "
                             f"master ({old}) serves on (see journalctl -u {params['unit']})", **result)
    os.kill(old, signal.SIGWINCH)

    def old_workers() -> List[int]:
        # The new master is a child of the old one until the old one exits: not one of its workers.
        return [pid for pid in nginx_binary.children(old) if pid != new]

    finished = _wait(lambda: not old_workers(), params["timeout"], 0.1)
    result["cut"] = 0 if finished else len(old_workers())
    os.kill(old, signal.SIGQUIT if finished else signal.SIGTERM)
    if not _wait(lambda: not nginx_binary.alive(old), 30.0):
        module.fail_json(msg=f"the old nginx master ({old}) did not exit; the new one ({new}) serves", **result)
    result["seconds"] = round(time.monotonic() - started, 2)
    if not _wait(lambda: _main_pid(module, params["unit"]) == new, 10.0):
        module.fail_json(msg=f"{params['unit']} did not take the new master ({new}) as its main process (it has "
                             f"{_main_pid(module, params['unit'])}); nginx serves, but systemctl may not control it",
                         **result)
    result["new_master"] = new
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "reinstall": {"type": "bool", "default": False},
            "update_cache": {"type": "bool", "default": True},
            "force": {"type": "bool", "default": False},
            "timeout": {"type": "float", "default": 60.0},
            "start_timeout": {"type": "float", "default": 15.0},
            "binary": {"type": "path", "default": "/usr/sbin/nginx"},
            "pid_file": {"type": "path", "default": "/run/nginx.pid"},
            "unit": {"type": "str", "default": "nginx.service"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
