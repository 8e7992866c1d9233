#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.wheelhouse module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: wheelhouse
short_description: Download the wheels of a release's lock for hosts that reach no package index
version_added: 0.6.0
description:
  - Runs on a builder that reaches the package index (the controller, with C(delegate_to)). Narrows O(lock), a requirements
    file with the hashes of every platform's files (the fasterapi.deploy.gunicorn_release module's C(state=resolved)), to
    one target (O(python_version) on O(glibc) and O(machine)) with C(uv pip compile --python-platform), and downloads those
    wheels into O(dest) with C(pip download --only-binary=:all:) for the target's tags.
  - Every wheel downloaded for the lock must have a sha256 the lock names, else it is removed and the module fails. Wheels
    already in O(dest) are kept, so a second run downloads nothing.
  - O(extra) requirements (uv itself, which installs the rest) are downloaded for the target too, without a hash.
  - Source distributions are not used; a package without a wheel for the target fails, naming it.
author: fasterapi.deploy maintainers (@fasterapi)
options:
  dest:
    description: The wheelhouse directory on the builder, one per target.
    type: path
    required: true
  lock:
    description: The lock. Empty to download only O(extra).
    type: str
    default: ""
  python_version:
    description: The target's Python, C(MAJOR.MINOR).
    type: str
    required: true
  machine:
    description: The target's CPU, as C(uname -m) prints it (C(x86_64) or C(aarch64)).
    type: str
    required: true
  glibc:
    description: The target's glibc version (C(2.36) on Debian 12, C(2.41) on Debian 13).
    type: str
    required: true
  uv:
    description: uv on the builder. Needed with a O(lock).
    type: path
  pip_python:
    description: A Python with pip on the builder, for C(pip download). Default the one running this module.
    type: path
  extra:
    description: Requirements downloaded too, without hashes.
    type: list
    elements: str
    default: []
  environment:
    description: Variables for uv and pip on the builder (index, CA). Values with credentials in a URL are never logged.
    type: dict
    default: {}
  bundle:
    description:
      - Also pack the files of O(dest) that the host lacks (not in O(host_has)) into one new tar file on the builder, owned by
        root and mode C(0644), to copy with M(ansible.builtin.unarchive) in one transfer. The caller removes it afterwards.
    type: bool
    default: false
  host_has:
    description: The names of the files already in the host's wheelhouse, with O(bundle).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Downloads nothing and reports no change.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
notes:
  - Standard library only, besides uv and pip.
"""

EXAMPLES = r"""
- name: Download the wheels of the lock for a Debian 12 host
  fasterapi.deploy.wheelhouse:
    dest: ~/.cache/fasterapi-deploy/wheelhouse/cp311-manylinux_2_36_x86_64
    lock: "{{ resolved.lock }}"
    python_version: "3.11"
    machine: x86_64
    glibc: "2.36"
    uv: ~/.cache/fasterapi-deploy/uv-0.13.9/bin/uv
    extra: [uv==0.13.9]
    # Pack what the host's wheelhouse lacks (listed by ansible.builtin.find) into one archive.
    bundle: true
    host_has: "{{ on_host.files | map(attribute='path') | map('basename') | list }}"
  delegate_to: localhost
  become: false
  register: made

- name: Copy it to the host in one transfer
  ansible.builtin.unarchive:
    src: "{{ made.bundle }}"
    dest: /var/cache/fasterapi-deploy/wheelhouse
  when: made.bundled | length > 0
"""

RETURN = r"""
wheels:
  description: The wheels in O(dest) afterwards.
  returned: always
  type: list
  elements: str
downloaded:
  description: The wheels downloaded by this run.
  returned: always
  type: list
  elements: str
requirements:
  description: The lock narrowed to the target (name==version), what the wheels are for.
  returned: always
  type: list
  elements: str
bundle:
  description: The archive of what the host lacks, on the builder; empty when it lacks nothing or without O(bundle).
  returned: always
  type: str
bundled:
  description: The files in RV(bundle).
  returned: always
  type: list
  elements: str
"""

import sys  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import package_settings, wheelhouse  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "lock": {"type": "str", "default": ""},
            "python_version": {"type": "str", "required": True},
            "machine": {"type": "str", "required": True},
            "glibc": {"type": "str", "required": True},
            "uv": {"type": "path"},
            "pip_python": {"type": "path"},
            "extra": {"type": "list", "elements": "str", "default": []},
            "environment": {"type": "dict", "default": {}},
            "bundle": {"type": "bool", "default": False},
            "host_has": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    module.no_log_values.update(package_settings.secret_values(params["environment"]))
    if params["lock"].strip() and not params["uv"]:
        module.fail_json(msg="uv is required with a lock")
    try:
        wheelhouse.check_target(params["python_version"], params["machine"], params["glibc"])
    except wheelhouse.WheelhouseError as err:
        module.fail_json(msg="No wheelhouse for this target: %s." % err)
    if module.check_mode:
        module.exit_json(changed=False, wheels=[], downloaded=[], requirements=[], bundle="", bundled=[])
    try:
        got = wheelhouse.build(params["dest"], params["lock"], params["python_version"], params["machine"], params["glibc"],
                               params["uv"] or "", params["pip_python"] or sys.executable, params["extra"],
                               {str(k): str(v) for k, v in params["environment"].items()})
    except wheelhouse.WheelhouseError as err:
        module.fail_json(msg="The wheelhouse for %s was not made: %s."
                             % (wheelhouse.target_name(params["python_version"], params["machine"], params["glibc"]), err),
                         output=err.output[-4000:])
    path, bundled = wheelhouse.bundle(params["dest"], params["host_has"]) if params["bundle"] else ("", [])
    module.exit_json(changed=bool(got["downloaded"]), bundle=path, bundled=bundled, **got)


if __name__ == "__main__":
    main()
