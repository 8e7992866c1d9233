"""A front door's pool (plugins/module_utils/nginx_pool.py, the nginx_pool filter and module), on real files.

The module runs as Ansible runs it, with `true` and a recording command in
place of nginx -t and the reload, and `false` as an nginx -t that refuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fasterapi.deploy.plugins.filter.nginx import nginx_pool as pool_filter
from ansible_collections.fasterapi.deploy.plugins.module_utils import connections, nginx_pool
from ansible_collections.fasterapi.deploy.plugins.modules import nginx_pool as pool_module

UPSTREAMS = [{"host": "app2", "server": "10.0.0.3:8001", "app": {"health": {"path": "/health", "status": [200]}}},
             {"host": "app3", "server": "10.0.0.4:8001", "app": {"health": {"path": "/health", "status": [200]}}}]


def written(directory: Path, previous: str = "") -> Dict[str, Any]:
    files = pool_filter(previous, "shop", UPSTREAMS, 2, 10)
    (directory / "shop.json").write_text(files["json"])
    (directory / "shop.conf").write_text(files["conf"])
    return json.loads(files["json"])


def run(capsys: pytest.CaptureFixture[str], directory: Path, **args: Any) -> Dict[str, Any]:
    args.setdefault("validate", "true")
    args.setdefault("reload", f"touch {directory}/reloaded")
    with patch_module_args({"app": "shop", "directory": str(directory), **args}), pytest.raises(SystemExit):
        pool_module.main()
    return json.loads(capsys.readouterr().out)


def test_the_role_writes_every_host_in_with_nginx_parameters(tmp_path: Path) -> None:
    state = written(tmp_path)
    assert [entry["host"] for entry in state["servers"]] == ["app2", "app3"] and state["health"]["path"] == "/health"
    conf = (tmp_path / "shop.conf").read_text()
    assert "server 10.0.0.3:8001 max_fails=2 fail_timeout=10s;" in conf
    assert "server 10.0.0.4:8001 max_fails=2 fail_timeout=10s;" in conf


def test_out_is_down_until_put_back_and_survives_the_role(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    out = run(capsys, tmp_path, out=["app2"], reason="kernel update")
    assert out["changed"] and out["taken_out"] == ["app2"] and out["in_pool"] == ["app3"] and out["reloaded"]
    assert "server 10.0.0.3:8001 down max_fails=2" in (tmp_path / "shop.conf").read_text()
    assert (tmp_path / "reloaded").exists()
    (tmp_path / "reloaded").unlink()
    again = run(capsys, tmp_path, out=["app2"])
    assert not again["changed"] and not (tmp_path / "reloaded").exists()
    # The role runs again (a site change): app2 stays out.
    state = written(tmp_path, (tmp_path / "shop.json").read_text())
    assert state["servers"][0]["out"] and state["servers"][0]["reason"] == "kernel update"
    assert "server 10.0.0.3:8001 down" in (tmp_path / "shop.conf").read_text()
    back = run(capsys, tmp_path, **{"in": ["app2"]})
    assert back["changed"] and back["put_back"][0]["host"] == "app2" and back["put_back"][0]["out_seconds"] >= 0
    assert "down" not in (tmp_path / "shop.conf").read_text().split("# app3")[0].split("server 10.0.0.3:8001")[1]


def test_the_last_host_is_not_taken_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    run(capsys, tmp_path, out=["app3"])
    before = (tmp_path / "shop.json").read_text()
    refused = run(capsys, tmp_path, out=["app2"])
    assert refused["failed"] and "would leave the pool of shop with no host" in refused["msg"]
    assert (tmp_path / "shop.json").read_text() == before
    assert run(capsys, tmp_path, out=["app2"], allow_empty=True)["in_pool"] == []


def test_an_unknown_host_and_a_bad_weight_change_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    before = (tmp_path / "shop.conf").read_text()
    assert "app9 is not in the pool of shop (its hosts: app2, app3)" in run(capsys, tmp_path, out=["app9"])["msg"]
    assert "weight 0 of app2" in run(capsys, tmp_path, weights={"app2": 0})["msg"]
    assert (tmp_path / "shop.conf").read_text() == before
    weighted = run(capsys, tmp_path, weights={"app2": 5})
    assert weighted["changed"] and "server 10.0.0.3:8001 weight=5 max_fails=2" in (tmp_path / "shop.conf").read_text()


def test_a_configuration_nginx_refuses_is_put_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    before = {name: (tmp_path / name).read_text() for name in ("shop.json", "shop.conf")}
    refused = run(capsys, tmp_path, out=["app2"], validate="false")
    assert refused["failed"] and "both files were put back" in refused["msg"]
    assert {name: (tmp_path / name).read_text() for name in before} == before
    assert not (tmp_path / "reloaded").exists()


def test_a_failed_reload_puts_the_pool_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    before = {name: (tmp_path / name).read_text() for name in ("shop.json", "shop.conf")}
    failed = run(capsys, tmp_path, out=["app2"], reload="false")
    assert failed["failed"] and "reloading nginx failed, so the pool of shop was put back as it was" in failed["msg"]
    assert {name: (tmp_path / name).read_text() for name in before} == before


def test_check_mode_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    written(tmp_path)
    before = (tmp_path / "shop.json").read_text()
    assert run(capsys, tmp_path, out=["app2"], _ansible_check_mode=True)["changed"]
    assert (tmp_path / "shop.json").read_text() == before


def test_a_site_without_a_pool(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "shop has no pool on this host" in run(capsys, tmp_path, out=["app2"])["msg"]


def test_a_host_that_left_the_upstreams_leaves_the_pool() -> None:
    state = nginx_pool.load(pool_filter("", "shop", UPSTREAMS)["json"], "shop")
    nginx_pool.take_out(state, ["app3"], "maintenance", 1.0)
    merged = nginx_pool.merge(state, "shop", UPSTREAMS[:1], 1, 10, {})
    assert [entry["host"] for entry in merged["servers"]] == ["app2"] and not merged["servers"][0]["out"]


def test_established_connections_by_port_and_peer() -> None:
    lines = [
        "0: 0100007F:1F41 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000 0 0 1 1",  # 127.0.0.1:8001 <- 127.0.0.1
        "1: 0300000A:1F41 0200000A:C000 01 00000000:00000000 00:00000000 00000000 0 0 1 1",  # 10.0.0.3:8001 <- 10.0.0.2
        "2: 0300000A:1F41 0200000A:C001 06 00000000:00000000 00:00000000 00000000 0 0 1 1",  # TIME_WAIT: not counted
        "3: 0300000A:0050 0200000A:C002 01 00000000:00000000 00:00000000 00000000 0 0 1 1",  # another port
        "4: 0000000000000000FFFF00000300000A:1F41 0000000000000000FFFF00000200000A:C003 01 0 0 0 0 0 1 1",
    ]
    found = connections.established(lines, [8001])
    assert [(peer, port) for _local, port, peer, _peer_port in found] == [("127.0.0.1", 8001), ("10.0.0.2", 8001), ("10.0.0.2", 8001)]


def test_the_health_check_keeps_the_sites_host_name() -> None:
    state = json.loads(pool_filter("", "shop", UPSTREAMS, 2, 10, "shop.example.org")["json"])
    assert state["health"] == {"path": "/health", "status": [200], "host": "shop.example.org"}
    assert "host" not in UPSTREAMS[0]["app"]["health"]
