#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.ledger module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ledger
short_description: Append a record to an app's ledger on a host, or read the ledger and check its chain
version_added: 0.9.0
description:
  - The ledger is a file of JSON records, one per line, one for every deploy, rollback, restart and failed attempt.
    Each record carries its number (C(seq)) and the SHA-256 of the line before it (C(prev)); a head file beside the
    ledger holds the number and the digest of the last one. A record edited, removed or added by hand breaks the
    chain, and reading the ledger names it.
  - O(state=present) appends O(record), adding its C(seq) and C(prev), under an exclusive C(flock). When the ledger's
    directory does not exist (the app was never set up on the host), it records nothing and reports no change.
  - O(state=read) returns the last O(last) records and what is wrong with the chain, changing nothing.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  path:
    description: The ledger file. Its directory must exist.
    type: path
    required: true
  state:
    description: V(present) appends O(record); V(read) reads the ledger.
    type: str
    choices: [present, read]
    default: present
  record:
    description:
      - The record to append (O(state=present)), such as C(time), C(action), C(result), C(who), C(playbook),
        C(release), C(previous_release), C(source), C(lock), C(phases), C(duration_s). C(seq) and C(prev) are the
        module's own and may not be given.
    type: dict
    default: {}
  started:
    description:
      - When the run started, in seconds since the epoch (O(state=present)). The record gets C(time) (this start),
        C(finished) (now) and C(duration_s).
    type: float
  release_json:
    description:
      - A release's C(release.json) (O(state=present)). When it exists, the record gets its C(release) (name),
        C(version), C(source) (the source's digest or git commit) and C(lock) (the SHA-256 of the lock the venv was
        installed from), unless O(record) gives them.
    type: path
  last:
    description: How many of the last records to return (O(state=read)); V(0) for all of them.
    type: int
    default: 10
attributes:
  check_mode:
    description: Supported; O(state=present) reports a change and appends nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Standard library only; runs with the host's python3.
  - The chain shows a change made by hand; root on the host can still rewrite the whole ledger and its head file.
"""

EXAMPLES = r"""
- name: Record the deploy
  fasterapi.deploy.ledger:
    path: /opt/shop/ledger.jsonl
    record:
      time: "2026-12-05T07:00:00Z"
      action: deploy
      result: ok
      release: 1.4.2-3fa1c0de9b12
      previous_release: 1.4.1-77aa01b2c3d4

- name: Read the last five records
  fasterapi.deploy.ledger:
    path: /opt/shop/ledger.jsonl
    state: read
    last: 5
  register: shop_ledger
"""

RETURN = r"""
record:
  description: The record as appended, with its C(seq) and C(prev); V(null) when nothing was recorded.
  returned: when O(state=present)
  type: dict
records:
  description: The last O(last) records, oldest first.
  returned: when O(state=read)
  type: list
  elements: dict
count:
  description: How many records the ledger holds.
  returned: when O(state=read)
  type: int
problems:
  description: What is wrong with the chain, in words (a record changed, removed or added by hand); empty when intact.
  returned: when O(state=read)
  type: list
  elements: str
  sample: ["record 3 (2026-12-05T07:00:00Z deploy 1.4.2-3fa1c0de9b12) was changed after it was written"]
"""

import json
import os
import time
from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import ledger
from ansible_collections.fasterapi.deploy.plugins.module_utils.fleet_lock import stamp


def complete(record: Dict[str, Any], started: Optional[float], release_json: Optional[str], now: float) -> Dict[str, Any]:
    """RECORD with its times and what release_json says of the release (what was given wins)."""
    done: Dict[str, Any] = {}
    if release_json:
        try:
            with open(release_json, encoding="utf-8") as handle:
                built = json.load(handle)
        except (OSError, ValueError):
            built = {}
        if isinstance(built, dict):
            done.update({key: built[field] for key, field in (("release", "name"), ("version", "version"), ("source", "source"),
                                                              ("lock", "lock_sha256")) if built.get(field)})
    if started is not None:
        done.update(time=stamp(started), finished=stamp(now), duration_s=round(now - started, 1))
    else:
        done["time"] = stamp(now)
    # An empty value given does not hide what release.json says.
    done.update({key: value for key, value in record.items() if value not in ("", None) or key not in done})
    return done


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "read"], "default": "present"},
            "record": {"type": "dict", "default": {}},
            "started": {"type": "float"},
            "release_json": {"type": "path"},
            "last": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    if module.params["state"] == "read":
        try:
            records, problems = ledger.read(path)
        except OSError as err:
            module.fail_json(msg=f"cannot read the ledger {path}: {err}")
        last = module.params["last"]
        module.exit_json(changed=False, records=records[-last:] if last > 0 else records, count=len(records),
                         problems=problems)
    record = complete(module.params["record"], module.params["started"], module.params["release_json"], time.time())
    reserved = sorted(set(record) & {"seq", "prev"})
    if reserved:
        module.fail_json(msg=f"record: {', '.join(reserved)} are the ledger's own; remove them from the record")
    if not os.path.isdir(os.path.dirname(path) or "."):
        # Nothing was ever set up here for the app: no ledger to keep.
        module.exit_json(changed=False, record=None, msg=f"{os.path.dirname(path)} does not exist: nothing recorded")
    if module.check_mode:
        module.exit_json(changed=True, record=record)
    try:
        written = ledger.append(path, record)
    except OSError as err:
        module.fail_json(msg=f"cannot append to the ledger {path}: {err}")
    module.exit_json(changed=True, record=written)


if __name__ == "__main__":
    main()
