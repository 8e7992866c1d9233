#!/usr/bin/python
# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy.config_files module."""

from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Several directories and files, with their owners and modes, in one round trip
version_added: 0.5.0
description:
  - Makes sure directories exist, files have the given content, and other files are absent, each with its owner, group
    and mode, in one module call; a M(ansible.builtin.file) or M(ansible.builtin.template) task per path takes two or
    three round trips each.
  - The content is rendered on the controller, for example with C(lookup('ansible.builtin.template', ...)).
  - Directories come first (so a file may go into one made by the same call), then every changed file is written to a
    temporary file beside its destination and checked by its O(files[].validate) command; only when all pass is any
    file put in place, each by an atomic rename. A failed check changes nothing.
  - Used by the fasterapi.deploy.gunicorn role for gunicorn.conf.py, the environment file and the systemd units.
author: fasterapi.deploy maintainers (@fasterapi)
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.file
options:
  directories:
    description: Directories to create when missing (parents as root, mode 0755), then given their owner, group and mode.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      owner:
        description: Its owner (name or uid). Default root.
        type: str
        default: root
      group:
        description: Its group (name or gid). Default root.
        type: str
        default: root
      mode:
        description: Its mode, as an octal string such as C("0750").
        type: str
        default: "0755"
  files:
    description: Files to write when their content differs, then given their owner, group and mode. Their changes are shown in diff mode.
    type: list
    elements: dict
    default: []
    suboptions: &file_suboptions
      dest:
        description: The file. Its directory must exist (or be in O(directories)).
        type: path
        required: true
      content:
        description: What the file holds.
        type: str
        required: true
      owner:
        description: Its owner (name or uid).
        type: str
        default: root
      group:
        description: Its group (name or gid).
        type: str
        default: root
      mode:
        description: Its mode, as an octal string such as C("0640").
        type: str
        default: "0644"
      validate:
        description:
          - A command that checks the new content before it is put in place, with C(%s) where the path of the temporary
            file goes, run without a shell. A failure leaves every file as it was and returns the command's output.
        type: str
      validate_environment:
        description:
          - An environment file (systemd's C(EnvironmentFile=) format) whose variables O(files[].validate) runs with, added
            to the module's own environment. When the same call writes that file (in O(secret_files), say), its new
            content is read, since every file is staged before any check runs. The values go from the file into the check's
            environment, never onto a command line.
        type: path
  secret_files:
    description:
      - Like O(files), for content that must not be shown (an environment file with passwords). Their content is never
        logged and never in a diff; whether they changed is.
    type: list
    elements: dict
    default: []
    suboptions: *file_suboptions
  absent:
    description: Files (or symlinks) to remove when they exist. A directory here is refused.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    description: Reports what would change and changes nothing (the validate commands do not run).
    support: full
  diff_mode:
    description: Shows the content of O(files) before and after, and owner, group and mode changes; never the content of O(secret_files).
    support: full
notes:
  - Standard library only; runs with the host's python3.
"""

EXAMPLES = r"""
- name: Write the app's config and unit, with the unit's drop-in directory
  fasterapi.deploy.config_files:
    directories:
      - {path: /etc/systemd/system/shop.service.d}
    files:
      - dest: /etc/shop/gunicorn.conf.py
        content: "{{ lookup('ansible.builtin.template', 'gunicorn.conf.py.j2') }}"
        group: shop
        mode: "0640"
        validate: /opt/shop/current/venv/bin/gunicorn --check-config --config %s
        # The app may read its environment when gunicorn imports it: the new environment file's.
        validate_environment: /etc/shop/environment
      - dest: /etc/systemd/system/shop.service
        content: "{{ lookup('ansible.builtin.template', 'gunicorn.service.j2') }}"
    secret_files:
      - dest: /etc/shop/environment
        content: "DATABASE_URL={{ shop_database_url }}\n"
        group: shop
        mode: "0640"
    absent: [/etc/systemd/system/shop.socket]
  register: shop_files

- name: Restart when the unit changed
  ansible.builtin.debug:
    msg: the unit changed
  when: "'/etc/systemd/system/shop.service' in shop_files.changed_paths"
"""

RETURN = r"""
changed_paths:
  description: The paths created, rewritten, given another owner, group or mode, or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/shop/gunicorn.conf.py]
"""

import os  # noqa: E402  pylint: disable=wrong-import-position
import shlex  # noqa: E402  pylint: disable=wrong-import-position
import tempfile  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Dict, List, Optional  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible.module_utils.common.text.converters import to_bytes, to_text  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import systemd_env  # noqa: E402  pylint: disable=wrong-import-position

_ATTRIBUTES = {"owner": {"type": "str", "default": "root"}, "group": {"type": "str", "default": "root"}}
_FILE_OPTIONS = dict(_ATTRIBUTES, dest={"type": "path", "required": True}, content={"type": "str", "required": True},
                     mode={"type": "str", "default": "0644"}, validate={"type": "str"}, validate_environment={"type": "path"})


def _set_attributes(module: AnsibleModule, path: str, spec: Dict[str, Any], diff: Optional[Dict[str, Any]] = None) -> bool:
    """Give PATH the owner, group and mode of SPEC; whether that changed anything (would, in check mode)."""
    changed = module.set_owner_if_different(path, spec["owner"], False, diff)
    changed = module.set_group_if_different(path, spec["group"], changed, diff)
    return module.set_mode_if_different(path, spec["mode"], changed, diff)


def _read(path: str) -> Optional[bytes]:
    """The content of PATH, or None when there is no regular file there."""
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _validate(module: AnsibleModule, spec: Dict[str, Any], temporary: str, staged: Dict[str, str]) -> None:
    command, dest = spec["validate"], spec["dest"]
    if "%s" not in command:
        module.fail_json(msg="validate for %s must contain %%s (the new file's path): %r" % (dest, command), dest=dest)
    argv = [temporary if word == "%s" else word.replace("%s", temporary) for word in shlex.split(command)]
    variables: Dict[str, str] = {}
    if spec["validate_environment"]:
        # The environment file as it will be: its new content when this call writes it.
        path = staged.get(spec["validate_environment"], spec["validate_environment"])
        try:
            variables = systemd_env.read_environment_file(path)
        except (OSError, UnicodeDecodeError) as err:
            module.fail_json(msg="%s: cannot read validate_environment %s: %s; nothing was changed"
                                 % (dest, spec["validate_environment"], type(err).__name__), dest=dest)
    rc, out, err = module.run_command(argv, environ_update=variables)
    if rc != 0:
        raise _Invalid(dest, rc, out, err)


class _Invalid(Exception):
    def __init__(self, dest: str, rc: int, stdout: str, stderr: str) -> None:
        super().__init__("%s failed its validate command (exit status %d)" % (dest, rc))
        self.dest, self.rc, self.stdout, self.stderr = dest, rc, stdout, stderr


def _directories(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]]) -> None:
    for spec in module.params["directories"]:
        path = spec["path"]
        diff: Dict[str, Any] = {"before": {"path": path}, "after": {"path": path}}
        if not os.path.isdir(path):
            if os.path.lexists(path):
                module.fail_json(msg="%s exists and is not a directory" % path, path=path)
            changed.append(path)
            diffs.append({"before_header": path, "after_header": path, "before": "(absent)\n", "after": "(directory)\n"})
            if module.check_mode:
                continue
            os.makedirs(path)
        if _set_attributes(module, path, spec, diff) and path not in changed:
            changed.append(path)
            diffs.append(diff)


def _files(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]]) -> None:
    entries = [(spec, False) for spec in module.params["files"]] + [(spec, True) for spec in module.params["secret_files"]]
    staged = []  # (temporary, spec) of the files to put in place
    try:
        for spec, secret in entries:
            dest = spec["dest"]
            new = to_bytes(spec["content"], errors="surrogate_or_strict")
            if os.path.isdir(dest):
                module.fail_json(msg="%s is a directory, not a file" % dest, dest=dest)
            old = _read(dest)
            if old == new:
                continue
            changed.append(dest)
            if secret:
                diffs.append({"before_header": dest, "after_header": dest, "before": "(secret content)\n",
                              "after": "(secret content, changed)\n"})
            else:
                diffs.append({"before_header": dest, "after_header": dest,
                              "before": "" if old is None else to_text(old, errors="surrogate_or_replace"),
                              "after": spec["content"]})
            if module.check_mode:
                continue
            if not os.path.isdir(os.path.dirname(dest)):
                module.fail_json(msg="%s: its directory %s does not exist" % (dest, os.path.dirname(dest)), dest=dest)
            handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(dest), dir=os.path.dirname(dest))
            staged.append((temporary, spec))
            with os.fdopen(handle, "wb") as out:
                out.write(new)
            _set_attributes(module, temporary, spec)
        # Every file is staged before any check runs: a check may read another's new content.
        paths = {spec["dest"]: temporary for temporary, spec in staged}
        for temporary, spec in staged:
            if spec["validate"]:
                _validate(module, spec, temporary, paths)
        for temporary, spec in staged:
            os.replace(temporary, spec["dest"])
        staged = []
    except _Invalid as err:
        module.fail_json(msg="%s; nothing was changed" % err, dest=err.dest, rc=err.rc, stdout=err.stdout, stderr=err.stderr)
    finally:
        for temporary, _spec in staged:
            if os.path.lexists(temporary):
                os.unlink(temporary)
    for spec, _secret in entries:
        if module.check_mode and not os.path.exists(spec["dest"]):
            continue
        diff: Dict[str, Any] = {"before": {"path": spec["dest"]}, "after": {"path": spec["dest"]}}
        if _set_attributes(module, spec["dest"], spec, diff) and spec["dest"] not in changed:
            changed.append(spec["dest"])
            diffs.append(diff)


def _absent(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]]) -> None:
    for path in module.params["absent"]:
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg="%s is a directory; absent removes files only" % path, path=path)
        if os.path.lexists(path):
            changed.append(path)
            diffs.append({"before_header": path, "after_header": path, "before": "(present)\n", "after": "(absent)\n"})
            if not module.check_mode:
                os.unlink(path)


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    """Do what module.params say; return the module's result."""
    changed: List[str] = []
    diffs: List[Dict[str, Any]] = []
    _directories(module, changed, diffs)
    _files(module, changed, diffs)
    _absent(module, changed, diffs)
    return {"changed": bool(changed), "changed_paths": changed, "diff": diffs}


class _Module(AnsibleModule):
    """AnsibleModule whose log of its own invocation (syslog, the host's journal) never holds a secret file's content.

    AnsibleModule logs each option as str() of its value with the no_log
    values taken out; for a list of dicts that str() escapes line breaks and
    quotes, so a secret content of several lines is not found in it and is
    logged whole (measured: every gunicorn_environment value, in the journal
    at each run). The contents are replaced before the log is written.
    """

    def _log_invocation(self) -> None:
        params = self.params
        self.params = dict(params, secret_files=[dict(spec, content="VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
                                                 for spec in params.get("secret_files") or []])
        try:
            super()._log_invocation()
        finally:
            self.params = params


def main() -> None:
    secret_options = dict(_FILE_OPTIONS, content={"type": "str", "required": True, "no_log": True})
    module = _Module(
        argument_spec={
            "directories": {"type": "list", "elements": "dict", "default": [],
                            "options": dict(_ATTRIBUTES, path={"type": "path", "required": True}, mode={"type": "str", "default": "0755"})},
            "files": {"type": "list", "elements": "dict", "default": [], "options": _FILE_OPTIONS},
            # The paths are not secret; each content is (no_log in secret_options).
            "secret_files": {"type": "list", "elements": "dict", "default": [], "options": secret_options, "no_log": False},
            "absent": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
