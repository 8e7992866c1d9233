# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Action plugin for fasterapi.deploy.gunicorn_release: sends a code directory from the controller.

With ``src`` (a directory on the controller) and ``state: built``, the code
is packed here (the files the tree_digest lookup digests), the tarball is
sent into the task's temporary directory on the host, and the module
unpacks it into the new release and builds the venv: one task, one module
run, where a pack, a transfer and an unpack each took a task before.
Everything else goes to the module as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.code_tree import pack

MODULE = "fasterapi.deploy.gunicorn_release"


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp  # unused: the connection's temporary directory is used
        args = dict(self._task.args)
        src = args.pop("src", None)
        local = ""
        try:
            if src and args.get("state") == "built" and not self._task.check_mode:
                if not os.path.isdir(src):
                    raise AnsibleActionFail("src=%r is not a directory on the controller" % src)
                local = tempfile.mkdtemp(prefix="fasterapi-code-")
                tarball = os.path.join(local, "code.tar.gz")
                try:
                    pack(src, tarball)
                except OSError as err:
                    raise AnsibleActionFail("cannot pack the code in %s: %s" % (src, err)) from err
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "code.tar.gz")
                self._transfer_file(tarball, remote)
                self._fixup_perms2((self._connection._shell.tmpdir, remote))
                args["code_archive"] = remote
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        finally:
            if local:
                shutil.rmtree(local, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
