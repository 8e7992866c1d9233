"""Verify real_hosts: each host deployed with its own package settings (testinfra).

side_effect.yml deployed 1.0.2, failed a deploy whose index does not
answer, rolled back and deployed an app from a private repository over SSH
(and failed one whose host key is not known), all under load, then wrote
what it saw on every host to /root/real_hosts.json: the playbook runs, the
load report, the package settings with their sources, each release's
packages (uv pip freeze) on every host, release.json and the lock, the
index's request log, the network interfaces and the wheelhouse.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

import pytest

# Where each host's admin put the index and the CA (prepare.yml).
EXPECTED_SOURCES = {
    "pipconf": {"index-url": "/etc/pip.conf [global]", "cert": "SSL_CERT_FILE (/etc/environment)", "timeout": "/etc/pip.conf [global]"},
    "sysca": {"index-url": "PIP_INDEX_URL (/etc/environment)",
              "system trust store": "/usr/local/share/ca-certificates"},
    "userconf": {"index-url": "/root/.config/pip/pip.conf [global]", "cert": "/root/.config/pip/pip.conf [global]"},
    "airgap": {"no-index": "gunicorn_offline (the wheelhouse)", "find-links": "gunicorn_offline (the wheelhouse)"},
}
ONLINE = ("pipconf", "sysca", "userconf")


def normal(lines: Iterable[str]) -> set[str]:
    """name==version lines with names normalized as PEP 503 does."""
    return {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() + "==" + line.split("==")[1] for line in lines}


@pytest.fixture(scope="module")
def seen(host: Any, hostname: str) -> dict[str, Any]:
    return json.loads(host.file("/root/real_hosts.json").content_string)


def seconds(run: dict[str, Any]) -> float:
    hours, minutes, secs = run["delta"].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def test_the_deploys_and_the_rollback_succeeded(seen: dict[str, Any]) -> None:
    for run in seen["runs"]:
        expected = 2 if run["item"].get("fails") else 0
        assert run["rc"] == expected, (run["item"]["name"], run["stdout"][-3000:], run["stderr"][-2000:])
    assert seen["version"] == "1.0.1"  # rolled back
    print({run["item"]["name"]: round(seconds(run), 1) for run in seen["runs"]})


def test_an_index_that_does_not_answer_stops_the_deploy_at_once_naming_it(seen: dict[str, Any]) -> None:
    run = [r for r in seen["runs"] if r["item"]["name"] == "index that does not answer"][0]
    assert seconds(run) < 40, run["delta"]
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", run["stdout"] + " " + run["stderr"]).split())
    said = text[text.find("The package index"):][:700] if "The package index" in text else text[-3000:]
    assert "The package index https://10.255.255.1/simple (set by role variable gunicorn_pip_index_url) did not answer" in text, said
    assert "gunicorn_offline=true" in text and "Nothing was changed." in text, said


def test_the_failed_deploy_left_the_host_as_it_was(seen: dict[str, Any], hostname: str) -> None:
    if hostname != "userconf":
        pytest.skip("the failing deploy ran on userconf")
    assert not [r for r in seen["releases"] if r.startswith("1.0.3-")]


def test_no_request_failed_under_load(seen: dict[str, Any]) -> None:
    load = seen["load"]
    assert load["sent"] > 1000
    assert load["failed_total"] == 0, load["failed"]
    assert {"1.0.1", "1.0.2"} <= set(load["versions"])


def test_each_setting_came_from_where_the_admin_put_it(seen: dict[str, Any], hostname: str) -> None:
    sources = {s["setting"]: s["source"] for s in seen["uv_settings"]}
    for setting, source in EXPECTED_SOURCES[hostname].items():
        assert sources.get(setting, "").endswith(source), (setting, sources)
    values = {s["setting"]: s["value"] for s in seen["uv_settings"]}
    if hostname in ONLINE:
        assert values["index-url"] == "https://index:8443/simple"
    else:
        assert values["find-links"] == "/var/cache/fasterapi-deploy/wheelhouse"


def test_every_host_fetched_its_packages_through_the_index(seen: dict[str, Any]) -> None:
    by_client: dict[str, set[str]] = {}
    for line in seen["index_log"]:
        by_client.setdefault(line["client"], set()).add(line["path"].split("/")[1])
    for name in ONLINE:
        address = seen["hosts"][name]
        assert {"simple", "files"} <= by_client.get(address, set()), (name, address, sorted(by_client))


def test_the_offline_host_has_no_network_and_installed_from_its_wheelhouse(seen: dict[str, Any], hostname: str) -> None:
    if hostname != "airgap":
        assert seen["address"], "an online host has an address"
        return
    assert [line.split(":")[1].strip() for line in seen["links"]] == ["lo"]
    assert seen["address"] == "" and seen["hosts"]["airgap"] == ""
    names = {wheel.split("-")[0].lower() for wheel in seen["wheels"]}
    assert {"uv", "uvloop", "httptools", "gunicorn", "uvicorn"} <= names


def test_the_hosts_installed_identical_package_sets(seen: dict[str, Any]) -> None:
    freezes = {name: {release: found["freeze"] for release, found in by_release.items()}
               for name, by_release in seen["freeze"].items()}
    assert set(freezes) == set(EXPECTED_SOURCES)
    releases = set(freezes["pipconf"])
    assert len(releases) == 2, releases  # 1.0.1 and 1.0.2
    for release in releases:
        sets = {name: tuple(freezes[name][release]) for name in ONLINE}
        assert len(set(sets.values())) == 1, sets
        names = {line.split("==")[0].lower() for line in sets["pipconf"]}
        assert {"gunicorn", "uvicorn", "uvloop", "httptools", "websockets", "uvicorn-worker"} <= names
        # The offline host's release has another name (its digest leaves the index out, the online hosts'
        # names their mirror), and the same packages.
        offline = [r for r in freezes["airgap"] if r.split("-")[0] == release.split("-")[0]]
        assert len(offline) == 1 and offline[0] != release, (release, sorted(freezes["airgap"]))
        assert tuple(freezes["airgap"][offline[0]]) == sets["pipconf"]


def test_release_json_records_the_locked_packages(seen: dict[str, Any], hostname: str) -> None:
    for release, found in seen["releases"].items():
        assert found["lock"], release
        assert found["lock_mode"] == "0o644"
        locked = normal(line.split(" ")[0] for line in found["lock"].splitlines() if line and line[0] not in " #")
        installed = normal(found["release"]["packages"])
        assert installed <= locked, installed - locked  # the lock also names packages of other platforms
        assert "--hash=sha256:" in found["lock"]
        assert installed == normal(found["freeze"])


def test_a_private_repository_over_ssh_deploys_with_its_submodule(seen: dict[str, Any], hostname: str) -> None:
    gitapp = seen["gitapp"]
    if hostname == "pipconf":
        assert gitapp["exists"] and gitapp["version"] == "1.0.7"
        assert gitapp["submodule_file"], "vendor/lib/marker.txt came with the submodule"
        assert gitapp["git_entries"] == []
        assert gitapp["key_mode"] == "0o600"
        assert [r.split("-")[0] for r in gitapp["releases"]] == ["v1.0.7"]
    elif hostname == "userconf":
        # Host key checking is on: an unknown server fails the deploy before any release.
        assert not gitapp["exists"]
        run = [r for r in seen["runs"] if r["item"]["name"] == "git server whose host key is not known"][0]
        said = run["stdout"] + run["stderr"]
        assert "Host key verification failed" in said, said[said.find("fatal"):][:2000]


def test_every_host_installed_the_apps_own_lock_for_1_0_2(seen: dict[str, Any]) -> None:
    # 1.0.1 ships no lock (the role resolved one); 1.0.2 ships its own hashed lock (side_effect.yml).
    sources = {release.split("-")[0]: found["release"]["lock_source"] for release, found in seen["releases"].items()}
    assert sources == {"1.0.1": "resolved", "1.0.2": "app"}, sources
    kept = [found["lock"] for release, found in seen["releases"].items() if release.startswith("1.0.2-")][0]
    assert kept.startswith("# The app's lock") and "# Added by fasterapi.deploy" in kept
