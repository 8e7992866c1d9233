"""The fasterapi.deploy.nginx_problems and nginx_upstreams filters: registered, and the library's answers
(plugins/plugin_utils/nginx_checks.py, tested in tests/unit/plugins/plugin_utils/test_nginx_checks.py) as they are.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.fasterapi.deploy.plugins.filter.nginx import FilterModule, nginx_problems, nginx_upstreams
from ansible_collections.fasterapi.deploy.plugins.plugin_utils import nginx_checks

APP: dict[str, Any] = {"binds": [{"kind": "tcp", "host": "127.0.0.1", "port": 8001, "probe_host": "127.0.0.1",
                                  "address": "127.0.0.1:8001", "loopback": True}], "keepalive": 5, "timeout": 30}
RECORDS = {"front": {"pool": APP}, "app2": {}}


def test_the_filters_are_registered() -> None:
    assert FilterModule().filters().keys() == {"nginx_problems", "nginx_upstreams", "nginx_pool"}
    filters = FilterModule().filters()
    assert filters["nginx_problems"] is nginx_problems and filters["nginx_upstreams"] is nginx_upstreams


def test_the_filters_return_the_checks_answers() -> None:
    upstreams = nginx_upstreams(["front", "app2"], RECORDS, "pool", "front")
    assert upstreams == nginx_checks.site_upstreams(["front", "app2"], RECORDS, "pool", "front")
    assert [(item["host"], item["server"]) for item in upstreams] == [("front", "127.0.0.1:8001"), ("app2", "")]
    settings = {"nginx_app_name": "pool", "nginx_server_names": ["app example org"], "nginx_upstream_hosts": ["front", "app2"]}
    found = nginx_problems(settings, upstreams, {}, (), "front", ["10.0.0.2"])
    assert found == nginx_checks.problems(settings, upstreams, {}, (), "front", ["10.0.0.2"])
    assert [problem["variable"] for problem in found] == ["nginx_server_names", "nginx_upstream_hosts"]


def test_the_documented_example() -> None:
    # plugins/filter/nginx_problems.yml's EXAMPLES: only the settings, no upstream host.
    [problem] = nginx_problems({"nginx_server_names": ["app example org"]})
    assert problem["variable"] == "nginx_server_names"
    assert problem["message"].startswith('nginx_server_names: "app example org" is not a host name: ')
