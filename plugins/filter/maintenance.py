"""The fasterapi.deploy maintenance filters: host maintenance's plan, and what refuses it.

Both are plugins/plugin_utils/maintenance.py's; playbooks/maintenance.yml
calls them before anything changes. Each filter's DOCUMENTATION is in
plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import maintenance
from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import as_int


def maintenance_plan(pools: Mapping[str, Iterable[Mapping[str, Any]]], hosts: Sequence[str], serial: Any = 1) -> dict[str, Any]:
    """Per host of HOSTS, the front door pools to take it out of, with the problems and warnings (POOLS: per front door)."""
    # A bad maintenance_serial is refused by maintenance_problems, by name: planned here as 1 until then.
    number = as_int(serial)
    return maintenance.plan(pools, list(hosts), number if number is not None and number > 0 else 1)


def maintenance_problems(settings: Mapping[str, Any], hosts: Sequence[str], tasks_file_exists: bool = False,
                         unread: Sequence[str] = ()) -> list[str]:
    """What refuses host maintenance with SETTINGS (maintenance_* variables) over HOSTS, each naming the variable.

    UNREAD: the front doors whose pools could not be read.
    """
    return maintenance.problems(settings, list(hosts), bool(tasks_file_exists), list(unread))


class FilterModule:
    """fasterapi.deploy's maintenance filters."""

    def filters(self) -> dict[str, Any]:
        """The filters maintenance_plan and maintenance_problems."""
        return {"maintenance_plan": maintenance_plan, "maintenance_problems": maintenance_problems}
