#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.fleet_lock module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_lock
short_description: Take, renew or give back a fleet's deploy lock, so that one deploy runs at a time
version_added: 0.9.0
description:
  - The lock is a file on one host of the fleet (run the task once, delegated to that host). It names its holder (the
    run's id, the controller's user and host, the playbook, the release, since when) and the end of its lease.
  - O(state=present) takes the lock for O(run_id), or renews its lease when O(run_id) holds it already. When another
    run holds it, the task waits up to O(wait) seconds for it, then fails with a message naming the holder.
  - A lock whose lease has ended (its controller died, or lost the host) is taken over; the result says whose it was.
  - O(state=absent) gives the lock back when O(run_id) holds it; with O(force=true), whoever holds it (to break a lock
    on purpose, when its run is known to be dead).
  - The changes are made under an exclusive C(flock), so two runs that start at the same moment cannot both take it.
  - The action plugin fills in O(user) and O(controller) from the controller when they are not given.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  path:
    description: The lock file. Its directory is made (root, 0755) when missing.
    type: path
    default: /var/lib/fasterapi-deploy/locks/fasterapi.json
  state:
    description: V(present) takes or renews the lock, V(absent) gives it back.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: The run's id, the same for every task of one run (made once per run by the playbook).
    type: str
    required: true
  user:
    description: Who runs the deploy (the controller's user). Filled in by the action plugin.
    type: str
    default: ""
  controller:
    description: The controller's host name. Filled in by the action plugin.
    type: str
    default: ""
  playbook:
    description: What the run does (V(deploy), V(rollback), V(rolling_restart), V(site)).
    type: str
    default: ""
  release:
    description: The release the run deploys, when it is known.
    type: str
    default: ""
  lease:
    description: Seconds the lock stays valid without a renewal; the run renews it at each phase.
    type: int
    default: 3600
  wait:
    description: Seconds to wait for a lock another run holds, before failing. V(0) fails at once.
    type: int
    default: 0
  force:
    description: With O(state=absent), give the lock back whoever holds it.
    type: bool
    default: false
attributes:
  check_mode:
    description: Supported; reports what it would do (and fails when another run holds the lock), changing nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Take the fleet's deploy lock
  fasterapi.deploy.fleet_lock:
    run_id: "{{ fasterapi_run_id }}"
    playbook: deploy
    release: "1.4.2"
    wait: 300
  run_once: true
  delegate_to: "{{ groups['fasterapi'][0] }}"

- name: Break a lock left by a run that is known to be dead
  fasterapi.deploy.fleet_lock:
    run_id: operator
    state: absent
    force: true
  run_once: true
  delegate_to: "{{ groups['fasterapi'][0] }}"
"""

RETURN = r"""
holder:
  description: The lock's holder as written (O(state=present)) or as removed (O(state=absent)); V(null) when none.
  returned: always
  type: dict
  sample: {"id": "k3v9x0q2", "user": "ana", "controller": "laptop", "playbook": "deploy", "release": "1.4.2",
           "since": 1796457600.0, "expires": 1796461200.0, "renewed": 1796457600.0}
taken_over:
  description: The holder of an expired lock this run took over, or V(null).
  returned: when O(state=present)
  type: dict
message:
  description: What was done, in words (whose lock was taken over or broken).
  returned: always
  type: str
"""

import os
import time
from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import fleet_lock


def _ensure_directory(path: str) -> None:
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """Take, renew or give back the lock as PARAMS say; the module's result."""
    path = params["path"]
    now = time.time()
    if params["state"] == "absent":
        if check_mode:
            holder = fleet_lock.peek(path)
            mine = holder is not None and (params["force"] or holder.get("id") == params["run_id"])
            return {"changed": mine, "holder": holder, "message": "would give the lock back" if mine else "not held by this run"}
        changed, holder = fleet_lock.release(path, params["run_id"], params["force"])
        if changed and holder and holder.get("id") != params["run_id"]:
            message = f"broke the lock: {fleet_lock.describe(holder, now)}"
        else:
            message = "gave the lock back" if changed else "the lock was not held by this run"
        return {"changed": changed, "holder": holder, "message": message}
    holder = {key: params[key] for key in ("user", "controller", "playbook", "release")}
    holder["id"] = params["run_id"]
    if check_mode:
        current = fleet_lock.peek(path)
        if current is not None and current.get("id") != params["run_id"] and float(current.get("expires") or 0) > now:
            raise fleet_lock.LockHeld(f"another run has the deploy lock ({path}): {fleet_lock.describe(current, now)}.", current)
        return {"changed": current is None or current.get("id") != params["run_id"], "holder": holder, "taken_over": None,
                "message": "would take the lock"}
    _ensure_directory(path)
    changed, written, taken_over = fleet_lock.acquire(path, holder, params["lease"], params["wait"])
    message = "took the lock" if changed else "renewed the lease"
    if taken_over:
        message += f", after the lease of another run had ended: {fleet_lock.describe(taken_over, now)}"
    return {"changed": changed, "holder": written, "taken_over": taken_over, "message": message}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/var/lib/fasterapi-deploy/locks/fasterapi.json"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "run_id": {"type": "str", "required": True},
            "user": {"type": "str", "default": ""},
            "controller": {"type": "str", "default": ""},
            "playbook": {"type": "str", "default": ""},
            "release": {"type": "str", "default": ""},
            "lease": {"type": "int", "default": 3600},
            "wait": {"type": "int", "default": 0},
            "force": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if module.params["lease"] < 1:
        module.fail_json(msg=f"lease={module.params['lease']}: it must be at least 1 second")
    if module.params["wait"] < 0:
        module.fail_json(msg=f"wait={module.params['wait']}: it must be 0 (fail at once) or more seconds")
    try:
        result = run(module.params, module.check_mode)
    except fleet_lock.LockHeld as err:
        module.fail_json(msg=str(err), holder=err.holder)
    except OSError as err:
        module.fail_json(msg=f"cannot use the lock {module.params['path']}: {err}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
