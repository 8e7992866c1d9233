"""Schema migrations in order across the fleet, with a real PostgreSQL (testinfra).

side_effect.yml deployed 2.0.0 with serial 1 under load (expand to Alembic
revision 0002, contract to 0003), then 2.0.1 and 2.0.2 started at the same
moment, then 3.0.0, whose expand step (0004) fails, and changed
migrations-app2's first ledger record by hand before running status. Each app host holds it all in /root/migrations.json.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict, List

import pytest

APP_HOSTS = ("migrations-app1", "migrations-app2")
# The first host of the play runs the steps (gunicorn_migrate_host is not set).
MIGRATE_HOST = "migrations-app1"


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    """The app host's name; the database host is skipped."""
    return host.backend.get_hostname() if host.backend.get_hostname() in APP_HOSTS else pytest.skip("the database deploys nothing")


@pytest.fixture(scope="module")
def outcome(host: Any, hostname: str) -> Dict[str, Any]:
    return json.loads(host.file("/root/migrations.json").content_string)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _records(outcome: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in outcome["ledgers"][name].splitlines() if line.strip()]


def _version(host: Any) -> Dict[str, Any]:
    out = host.check_output("python3 -c %s", "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/version', timeout=5).read().decode())")
    return json.loads(out)


def test_each_revision_ran_exactly_once_and_the_failed_one_left_nothing(outcome: Dict[str, Any]) -> None:
    assert outcome["alembic_version"] == "0003"
    revisions = [entry["revision"] for entry in outcome["migration_log"]]
    assert revisions == ["0001", "0002", "0003"], revisions  # 0004 was rolled back with its failure
    assert {entry["host"] for entry in outcome["migration_log"]} == {MIGRATE_HOST}
    assert outcome["items_columns"] == ["id", "name", "price"]


def test_the_expand_step_finished_before_the_first_switch_and_contract_began_after_the_last(outcome: Dict[str, Any]) -> None:
    ledgers = {name: _records(outcome, name) for name in APP_HOSTS}
    expand, contract = (next(record for record in ledgers[MIGRATE_HOST] if record["action"] == action and record["version"] == "2.0.0")
                        for action in ("expand", "contract"))
    assert expand["result"] == "ok"
    assert contract["result"] == "ok"
    deploys = {name: next(record for record in ledgers[name] if record["action"] == "deploy" and record["version"] == "2.0.0")
               for name in APP_HOSTS}
    switched = sorted(_when(record["switched"]) for record in deploys.values())
    print(f"expand finished {expand['finished']}; switches {[str(moment) for moment in switched]}; contract began {contract['time']}")
    assert _when(expand["finished"]) < switched[0]
    # A record's time and finished are whole seconds; switched has microseconds.
    assert _when(contract["time"]) >= max(_when(record["finished"]) for record in deploys.values()) >= switched[-1].replace(microsecond=0)
    # The database's own clock agrees: 0002 before the first switch, 0003 after the last.
    at = {entry["revision"]: _when(entry["at"]) for entry in outcome["migration_log"]}
    assert at["0002"] < switched[0] and at["0003"] > switched[-1]
    for name, record in deploys.items():
        assert record["result"] == "ok" and f"expand on {MIGRATE_HOST}" in record["phases"] and "switch" in record["phases"], record


def _last_live(outcome: Dict[str, Any], hostname: str) -> str:
    """The version of the last deploy that went well on HOSTNAME."""
    return [record for record in _records(outcome, hostname) if record["action"] == "deploy" and record["result"] == "ok"][-1]["version"]


def test_no_request_failed_while_the_hosts_switched_on_the_expanded_schema(outcome: Dict[str, Any], hostname: str) -> None:
    assert outcome["r2"]["rc"] == 0, outcome["r2"]["output"][-3000:]
    load = outcome["load"]["r2"]
    print(f"{hostname}: 2.0.0 deploy, then 2.0.1 and 2.0.2 at once: {load['sent']} requests, answered {load['answered']}, "
          f"failed {load['failed']}, versions {load['versions']}")
    assert load["failed_total"] == 0 and set(load["answered"]) == {"200"}
    # The host served 1.0.0 (on the expanded schema from the expand step on), then 2.0.0, 2.0.1 and 2.0.2.
    assert set(load["versions"]) == {"1.0.0", "2.0.0", "2.0.1", "2.0.2"}
    assert load["versions"]["1.0.0"] > 10 and load["versions"]["2.0.0"] > 10


def test_two_deploys_started_at_the_same_moment_never_interleaved(outcome: Dict[str, Any], hostname: str) -> None:
    assert outcome["pair"] == [0, 0]
    steps = [(record["action"], record["version"]) for record in _records(outcome, hostname)
             if record["version"] in ("2.0.1", "2.0.2")]
    first, second = steps[0][1], steps[-1][1]
    assert first != second
    # Each run's expand step (on the migration host) and switch came before any of the other's.
    per_run = [("expand", first), ("deploy", first), ("expand", second), ("deploy", second)]
    assert steps == (per_run if hostname == MIGRATE_HOST else [step for step in per_run if step[0] == "deploy"]), steps


def test_a_failed_expand_step_switched_no_host_and_failed_no_request(host: Any, outcome: Dict[str, Any], hostname: str) -> None:
    r3 = outcome["r3"]
    assert r3["rc"] != 0
    words = " ".join(r3["output"].split())
    assert f"The expand step (gunicorn_migrate_commands) failed on {MIGRATE_HOST}" in words
    assert "expand command failed with exit status 1: alembic upgrade 0004" in words
    assert 'relation "no_such_table" does not exist' in words  # the command's own output
    assert "No host was switched" in words
    load = outcome["load"]["r3"]
    print(f"{hostname}: failed 3.0.0 deploy: {load['sent']} requests, answered {load['answered']}, failed {load['failed']}")
    live = _last_live(outcome, hostname)
    assert live in ("2.0.1", "2.0.2")
    assert load["failed_total"] == 0 and set(load["answered"]) == {"200"} and set(load["versions"]) == {live}
    assert _version(host)["version"] == live
    assert host.file("/opt/shop/current/app/VERSION").content_string.strip() == live
    # Built, kept for a look, never live.
    assert "3.0.0" in host.check_output("cat /opt/shop/releases/*/app/VERSION").split()
    failed = [record for record in _records(outcome, hostname) if record["result"] == "failed"]
    assert [record["action"] for record in failed] == (["expand", "deploy"] if hostname == MIGRATE_HOST else ["deploy"])
    assert all("no_such_table" in record["message"] for record in failed)
    assert "switch" not in failed[-1]["phases"]


def test_each_ledger_holds_the_history_and_status_names_the_record_changed_by_hand(outcome: Dict[str, Any], hostname: str) -> None:
    actions = [(record["action"], record["result"]) for record in _records(outcome, hostname)]
    expected = {
        MIGRATE_HOST: ([("expand", "ok"), ("site", "ok"), ("expand", "ok"), ("deploy", "ok"), ("contract", "ok")]
                       + [("expand", "ok"), ("deploy", "ok")] * 2 + [("expand", "failed"), ("deploy", "failed")]),
        "migrations-app2": [("sight", "ok")] + [("deploy", "ok")] * 3 + [("deploy", "failed")],
    }
    assert actions == expected[hostname]
    status = " ".join(outcome["status"]["output"].split())
    assert "migrations-app2" in status and "ledger: record 1" in status and "was changed after it was written" in status
    assert status.count("was changed after it was written") == 1
