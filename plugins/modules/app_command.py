#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.app_command module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: app_command
short_description: Run a command with an app's environment file, whose values never reach a command line
version_added: 0.9.0
description:
  - Runs O(argv) (without a shell) with the variables of O(environment_file) added to its environment, read as systemd
    reads an C(EnvironmentFile=), so that the command sees what the app's service sees; or with those of
    O(environment_content), the content such a file is about to get, for a check before anything is written.
  - Ansible's C(environment) keyword puts every variable on the command line that C(become) runs, which sudo logs to the
    host's journal, every local user can read in C(/proc/PID/cmdline), and C(-vvv) prints. Here the values go from the
    file on the host into the command's environment and nowhere else; the module's arguments hold the file's path only.
  - Used by the fasterapi.deploy.gunicorn role for its import checks and release commands.
author: fasterapi.deploy maintainers (@fasterapi)
seealso:
  - module: ansible.builtin.command
options:
  argv:
    description: The command and its arguments.
    type: list
    elements: str
    required: true
  environment_file:
    description:
      - The environment file (systemd's format) whose variables the command gets. A file that cannot be read fails the task.
      - One of O(environment_file) and O(environment_content) is required.
    type: path
  environment_content:
    description:
      - The content an environment file will have (systemd's format), for a check before the file is written; parsed as
        systemd parses the file. Never logged.
    type: str
  set_environment:
    description:
      - Variables set on top of the file's, such as C(PATH). Not secret, since they are module arguments, shown with C(-vvv).
    type: dict
    default: {}
  chdir:
    description: The directory to run the command in.
    type: path
attributes:
  check_mode:
    description: Not supported; give the task C(check_mode=false) for a read-only command.
    support: none
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Standard library only; runs with the host's python3.
  - Reports C(changed) as M(ansible.builtin.command) does (always); set C(changed_when).
"""

EXAMPLES = r"""
- name: Run the migrations with the app's environment
  fasterapi.deploy.app_command:
    argv: [runuser, -u, shop, --, /opt/shop/current/venv/bin/alembic, upgrade, head]
    environment_file: /etc/shop/environment
    set_environment:
      PATH: /opt/shop/current/venv/bin:/usr/bin:/bin
    chdir: /opt/shop/current/app
  changed_when: true
"""

RETURN = r"""
rc:
  description: The command's exit status.
  returned: always
  type: int
  sample: 0
stdout:
  description: What it wrote to standard output.
  returned: when the command ran
  type: str
stderr:
  description: What it wrote to standard error.
  returned: when the command ran
  type: str
stdout_lines:
  description: RV(stdout) as lines.
  returned: when the command ran
  type: list
  elements: str
stderr_lines:
  description: RV(stderr) as lines.
  returned: when the command ran
  type: list
  elements: str
variables:
  description: The names (never the values) of the variables the file gave the command.
  returned: when the file was read
  type: list
  elements: str
"""

import os  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Dict  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import systemd_env  # noqa: E402  pylint: disable=wrong-import-position


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    """Read the file, run the command; return the module's result (or fail it)."""
    params = module.params
    path = params["environment_file"]
    try:
        if params["environment_content"] is not None:
            variables = systemd_env.parse_environment(params["environment_content"])
        else:
            variables = systemd_env.read_environment_file(path)
    except (OSError, UnicodeDecodeError) as err:
        said = "cannot read the environment file %s: %s: %s" % (path, type(err).__name__, getattr(err, "strerror", "") or err)
        # As a command that failed: a task that reads rc and stderr sees it.
        module.fail_json(msg=said, rc=2, stdout="", stderr=said, stdout_lines=[], stderr_lines=[said])
    if params["chdir"] and not os.path.isdir(params["chdir"]):
        module.fail_json(msg="chdir %s is not a directory" % params["chdir"])
    variables.update({str(name): str(value) for name, value in params["set_environment"].items()})
    rc, out, err = module.run_command(params["argv"], cwd=params["chdir"], environ_update=variables)
    result = {"changed": True, "rc": rc, "stdout": out, "stderr": err, "stdout_lines": out.splitlines(),
              "stderr_lines": err.splitlines(), "variables": sorted(variables)}
    if rc != 0:
        module.fail_json(msg="non-zero return code %d from %s" % (rc, params["argv"][0]), **result)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "argv": {"type": "list", "elements": "str", "required": True},
            "environment_file": {"type": "path"},
            "environment_content": {"type": "str", "no_log": True},
            "set_environment": {"type": "dict", "default": {}},
            "chdir": {"type": "path"},
        },
        supports_check_mode=False,
        required_one_of=[("environment_file", "environment_content")],
        mutually_exclusive=[("environment_file", "environment_content")],
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
