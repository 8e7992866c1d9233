# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Action plugin for fasterapi.deploy.fleet_lock: names the controller's user and host in the lock."""

from __future__ import annotations

import getpass
import socket
from typing import Any

from ansible.plugins.action import ActionBase

MODULE = "fasterapi.deploy.fleet_lock"


class ActionModule(ActionBase):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp  # unused
        args = dict(self._task.args)
        if not args.get("user"):
            try:
                args["user"] = getpass.getuser()
            except (KeyError, OSError):
                args["user"] = "unknown"
        if not args.get("controller"):
            args["controller"] = socket.gethostname()
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
