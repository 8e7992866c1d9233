"""Verify the ansible-core versions the collection claims (testinfra).

converge.yml installed a pinned ansible-core on each container, installed the
collection's tarball with it, and ran from inside the container, against the
container itself: fasterapi.deploy.site (the sample app, 1.0.0), then
fasterapi.deploy.deploy of 1.0.1 under load, then fasterapi.deploy.rollback.
It wrote what it saw to /root/deploy/outcome.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

# Each container's ansible-core (major.minor) and the Python that runs it.
EXPECTED = {"ansible-oldest": ("2.20", "3.13"), "ansible-newest": ("2.21", "3.13")}
PLAYS = ("site", "deploy", "rollback")
GALAXY_VERSION = re.search(
    r"^version:\s*(\S+)", (Path(__file__).resolve().parents[3] / "galaxy.yml").read_text(), re.MULTILINE
)


@pytest.fixture(scope="module")
def expected(host: Any) -> tuple[str, str]:
    return EXPECTED[host.backend.get_hostname()]


@pytest.fixture(scope="module")
def outcome(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/deploy/outcome.json").content_string)


def test_each_play_ran_on_the_expected_ansible_core(outcome: dict[str, Any], expected: tuple[str, str]) -> None:
    core, python = expected
    for play in PLAYS:
        lines = outcome["plays"][play]["core"]
        assert re.match(rf"ansible-playbook \[core {re.escape(core)}\.\d+\]$", lines[0]), lines
        assert any(re.match(rf"\s*python version = {re.escape(python)}\.\d+ ", line) for line in lines), lines
        assert "  executable location = /opt/ansible-core/bin/ansible-playbook" in lines, lines
        # The plays' configuration: collections from the installed path alone.
        assert "  config file = /root/deploy/ansible.cfg" in lines, lines
        assert "  ansible collection location = /root/collections" in lines, lines


def test_the_venv_on_the_host_still_has_that_ansible_core(host: Any, expected: tuple[str, str]) -> None:
    out = host.check_output("/opt/ansible-core/bin/ansible --version")
    assert out.startswith(f"ansible [core {expected[0]}."), out


def test_the_collection_came_from_the_tarball_into_an_empty_path(outcome: dict[str, Any]) -> None:
    assert GALAXY_VERSION is not None
    # `ansible-galaxy collection list -p /root/collections`: one section per path
    # (ansible-core's own internal collection too); /root/collections holds the tarball's alone.
    sections = "\n".join(outcome["collections"]).split("\n# ")
    installed = [s for s in sections if s.startswith("/root/collections/ansible_collections\n")]
    assert len(installed) == 1, sections
    rows = [line.split() for line in installed[0].splitlines()[3:] if line.strip()]
    assert rows == [["fasterapi.deploy", GALAXY_VERSION.group(1)]], installed[0]


def test_every_play_ended_without_a_failure_or_warning(outcome: dict[str, Any]) -> None:
    # site's second play is for the group fasterapi_nginx, which this inventory leaves out.
    expected = {"site": ["[WARNING]: Could not match supplied host pattern, ignoring: fasterapi_nginx"]}
    for play in PLAYS:
        result = outcome["plays"][play]
        assert len(result["recap"]) == 1, (play, result["recap"])
        assert re.search(r"\sunreachable=0\s+failed=0\s", result["recap"][0]), result
        assert result["warnings"] == expected.get(play, []), (play, result["warnings"])


def test_site_deployed_the_sample_app(outcome: dict[str, Any]) -> None:
    site = outcome["answers"]["site"]
    assert site["versions"] == ["1.0.0"] * 5, site
    assert site["current"].startswith("releases/")


def test_the_deploy_under_load_dropped_no_request_and_moved_to_the_new_version(outcome: dict[str, Any]) -> None:
    load = outcome["load"]
    deploy = outcome["answers"]["deploy"]
    assert load["sent"] > 300, load
    assert load["failed_total"] == 0, load["failed"]
    # The clients saw the old version, then the new one; afterwards only the new one answers.
    assert set(load["versions"]) == {"1.0.0", "1.0.1"}, load["versions"]
    assert deploy["versions"] == ["1.0.1"] * 5, deploy
    assert deploy["current"] != outcome["answers"]["site"]["current"]


def test_the_rollback_brought_back_the_first_release(host: Any, outcome: dict[str, Any]) -> None:
    rollback = outcome["answers"]["rollback"]
    assert rollback["versions"] == ["1.0.0"] * 5, rollback
    assert rollback["current"] == outcome["answers"]["site"]["current"]
    # And the host serves it still.
    assert host.file("/opt/fasterapi/current").linked_to == f"/opt/fasterapi/{rollback['current']}"
    body = host.check_output(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/version').read().decode())\""
    )
    assert json.loads(body)["version"] == "1.0.0"
    assert host.service("fasterapi").is_running
