"""Verify real_hosts: each host deployed with its own package settings (testinfra).

side_effect.yml deployed 1.0.2 and rolled back under load, then wrote what
it saw on every host to /root/real_hosts.json: the playbook runs, the load
report, the package settings with their sources, each release's packages
(uv pip freeze) on every host, release.json and the lock, and the index's
request log.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

import pytest

# Where each host's admin put the index and the CA (prepare.yml).
EXPECTED_SOURCES = {
    "pipconf": {"index-url": "/etc/pip.conf [global]", "cert": "/etc/pip.conf [global]", "timeout": "/etc/pip.conf [global]"},
    "sysca": {"index-url": "PIP_INDEX_URL (/etc/environment)",
              "system trust store": "/usr/local/share/ca-certificates"},
    "userconf": {"index-url": "/root/.config/pip/pip.conf [global]", "cert": "/root/.config/pip/pip.conf [global]"},
}


def normal(lines: Iterable[str]) -> set[str]:
    """name==version lines with names normalized as PEP 503 does."""
    return {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() + "==" + line.split("==")[1] for line in lines}


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    name = host.backend.get_hostname()
    if name not in EXPECTED_SOURCES:
        pytest.skip("the index host deploys nothing")
    return name


@pytest.fixture(scope="module")
def seen(host: Any, hostname: str) -> dict[str, Any]:
    return json.loads(host.file("/root/real_hosts.json").content_string)


def test_the_deploy_and_the_rollback_succeeded(seen: dict[str, Any]) -> None:
    for run in seen["runs"]:
        assert run["rc"] == 0, (run["item"]["playbook"], run["stdout"][-3000:], run["stderr"][-2000:])
    assert seen["version"] == "1.0.1"  # rolled back


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
    assert values["index-url"] == "https://index:8443/simple"


def test_every_host_fetched_its_packages_through_the_index(seen: dict[str, Any]) -> None:
    by_client: dict[str, set[str]] = {}
    for line in seen["index_log"]:
        by_client.setdefault(line["client"], set()).add(line["path"].split("/")[1])
    for name, address in seen["hosts"].items():
        assert {"simple", "files"} <= by_client.get(address, set()), (name, address, sorted(by_client))


def test_the_hosts_installed_identical_package_sets(seen: dict[str, Any]) -> None:
    freezes = {name: {release: found["freeze"] for release, found in by_release.items()}
               for name, by_release in seen["freeze"].items()}
    assert set(freezes) == set(EXPECTED_SOURCES)
    releases = set(freezes["pipconf"])
    assert len(releases) == 2, releases  # 1.0.1 and 1.0.2
    for release in releases:
        sets = {name: tuple(f[release]) for name, f in freezes.items()}
        assert len(set(sets.values())) == 1, sets
        names = {line.split("==")[0].lower() for line in sets["pipconf"]}
        assert {"gunicorn", "uvicorn", "uvloop", "httptools", "websockets", "uvicorn-worker"} <= names


def test_release_json_records_the_locked_packages(seen: dict[str, Any], hostname: str) -> None:
    for release, found in seen["releases"].items():
        assert found["lock"], release
        assert found["lock_mode"] == "0o644"
        locked = normal(line.split(" ")[0] for line in found["lock"].splitlines() if line and line[0] not in " #")
        installed = normal(found["release"]["packages"])
        assert installed <= locked, installed - locked  # the lock also names packages of other platforms
        assert "--hash=sha256:" in found["lock"]
        assert installed == normal(found["freeze"])
