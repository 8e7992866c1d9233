# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A front door's pool of app hosts for one site: which are in it, which are out and why, and their weights.

The nginx role writes each site's upstream servers to a file of their own,
which the site's upstream block includes, and keeps the pool's state beside it
as JSON (pools/<app>.json, pools/<app>.conf below the role's directory):

- servers: per app host (its inventory name), the address nginx reaches it at;
- out: a host taken out of the pool (host maintenance) is written `down`, so
  nginx sends it no new request, and stays out until it is put back, across
  runs of the role;
- weight: a host's share of the traffic (nginx's `weight=`), 1 by default.

The role merges the servers it works out into the state it finds (merge());
fasterapi.deploy.nginx_pool takes hosts out, puts them back and sets weights
(take_out(), put_back(), set_weight()); both write render()'s text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional

FORMAT = 1
_HOST = re.compile(r"^[A-Za-z0-9_.:@-]+$")


class PoolError(ValueError):
    """A change the pool refuses, with the reason an operator reads."""


def empty(app: str) -> Dict[str, Any]:
    """The state of APP's pool before the role wrote it."""
    return {"format": FORMAT, "app": app, "servers": [], "max_fails": 1, "fail_timeout": 10, "health": {}}


def load(text: Optional[str], app: str) -> Dict[str, Any]:
    """The pool state in TEXT (the JSON file), or an empty one for APP when there is none."""
    if not text or not text.strip():
        return empty(app)
    state = json.loads(text)
    if not isinstance(state, dict) or not isinstance(state.get("servers"), list):
        raise PoolError(f"the pool state of {app} is not one this collection wrote (no list of servers)")
    return state


def dump(state: Mapping[str, Any]) -> str:
    """STATE as the JSON file holds it."""
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


def merge(previous: Mapping[str, Any], app: str, servers: Iterable[Mapping[str, Any]], max_fails: int,
          fail_timeout: int, health: Mapping[str, Any]) -> Dict[str, Any]:
    """The pool of APP with SERVERS ({host, server}) as the role works them out, each host's out and weight kept.

    A host no longer listed leaves the pool (and its out state with it); a new
    one comes in, in the pool, weight 1.
    """
    before = {entry["host"]: entry for entry in previous.get("servers", [])}
    merged = []
    for server in servers:
        host = str(server["host"])
        old = before.get(host, {})
        merged.append({"host": host, "server": str(server["server"]), "weight": int(old.get("weight", 1)),
                       "out": bool(old.get("out", False)), "since": old.get("since"), "reason": old.get("reason", "")})
    return {"format": FORMAT, "app": app, "servers": merged, "max_fails": int(max_fails),
            "fail_timeout": int(fail_timeout), "health": dict(health)}


def _entry(state: Mapping[str, Any], host: str) -> Dict[str, Any]:
    for entry in state["servers"]:
        if entry["host"] == host:
            return entry
    hosts = ", ".join(entry["host"] for entry in state["servers"]) or "none"
    raise PoolError(f"{host} is not in the pool of {state.get('app')} (its hosts: {hosts})")


def in_pool(state: Mapping[str, Any]) -> List[str]:
    """The hosts of the pool that nginx sends requests to."""
    return [entry["host"] for entry in state["servers"] if not entry.get("out")]


def take_out(state: Dict[str, Any], hosts: Iterable[str], reason: str, now: float, allow_empty: bool = False) -> List[str]:
    """Take HOSTS out of the pool (for REASON, at NOW); the hosts that were in. Refuses to empty the pool."""
    hosts = list(hosts)
    entries = [_entry(state, host) for host in hosts]
    left = [host for host in in_pool(state) if host not in hosts]
    if not left and not allow_empty:
        raise PoolError(f"taking {', '.join(hosts)} out would leave the pool of {state.get('app')} with no host: "
                        "nginx would answer every request with 502")
    changed = []
    for entry in entries:
        if not entry.get("out"):
            entry.update({"out": True, "since": now, "reason": reason})
            changed.append(entry["host"])
    return changed


def put_back(state: Dict[str, Any], hosts: Iterable[str]) -> List[str]:
    """Put HOSTS back in the pool; the hosts that were out."""
    changed = []
    for host in hosts:
        entry = _entry(state, host)
        if entry.get("out"):
            entry.update({"out": False, "since": None, "reason": ""})
            changed.append(host)
    return changed


def set_weight(state: Dict[str, Any], host: str, weight: int) -> bool:
    """HOST's weight (1 to 1000); whether it changed."""
    if not 1 <= weight <= 1000:
        raise PoolError(f"weight {weight} of {host}: expected a whole number from 1 to 1000")
    entry = _entry(state, host)
    if entry.get("weight", 1) == weight:
        return False
    entry["weight"] = weight
    return True


def render(state: Mapping[str, Any]) -> str:
    """The upstream servers of the site, as the upstream block includes them."""
    lines = [f"# The pool of {state.get('app')}, by fasterapi.deploy (state: the .json beside this file). Hosts out of",
             "# the pool are down: nginx sends them nothing. Change it with fasterapi.deploy.nginx_pool.", ""]
    for entry in state["servers"]:
        weight = int(entry.get("weight", 1))
        params = ["down"] if entry.get("out") else []
        if weight != 1:
            params.append(f"weight={weight}")
        params += [f"max_fails={state.get('max_fails', 1)}", f"fail_timeout={state.get('fail_timeout', 10)}s"]
        note = f"out since {entry.get('since')}: {entry.get('reason')}" if entry.get("out") else "in"
        lines.append(f"# {entry['host']}: {note}")
        lines.append(f"server {entry['server']} {' '.join(params)};")
    return "\n".join(lines) + "\n"
