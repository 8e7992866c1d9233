# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""A canary release's plan and what refuses it, worked out on the controller before any change.

The deploy playbook's canary step (the fasterapi.deploy.canary role) puts a
release live on the canary hosts first, and compares them with the rest of
each front door's pool on the requests nginx sends both meanwhile. Before the
deploy changes anything, this module:

- checks the canary_* variables, each refusal naming its variable;
- chooses the canary hosts (canary_hosts, canary_count or canary_percent of
  the group) and finds, on each front door that balances to the app, the
  addresses nginx reaches the canary and the baseline hosts at (plan());
- refuses a canary set that is the whole group, a canary host outside the
  group or outside every front door's pool, a front door without the
  upstream log, and (rate_problems()) a window too short to collect
  canary_min_requests at the rate the front doors saw before the deploy;
- works out the pool weights that give the canaries a smaller share
  (weights()).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils.checker import Checker, as_float, as_int

POLICIES = ("fail", "wait", "promote")
PERCENTILES = (50, 90, 95, 99)
# What the verdict's rules are called in module_utils/canary.py.
RULE_NAMES = {
    "canary_min_requests": "min_requests",
    "canary_max_5xx_increase": "max_error_rate_increase",
    "canary_max_latency_ratio": "max_latency_ratio",
    "canary_latency_percentile": "latency_percentile",
    "canary_latency_floor_ms": "latency_floor",
}


def requested(settings: Mapping[str, Any]) -> bool:
    """Whether SETTINGS ask for a canary step (canary_hosts, canary_count or canary_percent set)."""
    return bool(settings.get("canary_hosts")) or (as_float(settings.get("canary_count", 0)) or 0) != 0 \
        or (as_float(settings.get("canary_percent", 0)) or 0) != 0


def _settings_problems(check: Checker) -> None:
    check.number("canary_count", "a whole number of hosts, 0 or more", 0)
    check.number("canary_percent", "a share of the group in percent, from 0 to 99", 0, 99, whole=False)
    check.number("canary_weight", "a share of a regular host's traffic in percent, from 1 to 100", 1, 100)
    check.number("canary_window", "seconds, at least 5", 5)
    check.number("canary_interval", "seconds, at least 1", 1)
    check.number("canary_max_window", "seconds, at least canary_window", as_float(check.get("canary_window", 60)) or 5)
    check.number("canary_min_requests", "a whole number of requests, at least 1", 1)
    check.number("canary_max_5xx_increase", "percentage points, from 0 to 100", 0, 100, whole=False)
    check.number("canary_max_latency_ratio", "a ratio above 1", 1, whole=False, above=True)
    check.number("canary_latency_floor_ms", "milliseconds, 0 or more", 0, whole=False)
    check.number("canary_rate_probe", "seconds, from 5 to 3600", 5, 3600)
    percentile = as_int(check.get("canary_latency_percentile", 95))
    if percentile not in PERCENTILES:
        check.add("canary_latency_percentile", check.get("canary_latency_percentile"), "expected one of 50, 90, 95, 99")
    policy = check.get("canary_too_little_traffic", "fail")
    if policy not in POLICIES:
        check.add("canary_too_little_traffic", policy, "expected fail, wait or promote")
    chosen = [name for name in ("canary_hosts", "canary_count", "canary_percent")
              if check.get(name, None) not in (None, "", [], 0, "0", 0.0)]
    if len(chosen) > 1:
        check.add(chosen[1], check.get(chosen[1]), "", message=f"{' and '.join(chosen)} are both set: the canary hosts "
                  "are chosen by one of canary_hosts, canary_count and canary_percent.")


def _choose(check: Checker, group: Sequence[str]) -> list[str]:
    """The canary hosts, in the group's order (named ones in the order given)."""
    names = check.get("canary_hosts", []) or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        check.add("canary_hosts", names, "expected a list of inventory host names")
        return []
    if names:
        outside = [name for name in names if name not in group]
        if outside:
            check.add("canary_hosts", names, "", message=f"canary_hosts names {', '.join(outside)}, not in the hosts this "
                      f"deploy runs on ({', '.join(group)}).")
        return [name for name in dict.fromkeys(names) if name in group]
    count = as_int(check.get("canary_count", 0)) or 0
    percent = as_float(check.get("canary_percent", 0)) or 0.0
    if count <= 0 < percent:
        count = math.ceil(len(group) * percent / 100)
    return list(group[:max(count, 0)])


def plan(group: Sequence[str], settings: Mapping[str, Any], fronts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The canary step's plan for the hosts of GROUP, with SETTINGS (canary_* variables).

    FRONTS: per front door (inventory name), what it holds for the app:
    {"pool": the pool's state (pools/<app>.json) or None, "site": its site record (sites/<app>.json) or None}.
    Returns {"canary", "rest", "fronts": [{"front", "log", "canary": [servers], "baseline": [servers]}],
    "problems", "warnings", "rules"}. No problem: the step can run.
    """
    check = Checker(settings)
    _settings_problems(check)
    group = list(group)
    canary = _choose(check, group)
    problems = [problem["message"] for problem in check.problems]
    warnings: list[str] = []
    rest = [host for host in group if host not in canary]
    whole = bool(canary) and not rest
    if whole:
        problems.append(f"The canary hosts ({', '.join(canary)}) are the whole group: no host is left to compare them with. "
                        "Expected fewer canary hosts (canary_hosts, canary_count or canary_percent).")
    elif requested(settings) and not problems and not canary:
        problems.append(f"The canary settings choose no host of {', '.join(group)}.")
    doors: list[dict[str, Any]] = []
    measured: set[str] = set()
    app = settings.get("canary_app", "")
    group_name = settings.get("canary_front_doors", "fasterapi_nginx")
    for front, held in sorted(fronts.items()) if not whole else []:
        pool = held.get("pool") or {}
        servers = pool.get("servers") or []
        if not servers:
            continue
        log = (held.get("site") or {}).get("upstream_log", "")
        in_pool = {entry["host"]: entry for entry in servers if not entry.get("out")}
        door_canary = [in_pool[host]["server"] for host in canary if host in in_pool]
        door_baseline = [entry["server"] for host, entry in in_pool.items() if host not in canary]
        for host in canary:
            entry = next((entry for entry in servers if entry["host"] == host), None)
            if entry and entry.get("out"):
                problems.append(f"{host} is out of the pool of {app} on {front} ({entry.get('reason', '')}): the front door "
                                "sends it no request to judge the release by. Put it back "
                                f"(ansible-playbook fasterapi.deploy.pool -e pool_in={host}) or choose other canary hosts.")
        if not door_canary:
            continue
        if not door_baseline:
            problems.append(f"The pool of {app} on {front} has no host in it besides the canary hosts "
                            f"({', '.join(canary)}): nothing to compare them with.")
            continue
        if not log:
            problems.append(f"The site of {app} on {front} writes no upstream log: apply the fasterapi.deploy.nginx role "
                            "there with nginx_upstream_log=true (the default) first, the log the canary is judged by.")
            continue
        measured.update(host for host in canary if host in in_pool)
        doors.append({"front": front, "log": log, "canary": door_canary, "baseline": door_baseline,
                      "weights": {entry["host"]: int(entry.get("weight", 1)) for entry in servers}})
    if canary and not problems:
        unseen = [host for host in canary if host not in measured]
        if not doors:
            problems.append(f"No front door of the group {group_name} balances {app} to the canary hosts "
                            f"({', '.join(canary)}): the canary cannot be judged. Expected hosts in a pool of the "
                            "fasterapi.deploy.nginx role.")
        elif unseen:
            problems.append(f"{', '.join(unseen)} is in no front door's pool of {app}: canary hosts must be hosts the front "
                            "doors send requests to.")
    return {"canary": canary, "rest": rest, "fronts": doors, "problems": problems, "warnings": warnings,
            "rules": rules(settings)}


def rules(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict's rules (module_utils/canary.py's names and units) from SETTINGS."""
    return {
        "min_requests": as_int(settings.get("canary_min_requests", 1000)) or 1,
        "max_error_rate_increase": (as_float(settings.get("canary_max_5xx_increase", 1.0)) or 0.0) / 100,
        "max_latency_ratio": as_float(settings.get("canary_max_latency_ratio", 1.5)) or 1.5,
        "latency_percentile": as_int(settings.get("canary_latency_percentile", 95)) or 95,
        "latency_floor": (as_float(settings.get("canary_latency_floor_ms", 20)) or 0.0) / 1000,
    }


def rate_problems(settings: Mapping[str, Any], canary_rate: float, baseline_rate: float, seconds: float) -> list[str]:
    """What refuses the window: too short to collect canary_min_requests at the rates seen over the last SECONDS.

    CANARY_RATE, BASELINE_RATE: requests a second the front doors sent the canary and the baseline hosts.
    A policy of promote (canary_too_little_traffic) is the user's choice to go on without them: no problem.
    """
    policy = settings.get("canary_too_little_traffic", "fail")
    if policy == "promote":
        return []
    minimum = as_int(settings.get("canary_min_requests", 1000)) or 1
    window = as_float(settings.get("canary_window", 60)) or 60.0
    limit_name = "canary_max_window" if policy == "wait" else "canary_window"
    limit = (as_float(settings.get(limit_name, window)) or window) if policy == "wait" else window
    weight = (as_float(settings.get("canary_weight", 100)) or 100.0) / 100
    # The canaries' share of the traffic shrinks with their weight.
    slowest = min(canary_rate * weight, baseline_rate)
    if slowest <= 0:
        return [f"The front doors sent the {'canary' if canary_rate <= 0 else 'baseline'} hosts no request in the last "
                f"{seconds:g} s: canary_min_requests={minimum} cannot be collected in {limit_name}={limit:g}. Run the deploy "
                "with traffic, or set canary_too_little_traffic=promote."]
    needed = minimum / slowest
    if needed > limit:
        return [f"{limit_name}={limit:g} is shorter than the {math.ceil(needed)} s needed to collect "
                f"canary_min_requests={minimum} at the rate the front doors saw in the last {seconds:g} s "
                f"({canary_rate * weight:.1f} requests/s to the canary hosts, {baseline_rate:.1f} to the rest). "
                f"Expected {limit_name} of at least {math.ceil(needed)} or a smaller canary_min_requests."]
    return []


def weights(pool_weights: Mapping[str, int], canary: Sequence[str], percent: int) -> dict[str, int]:
    """The weights that give each canary host PERCENT of the share its weight gives it now (POOL_WEIGHTS: host to weight).

    nginx's weights are whole numbers from 1 to 1000: the others' are scaled up, and the whole reduced by the common
    divisor. An empty dict: nothing to change (PERCENT 100).
    """
    if percent >= 100:
        return {}
    scaled = {host: weight * (percent if host in canary else 100) for host, weight in pool_weights.items()}
    divisor = 0
    for value in scaled.values():
        divisor = math.gcd(divisor, value)
    divisor = divisor or 1
    return {host: max(1, min(1000, value // divisor)) for host, value in scaled.items()}
