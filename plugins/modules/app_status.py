#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.app_status module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: app_status
short_description: Read the state of every app fasterapi.deploy.gunicorn deployed on a host, and name what is wrong
version_added: 0.8.0
description:
  - Finds the apps on the host (the units the role wrote, under O(unit_dir)), or reads those of O(apps), and for each
    reports its releases, its master and workers, their memory, the journal's worker boots, exits and timeouts since
    O(since), a pending restart, the unit's exposure score and the health path's answer.
  - Everything comes from the host. The config is the C(gunicorn.conf.py) the unit's C(ExecStart=) names; the configured
    workers, the address and the health path are what the hand-over helper installed in the app's venv reads from it
    (C(python -m fasterapi_handover --unit APP.service --wait 0), which requests the health path once); C(current) and
    C(previous) are read below the unit's C(WorkingDirectory=); the restart marker is C(.restart-pending) beside the config.
  - Judges each app. RV(faults) names an app that is down (its unit not active, or the health path not answering with
    an accepted status, C(fasterapi_health_status) in the config), runs fewer workers than configured, or owes a restart.
    RV(findings) names what is worth a look but not down (worker timeouts, more workers than configured, a unit changed on disk, a disabled unit, interrupted
    builds, an exposure level of EXPOSED or UNSAFE). The module itself does not fail on them; the
    C(fasterapi.deploy.status) playbook does.
  - Changes nothing. A stopped socket-activated app is not requested (the request would start it).
author: fasterapi.deploy maintainers (@fasterapi)
seealso:
  - module: fasterapi.deploy.gunicorn_release_info
options:
  apps:
    description:
      - The apps to read, by name (the unit C(<app>.service)); empty for every app of the role on the host.
      - An app named here without a unit of the role on the host is a fault.
    type: list
    elements: str
    default: []
  since:
    description: Count the journal's worker boots, exits and timeouts from this time on, in C(journalctl --since) syntax.
    type: str
    default: 1 hour ago
  unit_dir:
    description: Where the role writes its units.
    type: path
    default: /etc/systemd/system
  settle:
    description:
      - Seconds to count the workers again while fewer run than configured (a recycled or crashed worker is replaced
        within about a second); 0 counts once.
    type: float
    default: 3
  exposure:
    description: Score each unit with C(systemd-analyze security) (about 0.1 s per app).
    type: bool
    default: true
attributes:
  check_mode:
    description: Runs in check mode too, as it only reads.
    support: full
  diff_mode:
    description: Not applicable, as nothing changes.
    support: none
notes:
  - Needs root (C(become)) to read the restart marker and other users' processes.
  - Standard library only; runs with the host's python3. The health request and the config are read with the app's
    own venv, by the hand-over helper the role installs there.
"""

EXAMPLES = r"""
- name: Read every app on the host
  fasterapi.deploy.app_status:
  become: true
  register: status

- name: Read two apps, counting worker restarts over the last day
  fasterapi.deploy.app_status:
    apps: [shop, api]
    since: 1 day ago
  become: true
  register: status

- name: Fail when an app is down, short of workers or owes a restart
  ansible.builtin.fail:
    msg: "{{ status.faults | join('; ') }}"
  when: status.faults | length > 0
"""

RETURN = r"""
apps:
  description: The status of each app read, by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The app's name.
      type: str
      sample: shop
    unit:
      description: Its service unit.
      type: str
      sample: shop.service
    config:
      description: The C(gunicorn.conf.py) its unit's C(ExecStart=) names.
      type: str
      sample: /etc/shop/gunicorn.conf.py
    base_dir:
      description: Its base directory (from the unit's C(WorkingDirectory=), C(<base>/current/app)).
      type: str
      sample: /opt/shop
    state:
      description: >-
        systemd's C(load), C(active) and C(sub) states, C(unit_file) (enabled or not), C(need_daemon_reload),
        C(n_restarts) (systemd's restarts after a crash) and C(socket_activated).
      type: dict
    releases:
      description: >-
        C(current) and C(previous) (release names) with their C(current_version) and C(previous_version) (from
        C(release.json); for a release built without a version, its source, short, such as C(git:0123456789ab)),
        C(built) (newest first) and C(unfinished) (interrupted builds).
      type: dict
    ledger:
      description: >-
        The app's ledger (C(<base>/ledger.jsonl)): C(count) (its records), C(records) (the last five, oldest first:
        C(seq), C(time), C(finished), C(duration_s), C(action), C(result), C(who), C(playbook), C(run), C(release),
        C(previous_release), C(version), C(source), C(lock), C(phases), C(message)) and C(problems) (a record edited,
        removed or added by hand, or a ledger cut short; each is also a finding).
      type: dict
    companions:
      description: >-
        The app's companion instances (loaded or enabled) and scheduled-job timers: C(unit), C(kind) (C(companion) or
        C(timer)), C(release) (a companion's), C(active), C(sub), C(pid), C(unit_file), C(n_restarts), and a timer's C(next)
        and C(last) runs. One not running is a fault; a companion of a release other than the current one is a finding.
      type: list
      elements: dict
    master:
      description: The master (systemd's MainPID) as C(pid), C(age_seconds), C(rss_kib), C(pss_kib); C(pid) 0 when none.
      type: dict
    workers:
      description: C(running) (the master's children), C(configured) (null when the config could not be read), and C(processes), each like RV(apps[].master).
      type: dict
    journal:
      description: >-
        C(since), and the workers that C(booted), C(exited) and C(timeouts) (WORKER TIMEOUT) in the journal since then;
        the app's C(errors) (lines logged at ERROR or CRITICAL, such as uvicorn's C(Exception in ASGI application)) and
        C(error_lines) (the last six of those lines and of the exceptions raised).
      type: dict
    restart_pending:
      description: C(pending), its C(kind) (C(rolling) or C(full)) and the C(marker) path.
      type: dict
    exposure:
      description: C(systemd-analyze security)'s C(score) and C(level) (null and "" when not scored).
      type: dict
    health:
      description: >-
        The health path's C(url) (and C(unix_socket); C(target) shows both as an operator reads them), whether it was
        C(probed), C(healthy) (an accepted status), C(status), C(answer) (as the helper said it), C(ms) (the request's time, when healthy) and C(error) (why the
        settings could not be read).
      type: dict
    faults:
      description: What is wrong with the app.
      type: list
      elements: str
    findings:
      description: Other findings, which are not faults.
      type: list
      elements: str
found:
  description: Every app of the role found on the host.
  returned: always
  type: list
  elements: str
  sample: [api, shop]
faults:
  description: "Every fault, as C(<app>: <fault>)."
  returned: always
  type: list
  elements: str
  sample: ["shop: not running (inactive/dead)", "api: 2 workers running, 3 configured"]
findings:
  description: "Every other finding, as C(<app>: <finding>)."
  returned: always
  type: list
  elements: str
  sample: ["shop: 2 worker timeouts since 1 hour ago"]
since:
  description: O(since), as given.
  returned: always
  type: str
  sample: 1 hour ago
checked_at:
  description: When the host was read (UTC, ISO 8601).
  returned: always
  type: str
  sample: "2026-11-26T17:02:11Z"
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import app_status  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "apps": {"type": "list", "elements": "str", "default": []},
            "since": {"type": "str", "default": "1 hour ago"},
            "unit_dir": {"type": "path", "default": "/etc/systemd/system"},
            "settle": {"type": "float", "default": 3.0},
            "exposure": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = app_status.host_status(params["apps"], params["unit_dir"], params["since"], settle=max(0.0, params["settle"]),
                                        with_exposure=params["exposure"])
    except ValueError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
