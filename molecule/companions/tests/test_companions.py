"""Companions and scheduled jobs, with a real Celery on a real Redis (testinfra).

side_effect.yml deployed 2.0.0 and then rolled back to 1.0.0, each while
1,000 jobs ran, under HTTP load on each app host; then deployed 3.0.0, whose
jobs module does not load, and ran three deploys with bad variables. Each
app host holds it all in /root/companions.json.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict, List

import pytest

APP_HOSTS = ("companions-app1", "companions-app2")
# The first host of the play runs the singletons (gunicorn_singleton_host is not set).
SINGLETON_HOST = "companions-app1"
WORKERS = ("queue-worker-1@", "queue-worker-2@")


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    """The app host's name; the Redis host is skipped."""
    return host.backend.get_hostname() if host.backend.get_hostname() in APP_HOSTS else pytest.skip("Redis deploys nothing")


@pytest.fixture(scope="module")
def outcome(host: Any, hostname: str) -> Dict[str, Any]:
    return json.loads(host.file("/root/companions.json").content_string)


def _epoch(stamp: str) -> float:
    """The command module's start/end time (local time of the controller, which is the containers' clock) as epoch seconds."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def _units(host: Any) -> Dict[str, str]:
    """The queue app's companion instances on the host: unit -> ActiveState."""
    out = host.check_output("systemctl list-units --all --plain --no-legend --type=service 'queue-*@*.service'")
    return {fields[0]: fields[2] for fields in (line.split() for line in out.splitlines()) if fields}


def _current(host: Any) -> str:
    return host.check_output("readlink /opt/queue/current").rsplit("/", 1)[-1]


@pytest.mark.parametrize("batch", ["deploy", "rollback"])
def test_no_job_was_lost_or_run_twice_and_each_was_finished_by_one_of_the_two_releases(
        outcome: Dict[str, Any], batch: str) -> None:
    move = outcome["moves"][batch]
    counts = move["counts"]
    print(f"{batch}: rc {move['rc']}, {counts['enqueued']} enqueued, {counts['completed']} completed ({counts['runs']} runs), "
          f"lost {counts['lost']}, run twice {counts['twice']}, by release {counts['by_version']}, by host {counts['by_host']}, "
          f"longest gap in consumption {counts['longest_gap_s']} s, took {move['start']} to {move['end']}")
    assert move["rc"] == 0, move["output"][-3000:]
    assert counts["enqueued"] == 1000
    assert counts["lost"] == 0 and counts["completed"] == 1000
    assert counts["twice"] == 0 and counts["runs"] == 1000
    assert set(counts["by_version"]) == {"1.0.0", "2.0.0"}, counts["by_version"]
    assert set(counts["by_host"]) == set(APP_HOSTS)


@pytest.mark.parametrize("batch", ["deploy", "rollback"])
def test_the_queue_was_consumed_throughout_the_move(outcome: Dict[str, Any], batch: str) -> None:
    counts = outcome["moves"][batch]["counts"]
    # The jobs take 0.2 to 3 s on 8 worker processes a host: with no pause, one starts every fifth of a second or so.
    # Each host replaces its own workers: its gap alone shows a pause the other host's work would hide.
    print(f"{batch}: longest time no job ran: {counts['longest_gap_s']} s in the fleet, by host {counts['longest_gap_s_by_host']}")
    assert counts["longest_gap_s"] < 2.0, counts
    assert set(counts["longest_gap_s_by_host"]) == set(APP_HOSTS)
    assert all(gap < 2.0 for gap in counts["longest_gap_s_by_host"].values()), counts


def test_no_request_failed_through_the_moves(outcome: Dict[str, Any], hostname: str) -> None:
    load = outcome["load"]
    print(f"{hostname}: {load['sent']} requests, answered {load['answered']}, failed {load['failed']}, versions {load['versions']}")
    assert load["failed_total"] == 0 and set(load["answered"]) == {"200"}
    assert {"1.0.0", "2.0.0"} <= set(load["versions"])


def test_after_the_deploy_the_timer_ran_the_new_release_and_after_the_rollback_the_old(outcome: Dict[str, Any]) -> None:
    deployed, rolled = (outcome["moves"][batch] for batch in ("deploy", "rollback"))
    runs = outcome["timer_runs"]
    between = [version for version, at, _name, _host in runs if _epoch(deployed["end"]) + 1 < at < _epoch(rolled["start"])]
    after = [version for version, at, _name, _host in runs if at > _epoch(rolled["end"]) + 1]
    print(f"timer runs: {len(runs)}; between the deploy and the rollback: {between}; after the rollback: {after[:6]}...")
    assert between and set(between) == {"2.0.0"}
    assert after and set(after) == {"1.0.0"}
    # A singleton timer: once for the fleet, on the singleton host.
    assert {host for _version, _at, _name, host in runs} == {SINGLETON_HOST}


def test_the_beat_never_ran_twice_and_moved_with_the_releases(outcome: Dict[str, Any], host: Any, hostname: str) -> None:
    ticks = outcome["beat_ticks"]  # [version, time, host, pid] as each beat sent them
    gaps = [later[1] - earlier[1] for earlier, later in zip(ticks, ticks[1:])]
    beats = sorted({(version, where, pid) for version, _at, where, pid in ticks})
    print(f"{len(ticks)} beat ticks; shortest interval {min(gaps):.2f} s, longest {max(gaps):.2f} s; beats (version, host, "
          f"pid): {beats}")
    # One beat sends a tick every 2 s: two at once would send two in each period.
    assert min(gaps) > 1.0
    assert {version for version, _at, _host, _pid in ticks} == {"1.0.0", "2.0.0"}
    # The singleton host's beats only; each beat's ticks all come before the next one's first.
    assert {where for _version, _at, where, _pid in ticks} == {SINGLETON_HOST}
    order = [pid for _version, _at, _host, pid in ticks]
    runs = [pid for index, pid in enumerate(order) if index == 0 or order[index - 1] != pid]
    assert len(runs) == len(set(runs)), runs
    units = {unit: state for unit, state in _units(host).items() if unit.startswith("queue-beat-1@")}
    if hostname == SINGLETON_HOST:
        assert units == {f"queue-beat-1@{_current(host)}.service": "active"}, units
    else:
        assert all(state != "active" for state in units.values()), units


def test_a_release_whose_companions_do_not_start_fails_with_their_lines_and_changes_nothing(
        outcome: Dict[str, Any], host: Any) -> None:
    failed = outcome["failing"]["r3"]
    said = failed["stdout"] + failed["stderr"]
    # The task's message as the run printed it: from the companion's name to the end of its journal lines.
    start = said.find("Companion queue-worker-")
    print(said[start:start + 2500] if start >= 0 else said[-2500:])
    assert failed["rc"] != 0
    assert "Companion queue-worker-" in said and "@3.0.0-" in said and "did not keep running" in said
    assert "jobs.py refuses to load on purpose" in said  # the companion's own journal line
    # The web process, the workers and the beat of 1.0.0 kept running; nothing of 3.0.0 does.
    current = _current(host)
    assert current.startswith("1.0.0-")
    units = _units(host)
    assert {unit for unit, state in units.items() if state == "active" and unit.startswith(WORKERS)} == \
        {f"queue-worker-{k}@{current}.service" for k in (1, 2)}
    assert not [unit for unit, state in units.items() if "@3.0.0-" in unit and state == "active"]
    version = json.loads(host.check_output(
        "python3 -c %s", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/version', timeout=5).read().decode())"))
    assert version["version"] == "1.0.0"


@pytest.mark.parametrize("case, lines", [
    ("names", ["gunicorn_companions[1].name=\"worker\" is a duplicate of gunicorn_companions[0].name",
               "gunicorn_companions[0].stop_timeout=2 is below gunicorn_longest_job_seconds=3"]),
    ("calendar", ["gunicorn_timers[0].on_calendar=\"every tuesday at noonish\": systemd rejects it"]),
    ("command", ["gunicorn_companions[0].command: 'celeryd' is not in the release's venv"]),
    ("limit", ["gunicorn_companions or gunicorn_timers have singletons (beat, report) and this run has --limit companions-app2",
               "Set gunicorn_singleton_host in the inventory"]),
])
def test_bad_companion_and_timer_variables_are_refused_naming_the_variable(outcome: Dict[str, Any], host: Any,
                                                                           case: str, lines: List[str]) -> None:
    failed = outcome["failing"][case]
    said = failed["stdout"] + failed["stderr"]
    print(f"{case}: " + " | ".join(line.strip() for line in said.splitlines() if "gunicorn_" in line)[:1500])
    assert failed["rc"] != 0
    for line in lines:
        assert line in said, said[-3000:]
    assert "nothing" in said.lower() and "changed" in said


def test_the_ledger_names_the_companions_each_move_started_and_stopped(outcome: Dict[str, Any], hostname: str) -> None:
    records = [json.loads(line) for line in outcome["ledgers"][hostname].splitlines() if line.strip()]
    deploy = next(record for record in records if record["action"] == "deploy" and record["version"] == "2.0.0")
    phases = " ; ".join(deploy["phases"])
    print(f"{hostname}: deploy of 2.0.0: {phases}")
    assert f"companions started: queue-worker-1@{deploy['release']}.service, queue-worker-2@{deploy['release']}.service" in phases
    stopped = f"queue-worker-1@{deploy['previous_release']}.service"
    assert "companions stopped: " in phases and stopped in phases
    if hostname == SINGLETON_HOST:
        assert f"queue-beat-1@{deploy['previous_release']}.service" in phases


def test_status_shows_the_companions_and_the_timer(outcome: Dict[str, Any], host: Any, hostname: str) -> None:
    status = outcome["status"]
    assert status["rc"] == 0, status["stdout"][-2000:]
    current = _current(host)
    assert f"queue-worker-2@{current}.service" in status["stdout"]
    assert "queue-report.timer" in status["stdout"]
    # The singleton timer waits on the singleton host only; elsewhere it is stopped and disabled.
    shown = host.check_output("systemctl show queue-report.timer --property=ActiveState,UnitFileState")
    expected = "ActiveState=active\nUnitFileState=enabled" if hostname == SINGLETON_HOST else \
        "ActiveState=inactive\nUnitFileState=disabled"
    assert shown.strip() == expected


def test_companions_run_in_the_web_units_sandbox_with_their_own_stop_signal_and_timeout(host: Any, hostname: str) -> None:
    unit = f"queue-worker-1@{_current(host)}.service"
    shown = dict(line.split("=", 1) for line in host.check_output(
        f"systemctl show {unit} --property=User,ProtectSystem,NoNewPrivileges,KillSignal,TimeoutStopUSec,"
        "EnvironmentFiles,WorkingDirectory,ActiveState,IPAddressDeny").splitlines())
    web = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show queue.service --property=User,ProtectSystem,NoNewPrivileges,IPAddressDeny").splitlines())
    print(f"{hostname}: {unit}: {shown}")
    assert shown["ActiveState"] == "active"
    assert {key: shown[key] for key in web} == web
    assert shown["User"] == "queue" and shown["ProtectSystem"] == "strict"
    assert shown["KillSignal"] == "15" and shown["TimeoutStopUSec"] == "30s"
    assert shown["WorkingDirectory"].endswith(f"/releases/{_current(host)}/app")
    assert "/etc/queue/environment" in shown["EnvironmentFiles"]
    # The timer's service runs through current (the release live when it runs).
    timer = host.check_output("systemctl show queue-report.service --property=WorkingDirectory")
    assert timer.strip() == "WorkingDirectory=/opt/queue/current/app"
