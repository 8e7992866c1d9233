# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""Host maintenance's plan: which front door pools each host is in, what is refused, and what cannot be guaranteed.

playbooks/maintenance.yml reads each front door's pools (the nginx role's
pools/<app>.json) and asks plan() for, per host to maintain, the pools to take
it out of (front door, app, the server nginx reaches it at, its port and the
app's health check). plan() also returns the problems that refuse the run
before anything changes, and the warnings an operator reads before it starts:
a host no managed front door balances to, a host that is the only one of its
pool, a host that is a front door itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import as_float, as_int, show

ACTIONS = ("reboot", "upgrade", "tasks")


def _port(server: str) -> int | None:
    """The port of an upstream server (10.0.0.3:8001, [fd00::3]:8001)."""
    head, _colon, port = server.rpartition(":")
    return int(port) if head and port.isdigit() else None


def batches(hosts: Sequence[str], serial: int) -> list[list[str]]:
    """HOSTS in the batches a play with SERIAL runs them in."""
    return [list(hosts[start:start + serial]) for start in range(0, len(hosts), serial)]


def problems(settings: Mapping[str, Any], hosts: Sequence[str], tasks_file_exists: bool,
             unread: Sequence[str] = ()) -> list[str]:
    """What refuses the run, each naming the variable; UNREAD: front doors whose pools could not be read."""
    found = []
    group = settings.get("maintenance_front_doors", "fasterapi_nginx")
    for front in unread:
        found.append(f"the front door {front} (maintenance_front_doors: {group}) could not be read: its pools are not "
                     "known, so it would send requests to a host under maintenance; expected every front door "
                     "reachable")
    if not hosts:
        found.append(f"maintenance_hosts={show(settings.get('maintenance_hosts'))} matches no host of the inventory: "
                     "expected a group or pattern of app hosts")
    action = settings.get("maintenance_action", "reboot")
    if action not in ACTIONS:
        found.append(f"maintenance_action={show(action)}: expected one of {', '.join(ACTIONS)}")
    tasks = str(settings.get("maintenance_tasks", "") or "")
    if action == "tasks" and not tasks:
        found.append("maintenance_tasks is empty, and maintenance_action is tasks: expected the path of a task file on "
                     "the controller")
    if tasks and not tasks.startswith("/"):
        found.append(f"maintenance_tasks={show(tasks)} is a relative path, which the playbook would look for in the "
                     "collection: expected an absolute path on the controller, such as $PWD/kernel.yml")
    elif tasks and not tasks_file_exists:
        found.append(f"maintenance_tasks={show(tasks)} is not a file on the controller: expected a task file")
    if tasks and action != "tasks":
        found.append(f"maintenance_tasks={show(tasks)} is set, but maintenance_action is {show(action)}: expected "
                     "maintenance_action: tasks")
    serial = as_int(settings.get("maintenance_serial", 1))
    if serial is None or serial < 1:
        found.append(f"maintenance_serial={show(settings.get('maintenance_serial'))}: expected a whole number of hosts "
                     "at a time, 1 or more")
    for name, low in (("maintenance_drain_timeout", 0), ("maintenance_health_timeout", 1)):
        value = as_float(settings.get(name, low))
        if value is None or value < low:
            found.append(f"{name}={show(settings.get(name))}: expected seconds, {low} or more")
    return found


def plan(pools: Mapping[str, Iterable[Mapping[str, Any]]], hosts: Sequence[str], serial: int = 1) -> dict[str, Any]:
    """Per host of HOSTS, the pools to take it out of; with the problems and the warnings.

    POOLS: per front door, the pool states found on it (pools/<app>.json).
    """
    steps: dict[str, list[dict[str, Any]]] = {host: [] for host in hosts}
    warnings: list[str] = []
    found: list[str] = []
    for front, states in sorted(pools.items()):
        for state in states:
            app = state.get("app", "")
            servers = state.get("servers", [])
            in_pool = [entry["host"] for entry in servers if not entry.get("out")]
            for entry in servers:
                host = entry["host"]
                if host not in steps:
                    continue
                others = [other for other in in_pool if other != host]
                step = {"front": front, "app": app, "server": entry["server"], "port": _port(entry["server"]),
                        "health": state.get("health", {}), "take_out": bool(others) and not entry.get("out"),
                        "was_out": bool(entry.get("out"))}
                steps[host].append(step)
                if not others and not entry.get("out"):
                    warnings.append(f"{host} is the only host of {app} in the pool of {front}: nginx has no other host "
                                    "to send its requests to, so it is not taken out, and requests to it fail while it "
                                    "is down.")
                if entry.get("out"):
                    warnings.append(f"{host} is already out of the pool of {app} on {front} ({entry.get('reason', '')}): "
                                    "it is put back after its maintenance.")
            for batch in batches(list(hosts), serial):
                taken = [host for host in batch if host in in_pool]
                if len(in_pool) > 1 and taken and len(taken) == len(in_pool):
                    found.append(f"maintenance_serial={serial} would take {', '.join(taken)}, every host of {app} on "
                                 f"{front}, out at once: expected fewer hosts at a time")
        if front in steps:
            apps = ", ".join(sorted({state.get("app", "") for state in states}))
            warnings.append(f"{front} is a front door itself (nginx for {apps}): its maintenance takes that front door "
                            "down, and its clients see failures unless something in front of it (DNS, another load "
                            "balancer) steers them away first.")
    for host, host_steps in steps.items():
        if not host_steps:
            warnings.append(f"No front door of this collection balances to {host} (no pool of the front doors lists it): "
                            "if another proxy or load balancer sends it requests, take it out there first; they fail "
                            "while it is down.")
    return {"plan": steps, "problems": found, "warnings": warnings}
