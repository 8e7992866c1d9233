#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.nginx_pool module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_pool
short_description: Take app hosts out of a front door's pool, put them back, or set their weights
version_added: 0.11.0
description:
  - Runs on a front door (a host of the fasterapi.deploy.nginx role). Each site of the role balances over a pool of app
    hosts, whose upstream servers the role writes to C(pools/<app>.conf) below its directory, with their state in
    C(pools/<app>.json).
  - O(out) takes hosts out of the pool. nginx marks them C(down) and sends them no new request; requests under way, and
    connections open on the old workers, finish there. A host stays out, across runs of the role, until O(in) puts it back.
  - O(weights) sets hosts' shares of the traffic (nginx's C(weight=)).
  - When anything changed, the files are written, C(nginx -t) checks them, and nginx is reloaded gracefully. When
    C(nginx -t) refuses them, both files are put back as they were and nginx is not reloaded.
  - Refuses, changing nothing, to take out the last host in the pool (nginx would answer every request with 502),
    unless O(allow_empty=true), and any host not in the pool.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  app:
    description: The site, by its app's name (C(nginx_app_name)).
    type: str
    required: true
  out:
    description: Inventory names of the hosts to take out of the pool.
    type: list
    elements: str
    default: []
  in:
    description: Inventory names of the hosts to put back in the pool.
    type: list
    elements: str
    default: []
  weights:
    description: Host name to weight (1 to 1000); hosts not named keep theirs.
    type: dict
    default: {}
  reason:
    description: Why the hosts are taken out, kept in the state and shown by C(status) (such as C(maintenance)).
    type: str
    default: taken out by hand
  allow_empty:
    description: Let O(out) take the last host of the pool out.
    type: bool
    default: false
  directory:
    description: Where the role keeps the pools.
    type: path
    default: /etc/nginx/fasterapi-deploy/pools
  validate:
    description: The command that checks nginx's whole configuration.
    type: str
    default: nginx -t -q
  reload:
    description: The command that reloads nginx gracefully once the files changed.
    type: str
    default: systemctl reload nginx
attributes:
  check_mode:
    description: Says what would change (RV(taken_out), RV(put_back)) and writes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - A reload closes the idle HTTP/1.1 keep-alive connections of nginx's old workers (HTTP allows it); see the README's
    front door section for what that means for clients.
"""

EXAMPLES = r"""
- name: Take app2 out of the pool of shop on every front door
  fasterapi.deploy.nginx_pool:
    app: shop
    out: [app2]
    reason: kernel update
  delegate_to: "{{ item }}"
  loop: "{{ groups['fasterapi_nginx'] }}"

- name: Put it back
  fasterapi.deploy.nginx_pool:
    app: shop
    in: [app2]
"""

RETURN = r"""
pool:
  description: Each host of the pool, with its server, weight, whether it is out, since when (epoch seconds) and why.
  returned: always
  type: list
  elements: dict
in_pool:
  description: The hosts nginx sends requests to, after the change.
  returned: always
  type: list
  elements: str
taken_out:
  description: The hosts this call took out (those already out are not listed).
  returned: always
  type: list
  elements: str
put_back:
  description: The hosts this call put back, each with the seconds it was out.
  returned: always
  type: list
  elements: dict
reloaded:
  description: Whether nginx was reloaded.
  returned: always
  type: bool
"""

import fcntl
import os
import shlex
import tempfile
import time
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import front_door, nginx_pool


def _write(path: str, text: str) -> None:
    """TEXT to PATH, atomically (root, 0644)."""
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".nginx-pool-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _restore(path: str, text: Optional[str]) -> None:
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        _write(path, text)


def apply(state: Dict[str, Any], params: Dict[str, Any], now: float) -> Dict[str, Any]:
    """The changes PARAMS ask of STATE, made in it: {taken_out, put_back, weighted}."""
    put = [{"host": host, "out_seconds": round(now - entry["since"], 1) if entry.get("since") else None}
           for host in params["in"] for entry in state["servers"] if entry["host"] == host and entry.get("out")]
    put_back = nginx_pool.put_back(state, params["in"])
    taken_out = nginx_pool.take_out(state, params["out"], params["reason"], now, params["allow_empty"]) if params["out"] else []
    weighted = [host for host, weight in sorted(params["weights"].items())
                if nginx_pool.set_weight(state, str(host), int(weight))]
    return {"taken_out": taken_out, "put_back": [item for item in put if item["host"] in put_back], "weighted": weighted}


def run(module: AnsibleModule) -> Dict[str, Any]:
    """Read, change, write, check and reload under an exclusive lock: two hosts of one maintenance batch, or the
    pool playbook beside it, change the same pool one after the other, never from the same old state."""
    params = module.params
    if not os.path.isdir(params["directory"]):
        module.fail_json(msg=f"{params['app']} has no pool on this host ({params['directory']} is missing): apply "
                             "fasterapi.deploy.nginx for it first")
    with open(os.path.join(params["directory"], ".lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _locked(module, params)


def _locked(module: AnsibleModule, params: Dict[str, Any]) -> Dict[str, Any]:
    base = os.path.join(params["directory"], params["app"])
    json_path, conf_path = base + ".json", base + ".conf"
    old_json, old_conf = front_door.read_text(json_path), front_door.read_text(conf_path)
    if old_json is None:
        module.fail_json(msg=f"{params['app']} has no pool on this host ({json_path} is missing): apply "
                             "fasterapi.deploy.nginx for it first")
    state = nginx_pool.load(old_json, params["app"])
    try:
        done = apply(state, params, time.time())
    except (nginx_pool.PoolError, ValueError) as error:
        module.fail_json(msg=f"nginx_pool: {error}; nothing was changed")
    changed = bool(done["taken_out"] or done["put_back"] or done["weighted"])
    result: Dict[str, Any] = {"changed": changed, "pool": state["servers"], "in_pool": nginx_pool.in_pool(state),
                              "taken_out": done["taken_out"], "put_back": done["put_back"], "reloaded": False}
    if not changed or module.check_mode:
        return result
    _write(conf_path, nginx_pool.render(state))
    _write(json_path, nginx_pool.dump(state))
    for command, failure in ((params["validate"], "nginx -t refused the pool of {app}; both files were put back and "
                                                  "nginx was not reloaded"),
                             (params["reload"], "reloading nginx failed, so the pool of {app} was put back as it was")):
        rc, out, err = module.run_command(shlex.split(command))
        if rc != 0:
            _restore(conf_path, old_conf)
            _restore(json_path, old_json)
            module.fail_json(msg=f"{failure.format(app=params['app'])}: {(err or out).strip()}", rc=rc, stdout=out,
                             stderr=err)
    result["reloaded"] = True
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str", "required": True},
            "out": {"type": "list", "elements": "str", "default": []},
            "in": {"type": "list", "elements": "str", "default": []},
            "weights": {"type": "dict", "default": {}},
            "reason": {"type": "str", "default": "taken out by hand"},
            "allow_empty": {"type": "bool", "default": False},
            "directory": {"type": "path", "default": "/etc/nginx/fasterapi-deploy/pools"},
            "validate": {"type": "str", "default": "nginx -t -q"},
            "reload": {"type": "str", "default": "systemctl reload nginx"},
        },
        supports_check_mode=True,
    )
    both: List[str] = sorted(set(module.params["out"]) & set(module.params["in"]))
    if both:
        module.fail_json(msg=f"nginx_pool: {', '.join(both)} both in out and in: expected each host in one of them")
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
