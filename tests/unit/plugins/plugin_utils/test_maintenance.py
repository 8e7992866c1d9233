"""Host maintenance's plan and refusals (plugins/plugin_utils/maintenance.py), from pools as the nginx role writes them."""

from __future__ import annotations

from typing import Any

from ansible_collections.fasterapi.deploy.plugins.plugin_utils import maintenance


def pool(app: str, *hosts: str, out: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"app": app, "health": {"path": "/health", "status": [200]},
            "servers": [{"host": host, "server": f"10.0.0.{number}:8001", "out": host in out, "reason": "maintenance"}
                        for number, host in enumerate(hosts, start=3)]}


POOLS = {"front": [pool("shop", "front", "app2", "app3"), pool("fasterapi", "front")]}


def test_each_host_is_taken_out_of_the_pools_that_list_it() -> None:
    result = maintenance.plan(POOLS, ["app2", "app3"])
    assert not result["problems"] and not result["warnings"]
    step = result["plan"]["app2"][0]
    assert step == {"front": "front", "app": "shop", "server": "10.0.0.4:8001", "port": 8001,
                    "health": {"path": "/health", "status": [200]}, "take_out": True, "was_out": False}


def test_what_cannot_be_guaranteed_is_said_before() -> None:
    result = maintenance.plan(POOLS, ["front", "app9"])
    warnings = "\n".join(result["warnings"])
    assert "front is the only host of fasterapi in the pool of front" in warnings
    assert "front is a front door itself (nginx for fasterapi, shop)" in warnings
    assert "No front door of this collection balances to app9" in warnings
    assert [step["take_out"] for step in result["plan"]["front"]] == [True, False]


def test_a_batch_that_would_empty_a_pool_is_refused() -> None:
    pools = {"front": [pool("shop", "app2", "app3")]}
    assert maintenance.plan(pools, ["app2", "app3"], 1)["problems"] == []
    assert maintenance.plan(pools, ["app2", "app3"], 2)["problems"] == [
        "maintenance_serial=2 would take app2, app3, every host of shop on front, out at once: expected fewer hosts at a time"]


def test_a_host_already_out_is_put_back_after() -> None:
    result = maintenance.plan({"front": [pool("shop", "app2", "app3", out=("app2",))]}, ["app2"])
    assert result["plan"]["app2"][0]["was_out"] and not result["plan"]["app2"][0]["take_out"]
    assert "app2 is already out of the pool of shop on front (maintenance)" in result["warnings"][0]


def test_bad_variables_are_named() -> None:
    found = maintenance.problems({"maintenance_action": "nap", "maintenance_serial": 0, "maintenance_drain_timeout": -1,
                                  "maintenance_tasks": "/nowhere.yml"}, [], False)
    assert found == [
        'maintenance_hosts=null matches no host of the inventory: expected a group or pattern of app hosts',
        'maintenance_action="nap": expected one of reboot, upgrade, tasks',
        'maintenance_tasks="/nowhere.yml" is not a file on the controller: expected a task file',
        'maintenance_tasks="/nowhere.yml" is set, but maintenance_action is "nap": expected maintenance_action: tasks',
        'maintenance_serial=0: expected a whole number of hosts at a time, 1 or more',
        'maintenance_drain_timeout=-1: expected seconds, 0 or more',
    ]
    assert maintenance.problems({"maintenance_action": "tasks"}, ["app2"], False) == [
        "maintenance_tasks is empty, and maintenance_action is tasks: expected the path of a task file on the controller"]
    assert maintenance.problems({"maintenance_action": "tasks", "maintenance_tasks": "/t.yml"}, ["app2"], True) == []


def test_a_relative_task_file_and_an_unread_front_door_are_refused() -> None:
    assert maintenance.problems({"maintenance_action": "tasks", "maintenance_tasks": "kernel.yml"}, ["app2"], True,
                                ["front2"]) == [
        "the front door front2 (maintenance_front_doors: fasterapi_nginx) could not be read: its pools are not known, so "
        "it would send requests to a host under maintenance; expected every front door reachable",
        'maintenance_tasks="kernel.yml" is a relative path, which the playbook would look for in the collection: '
        "expected an absolute path on the controller, such as $PWD/kernel.yml",
    ]


def test_a_bad_serial_is_planned_as_one_until_refused_by_name() -> None:
    from ansible_collections.fasterapi.deploy.plugins.filter.maintenance import maintenance_plan

    assert maintenance_plan(POOLS, ["app2", "app3"], "50%")["problems"] == []
    assert "maintenance_serial=0" in maintenance.problems({"maintenance_serial": 0}, ["app2"], False)[0]
