"""Verify the canary releases of canary.yml: judged by the front door's upstream log, promoted or rolled back (testinfra).

canary.yml deployed pool (front, app2, app3 behind front's nginx) with the
deploy playbook, app3 the canary, under a steady load from client through
nginx: a release failing 2 % of its requests, one 200 ms slower, one whose
startup fails on the canary, and 11 good ones (the last two with too few
requests at first, waited for or promoted anyway). What the tests read: each
run's exit code and play output (client's
/root/canary-*.json), each case's load (front-door.json), app3's ledger, each
host's current release, and front's upstream log itself.
"""

from __future__ import annotations

import datetime
import json
import statistics
from typing import Any

import pytest

VERDICT_FIGURES = ("requests", "errors", "p50", "p95", "p99")


def _runs(client: Any, name: str) -> Any:
    return json.loads(client.file(f"/root/canary-{name}.json").content_string)


def _load(client: Any, phase: str) -> dict[str, Any]:
    phases = json.loads(client.file("/root/front-door.json").content_string)["phases"]
    return next(found for found in phases if found["name"] == phase)["load"]


def _ledger(host: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in host.file("/opt/pool/ledger.jsonl").content_string.splitlines() if line.strip()]


def _verdict_lines(stdout: str) -> list[str]:
    """The verdict as the play printed it (the task "Say the verdict")."""
    lines = stdout.splitlines()
    start = next(number for number, line in enumerate(lines) if "Say the verdict" in line)
    end = next(number for number in range(start + 1, len(lines)) if lines[number].startswith("TASK ["))
    return [line for line in lines[start + 1:end] if line.strip()]


def _epoch(text: str) -> float:
    """A ledger time (2026-12-07T06:03:40Z) or a command's start/end (2026-12-07 06:03:40.123456, UTC here)."""
    text = text.rstrip("Z").replace("T", " ")
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()


def _canary_records(host: Any, version: str) -> list[dict[str, Any]]:
    return [record for record in _ledger(host) if record.get("action") == "canary" and record.get("version") == version]


@pytest.mark.parametrize(("case", "words"), [
    ("whole-group", ["canary_max_latency_ratio=0.5: expected a ratio above 1",
                     "The canary hosts (front, app2, app3) are the whole group"]),
    ("outside", ["canary_hosts names client, not in the hosts this deploy runs on"]),
    ("short-window", ["canary_window=5 is shorter than the", "needed to collect canary_min_requests=1000000 at the rate"]),
])
def test_bad_canary_settings_are_refused_before_any_change(client: Any, case: str, words: list[str]) -> None:
    output = json.loads(client.file("/root/canary-refused.json").content_string)[case]
    print(case, next(line for line in output.splitlines() if "canary step is refused" in line))
    for word in words:
        assert word in output, (case, word)
    # Nothing but reading ran: no task reported a change, and no release was built.
    assert not [line for line in output.splitlines() if line.startswith("changed:")], case
    assert "Build release" not in output


def _run(client: Any, name: str, version: str) -> Any:
    """The run of VERSION in case NAME."""
    return next(found for found in _runs(client, name) if found["item"]["version"] == version)


def _rolled_back(client: Any, host: Any, name: str, version: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The run, and app3's canary record and rollback record for VERSION."""
    run = _run(client, name, version)
    assert run["rc"] != 0 and "was rolled back (rollback); no other host was touched" in run["stdout"] + run["stderr"]
    print(name, "verdict as printed:", *_verdict_lines(run["stdout"]), sep="\n  ")
    (record,) = _canary_records(host, version)
    assert record["result"] == "rollback"
    ledger = _ledger(host)
    after = ledger[ledger.index(record) + 1:]
    rollback = next(entry for entry in after if entry["action"] == "rollback")
    assert rollback["result"] == "ok" and rollback["previous_release"].startswith(version)
    return run, record, rollback


@pytest.mark.parametrize(("name", "version", "rule"), [("fails", "4.9.1", "errors"), ("slow", "4.9.2", "latency")])
def test_a_bad_canary_is_rolled_back_and_no_other_host_is_touched(client: Any, name: str, version: str, rule: str) -> None:
    app3 = client.get_host("ansible://app3", ansible_inventory=client.backend.ansible_inventory)
    run, record, rollback = _rolled_back(client, app3, name, version)
    verdict = record["verdict"]
    assert verdict["rule"].startswith(f"{rule}:"), verdict["rule"]
    deploy = next(entry for entry in _ledger(app3) if entry["action"] == "deploy" and entry.get("version") == version)
    # From `current` moved to the release to `current` moved back (the rollback's restart follows).
    live, back = _epoch(deploy["switched"]), _epoch(rollback["switched"])
    print(f"{name}: canary live for {back - live:.1f} s, rollback done {_epoch(rollback['finished']) - live:.0f} s after it went live "
          f"(ledger times), run {run['delta']}; "
          f"the verdict after {verdict['seconds']} s on {verdict['canary']['requests']} canary requests: "
          + ", ".join(f"{side} " + " ".join(f"{key} {verdict[side][key]}" for key in VERDICT_FIGURES) for side in ("canary", "baseline")))
    # Decided at the first look with enough requests (scenario: 10 s, waiting up to 40 s), back within 30 s of it.
    assert back - live < verdict["seconds"] + 30
    if rule == "errors":
        assert 0.015 < verdict["canary"]["error_rate"] < 0.025 and verdict["baseline"]["errors"] == 0
    else:
        assert verdict["canary"]["p95"] >= 0.19 and verdict["latency_ratio"] > 1.5
    _no_other_host_touched(client, version)


def _no_other_host_touched(client: Any, version: str) -> None:
    """app2 and front never served VERSION, and their ledgers say so."""
    for other in ("app2", "front"):
        other_host = client.get_host(f"ansible://{other}", ansible_inventory=client.backend.ansible_inventory)
        assert not [entry for entry in _ledger(other_host) if entry.get("version") == version and entry["action"] == "deploy"]


def test_a_canary_that_does_not_start_fails_the_run_and_keeps_serving(client: Any) -> None:
    """A failed switch on the canary: no verdict, the run fails saying why, app3 serves its release, no other host moved."""
    app3 = client.get_host("ansible://app3", ansible_inventory=client.backend.ansible_inventory)
    run = _run(client, "slow", "4.9.3")
    output = run["stdout"] + run["stderr"]
    assert run["rc"] != 0 and "was rolled back (fail); no other host was touched" in output
    assert "The switch failed on app3" in output
    print("no-start:", next(line.strip() for line in output.splitlines() if "The switch failed on app3" in line))
    deploy = next(entry for entry in _ledger(app3) if entry["action"] == "deploy" and entry.get("version") == "4.9.3")
    assert deploy["result"] == "failed"
    assert not _canary_records(app3, "4.9.3")
    assert app3.file("/opt/pool/current/app/VERSION").content_string.strip() != "4.9.3"
    _no_other_host_touched(client, "4.9.3")


def _upstream_log(front: Any, since: float, until: float) -> list[dict[str, Any]]:
    entries = []
    for line in front.file("/var/log/nginx/fasterapi-pool.upstreams.log").content_string.splitlines():
        entry = json.loads(line)
        if since <= entry["t"] <= until:
            entries.append(entry)
    return entries


def test_only_the_injected_500s_failed(front: Any) -> None:
    """The failing release's case: the clients saw 200 or the canary's injected 500, and each 500 came from app3."""
    client = front.get_host("ansible://client", ansible_inventory=front.backend.ansible_inventory)
    (run,) = _runs(client, "fails")
    load = _load(client, "canary, 2 % of 500s")
    pool = json.loads(front.file("/etc/nginx/fasterapi-deploy/pools/pool.json").content_string)
    app3 = next(entry["server"] for entry in pool["servers"] if entry["host"] == "app3")
    entries = _upstream_log(front, _epoch(run["start"]), _epoch(run["end"]))
    errors = [entry for entry in entries if entry["s"] >= 500]
    ledger = _ledger(front.get_host("ansible://app3", ansible_inventory=front.backend.ansible_inventory))
    deploy = next(entry for entry in ledger if entry["action"] == "deploy" and entry.get("version") == "4.9.1")
    rollback = next(entry for entry in ledger[ledger.index(deploy):] if entry["action"] == "rollback")
    served = [entry for entry in _upstream_log(front, _epoch(deploy["switched"]), _epoch(rollback["switched"])) if app3 in entry["ua"]]
    print(f"fails: app3 was sent {len(served)} requests while the release was live, {len(errors)} answered 500; clients:",
          {name: (report["sent"], report["answered"], report["failed"]) for name, report in load.items()})
    assert errors and all(entry["ua"] == app3 and entry["us"] == "500" for entry in errors)
    clients_500 = 0
    for name, report in load.items():
        assert report["failed_total"] == 0, (name, report)
        assert set(report["answered"]) <= {"200", "500"}, (name, report)
        clients_500 += report["answered"].get("500", 0)
    # The load ran a little longer than the deploy: every 500 the log shows in the run reached a client.
    assert clients_500 >= len(errors) > 0


# The canary phases' reloads of nginx: the good releases' first, with canary_weight 50, sets app3's weight in the
# pool for its window and gives it back (two reloads); nothing else in a deploy reloads nginx.
CANARY_RELOADS = {"canary, 200 ms slower": 0, "canary, good releases": 2}


@pytest.mark.parametrize("phase", sorted(CANARY_RELOADS))
def test_no_client_saw_a_failure(client: Any, phase: str, reload_losses: Any) -> None:
    """Every answer was 200. New connections lost nothing; a checked keep-alive one may lose a request only to a reload
    (at most one per client and reload, of the kinds a closed connection gives: see conftest.py)."""
    for name, report in _load(client, phase).items():
        print(phase, name, report["sent"], report["answered"], report["failed"])
        assert report["sent"] > 100 and set(report["answered"]) == {"200"}, (name, report)
        if report["mode"] == "fresh":
            assert report["failed_total"] == 0, (name, report)
        else:
            reload_losses(phase, name, report, CANARY_RELOADS[phase])


def test_good_releases_are_promoted_to_every_host_with_no_false_rollback(client: Any) -> None:
    runs = _runs(client, "good")
    assert all(run["rc"] == 0 for run in runs)
    app3 = client.get_host("ansible://app3", ansible_inventory=client.backend.ansible_inventory)
    records = {run["item"]["version"]: _canary_records(app3, run["item"]["version"]) for run in runs}
    assert all(len(found) == 1 and found[0]["result"] == "promote" for found in records.values()), records
    # Judged by the rules: the first ten (and the one that waited); the last was promoted with too few requests.
    judged = [found[0]["verdict"] for version, found in records.items() if version != "4.0.11"]
    assert len(judged) >= 10 and all(verdict["rule"].startswith("every rule passed") for verdict in judged)
    print("the first good run's verdict as printed:", *_verdict_lines(runs[0]["stdout"]), sep="\n  ")
    # The first ran with canary_weight 50: app3 weighed 1 against 2 for front and app2, a fifth of the traffic
    # (a quarter of the baseline's requests) instead of a third (a half).
    shares = [verdict["canary"]["requests"] / verdict["baseline"]["requests"] for verdict in judged]
    print("canary requests / baseline requests, weight 50 then 100:", [round(share, 2) for share in shares])
    assert shares[0] < 0.37 < min(shares[1:])
    last = runs[-1]["item"]["version"]
    for name in ("front", "app2", "app3"):
        host = client.get_host(f"ansible://{name}", ansible_inventory=client.backend.ansible_inventory)
        assert host.file("/opt/pool/current/app/VERSION").content_string.strip() == last, name

    def spread(values: list[float]) -> str:
        return f"min {min(values):g}, median {statistics.median(values):g}, max {max(values):g}"

    print(f"{len(judged)} good canaries judged, 0 false rollbacks; decided after", spread([verdict["seconds"] for verdict in judged]), "s")
    for label, values in [
        ("canary requests", [verdict["canary"]["requests"] for verdict in judged]),
        ("baseline requests", [verdict["baseline"]["requests"] for verdict in judged]),
        ("canary 5xx rate", [verdict["canary"]["error_rate"] for verdict in judged]),
        ("5xx rate increase", [verdict["error_rate_increase"] for verdict in judged]),
        ("canary p50 (s)", [verdict["canary"]["p50"] for verdict in judged]),
        ("canary p95 (s)", [verdict["canary"]["p95"] for verdict in judged]),
        ("baseline p95 (s)", [verdict["baseline"]["p95"] for verdict in judged]),
        ("canary p99 (s)", [verdict["canary"]["p99"] for verdict in judged]),
        ("baseline p99 (s)", [verdict["baseline"]["p99"] for verdict in judged]),
        ("latency ratio (p95, floored)", [verdict["latency_ratio"] for verdict in judged]),
    ]:
        print(f"  {label}: {spread(values)}")
    assert max(verdict["latency_ratio"] for verdict in judged) <= 1.5


def test_too_little_traffic_waits_or_promotes_as_asked(client: Any) -> None:
    app3 = client.get_host("ansible://app3", ansible_inventory=client.backend.ansible_inventory)
    (waited,) = _canary_records(app3, "4.0.10")
    print("wait:", waited["message"].replace("\n", " | "), f"(decided at {waited['verdict']['seconds']} s)")
    assert waited["verdict"]["seconds"] > 6 and waited["verdict"]["rule"].startswith("every rule passed")
    (anyway,) = _canary_records(app3, "4.0.11")
    print("promote:", anyway["message"].replace("\n", " | "))
    assert "promoted anyway (canary_too_little_traffic=promote)" in anyway["message"]
    assert anyway["verdict"]["canary"]["requests"] < 100000


def test_the_verdict_is_in_every_hosts_ledger(client: Any) -> None:
    for name in ("front", "app2", "app3"):
        host = client.get_host(f"ansible://{name}", ansible_inventory=client.backend.ansible_inventory)
        records = [record for record in _ledger(host) if record["action"] == "canary"]
        assert {record["version"] for record in records} >= {"4.9.1", "4.9.2", "4.0.1", "4.0.11"}, name
        for record in records:
            assert record["message"].startswith("canary:") and record["canary_hosts"] == ["app3"]


def test_the_canary_weights_were_given_back(front: Any) -> None:
    pool = json.loads(front.file("/etc/nginx/fasterapi-deploy/pools/pool.json").content_string)
    assert all(not entry.get("out") and int(entry.get("weight", 1)) == 1 for entry in pool["servers"]), pool
