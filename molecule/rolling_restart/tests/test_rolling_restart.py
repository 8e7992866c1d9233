"""Verify the rolling restarts done by side_effect.yml (testinfra).

side_effect.yml deployed 1.0.2 to 1.0.4 under load, reloaded to 1.0.7, then two broken versions
under load, then stopped the service, then made workers leak memory past
their limit under load; it wrote what it saw to the host.
"""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(scope="module")
def rolling(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/rolling.json").content_string)


@pytest.fixture(scope="module")
def broken(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/broken.json").content_string)


def test_three_rolling_restarts_each_hand_the_main_pid_to_a_new_master(rolling: dict[str, Any]) -> None:
    restarts = rolling["restarts"]
    assert [r["version"] for r in restarts] == ["1.0.2", "1.0.3", "1.0.4"]
    masters = [restarts[0]["master_before"]] + [r["master_after"] for r in restarts]
    assert len(set(masters)) == 4, masters
    for r in restarts:
        assert r["active"] == "active"
        assert r["handover"]["strategy"] == "rolling"
        assert str(r["handover"]["old_master"]) == r["master_before"]
        assert str(r["handover"]["new_master"]) == r["master_after"]


def test_after_each_restart_only_the_new_version_answers(rolling: dict[str, Any]) -> None:
    for r in rolling["restarts"]:
        assert r["answers"] == [r["version"]]


def test_the_control_socket_answers_after_each_restart(rolling: dict[str, Any]) -> None:
    for r in rolling["restarts"]:
        assert r["ctl_rc"] == 0 and r["ctl_workers"] >= 1, r


def test_systemctl_reload_hands_over_and_loads_the_new_code(rolling: dict[str, Any]) -> None:
    reload = rolling["reload"]
    assert reload["master_before"] != reload["master_after"] and reload["active"] == "active"
    assert reload["master_before"] == rolling["restarts"][-1]["master_after"]
    assert reload["answers"] == ["1.0.7"]


def test_no_request_failed_with_fresh_connections(rolling: dict[str, Any]) -> None:
    # With a busy loop on the same cores the whole time: a starved client can be
    # slow to send its request on a connection an old worker already accepted.
    assert rolling["cpu_hogs_ran"] is True
    fresh = rolling["load"]["fresh"]
    assert fresh["sent"] > 1000
    assert fresh["failed_total"] == 0, fresh["failed"]
    assert set(fresh["versions"]) >= {"1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.7"}


def test_keepalive_failures_stay_rare(rolling: dict[str, Any]) -> None:
    keepalive = rolling["load"]["keepalive"]
    assert keepalive["sent"] > 1000
    # What remains: a client that reuses an idle kept-alive connection at the
    # moment an old worker closes it (HTTP/1.1 leaves the retry to the client).
    assert keepalive["failed_total"] <= keepalive["sent"] * 0.001, keepalive["failed"]
    assert set(keepalive["failed"]) <= {"empty_reply", "reset"}


def test_connections_whose_request_comes_late_are_answered(host: Any) -> None:
    late = json.loads(host.file("/root/late.json").content_string)
    # Measured with make drain-compare: plain UvicornWorker and a fixed 0.3 s pause answer none of them.
    assert late["answered"] == late["connections"] == 20, late
    assert late["failed"] == {} and late["reload_exit"] == 0


def test_broken_versions_fail_the_play_naming_the_error(broken: dict[str, Any]) -> None:
    # journald dropped lines of the unit meanwhile (its rate limit, passed by the
    # access log under load): the error lines below did not come from it.
    assert broken["journald_suppressed"] > 0
    imp = broken["failures"]["broken-import"]
    assert imp["failed"] and "module_that_does_not_exist" in imp["msg"]
    startup = broken["failures"]["broken-startup"]
    assert startup["failed"] and "Rolling restart of fasterapi.service failed" in startup["msg"]
    assert "startup failed on purpose" in startup["msg"]
    # From the new generation's own copy of its stderr, though journald got a line per request meanwhile.
    assert "The new generation's error lines:" in startup["msg"] and "(from the journal" not in startup["msg"]


def test_broken_versions_drop_no_request_and_the_old_version_serves(broken: dict[str, Any]) -> None:
    assert broken["load"]["broken"]["failed_total"] == 0, broken["load"]["broken"]["failed"]
    assert set(broken["load"]["broken"]["versions"]) == {"1.0.7"}
    for outcome in broken["failures"].values():
        assert outcome["answer"]["version"] == "1.0.7"
    assert broken["master_before"] == broken["master_after"] and broken["active_after"] == "active"
    # The broken startup went live and failed: current was switched back.
    assert broken["current_before"] == broken["current_after"]
    assert broken["current_after"].startswith("releases/")


def test_broken_versions_leave_no_process_or_pid_file_behind(host: Any, broken: dict[str, Any]) -> None:
    master = broken["master_after"]
    processes = dict(p.split(":") for p in broken["processes"])  # pid -> ppid
    # One master (the unit's main PID), and every other gunicorn process is
    # its worker: no master or worker of the failed generations is left. (The
    # worker count itself moves while max_requests recycles workers under load.)
    assert master in processes
    assert {pid for pid, ppid in processes.items() if ppid != master} == {master}
    assert 1 <= len(processes) - 1 <= 3 + 1  # gunicorn_workers 3 in molecule.yml, one being replaced
    assert "gunicorn.pid.2" not in broken["runtime_dir"]
    assert "gunicorn.pid" in broken["runtime_dir"]


def test_stop_after_the_restarts_is_graceful(broken: dict[str, Any]) -> None:
    assert broken["stop"]["Result"] == "success", broken["stop"]
    assert broken["stop"]["ActiveState"] == "inactive"
    journal = "\n".join(broken["stop_journal"])
    assert "Shutting down: Master" in journal
    assert "SIGKILL" not in journal and "Killing process" not in journal


def test_start_and_restart_after_all_that_behave_as_on_a_fresh_unit(broken: dict[str, Any]) -> None:
    assert broken["restarted"]["ActiveState"] == "active" and broken["restarted"]["Result"] == "success"
    assert int(broken["restarted"]["MainPID"]) > 0


@pytest.fixture(scope="module")
def recycled(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/recycled.json").content_string)


def test_workers_over_the_memory_limit_recycle_without_dropping_a_request(recycled: dict[str, Any]) -> None:
    print(f"memory recycling: {len(recycled['recycles'])} recycles, load {recycled['load']['leak']['sent']} sent, "
          f"{recycled['load']['leak']['failed_total']} failed")
    assert recycled["recycles"], "no worker recycled by memory"
    assert all("over the limit of 150 MiB" in line for line in recycled["recycles"])
    assert recycled["load"]["leak"]["failed_total"] == 0, recycled["load"]["leak"]["failed"]
    # Leaking workers are gone, replaced by fresh ones: as many as configured (gunicorn_workers: 3).
    # (PIDs: integers from the app's answers, strings from the host's listing.)
    after = {int(pid) for pid in recycled["workers_after"]}
    assert {int(pid) for pid in recycled["leaked_in"]} - after, (recycled["leaked_in"], after)
    assert len(recycled["workers_after"]) == recycled["workers_configured"]
