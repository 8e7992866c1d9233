"""The fasterapi.deploy.canary_verdict and canary_rate filters: several front doors' samples added up, then judged."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fasterapi.deploy.plugins.filter.canary import FilterModule, canary_rate, canary_verdict
from ansible_collections.fasterapi.deploy.plugins.module_utils import canary

CANARY, BASELINE = "10.0.0.3:8000", "10.0.0.2:8000"


def counts(requests: int, errors: int = 0, seconds: float = 0.005) -> Dict[str, Any]:
    stats = canary.Stats()
    for number in range(requests):
        stats.add(502 if number < errors else 200, seconds)
    return stats.to_dict()


def result(upstreams: Dict[str, Any], since: float = 1000.0, until: float = 1060.0) -> Dict[str, Any]:
    """What canary_sample returns."""
    return {"changed": False, "upstreams": upstreams, "lines": 10, "skipped": 0, "since": since, "until": until,
            "rotated_unknown": False, "now": until}


def test_the_front_doors_add_up_before_the_verdict() -> None:
    # Each front door alone has too few requests; together, the canary's errors are 2% against none.
    samples = [result({CANARY: counts(500, 10), BASELINE: counts(500)}), result({CANARY: counts(500, 10), BASELINE: counts(600)})]
    verdict = canary_verdict(samples, [CANARY], [BASELINE], {"min_requests": 800})
    assert verdict["decision"] == "rollback" and verdict["canary"]["requests"] == 1000 and verdict["baseline"]["requests"] == 1100
    assert verdict["text"].splitlines()[2] == "decision: rollback" and verdict["text"] == canary.format_verdict(verdict)
    assert canary_verdict(samples[:1], [CANARY], [BASELINE], {"min_requests": 800})["decision"] == "insufficient"


def test_hosts_stand_for_their_ports_and_a_registered_loop_is_a_list_of_samples() -> None:
    samples = {"results": [result({CANARY: counts(600), "10.0.0.3:8001": counts(600), BASELINE: counts(1200)})]}
    verdict = canary_verdict(samples, ["10.0.0.3"], BASELINE)
    assert verdict["decision"] == "promote" and verdict["canary"]["requests"] == 1200
    assert verdict["rules"] == canary.DEFAULT_RULES


@pytest.mark.parametrize(("samples", "message"), [
    ([{"failed": True, "msg": "the access log is not there"}], r"sample 1 .*\(it failed\)"),
    ([result({}), {"skipped": True}], r"sample 2 .*\(it was skipped\)"),
    ("text", "expects the list"),
    ([result({CANARY: {"requests": "many"}})], f"the counts of {CANARY}"),
])
def test_what_is_not_a_sample_is_refused(samples: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        canary_verdict(samples, [CANARY], [BASELINE])


def test_wrong_addresses_and_rules_are_refused() -> None:
    samples = [result({CANARY: counts(10)})]
    with pytest.raises(AnsibleFilterError, match="is in both"):
        canary_verdict(samples, [CANARY], [CANARY, BASELINE])
    with pytest.raises(AnsibleFilterError, match="canary_addresses"):
        canary_verdict(samples, [], [BASELINE])
    with pytest.raises(AnsibleFilterError, match="latency_percentile=42"):
        canary_verdict(samples, [CANARY], [BASELINE], {"latency_percentile": 42})


def test_the_rate_of_some_addresses() -> None:
    samples = [result({CANARY: counts(60), BASELINE: counts(600)}), result({CANARY: counts(30)}, since=1000.0, until=1030.0)]
    assert canary_rate(samples, [CANARY], 60) == 1.5
    assert canary_rate(samples, ["10.0.0.2", CANARY], 60) == 11.5
    assert canary_rate(samples, [CANARY]) == 1.5  # over the longest sample, 60 s
    assert canary_rate(samples, ["10.0.0.9:8000"], 60) == 0.0 and canary_rate(samples, [], 60) == 0.0
    with pytest.raises(AnsibleFilterError, match="seconds=0"):
        canary_rate(samples, [CANARY], 0)


def test_the_filters_are_registered() -> None:
    assert FilterModule().filters() == {"canary_verdict": canary_verdict, "canary_rate": canary_rate}
