#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.gunicorn_release_info module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gunicorn_release_info
short_description: Read where an app's current and previous releases point, and which releases are built
version_added: 0.4.0
description:
  - An app's base directory holds C(releases/<name>/) (C(release.json) once the release is complete) and two symlinks,
    C(current) and C(previous), each pointing to C(releases/<name>).
  - Reads both links and lists the built releases, newest first, in one round trip; also says whether other paths exist.
  - Changes nothing.
author: fasterapi.deploy maintainers (@fasterapi)
seealso:
  - module: fasterapi.deploy.gunicorn_release
options:
  base_dir:
    description: The app's base directory (the one holding C(releases/), C(current) and C(previous)).
    type: path
    required: true
  paths:
    description:
      - Other paths whose existence to report in RV(exists) (for example the app's config), by a name of your choice.
      - A path with C(*) is a pattern (shell-style), which exists when it matches a file.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Runs in check mode too, as it only reads.
    support: full
  diff_mode:
    description: Not applicable, as nothing changes.
    support: none
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Read the releases, and whether the config exists
  fasterapi.deploy.gunicorn_release_info:
    base_dir: /opt/shop
    paths:
      config: /etc/shop/gunicorn.conf.py
  register: releases
"""

RETURN = r"""
current:
  description: The release C(current) points to ("" when none).
  returned: always
  type: str
  sample: 1.4.2-0123456789ab
previous:
  description: The release C(previous) points to ("" when none).
  returned: always
  type: str
  sample: 1.4.1-ba9876543210
built:
  description: The built releases (with C(release.json)), newest first.
  returned: always
  type: list
  elements: str
  sample: [1.4.2-0123456789ab, 1.4.1-ba9876543210]
unfinished:
  description: The directories under C(releases/) without C(release.json) (builds that were interrupted), by name.
  returned: always
  type: list
  elements: str
  sample: []
exists:
  description: For each name in O(paths), whether that path exists.
  returned: always
  type: dict
  sample: {config: true}
"""

import glob  # noqa: E402  pylint: disable=wrong-import-position
import os  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import releases  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "base_dir": {"type": "path", "required": True},
            "paths": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    state = releases.read_state(module.params["base_dir"])
    module.exit_json(changed=False, current=state["current"], previous=state["previous"], built=state["built"],
                     unfinished=releases.unfinished_releases(os.path.join(module.params["base_dir"], "releases")),
                     exists={name: bool(glob.glob(str(path))) if "*" in str(path) else os.path.exists(str(path))
                             for name, path in module.params["paths"].items()})


if __name__ == "__main__":
    main()
