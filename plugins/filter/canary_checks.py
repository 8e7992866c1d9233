"""The fasterapi.deploy canary filters that run before a canary release changes anything.

The plan (which hosts, which front doors, which addresses), what refuses the
window at the traffic seen, and the pool weights of a smaller canary share:
plugins/plugin_utils/canary_checks.py's. The canary role calls them; each
filter's DOCUMENTATION is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import canary_checks


def _held(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per front door, its pool and site record of the app, from slurp's loop results over [front, pools|sites]."""
    held: dict[str, dict[str, Any]] = {}
    for result in results:
        front, kind = result["item"][0], result["item"][1]
        door = held.setdefault(front, {"pool": None, "site": None})
        if result.get("content"):
            door["pool" if kind == "pools" else "site"] = json.loads(base64.b64decode(result["content"]).decode("utf-8"))
    return held


def canary_requested(settings: Mapping[str, Any]) -> bool:
    """Whether SETTINGS (canary_* variables) ask for a canary step."""
    return canary_checks.requested(settings)


def canary_plan(group: Sequence[str], settings: Mapping[str, Any], held: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The canary step's plan over GROUP with SETTINGS (canary_* variables); HELD: slurp's results, per front door and kind."""
    return canary_checks.plan(list(group), settings, _held(held))


def canary_rate_problems(settings: Mapping[str, Any], canary_rate: float, baseline_rate: float, seconds: float) -> list[str]:
    """What refuses the canary window at the rates (requests a second) seen over the last SECONDS."""
    return canary_checks.rate_problems(settings, float(canary_rate), float(baseline_rate), float(seconds))


def canary_weights(pool_weights: Mapping[str, Any], canary: Sequence[str], percent: Any) -> dict[str, int]:
    """The pool weights giving each canary host PERCENT of its share; {} for 100."""
    return canary_checks.weights({host: int(weight) for host, weight in pool_weights.items()}, list(canary), int(percent))


class FilterModule:
    """fasterapi.deploy's canary checks."""

    def filters(self) -> dict[str, Any]:
        """The filters canary_requested, canary_plan, canary_rate_problems and canary_weights."""
        return {"canary_requested": canary_requested, "canary_plan": canary_plan, "canary_rate_problems": canary_rate_problems,
                "canary_weights": canary_weights}
