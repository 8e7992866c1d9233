#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.canary_sample module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_sample
short_description: Measure what each upstream server got from a front door, from its structured access log
version_added: 0.12.0
description:
  - Reads the structured access log the fasterapi.deploy.nginx role writes with C(nginx_upstream_log) (one JSON object a
    line) on a front door, and counts, per upstream address, the attempts nginx made on it (a retry to another server
    is an attempt of each), those answered with a 5xx, and their response times (a histogram a percentile is read from
    within 1%).
  - With O(state=mark), notes where the log ends now; O(state=sample) then counts the entries logged from that mark to
    O(until), following a rotation of the log to C(<log>.1). O(state=recent) counts the last O(seconds) of the log,
    read from its end.
  - The results of several front doors add up in the fasterapi.deploy.canary_verdict and fasterapi.deploy.canary_rate
    filters, which decide on a canary release.
  - Changes nothing. Fails when the log is not there, naming it.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  log:
    description: The structured access log.
    type: path
    required: true
  state:
    description:
      - V(mark) notes where the log ends now (RV(mark)).
      - V(sample) counts the entries from O(mark) to O(until).
      - V(recent) counts the entries of the last O(seconds).
    type: str
    choices: [mark, sample, recent]
    default: sample
  mark:
    description: What an earlier run with O(state=mark) returned as RV(mark); required with O(state=sample).
    type: dict
  until:
    description: The end of the sample, in seconds since the epoch; now when left out.
    type: float
  seconds:
    description: With O(state=recent), how many seconds back from now to count.
    type: int
    default: 60
attributes:
  check_mode:
    description: Runs in check mode too, as it only reads.
    support: full
  diff_mode:
    description: Not applicable, as nothing changes.
    support: none
"""

EXAMPLES = r"""
- name: Note where each front door's log ends before the canary takes traffic
  fasterapi.deploy.canary_sample:
    log: /var/log/nginx/fasterapi-shop.upstreams.log
    state: mark
  register: canary_start

- name: Count what each upstream server got since
  fasterapi.deploy.canary_sample:
    log: /var/log/nginx/fasterapi-shop.upstreams.log
    mark: "{{ canary_start.mark }}"
  register: canary_sample

- name: Count what each upstream server got in the last minute
  fasterapi.deploy.canary_sample:
    log: /var/log/nginx/fasterapi-shop.upstreams.log
    state: recent
    seconds: 60
  register: canary_recent
"""

RETURN = r"""
mark:
  description: Where the log ends (its C(path), C(inode), C(offset), its size, and C(time)), for O(mark) of a later run.
  returned: state is mark
  type: dict
upstreams:
  description:
    - Per upstream address (C(10.0.0.3:8000), C([fd00::3]:8000), C(unix:/run/shop.sock)), its C(requests) (attempts),
      C(errors) (attempts answered with a 5xx) and C(latency), the histogram of its response times in log buckets of
      ratio 1.01 (bucket index to count).
  returned: state is sample or recent
  type: dict
lines:
  description: How many lines of the log were read.
  returned: state is sample or recent
  type: int
skipped:
  description: How many of them were not an entry of the structured access log.
  returned: state is sample or recent
  type: int
since:
  description: The start of the sample, in seconds since the epoch.
  returned: state is sample or recent
  type: float
until:
  description: The end of the sample, in seconds since the epoch.
  returned: state is sample or recent
  type: float
rotated_unknown:
  description: The log was rotated (or truncated) since the mark, and the file marked was not found at C(<log>.1), so the
    log was read from its start; entries written to the rotated file since the mark were not counted.
  returned: state is sample or recent
  type: bool
now:
  description: When the log was read, in seconds since the epoch.
  returned: always
  type: float
"""

import time
from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import canary

MARK_KEYS = ("path", "inode", "offset", "time")


def _missing(path: str) -> str:
    return (f"the access log {path} is not there: canary_sample reads the structured access log of the "
            "fasterapi.deploy.nginx role, which must be on (nginx_upstream_log: true) on this front door")


def _checked_mark(log: str, given: Any) -> Optional[str]:
    """What is wrong with the mark GIVEN for LOG, or None when it is one canary_sample returned for LOG."""
    try:
        path, _inode, _offset, _time = str(given["path"]), int(given["inode"]), int(given["offset"]), float(given["time"])
    except (KeyError, TypeError, ValueError):
        return f"mark={given!r}: expected what canary_sample returned with state=mark (a dict of {', '.join(MARK_KEYS)})"
    if path != log:
        return f"the mark is of the log {path}, not of log={log}"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "log": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["mark", "sample", "recent"], "default": "sample"},
            "mark": {"type": "dict"},
            "until": {"type": "float"},
            "seconds": {"type": "int", "default": 60},
        },
        required_if=[("state", "sample", ["mark"])],
        supports_check_mode=True,
    )
    params: Dict[str, Any] = module.params
    log, state = params["log"], params["state"]
    if state == "recent" and params["seconds"] < 1:
        module.fail_json(msg=f"seconds={params['seconds']}: expected 1 or more")
    wrong = _checked_mark(log, params["mark"]) if state == "sample" else None
    if wrong:
        module.fail_json(msg=wrong)
    try:
        if state == "mark":
            module.exit_json(changed=False, mark=canary.mark(log), now=time.time())
        found = canary.sample(params["mark"], params["until"]) if state == "sample" else canary.recent(log, params["seconds"])
        found["upstreams"] = {address: stats.to_dict() for address, stats in sorted(found["upstreams"].items())}
        module.exit_json(changed=False, now=time.time(), **found)
    except FileNotFoundError:
        module.fail_json(msg=_missing(log))
    except OSError as error:
        module.fail_json(msg=f"cannot read the access log {log}: {error.strerror or error}")


if __name__ == "__main__":
    main()
