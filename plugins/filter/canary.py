# Copyright (c) 2026 fasterapi.deploy maintainers
# MIT License (see LICENSE)
"""The fasterapi.deploy canary filters: a canary release's decision, and the traffic a side gets.

Both take what the canary_sample module returned on each front door (a list
of its results, or a registered loop of them), add up the front doors' counts
per upstream address and read them with plugins/module_utils/canary.py:
canary_verdict compares the canary's hosts with the baseline's and says
promote, rollback or insufficient; canary_rate says how many requests a
second some addresses got.

A file defining several filters has no DOCUMENTATION of its own: each filter's
(for ansible-doc) is in plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ansible.errors import AnsibleFilterError
from ansible_collections.fasterapi.deploy.plugins.module_utils import canary


def _results(samples: Any, name: str) -> list[Mapping[str, Any]]:
    """The canary_sample results of SAMPLES: a list of them, one of them, or a registered loop of them."""
    if isinstance(samples, Mapping):
        samples = samples["results"] if "results" in samples else [samples]
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Sequence):
        raise AnsibleFilterError(f"{name} expects the list of what canary_sample returned on each front door, "
                                 f"not {type(samples).__name__}")
    results = list(samples)
    for position, result in enumerate(results):
        if not isinstance(result, Mapping) or not isinstance(result.get("upstreams"), Mapping):
            why = "it failed" if isinstance(result, Mapping) and result.get("failed") else \
                "it was skipped" if isinstance(result, Mapping) and result.get("skipped") else "it has no upstreams"
            raise AnsibleFilterError(f"{name}: sample {position + 1} is not a canary_sample result with state sample or "
                                     f"recent ({why}): a front door left out would leave its requests out of the decision")
    return results


def _addresses(addresses: Any, what: str, name: str, empty: bool = False) -> list[str]:
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, Sequence) or not (addresses or empty):
        raise AnsibleFilterError(f"{name}: {what}={addresses!r}: expected a list of upstream addresses (10.0.0.3:8000) "
                                 "or hosts (10.0.0.3)")
    return [str(address) for address in addresses]


def merged_upstreams(samples: Any, name: str = "canary_verdict") -> dict[str, canary.Stats]:
    """Per upstream address, the Stats of all the canary_sample results SAMPLES, added up."""
    total: dict[str, canary.Stats] = {}
    for result in _results(samples, name):
        for address, data in result["upstreams"].items():
            try:
                stats = canary.Stats.from_dict(data)
            except (AttributeError, TypeError, ValueError) as error:
                raise AnsibleFilterError(f"{name}: the counts of {address} are not canary_sample's: {error}") from None
            total.setdefault(str(address), canary.Stats()).merge(stats)
    return total


def canary_verdict(samples: Any, canary_addresses: Any, baseline_addresses: Any,
                   rules: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Promote, rollback or insufficient: the CANARY_ADDRESSES' counts in SAMPLES against the BASELINE_ADDRESSES', by RULES.

    The verdict of plugins/module_utils/canary.py, with "text", the lines to show.
    """
    upstreams = merged_upstreams(samples, "canary_verdict")
    canaries = _addresses(canary_addresses, "canary_addresses", "canary_verdict")
    baselines = _addresses(baseline_addresses, "baseline_addresses", "canary_verdict")
    both = sorted(set(canaries) & set(baselines))
    if both:
        raise AnsibleFilterError(f"canary_verdict: {', '.join(both)} is in both the canary's and the baseline's addresses")
    if rules is not None and not isinstance(rules, Mapping):
        raise AnsibleFilterError(f"canary_verdict: rules={rules!r}: expected a dict")
    try:
        result = canary.verdict(canary.side(upstreams, canaries), canary.side(upstreams, baselines), rules)
    except ValueError as error:
        raise AnsibleFilterError(f"canary_verdict: {error}") from None
    result["text"] = canary.format_verdict(result)
    return result


def canary_rate(samples: Any, addresses: Any, seconds: Any = None) -> float:
    """Requests a second the ADDRESSES got in SAMPLES over SECONDS (default: the longest sample's span); 0 for no address."""
    upstreams = merged_upstreams(samples, "canary_rate")
    wanted = _addresses(addresses, "addresses", "canary_rate", empty=True)
    if seconds is None:
        spans = [float(result["until"]) - float(result["since"]) for result in _results(samples, "canary_rate")
                 if "until" in result and "since" in result]
        seconds = max(spans, default=0.0)
    try:
        span = float(seconds)
    except (TypeError, ValueError):
        span = 0.0
    if not span > 0:
        raise AnsibleFilterError(f"canary_rate: seconds={seconds!r}: expected the seconds the samples cover, more than 0")
    return round(canary.side(upstreams, wanted).requests / span, 3)


class FilterModule:
    """fasterapi.deploy's canary filters."""

    def filters(self) -> dict[str, Any]:
        """The filters canary_verdict and canary_rate."""
        return {"canary_verdict": canary_verdict, "canary_rate": canary_rate}
