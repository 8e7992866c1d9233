"""Secrets as the app sees them and nowhere else, their limits, restarts that cannot take the app down, and metrics (testinfra).

converge.yml deployed the sample app with secrets of every kind, statsd and
the Prometheus multiprocess directory; side_effect.yml counted requests
through both, changed the environment under load in a run with -vvv, rolled
and deployed, tried a credential the app refuses under load, the largest
environment and credential and one byte more, and a unit systemd cannot
start; all the while prepare.yml's watcher sampled every command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

CRLF = "line one\r\nline two\r\n234567"
PEM = ("-----BEGIN PRIVATE KEY-----\n"
       "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ\n"
       "Yx2eqzDV+xeG8kx/sQFV18S5JhzGeIJNA72wSeukEPojtqUyX2J0CciPBh7eqclQ\n"
       "-----END PRIVATE KEY-----\n")
# The environment of the second round (side_effect.yml's run), as given in converge.yml.
EXPECTED = {
    "OPERATE_PEM": PEM,
    "OPERATE_UNICODE": "pässwörd ✓ 秘密 s3cr3t-unicode-2",
    "OPERATE_SHELLISH": "s3cr3t-shell-1 \"quoted\" $HOME `id` \\n \\ 'single'",
    "OPERATE_TABS": "a\tb  trailing  ",
    "OPERATE_ADDED": "s3cr3t-added-2\nsecond line",
    "OPERATE_CRLF": CRLF,
}
BINARY = bytes(range(256)) * 2
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
# Every secret value of vars/app.yml (prepare.yml wrote them there).
NEEDLES = json.loads((EPHEMERAL / "needles.json").read_text()) if (EPHEMERAL / "needles.json").exists() else []
RUNS = ["environment", "rolling", "deploy", "guard", "largest", "environment-over", "credential-over", "unstartable", "back"]
MIB = 1024 * 1024


def run_output(name: str) -> dict[str, Any]:
    return json.loads((EPHEMERAL / f"run-{name}.json").read_text())


def get(host: Any, path: str) -> Any:
    code = ("import sys, urllib.request; "
            "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:8000' + sys.argv[1], timeout=10).read().decode())")
    return json.loads(host.check_output("python3 -c %s %s", code, path))


@pytest.fixture(scope="module")
def outcome(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/operate.json").content_string)


def requests_by_worker(text: str) -> dict[str, float]:
    return {match[0]: float(match[1]) for match in re.findall(r'^sample_app_requests_total\{worker="(\d+)"\} (\S+)$', text, re.M)}


# --- secrets -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_environment_value_reaches_the_app_exactly(host: Any, name: str) -> None:
    seen = get(host, f"/env?name={name}")
    print(f"{host.backend.get_hostname()} {name} as the app sees it: {seen['value']!r}")
    assert seen["value"] == EXPECTED[name]


def test_a_variable_taken_out_of_the_file_leaves_the_app(host: Any) -> None:
    assert get(host, "/env?name=OPERATE_REMOVED")["present"] is False
    # What systemd itself set stays.
    assert get(host, "/env?name=PYTHONUNBUFFERED")["value"] == "1"


def test_the_environment_file_is_closed_to_others(host: Any) -> None:
    env = host.file("/etc/fasterapi/environment")
    assert (env.user, env.group, env.mode) == ("root", "fasterapi", 0o640)
    assert host.run("runuser -u nobody -- cat /etc/fasterapi/environment").rc != 0


def test_a_binary_credential_reaches_the_app_byte_for_byte(host: Any) -> None:
    seen = get(host, "/credential?name=tls.key")
    assert seen["present"] is True, seen
    print(f"{host.backend.get_hostname()} tls.key as the app sees it: {seen['size']} bytes in {seen['directory']}, sha256 {seen['sha256']}")
    assert base64.b64decode(seen["base64"]) == BINARY
    assert seen["directory"] == "/run/credentials/fasterapi.service"


def test_a_text_credential_reaches_the_app_exactly(host: Any) -> None:
    seen = get(host, "/credential?name=api-token")
    assert seen["present"] is True, seen
    print(f"{host.backend.get_hostname()} api-token as the app sees it: {base64.b64decode(seen['base64'])!r}")
    assert base64.b64decode(seen["base64"]) == b"s3cr3t-token-1\nsecond line\n"


def test_credentials_are_root_only_on_disk_and_the_app_users_only_at_run_time(host: Any) -> None:
    directory = host.file("/etc/fasterapi/credentials")
    assert (directory.user, directory.mode) == ("root", 0o700)
    for name in ("tls.key", "api-token"):
        stored = host.file(f"/etc/fasterapi/credentials/{name}")
        assert (stored.user, stored.group, stored.mode) == ("root", "root", 0o600)
    # The stored copy is root's alone; systemd's copy is the app user's (and root's), no one else's.
    assert host.run("runuser -u fasterapi -- cat /etc/fasterapi/credentials/api-token").rc != 0
    # (systemd 252 makes the app user the owner; 257 keeps root and grants it by an ACL.)
    assert host.run("runuser -u fasterapi -- cat /run/credentials/fasterapi.service/api-token").rc == 0
    assert host.run("runuser -u nobody -- cat /run/credentials/fasterapi.service/api-token").rc != 0
    unit = host.check_output("systemctl cat fasterapi")
    assert "LoadCredential=api-token:/etc/fasterapi/credentials/api-token" in unit
    assert "s3cr3t" not in unit


# --- the leak test: no secret on a command line, in the journal or in a play's output


@pytest.fixture(scope="module")
def leaks(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/leaks.json").content_string)


def test_no_secret_in_the_hosts_journal(host: Any, leaks: dict[str, Any]) -> None:
    journal = leaks["journal"]
    print(f"{host.backend.get_hostname()} journal: {journal['lines_with_a_secret']} of {journal['lines']} lines hold a secret "
          f"(per secret {journal['per_needle']}); e.g. {journal['examples'][:2]}")
    assert journal["lines"] > 1000 and len(journal["per_needle"]) == len(NEEDLES) >= 10
    # sudo logged every command line become ran: the role's commands were there, its secrets not.
    assert host.run("journalctl --output cat --grep 'COMMAND=/bin/sh -c' --quiet").stdout.count("COMMAND=") > 50
    assert journal["lines_with_a_secret"] == 0, journal["examples"]


def test_no_secret_on_any_command_line_during_the_runs(host: Any, leaks: dict[str, Any]) -> None:
    watch = leaks["cmdline"]
    print(f"{host.backend.get_hostname()} command lines: {watch['command_lines_with_a_secret']} of {watch['processes_seen']} held a "
          f"secret, in {watch['samples']} samples (per secret {watch['per_needle']}); e.g. {watch['examples'][:2]}")
    assert watch["samples"] > 1000 and watch["processes_seen"] > 500
    assert watch["command_lines_with_a_secret"] == 0, watch["examples"]


@pytest.mark.parametrize("name", RUNS)
def test_no_secret_appears_in_the_play_output(name: str) -> None:
    run = run_output(name)
    lines = run["output"].splitlines()
    holding = [line[:200] for line in lines if any(needle in line for needle in NEEDLES)]
    print(f"run {name} ({' '.join(run['argv'][-3:])}): {len(holding)} of {len(lines)} output lines hold a secret")
    assert NEEDLES and not holding, [line.replace(needle, "<secret>") for line in holding[:3] for needle in NEEDLES if needle in line]


def test_the_environment_change_said_what_changed_and_no_value() -> None:
    run = run_output("environment")
    assert run["rc"] == 0, run["output"][-3000:]
    assert "(secret content, changed)" in run["output"] and "ESTABLISH DOCKER CONNECTION" in run["output"]  # -vvv


# --- an environment change: a rolling restart under load -------------------------


def test_the_environment_change_was_a_rolling_restart(outcome: dict[str, Any]) -> None:
    assert outcome["master_before"] != outcome["master_after"]
    # The old master named what changed, never a value.
    assert any("OPERATE_ADDED, OPERATE_CANARY, OPERATE_REMOVED, OPERATE_UNICODE" in line for line in outcome["env_journal"]), outcome["env_journal"]
    assert not any("s3cr3t" in line for line in outcome["env_journal"])
    assert "rolling restart" in run_output("environment")["output"]


def test_no_request_failed_during_the_environment_change(outcome: dict[str, Any]) -> None:
    for mode, report in outcome["load"].items():
        print(f"environment change, {mode}: {report['failed_total']} failed of {report['sent']}, {report['failed']}")
    fresh, keepalive = outcome["load"]["fresh"], outcome["load"]["keepalive"]
    assert fresh["sent"] > 300 and keepalive["sent"] > 300
    assert fresh["failed_total"] == 0, fresh["failed"]
    # As in every rolling restart: a kept-alive connection reused just as an old worker closes it is the client's to retry.
    assert keepalive["failed_total"] <= keepalive["sent"] * 0.001, keepalive["failed"]


# --- metrics ---------------------------------------------------------------------


def test_prometheus_metrics_add_up_across_the_workers(outcome: dict[str, Any]) -> None:
    before, after = requests_by_worker(outcome["metrics_before"]), requests_by_worker(outcome["metrics_after"])
    load = outcome["metrics_load"]
    print(f"/metrics before: {before}; after {load['sent']} requests ({load['failed_total']} failed): {after}")
    assert load["failed_total"] == 0 and load["sent"] > 300
    # Every request the load made, plus the /metrics request that read them, whichever worker answered.
    assert sum(after.values()) - sum(before.values()) == load["sent"] + 1
    assert len([worker for worker, count in after.items() if count - before.get(worker, 0) > 10]) >= 2


def test_prometheus_counters_outlive_the_workers_of_a_rolling_restart(outcome: dict[str, Any]) -> None:
    after, later = requests_by_worker(outcome["metrics_after"]), requests_by_worker(outcome["metrics_later"])
    assert set(after) <= set(later)
    assert sum(later.values()) > sum(after.values()) + outcome["load"]["fresh"]["sent"]


def test_the_multiprocess_directory_holds_the_current_workers_live_files_only(host: Any) -> None:
    directory = host.file("/run/fasterapi/prometheus")
    assert directory.user == "fasterapi" and directory.is_directory
    assert any(name.startswith("counter_") for name in directory.listdir())


def test_statsd_got_every_request_and_the_worker_count(outcome: dict[str, Any]) -> None:
    statsd = outcome["statsd"]
    requests = statsd["counters"].get("fasterapi.gunicorn.requests", 0)
    answered = sum(requests_by_worker(outcome["metrics_later"]).values()) - sum(requests_by_worker(outcome["metrics_before"]).values()) + 1
    print(f"statsd: {requests:.0f} requests counted, the app counted {answered:.0f}; gauges {statsd['gauges']}")
    assert statsd["malformed"] == 0
    assert abs(requests - answered) <= answered * 0.005
    statuses = {name.rsplit(".", 1)[1]: count for name, count in statsd["counters"].items() if ".request.status." in name}
    print(f"statsd: answers by status {statuses}")
    # Datagrams: one may be dropped on a saturated CPU (seen: 1 of 12,150), as statsd over UDP allows.
    assert abs(sum(statuses.values()) - requests) <= requests * 0.001
    assert statuses.get("200", 0) >= requests * 0.999
    assert abs(statsd["timers"].get("fasterapi.gunicorn.request.duration", 0) - requests) <= requests * 0.001
    assert statsd["gauges"].get("fasterapi.gunicorn.workers") == 2


def test_statsd_being_down_does_not_flood_the_journal(host: Any) -> None:
    # The app ran for minutes with nothing listening on 127.0.0.1:8125 (before side_effect.yml started its server).
    journal = host.check_output("journalctl --unit fasterapi --output cat")
    assert "Error sending message to statsd" not in journal
    assert journal.count("Cannot send metrics to statsd") <= 2


# --- carriage returns on each start path -------------------------------------------


def test_a_carriage_return_reaches_the_app_on_each_start_path(host: Any, outcome: dict[str, Any], leaks: dict[str, Any]) -> None:
    rolling, full = outcome["crlf_rolling"]["value"], leaks["crlf_full"]["value"]
    print(f"{host.backend.get_hostname()} OPERATE_CRLF after a rolling restart: {rolling!r} ({len(rolling.encode())} bytes); "
          f"after systemctl restart: {full!r} ({len(full.encode())} bytes)")
    assert rolling == full == CRLF and len(CRLF.encode()) == 26


# --- a credential the app refuses: the full restart is tried beside it first ----------


@pytest.fixture(scope="module")
def guard(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/guard.json").content_string)


def test_a_refused_credential_stops_nothing(host: Any, guard: dict[str, Any]) -> None:
    run = run_output("guard")
    said = [line for line in run["output"].splitlines() if "was not restarted" in line or "refused on purpose" in line]
    print(f"{host.backend.get_hostname()} refused credential: rc {run['rc']}; {said[:2]}")
    for mode, report in guard["load"].items():
        print(f"  {mode}: {report['failed_total']} failed of {report['sent']}; master {guard['master_before']} -> {guard['master_after']}")
    assert run["rc"] != 0
    assert "fasterapi.service was not restarted" in run["output"] and "The running app was not stopped" in run["output"]
    assert "sample-app-guard was refused on purpose" in run["output"]
    assert guard["master_before"] == guard["master_after"]
    for report in guard["load"].values():
        assert report["sent"] > 300 and report["failed_total"] == 0, report["failed"]
    # The files it runs with are back, so that a crash restarts it with them; nothing is owed.
    assert guard["credentials"] == ["api-token", "canary", "tls.key"] and guard["marker"] is False


# --- the largest environment and credential, and one byte more --------------------------


@pytest.fixture(scope="module")
def limits(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/limits.json").content_string)


def largest_expected() -> dict[str, str]:
    values = {f"OPERATE_MAX_{i}": letter * 130816 for i, letter in enumerate("abcdefgh")}
    values["OPERATE_MAX_8"] = "i" * 1722
    expected = {name: hashlib.sha256(value.encode()).hexdigest() for name, value in values.items()}
    expected["large.bin"] = hashlib.sha256(b"L" * 1048567).hexdigest()
    return expected


@pytest.mark.parametrize("path", ["full", "rolling", "restored"])
def test_the_largest_environment_and_credential_arrive_intact(limits: dict[str, Any], path: str) -> None:
    seen = {item["name"]: item for item in limits["largest"][path]}
    assert {name: item["sha256"] for name, item in seen.items()} == largest_expected()
    assert seen["large.bin"]["size"] == 1048567
    if path == "full":
        assert run_output("largest")["rc"] == 0
        print(f"largest: 1,048,576 bytes of environment in 9 variables and a credential of {seen['large.bin']['size']:,} bytes "
              "arrived intact after a full and a rolling restart")


def test_one_byte_more_is_refused_before_any_change(limits: dict[str, Any]) -> None:
    environment, credential = run_output("environment-over"), run_output("credential-over")
    for run, said in ((environment, "gunicorn_environment holds 1,048,577 bytes"),
                      (credential, "gunicorn_credentials.large.bin holds 1,048,568 bytes")):
        line = next((line.strip() for line in run["output"].splitlines() if said in line), "")
        print(f"refused: {line[:400]}")
        assert run["rc"] != 0 and line and "nothing was changed" in run["output"]
    assert limits["master_refused"] == limits["master_largest"]


def test_a_unit_that_cannot_start_gets_its_last_good_files_back(limits: dict[str, Any]) -> None:
    run = run_output("unstartable")
    said = [line.strip() for line in run["output"].splitlines() if "Can't connect" in line or "Put back the files" in line]
    print(f"unstartable unit: rc {run['rc']}; {said[:3]}; after: {limits['restored_state']}, credentials {limits['restored_credentials']}")
    assert run["rc"] != 0 and "fasterapi.service failed to restart" in run["output"]
    assert "Put back the files fasterapi.service last started well with" in run["output"]
    assert limits["restored_state"] == "active"
    assert "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in limits["restored_unit"]
    assert "LoadCredential=large.bin:" in limits["restored_unit"]
    assert limits["restored_credentials"] == ["large.bin"]
    assert run_output("back")["rc"] == 0
