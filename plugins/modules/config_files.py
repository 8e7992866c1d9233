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
  - Symbolic links (O(links)) are made or repointed after the files, each by an atomic rename too.
  - With O(validate), a command that checks a whole configuration from its real paths (C(nginx -t)), every path the call
    changes is backed up, put in place, and the command is run with all of them there. When it fails, every path goes
    back as it was and the module fails with the command's output.
  - Used by the fasterapi.deploy.gunicorn role for gunicorn.conf.py, the environment file and the systemd units, and by
    the fasterapi.deploy.nginx role for nginx's configuration, checked by C(nginx -t).
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
  links:
    description:
      - Symbolic links to make, or to repoint when they point elsewhere, after the files (so a link may point at a file of
        the same call). A path there that is not a symbolic link is refused, before anything changes.
    type: list
    elements: dict
    default: []
    version_added: 0.9.0
    suboptions:
      dest:
        description: The link. Its directory must exist (or be in O(directories)).
        type: path
        required: true
      src:
        description: What it points at, as written into the link (need not exist).
        type: str
        required: true
  absent:
    description: Files (or symlinks) to remove when they exist. A directory here is refused, before anything changes.
    type: list
    elements: path
    default: []
  validate:
    description:
      - A command run without a shell, once, after every directory, file and link of the call is in place and every
        O(absent) path is gone, for a program that reads its whole configuration from the real paths (C(nginx -t -q)).
        Runs only when the call changed something, after the O(files[].validate) checks, and not in check mode.
      - Each file it replaces is kept (a hard link) until the command has passed. When the command fails (or anything
        fails after the first change), every path goes back as it was, atomically - the old files with their content,
        owner, group and mode, the old links and removed files; new files and links are removed, and so are new
        directories when empty - and the module fails with RV(validate_failed), the command's C(rc), C(stdout) and
        C(stderr).
      - Without it, nothing is backed up and the call works as before.
    type: str
    version_added: 0.9.0
attributes:
  check_mode:
    description: Reports what would change and changes nothing (neither O(files[].validate) nor O(validate) runs).
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

- name: Write a site of nginx, enable it, and keep all of it only when nginx -t accepts the whole configuration
  fasterapi.deploy.config_files:
    files:
      - dest: /etc/nginx/sites-available/shop.conf
        content: "{{ lookup('ansible.builtin.template', 'site.conf.j2') }}"
    links:
      - dest: /etc/nginx/sites-enabled/shop.conf
        src: /etc/nginx/sites-available/shop.conf
    validate: nginx -t -q
  register: shop_site
"""

RETURN = r"""
changed_paths:
  description: The paths created, rewritten, given another owner, group or mode, or removed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/shop/gunicorn.conf.py]
validate_failed:
  description:
    - On a failure, true when a check refused the new content - O(files[].validate) (with C(dest) naming the file,
      nothing changed) or O(validate) (every path put back). With C(rc), C(stdout) and C(stderr) of the command.
  returned: failure of a check
  type: bool
  sample: true
not_put_back:
  description: On a failure after changes with O(validate), the paths that could not be put back, each with the reason.
  returned: when some path could not be put back
  type: list
  elements: str
"""

import os  # noqa: E402  pylint: disable=wrong-import-position
import shlex  # noqa: E402  pylint: disable=wrong-import-position
import shutil  # noqa: E402  pylint: disable=wrong-import-position
import tempfile  # noqa: E402  pylint: disable=wrong-import-position
from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  pylint: disable=wrong-import-position
from ansible.module_utils.common.text.converters import to_bytes, to_text  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.fasterapi.deploy.plugins.module_utils import systemd_env  # noqa: E402  pylint: disable=wrong-import-position

_ATTRIBUTES = {"owner": {"type": "str", "default": "root"}, "group": {"type": "str", "default": "root"}}
_FILE_OPTIONS = dict(_ATTRIBUTES, dest={"type": "path", "required": True}, content={"type": "str", "required": True},
                     mode={"type": "str", "default": "0644"}, validate={"type": "str"}, validate_environment={"type": "path"})
_LINK_OPTIONS = {"dest": {"type": "path", "required": True}, "src": {"type": "str", "required": True}}


def _unused_name(path: str) -> str:
    """A name beside PATH that nothing has: hidden (a leading dot, so globs such as nginx's include *.conf skip it)."""
    directory, base = os.path.split(path)
    while True:
        candidate = os.path.join(directory, ".%s.%s" % (base, os.urandom(4).hex()))
        if not os.path.lexists(candidate):
            return candidate


class _Undo:
    """How to put back, step by step, what a call with a call-level validate changed."""

    def __init__(self) -> None:
        self._steps: List[Tuple[str, Callable[[], None]]] = []
        self._backups: List[str] = []

    def add(self, path: str, step: Callable[[], None]) -> None:
        self._steps.append((path, step))

    def before_replace(self, dest: str) -> None:
        """DEST is about to be replaced (or made): keep what is there, to put it back."""
        if not os.path.lexists(dest):
            self.add(dest, lambda: _remove(dest))
            return
        if os.path.islink(dest):
            target = os.readlink(dest)
            self.add(dest, lambda: _symlink(target, dest))
            return
        backup = _unused_name(dest)
        try:
            # The same inode: its content, owner, mode, ACLs and labels, untouched by the replacement.
            os.link(dest, backup, follow_symlinks=False)
        except OSError:
            _copy_privately(dest, backup)
        self._backups.append(backup)
        self.add(dest, lambda: os.replace(backup, dest))

    def before_attributes(self, path: str) -> None:
        """PATH's owner, group or mode may change: keep them."""
        status = os.lstat(path)

        def step() -> None:
            os.chown(path, status.st_uid, status.st_gid)
            os.chmod(path, status.st_mode & 0o7777)
        self.add(path, step)

    def before_remove(self, path: str) -> str:
        """PATH is to be removed: the name to move it to, which puts it back when renamed back."""
        backup = _unused_name(path)
        self._backups.append(backup)
        self.add(path, lambda: os.replace(backup, path))
        return backup

    def made_directory(self, path: str) -> None:
        # Left when no longer empty: a directory is not what a check reads.
        def step() -> None:
            try:
                os.rmdir(path)
            except OSError:
                pass
        self.add(path, step)

    def put_back(self) -> List[str]:
        """Undo every step, last first; the paths that could not be put back, each with the reason."""
        left = []
        while self._steps:
            path, step = self._steps.pop()
            try:
                step()
            except OSError as err:
                left.append("%s: %s" % (path, err))
        self._backups = [backup for backup in self._backups if os.path.lexists(backup)]
        return left

    def discard(self) -> List[str]:
        """The check passed: drop the backups; the ones that could not be removed, each with the reason."""
        self._steps = []
        left = []
        for backup in self._backups:
            try:
                if os.path.lexists(backup):
                    os.unlink(backup)
            except OSError as err:
                left.append("%s: %s" % (backup, err))
        self._backups = []
        return left


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _copy_privately(path: str, backup: str) -> None:
    """Copy PATH to BACKUP, readable by the owner alone until it has PATH's owner and mode (a secret stays one)."""
    status = os.lstat(path)
    handle = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as out, open(path, "rb") as source:
        shutil.copyfileobj(source, out)
    os.chown(backup, status.st_uid, status.st_gid)
    os.chmod(backup, status.st_mode & 0o7777)


def _symlink(target: str, dest: str) -> None:
    """Make DEST a symbolic link to TARGET, atomically (a link made beside it, renamed over it)."""
    temporary = _unused_name(dest)
    os.symlink(target, temporary)
    try:
        os.replace(temporary, dest)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


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


def _directories(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]], undo: Optional[_Undo] = None) -> None:
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
            missing = []  # this directory and the parents makedirs makes, deepest first
            parent = path
            while parent and not os.path.lexists(parent):
                missing.append(parent)
                parent = os.path.dirname(parent.rstrip("/")) if parent.rstrip("/") else ""
            os.makedirs(path)
            for made in reversed(missing) if undo is not None else []:
                undo.made_directory(made)
        elif undo is not None:
            undo.before_attributes(path)
        if _set_attributes(module, path, spec, diff) and path not in changed:
            changed.append(path)
            diffs.append(diff)


def _files(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]], undo: Optional[_Undo] = None) -> None:
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
            if undo is not None:
                undo.before_replace(spec["dest"])
            os.replace(temporary, spec["dest"])
        staged = []
    except _Invalid as err:
        module.fail_json(msg="%s; nothing was changed" % err, dest=err.dest, rc=err.rc, stdout=err.stdout, stderr=err.stderr,
                         validate_failed=True)
    finally:
        for temporary, _spec in staged:
            if os.path.lexists(temporary):
                os.unlink(temporary)
    for spec, _secret in entries:
        if module.check_mode and not os.path.exists(spec["dest"]):
            continue
        diff: Dict[str, Any] = {"before": {"path": spec["dest"]}, "after": {"path": spec["dest"]}}
        if undo is not None and os.path.lexists(spec["dest"]):
            undo.before_attributes(spec["dest"])
        if _set_attributes(module, spec["dest"], spec, diff) and spec["dest"] not in changed:
            changed.append(spec["dest"])
            diffs.append(diff)


def _refuse_wrong_types(module: AnsibleModule) -> None:
    """Paths of links and absent that are what they cannot be: refused before anything changes."""
    for spec in module.params["links"]:
        if os.path.lexists(spec["dest"]) and not os.path.islink(spec["dest"]):
            module.fail_json(msg="%s exists and is not a symbolic link" % spec["dest"], dest=spec["dest"])
    for path in module.params["absent"]:
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg="%s is a directory; absent removes files only" % path, path=path)


def _links(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]], undo: Optional[_Undo] = None) -> None:
    for spec in module.params["links"]:
        dest, src = spec["dest"], spec["src"]
        old = os.readlink(dest) if os.path.islink(dest) else None
        if old == src:
            continue
        changed.append(dest)
        diffs.append({"before_header": dest, "after_header": dest,
                      "before": "(absent)\n" if old is None else "symbolic link to %s\n" % old,
                      "after": "symbolic link to %s\n" % src})
        if module.check_mode:
            continue
        if not os.path.isdir(os.path.dirname(dest)):
            module.fail_json(msg="%s: its directory %s does not exist" % (dest, os.path.dirname(dest)), dest=dest)
        if undo is not None:
            undo.before_replace(dest)
        _symlink(src, dest)


def _absent(module: AnsibleModule, changed: List[str], diffs: List[Dict[str, Any]], undo: Optional[_Undo] = None) -> None:
    for path in module.params["absent"]:
        if os.path.isdir(path) and not os.path.islink(path):
            module.fail_json(msg="%s is a directory; absent removes files only" % path, path=path)
        if os.path.lexists(path):
            changed.append(path)
            diffs.append({"before_header": path, "after_header": path, "before": "(present)\n", "after": "(absent)\n"})
            if module.check_mode:
                continue
            if undo is not None:
                os.rename(path, undo.before_remove(path))
            else:
                os.unlink(path)


def _check_all(module: AnsibleModule) -> Tuple[int, str, str]:
    """Run the call-level validate command; its exit status and output."""
    argv = shlex.split(module.params["validate"])
    try:
        return module.run_command(argv, handle_exceptions=False)
    except OSError as err:
        return 127, "", "%s: %s" % (argv[0] if argv else "validate", err)


def run_module(module: AnsibleModule) -> Dict[str, Any]:
    """Do what module.params say; return the module's result."""
    changed: List[str] = []
    diffs: List[Dict[str, Any]] = []
    _refuse_wrong_types(module)
    if not module.params["validate"] or module.check_mode:
        _directories(module, changed, diffs)
        _files(module, changed, diffs)
        _links(module, changed, diffs)
        _absent(module, changed, diffs)
        return {"changed": bool(changed), "changed_paths": changed, "diff": diffs}
    undo = _Undo()
    try:
        _directories(module, changed, diffs, undo)
        _files(module, changed, diffs, undo)
        _links(module, changed, diffs, undo)
        _absent(module, changed, diffs, undo)
        rc, out, err = _check_all(module) if changed else (0, "", "")
    except SystemExit:
        # fail_json after some change: its message stands, every change goes back.
        undo.put_back()
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught
        left = undo.put_back()
        module.fail_json(msg="%s: %s; %s" % (type(exc).__name__, exc, _put_back_message(left)),
                         **({"not_put_back": left} if left else {}))
    if rc != 0:
        left = undo.put_back()
        result: Dict[str, Any] = {"validate_failed": True, "rc": rc, "stdout": out, "stderr": err}
        if left:
            result["not_put_back"] = left
        module.fail_json(msg="validate (%s) failed (exit status %d) with every new path in place; %s"
                             % (module.params["validate"], rc, _put_back_message(left)), **result)
    for problem in undo.discard():
        module.warn("a backup was left: %s" % problem)
    return {"changed": bool(changed), "changed_paths": changed, "diff": diffs}


def _put_back_message(left: List[str]) -> str:
    if left:
        return "these could not be put back: %s" % "; ".join(left)
    return "every path was put back as it was"


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
            "links": {"type": "list", "elements": "dict", "default": [], "options": _LINK_OPTIONS},
            "absent": {"type": "list", "elements": "path", "default": []},
            "validate": {"type": "str"},
        },
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == "__main__":
    main()
