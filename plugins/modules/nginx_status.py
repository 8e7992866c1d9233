#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.nginx_status module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_status
short_description: Read the state of a front door's sites, their certificates and pools, and name what is wrong
version_added: 0.11.0
description:
  - For each site of the fasterapi.deploy.nginx role on the host, reads the certificate the site serves (its
    C(ssl_certificate)) and when it expires, and its pool of app hosts, in or out.
  - An ACME certificate that certbot should have renewed is a fault. That is one due for more than 2 days (certbot
    renews from C(renew_before_expiry), 30 days before expiry by default), or one that expires within a week. So are
    C(certbot.timer) not running for an ACME site, an expired certificate, and a pool with no host in it.
  - A certificate given as files that expires within 14 days, and a host out of its pool, are findings.
  - Changes nothing.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  state_dir:
    description: The role's directory on the host (its C(sites) and C(pools)).
    type: path
    default: /etc/nginx/fasterapi-deploy
attributes:
  check_mode:
    description: Runs in check mode too, as it only reads.
    support: full
  diff_mode:
    description: Not applicable, as nothing changes.
    support: none
"""

EXAMPLES = r"""
- name: Read the front door's state
  fasterapi.deploy.nginx_status:
  register: front_door
"""

RETURN = r"""
sites:
  description: Per site, its name, ports, certificate (path, ACME or not, expiry, days left, days due) and pool hosts.
  returned: always
  type: list
  elements: dict
faults:
  description: What is wrong, one sentence each, naming the site.
  returned: always
  type: list
  elements: str
findings:
  description: What is worth a look, one sentence each.
  returned: always
  type: list
  elements: str
"""

import datetime
import glob
import json
import os
from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fasterapi.deploy.plugins.module_utils import front_door


def site_status(module: AnsibleModule, state_dir: str, record: Dict[str, Any], timer_active: bool,
                now: datetime.datetime) -> Dict[str, Any]:
    name = record.get("name", "")
    label = f"site {name}"
    site: Dict[str, Any] = {"name": name, "https_port": record.get("https_port"), "faults": [], "findings": []}
    conf = front_door.read_text(f"/etc/nginx/sites-available/fasterapi-{name}.conf") or ""
    path = front_door.served_certificate(conf)
    rc, out, _err = module.run_command(["openssl", "x509", "-noout", "-startdate", "-enddate", "-in", path]) if path \
        else (1, "", "")
    start, end = front_door.certificate_dates(out) if rc == 0 else (None, None)
    acme = path.startswith("/etc/letsencrypt/")
    renewal = front_door.read_text(f"/etc/letsencrypt/renewal/{name}.conf") or "" if acme else ""
    site["certificate"], faults, findings = front_door.judge_certificate(
        label, path, start, end, acme, front_door.renew_before_days(renewal), timer_active, now)
    site["faults"] += faults
    site["findings"] += findings
    pool_text = front_door.read_text(os.path.join(state_dir, "pools", f"{name}.json"))
    if pool_text:
        site["pool"], faults, findings = front_door.judge_pool(label, json.loads(pool_text))
        site["faults"] += faults
        site["findings"] += findings
    return site


def main() -> None:
    module = AnsibleModule(argument_spec={"state_dir": {"type": "path", "default": "/etc/nginx/fasterapi-deploy"}},
                           supports_check_mode=True)
    state_dir = module.params["state_dir"]
    rc, out, _err = module.run_command(["systemctl", "is-active", "certbot.timer"])
    timer_active = rc == 0 and out.strip() == "active"
    now = datetime.datetime.now(datetime.timezone.utc)
    sites: List[Dict[str, Any]] = []
    for path in sorted(glob.glob(os.path.join(state_dir, "sites", "*.json"))):
        sites.append(site_status(module, state_dir, json.loads(front_door.read_text(path) or "{}"), timer_active, now))
    module.exit_json(changed=False, sites=sites, faults=[fault for site in sites for fault in site["faults"]],
                     findings=[finding for site in sites for finding in site["findings"]])


if __name__ == "__main__":
    main()
