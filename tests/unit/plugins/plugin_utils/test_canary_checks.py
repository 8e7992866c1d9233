"""A canary release's plan and refusals (plugins/plugin_utils/canary_checks.py), from pools as the nginx role writes them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from ansible_collections.fasterapi.deploy.plugins.filter.canary_checks import FilterModule
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import canary_checks

GROUP = ["front", "app2", "app3"]
LOG = "/var/log/nginx/fasterapi-shop.upstreams.log"


def door(*hosts: str, out: tuple[str, ...] = (), log: str = LOG) -> dict[str, Any]:
    servers = [{"host": host, "server": f"10.0.0.{number}:8001", "out": host in out, "weight": 1}
               for number, host in enumerate(hosts, start=3)]
    return {"pool": {"app": "shop", "servers": servers},
            "site": {"name": "shop", "upstream_log": log}}


def plan(settings: dict[str, Any], fronts: dict[str, Any] | None = None, group: list[str] | None = None) -> dict[str, Any]:
    return canary_checks.plan(group or GROUP, {"canary_app": "shop", **settings}, {"lb": door(*GROUP)} if fronts is None else fronts)


def test_a_named_canary_is_found_in_the_pool_with_the_rest_as_baseline() -> None:
    result = plan({"canary_hosts": ["app3"]})
    assert not result["problems"] and result["canary"] == ["app3"] and result["rest"] == ["front", "app2"]
    assert result["fronts"] == [{"front": "lb", "log": LOG, "canary": ["10.0.0.5:8001"], "baseline": ["10.0.0.3:8001", "10.0.0.4:8001"],
                                 "weights": {"front": 1, "app2": 1, "app3": 1}}]
    assert result["rules"] == {"min_requests": 1000, "max_error_rate_increase": 0.01, "max_latency_ratio": 1.5,
                               "latency_percentile": 95, "latency_floor": 0.02}


@pytest.mark.parametrize(("settings", "canary"), [({"canary_count": 2}, ["front", "app2"]), ({"canary_percent": 10}, ["front"]),
                                                  ({"canary_percent": 50}, ["front", "app2"]), ({}, [])])
def test_a_number_or_a_share_takes_the_first_hosts(settings: dict[str, Any], canary: list[str]) -> None:
    result = plan(settings)
    assert result["canary"] == canary and not result["problems"]
    assert canary_checks.requested(settings) == bool(canary)


@pytest.mark.parametrize(("settings", "fronts", "words"), [
    ({"canary_count": 3}, None, "are the whole group: no host is left to compare them with"),
    ({"canary_hosts": ["db1"]}, None, "canary_hosts names db1, not in the hosts this deploy runs on (front, app2, app3)"),
    ({"canary_hosts": ["app3"], "canary_count": 1}, None, "canary_hosts and canary_count are both set"),
    ({"canary_hosts": ["app2", "app3"]}, {"lb": door("front", "app2")}, "app3 is in no front door's pool of shop"),
    ({"canary_hosts": ["app3"]}, {"lb": door("front", "app2")}, "No front door of the group fasterapi_nginx balances shop"),
    ({"canary_hosts": ["app3"]}, {}, "No front door of the group fasterapi_nginx balances shop to the canary hosts"),
    ({"canary_hosts": ["app3"]}, {"lb": door(*GROUP, out=("app3",))}, "app3 is out of the pool of shop on lb"),
    ({"canary_hosts": ["app3"]}, {"lb": door("app3", "app2", out=("app2",))}, "has no host in it besides the canary hosts"),
    ({"canary_hosts": ["app3"]}, {"lb": door(*GROUP, log="")}, "writes no upstream log"),
    ({"canary_hosts": ["app3"], "canary_window": 2}, None, "canary_window=2: expected seconds, at least 5"),
    ({"canary_hosts": ["app3"], "canary_interval": 0}, None, "canary_interval=0: expected seconds, at least 1"),
    ({"canary_hosts": ["app3"], "canary_max_latency_ratio": 1}, None, "canary_max_latency_ratio=1: expected a ratio above 1"),
    ({"canary_hosts": ["app3"], "canary_latency_percentile": 42}, None, "canary_latency_percentile=42: expected one of 50, 90, 95, 99"),
    ({"canary_hosts": ["app3"], "canary_too_little_traffic": "hope"}, None, "canary_too_little_traffic=\"hope\": expected fail, wait or promote"),
    ({"canary_hosts": ["app3"], "canary_weight": 0}, None, "canary_weight=0: expected a share"),
    ({"canary_hosts": ["app3"], "canary_window": 60, "canary_max_window": 30}, None, "canary_max_window=30: expected seconds, at least"),
])
def test_each_refusal_names_its_variable(settings: dict[str, Any], fronts: dict[str, Any] | None, words: str) -> None:
    problems = plan(settings, fronts)["problems"]
    assert any(words in problem for problem in problems), problems


def test_a_front_door_without_the_site_is_left_alone() -> None:
    result = plan({"canary_hosts": ["app3"]}, {"lb": door(*GROUP), "other": {"pool": None, "site": None}})
    assert not result["problems"] and [entry["front"] for entry in result["fronts"]] == ["lb"]


@pytest.mark.parametrize(("settings", "canary_rate", "words"), [
    ({"canary_window": 60, "canary_min_requests": 1000}, 10.0, "canary_window=60 is shorter than the 100 s needed"),
    ({"canary_window": 60, "canary_min_requests": 1000, "canary_weight": 50}, 20.0, "the 100 s needed"),
    ({"canary_too_little_traffic": "wait", "canary_window": 60, "canary_max_window": 90, "canary_min_requests": 1000}, 10.0,
     "canary_max_window=90 is shorter than the 100 s needed"),
    ({"canary_window": 60}, 0.0, "sent the canary hosts no request in the last 60 s"),
])
def test_a_window_too_short_for_the_traffic_is_refused(settings: dict[str, Any], canary_rate: float, words: str) -> None:
    problems = canary_checks.rate_problems(settings, canary_rate, 100.0, 60)
    assert len(problems) == 1 and words in problems[0], problems


def test_a_window_long_enough_or_a_promote_policy_passes() -> None:
    assert canary_checks.rate_problems({"canary_window": 60, "canary_min_requests": 1000}, 20.0, 40.0, 60) == []
    assert canary_checks.rate_problems({"canary_too_little_traffic": "promote"}, 0.0, 0.0, 60) == []
    assert canary_checks.rate_problems({"canary_too_little_traffic": "wait", "canary_max_window": 300}, 5.0, 40.0, 60) == []


def test_a_smaller_share_scales_the_others_up() -> None:
    assert canary_checks.weights({"front": 1, "app2": 1, "app3": 1}, ["app3"], 20) == {"front": 5, "app2": 5, "app3": 1}
    assert canary_checks.weights({"front": 2, "app2": 1}, ["front"], 50) == {"front": 1, "app2": 1}
    assert canary_checks.weights({"front": 1, "app2": 1}, ["front"], 100) == {}


def test_the_filters_read_what_slurp_read() -> None:
    filters = FilterModule().filters()
    held = [{"item": ["lb", "pools"], "content": base64.b64encode(json.dumps(door(*GROUP)["pool"]).encode()).decode()},
            {"item": ["lb", "sites"], "content": base64.b64encode(json.dumps({"upstream_log": LOG}).encode()).decode()},
            {"item": ["db", "pools"], "failed": True, "msg": "file not found"}]
    result = filters["canary_plan"](GROUP, {"canary_hosts": ["app3"], "canary_app": "shop"}, held)
    assert not result["problems"] and result["fronts"][0]["log"] == LOG
    assert filters["canary_requested"]({"canary_count": 1}) and not filters["canary_requested"]({"canary_hosts": []})
    assert filters["canary_weights"]({"a": "1", "b": "1"}, ["a"], "50") == {"a": 1, "b": 2}
    assert filters["canary_rate_problems"]({"canary_window": 10, "canary_min_requests": 100}, "20", "20", 60) == []
