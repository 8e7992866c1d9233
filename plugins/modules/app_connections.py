#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.app_connections module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: app_connections
short_description: Count the connections open to an app's ports, or wait until none is left
version_added: 0.11.0
description:
  - Reads the kernel's TCP tables (C(/proc/net/tcp), C(/proc/net/tcp6)) for established connections to O(ports) on the
    host, by peer address.
  - With O(wait) above 0, samples them every O(interval) seconds until none is left, or until O(wait) seconds have
    passed. Host maintenance runs it after taking the host out of its front doors' pools. The requests under way finish
    on their connections, nginx closes its idle ones as its old workers exit, and a WebSocket ends when its client or the
    app closes it.
  - Never fails for connections left open at the end of the wait; RV(drained) says whether there were none.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  ports:
    description: The local TCP ports to count connections to (the app's).
    type: list
    elements: int
    required: true
  peers:
    description: Count only connections from these addresses (the front doors'); empty counts every peer.
    type: list
    elements: str
    default: []
  wait:
    description: Seconds to wait for the last connection to close; V(0) counts once.
    type: float
    default: 0
  interval:
    description: Seconds between two counts while waiting.
    type: float
    default: 0.2
attributes:
  check_mode:
    description: Runs in check mode too, as it only reads.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Wait up to 60 s for the connections of front's nginx to port 8001 to close
  fasterapi.deploy.app_connections:
    ports: [8001]
    wait: 60
  register: drain
"""

RETURN = r"""
connections:
  description: The connections still open at the end, by peer address.
  returned: always
  type: dict
first:
  description: The connections open at the first count, by peer address.
  returned: always
  type: dict
drained:
  description: No connection was left at the end.
  returned: always
  type: bool
waited:
  description: Seconds waited.
  returned: always
  type: float
"""

import time
from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import connections


def _count(ports: List[int], peers: List[str]) -> Dict[str, int]:
    found = connections.count(ports)
    return {peer: number for peer, number in found.items() if not peers or peer in peers}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "int", "required": True},
            "peers": {"type": "list", "elements": "str", "default": []},
            "wait": {"type": "float", "default": 0.0},
            "interval": {"type": "float", "default": 0.2},
        },
        supports_check_mode=True,
    )
    params: Dict[str, Any] = module.params
    start = time.monotonic()
    first = now = _count(params["ports"], params["peers"])
    while now and time.monotonic() - start < params["wait"]:
        time.sleep(max(params["interval"], 0.05))
        now = _count(params["ports"], params["peers"])
    module.exit_json(changed=False, connections=now, first=first, drained=not now,
                     waited=round(time.monotonic() - start, 2))


if __name__ == "__main__":
    main()
