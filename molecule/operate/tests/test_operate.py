"""Secrets as the app sees them, an environment change as a rolling restart, and metrics (testinfra).

converge.yml deployed the sample app with secrets of every kind, statsd and
the Prometheus multiprocess directory; side_effect.yml counted requests
through both, then changed the environment under load in a run with -vv.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

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
}
SECRETS = ["s3cr3t-unicode-1", "s3cr3t-unicode-2", "s3cr3t-shell-1", "s3cr3t-removed-1", "s3cr3t-added-2", "s3cr3t-token-1",
           "MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8w"]
BINARY = bytes(range(256)) * 2


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


def test_no_secret_appears_in_the_play_output() -> None:
    run = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "env-run.json").read_text())
    assert run["rc"] == 0, run["output"][-3000:]
    assert "(secret content, changed)" in run["output"]
    for secret in SECRETS:
        assert secret not in run["output"], secret


# --- an environment change: a rolling restart under load -------------------------


def test_the_environment_change_was_a_rolling_restart(outcome: dict[str, Any]) -> None:
    assert outcome["master_before"] != outcome["master_after"]
    # The old master named what changed, never a value.
    assert any("OPERATE_ADDED, OPERATE_REMOVED, OPERATE_UNICODE" in line for line in outcome["env_journal"]), outcome["env_journal"]
    assert not any("s3cr3t" in line for line in outcome["env_journal"])
    run = json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "env-run.json").read_text())
    assert "rolling restart" in run["output"]


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
    assert sum(statuses.values()) == requests
    assert statuses.get("200", 0) >= requests * 0.999
    assert statsd["timers"].get("fasterapi.gunicorn.request.duration", 0) == requests
    assert statsd["gauges"].get("fasterapi.gunicorn.workers") == 2


def test_statsd_being_down_does_not_flood_the_journal(host: Any) -> None:
    # The app ran for minutes with nothing listening on 127.0.0.1:8125 (before side_effect.yml started its server).
    journal = host.check_output("journalctl --unit fasterapi --output cat")
    assert "Error sending message to statsd" not in journal
    assert journal.count("Cannot send metrics to statsd") <= 2
