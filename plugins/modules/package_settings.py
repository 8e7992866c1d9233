#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.package_settings module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: package_settings
short_description: Read the host's own pip and uv settings and give both installers the same ones
version_added: 0.6.0
description:
  - A host's admin configures pip once, in C(/etc/pip.conf) (or C(/etc/xdg/pip/pip.conf), C(~/.config/pip/pip.conf),
    C(PIP_CONFIG_FILE)), in C(PIP_*) variables, by adding a CA to the system trust store with C(update-ca-certificates),
    and with C(HTTP(S)_PROXY) and C(NO_PROXY) in the environment or C(/etc/environment). pip reads its own files; uv reads
    none of pip's, so a host that pip can install on fails with uv (C(invalid peer certificate) C(UnknownIssuer)).
  - Reads all of that in one round trip, with uv's own C(uv.toml) files and C(UV_*) variables, and returns the
    environment each installer needs to use the same settings.
  - Precedence, highest first, the role's values (O(role)), then C(PIP_*) variables, then pip's files in pip's own
    order. For uv, a setting uv's own configuration makes wins over pip's (uv reads it itself), but not over the role's.
  - The settings read are index-url, extra-index-url, find-links, no-index, cert, client-cert, timeout, retries,
    trusted-host (only when the admin set it) and proxy. uv always uses the system trust store (C(UV_SYSTEM_CERTS)).
  - Changes nothing. Never returns a password in an index URL except inside the environments, which a task should
    not print (C(no_log)).
author: fasterapi.deploy maintainers (@fasterapi)
options:
  role:
    description:
      - The settings the role's variables make, by pip option name (C(index-url), C(extra-index-url), C(find-links),
        C(cert), ...). An empty value is not set.
    type: dict
    default: {}
  environment_file:
    description: A pam_env file read for variables the module's own environment lacks (a docker exec does not load it).
    type: path
    default: /etc/environment
  wheelhouse:
    description:
      - A directory on the host holding every wheel to install (a host that reaches no index). Both installers are then
        told to use only it (no-index, find-links), and nothing about where packages come from goes into RV(uv_digest).
    type: path
  probe_timeout:
    description:
      - Seconds to wait for the package index (the one index-url names, else pypi.org) to answer one HEAD request, with its
        CA and the host's proxies; RV(index_probe) says how that went. 0 asks nothing. Not asked with O(wheelhouse).
    type: float
    default: 0
  python:
    description: A Python on the host whose version, CPU and glibc to return in RV(target) (what a wheelhouse is built for).
    type: str
  require:
    description:
      - Requirements (C(name==version)) the index must have a file of, asked on the index's page for each project once the
        probe (O(probe_timeout)) found the index answering; RV(unavailable) lists those it lacks. Not asked when extra
        indexes or find-links are set (the file could come from there).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
notes:
  - Standard library only; runs with the host's python3. C(uv.toml) is read with Python 3.11's C(tomllib).
"""

EXAMPLES = r"""
- name: Read how this host installs Python packages
  fasterapi.deploy.package_settings:
    role:
      index-url: "{{ gunicorn_pip_index_url }}"
      cert: "{{ gunicorn_pip_cert }}"
  register: packages
  no_log: true

- name: Show where each setting came from
  ansible.builtin.debug:
    msg: "{{ packages.settings | map(attribute='setting') | zip(packages.settings | map(attribute='source')) | list }}"
"""

RETURN = r"""
settings:
  description: The settings pip uses, each with its value (credentials in URLs replaced by C(***)) and where it was set.
  returned: always
  type: list
  elements: dict
  sample: [{setting: cert, value: /etc/ssl/corp.pem, source: "/etc/pip.conf [global]"}]
uv_settings:
  description: The same for uv.
  returned: always
  type: list
  elements: dict
pip_environment:
  description: Variables to give pip (the role's settings, and those only C(/etc/environment) sets).
  returned: always
  type: dict
uv_environment:
  description: Variables to give uv so that it uses the same settings.
  returned: always
  type: dict
uv_arguments:
  description: Arguments for C(uv pip install) and C(uv pip compile) that uv takes from no variable (C(--no-index)).
  returned: always
  type: list
  elements: str
pip_digest:
  description: The settings that change what pip installs (index-url, extra-index-url, find-links, no-index), without credentials.
  returned: always
  type: dict
uv_digest:
  description: The same for uv.
  returned: always
  type: dict
index:
  description: The default index that applies, where that was set, and the CA file that applies ("" for the system's).
  returned: always
  type: dict
index_probe:
  description: With O(probe_timeout), whether the index answered (C(ok)), the error, the seconds it took and the URL.
  returned: when probe_timeout is set and wheelhouse is not
  type: dict
  sample: {url: "https://pypi.org/simple/", ok: false, error: "no answer within 5 s", seconds: 5.0}
target:
  description: With O(python), its C(python_version) (C(3.11)), C(machine) (C(x86_64)) and C(glibc) (C(2.36)).
  returned: when python is set
  type: dict
unavailable:
  description: The O(require) requirements the index has no file of, each with why (C(requirement), C(error)).
  returned: always
  type: list
  elements: dict
problems:
  description: Configuration files that could not be read (the installers would stumble on them too).
  returned: always
  type: list
  elements: str
"""

import os  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import package_settings  # noqa: E402  pylint: disable=wrong-import-position


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "role": {"type": "dict", "default": {}},
            "environment_file": {"type": "path", "default": "/etc/environment"},
            "wheelhouse": {"type": "path"},
            "probe_timeout": {"type": "float", "default": 0},
            "python": {"type": "str"},
            "require": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    environ, origin = package_settings.host_environment(os.environ, module.params["environment_file"])
    params = module.params
    result = package_settings.effective(params["role"], environ, origin, package_settings.home_of_effective_user(environ),
                                        package_settings.system_ca(), wheelhouse=params["wheelhouse"] or "")
    if params["probe_timeout"] > 0 and not params["wheelhouse"]:
        result["index_probe"] = package_settings.probe(result["index"], environ, params["probe_timeout"])
    result["unavailable"] = []
    elsewhere = [s for s in result["settings"] if s["setting"] in ("extra-index-url", "find-links")]
    if params["require"] and result.get("index_probe", {}).get("ok") and not elsewhere:
        for requirement in params["require"]:
            project, _sep, version = requirement.partition("==")
            found = package_settings.on_index(result["index"], environ, params["probe_timeout"], project, version)
            if found["found"] is False:
                result["unavailable"].append({"requirement": requirement, "error": found["error"]})
    result["index"]["url"] = package_settings.redact(result["index"]["url"])
    if params["python"]:
        result["target"] = package_settings.target(params["python"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
