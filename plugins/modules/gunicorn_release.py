#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.gunicorn_release module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gunicorn_release
short_description: Read, build, switch to and prune the releases of an app
version_added: 0.4.0
description:
  - An app's base directory holds C(releases/<name>/) (C(app/) with the code, C(venv/), and C(release.json) once the
    release is complete) and two symlinks, C(current) and C(previous), each pointing to C(releases/<name>).
  - C(state=prepared) starts release O(name) as an empty C(app/) directory (removing anything an interrupted build left).
  - C(state=built) builds the venv for the code in C(releases/<name>/app) with uv or pip, installs O(venv_files) into it,
    compiles the code, and writes C(release.json) last. A failed build removes the release directory and names the step.
    With O(src) (a directory on the controller) or O(code_archive), the release starts empty and the code is unpacked into
    C(app/) first, in the same round trip.
  - C(state=resolved) returns the release's lock (the exact packages with their hashes), the C(requirements.lock) a built
    release keeps, else one resolved now by C(uv pip compile --universal --generate-hashes) from O(packages) and the
    requirements file (O(requirements_file) on the host, else O(requirements_text)), for O(python)'s version and newer.
    Run it on one host and give its RV(lock) to every host's C(state=built), so they all install the same packages.
  - A requirements file with C(--hash) options is the app's lock, never resolved again. Its pins must all be hashed,
    each hash must name a file of that version on the index, and it must name every package its packages need; else
    C(state=resolved) fails naming the file and the package, before C(state=built) changes anything.
    C(state=built) refuses such a file without O(lock), and records in C(release.json) the C(lock_source)
    (C(app), C(resolved) or C(none)).
  - C(state=current) points C(current) at release O(name) and C(previous) at the release it replaces (or O(previous)),
    each by an atomic rename, writing O(restart_marker) first.
  - C(state=pruned) removes the releases beyond the O(keep) newest built ones; never those C(current) or C(previous) point to.
  - Used by the fasterapi.deploy.gunicorn role; the role documents the layout.
author: fasterapi.deploy maintainers (@fasterapi)
seealso:
  - module: fasterapi.deploy.gunicorn_release_info
options:
  base_dir:
    description: The app's base directory (the one holding C(releases/), C(current) and C(previous)).
    type: path
    required: true
  state:
    description: What to do (see the description).
    type: str
    choices: [prepared, resolved, built, current, pruned]
    required: true
  name:
    description: The release (a directory name under C(releases/)). Required for C(prepared), C(resolved), C(built) and C(current).
    type: str
  previous:
    description:
      - With C(state=current), the release C(previous) points to afterwards. Default the release C(current) pointed to.
    type: str
  restart_marker:
    description:
      - With C(state=current), a file written (containing C(rolling)) before C(current) moves, unless it exists.
    type: path
  keep:
    description: With C(state=pruned), how many of the newest built releases to keep.
    type: int
    default: 5
  src:
    description:
      - With C(state=built), a directory on the controller holding the app's code. The action plugin packs it (the files
        the fasterapi.deploy.tree_digest lookup digests, so no bytecode nor version-control directories), sends the
        tarball and passes it on as O(code_archive).
    type: path
  code_dir:
    description:
      - With C(state=prepared), a directory on the host (a git checkout, submodules included) whose files are copied into
        C(app/) of the empty release, every C(.git) entry left out.
    type: path
  code_archive:
    description:
      - With C(state=built), a tar archive on the host unpacked into C(releases/<name>/app) of an empty release (anything an
        interrupted build left goes first). A member that would land outside it, or a device, is refused.
    type: path
  installer:
    description: With C(state=built), what builds the venv.
    type: str
    choices: [uv, pip]
    default: uv
  uv:
    description: With C(state=built) and O(installer=uv), and with C(state=resolved), the uv executable.
    type: path
  python:
    description: With C(state=built), the Python the venv is made from; with C(state=resolved), the one the lock is for.
    type: str
    default: python3
  packages:
    description: With C(state=built) and C(state=resolved), the requirements to install (pip requirement specifiers or wheel paths).
    type: list
    elements: str
    default: []
  requirements_file:
    description: With C(state=built) and C(state=resolved), a requirements file installed too when it exists.
    type: path
  requirements_required:
    description:
      - With C(state=built) and C(state=resolved), fail when O(requirements_file) is not in the code (and, resolving, no
        O(requirements_text) stands for it), instead of installing without it. The role sets it when
        C(gunicorn_app_requirements_file) is not the default.
    type: bool
    default: false
  python_version:
    description:
      - With C(state=resolved), the Python version (C(3.11)) the lock is for, instead of asking O(python); for a builder
        that resolves for hosts it is not (the role's offline hosts).
    type: str
    default: ""
  requirements_text:
    description:
      - With C(state=resolved), the requirements file's text, used when O(requirements_file) is not on the host yet (code
        that travels with C(state=built) from the controller).
    type: str
    default: ""
  lock:
    description:
      - With C(state=built), a lock (RV(lock) of C(state=resolved)) installed instead of O(packages) and
        O(requirements_file), every hash checked, and kept as C(requirements.lock) in the release.
    type: str
    default: ""
  extra_args:
    description: With C(state=built), extra arguments for C(pip install) or C(uv pip install); with C(state=resolved), for C(uv pip compile).
    type: list
    elements: str
    default: []
  environment:
    description:
      - With C(state=built) and C(state=resolved), environment variables for the installer (index URLs, certificates, cache directories).
      - Credentials in its values (C(user:password@) in a URL) are never logged; the rest is.
    type: dict
    default: {}
  venv_files:
    description:
      - With C(state=built), Python modules written into the venv's site-packages (then compiled), as file name and text,
        for example the role's C(fasterapi_deploy_hooks.py). They travel with the module's arguments, in its one round trip.
    type: dict
    default: {}
  metadata:
    description: With C(state=built), what C(release.json) records.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Reports what would change (the switch and the releases pruned) and changes nothing.
    support: full
  diff_mode:
    description: Shows where C(current) and C(previous) point before and after, and the releases pruned.
    support: full
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Build release 1.4.2-0123456789ab from the code already in releases/1.4.2-0123456789ab/app
  fasterapi.deploy.gunicorn_release:
    base_dir: /opt/shop
    name: 1.4.2-0123456789ab
    state: built
    installer: uv
    uv: /usr/local/lib/fasterapi-deploy/uv-0.9.5/bin/uv
    python: python3
    packages: [gunicorn==27.0.1, "uvicorn[standard]==0.54.0", uvicorn-worker==0.4.0]
    requirements_file: /opt/shop/releases/1.4.2-0123456789ab/app/requirements.txt
    metadata: {version: 1.4.2}

- name: Build release 1.4.3-0123456789ab from a directory on the controller (sent in the same round trip)
  fasterapi.deploy.gunicorn_release:
    base_dir: /opt/shop
    name: 1.4.3-0123456789ab
    state: built
    src: /home/me/shop
    uv: /usr/local/lib/fasterapi-deploy/uv-0.9.5/bin/uv
    packages: [gunicorn==27.0.1, "uvicorn[standard]==0.54.0", uvicorn-worker==0.4.0]

- name: Go live with it
  fasterapi.deploy.gunicorn_release:
    base_dir: /opt/shop
    name: 1.4.2-0123456789ab
    state: current
    restart_marker: /etc/shop/.restart-pending

- name: Keep the five newest
  fasterapi.deploy.gunicorn_release:
    base_dir: /opt/shop
    state: pruned
    keep: 5
"""

RETURN = r"""
current:
  description: The release C(current) points to afterwards ("" when none).
  returned: always
  type: str
  sample: 1.4.2-0123456789ab
previous:
  description: The release C(previous) points to afterwards ("" when none).
  returned: always
  type: str
  sample: 1.4.1-ba9876543210
built:
  description: The built releases (with C(release.json)), newest first, afterwards.
  returned: always
  type: list
  elements: str
removed:
  description: With C(state=pruned), the releases removed (or that would be, in check mode).
  returned: when state is pruned
  type: list
  elements: str
lock:
  description: With C(state=resolved), the lock, a requirements file of exact versions with their hashes.
  returned: when state is resolved
  type: str
lock_source:
  description:
    - With C(state=resolved), C(release) (the lock the built release keeps), C(app) (the app's own hashed lock, checked
      against the index, with O(packages) resolved against its pins and appended) or C(resolved) (resolved now).
  returned: when state is resolved
  type: str
packages:
  description: With C(state=resolved), the packages the lock names, as name==version.
  returned: when state is resolved
  type: list
  elements: str
  sample: [anyio==4.16.0, gunicorn==27.0.1]
steps:
  description: With C(state=built), the steps done.
  returned: when state is built
  type: list
  elements: str
  sample: [code, venv, venv files, bytecode, release.json]
"""

import os  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Dict  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import package_settings, releases  # noqa: E402  pylint: disable=wrong-import-position

_NEEDS_NAME = ("prepared", "resolved", "built", "current")


def _result(base: str, **extra: Any) -> Dict[str, Any]:
    state = releases.read_state(base)
    result: Dict[str, Any] = {"changed": False, "current": state["current"], "previous": state["previous"], "built": state["built"]}
    result.update(extra)
    return result


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    """Do what module.params say; return the module's result."""
    params = module.params
    # Mask the values that carry credentials, not every value ("1" would
    # hide each digit 1 of the output).
    module.no_log_values.update(package_settings.secret_values(params["environment"]))
    base, state, name = params["base_dir"], params["state"], params["name"]
    if state in _NEEDS_NAME and not name:
        module.fail_json(msg="name is required with state=%s" % state)
    if name and (name in (".", "..") or "/" in name):
        module.fail_json(msg="name=%r is not a release directory name" % name)
    path = os.path.join(base, "releases", name or "")
    if state == "prepared":
        if not module.check_mode:
            releases.prepare(path)
            if params["code_dir"]:
                try:
                    releases.copy_tree(params["code_dir"], os.path.join(path, "app"))
                except (releases.ReleaseError, OSError) as err:
                    releases.remove(path)
                    module.fail_json(msg="Release %s was not built: %s." % (name, err), step="code")
        return _result(base, changed=True)
    if state == "resolved":
        if not params["uv"]:
            module.fail_json(msg="uv is required with state=resolved")
        try:
            got = releases.resolve(path, params["uv"], params["python"], params["packages"],
                                   requirements_file=params["requirements_file"] or "", requirements_text=params["requirements_text"],
                                   extra_args=params["extra_args"], environment={str(k): str(v) for k, v in params["environment"].items()},
                                   python_version=params["python_version"], requirements_required=params["requirements_required"])
        except releases.ReleaseError as err:
            module.fail_json(msg="Release %s was not built: %s." % (name, err), output=err.output[-4000:])
        return _result(base, lock=got["lock"], lock_source=got["source"], packages=releases.lock_packages(got["lock"]))
    if state == "built":
        if params["installer"] == "uv" and not params["uv"]:
            module.fail_json(msg="uv is required with installer=uv")
        if params["src"]:
            module.fail_json(msg="src is a directory on the controller: the action plugin sends it (run the module as a task)")
        if module.check_mode:
            return _result(base, changed=True, steps=[])
        steps = []
        if params["code_archive"]:
            try:
                releases.prepare(path)
                releases.unpack(params["code_archive"], os.path.join(path, "app"))
            except (releases.ReleaseError, OSError) as err:
                releases.remove(path)
                module.fail_json(msg="Release %s was not built: %s." % (name, err), step="code")
            steps.append("code")
        try:
            steps += releases.build(
                path, params["installer"], params["python"], params["packages"], uv=params["uv"] or "",
                requirements_file=params["requirements_file"] or "", extra_args=params["extra_args"],
                environment={str(k): str(v) for k, v in params["environment"].items()},
                venv_files={str(k): str(v) for k, v in params["venv_files"].items()}, metadata=params["metadata"],
                lock=params["lock"], requirements_required=params["requirements_required"])
        except releases.ReleaseError as err:
            module.fail_json(msg="Release %s was not built: %s." % (name, err), output=err.output[-4000:], step=str(err))
        return _result(base, changed=True, steps=steps)
    if state == "current":
        before = releases.read_state(base)
        if name not in before["built"]:
            module.fail_json(msg="release %s is not built in %s/releases; the releases here, newest first: %s"
                                 % (name, base, ", ".join(before["built"]) or "none"))
        planned = releases.plan_switch(base, name, params["previous"])
        changed = planned["current"] != before["current"]
        diff = {"before": "current -> %s\nprevious -> %s\n" % (before["current"], before["previous"]),
                "after": "current -> %s\nprevious -> %s\n" % (planned["current"], planned["previous"])}
        if changed and not module.check_mode:
            releases.switch(base, name, params["previous"], params["restart_marker"] or "")
        result = _result(base, changed=changed, diff=diff)
        if module.check_mode:
            result.update(current=planned["current"], previous=planned["previous"])
        return result
    # pruned
    removed = releases.plan_prune(base, params["keep"]) if module.check_mode else releases.prune(base, params["keep"])
    return _result(base, changed=bool(removed), removed=removed,
                   diff={"before": "".join("%s\n" % r for r in removed), "after": ""})


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "base_dir": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["prepared", "resolved", "built", "current", "pruned"], "required": True},
            "name": {"type": "str"},
            "previous": {"type": "str"},
            "restart_marker": {"type": "path"},
            "keep": {"type": "int", "default": 5},
            "installer": {"type": "str", "choices": ["uv", "pip"], "default": "uv"},
            "uv": {"type": "path"},
            "python": {"type": "str", "default": "python3"},
            "packages": {"type": "list", "elements": "str", "default": []},
            "requirements_file": {"type": "path"},
            "requirements_text": {"type": "str", "default": ""},
            "requirements_required": {"type": "bool", "default": False},
            "python_version": {"type": "str", "default": ""},
            "lock": {"type": "str", "default": ""},
            "extra_args": {"type": "list", "elements": "str", "default": []},
            "environment": {"type": "dict", "default": {}},
            "venv_files": {"type": "dict", "default": {}},
            "metadata": {"type": "dict", "default": {}},
            "src": {"type": "path"},
            "code_archive": {"type": "path"},
            "code_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
