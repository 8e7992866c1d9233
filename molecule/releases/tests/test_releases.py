"""Verify the deploys and rollbacks done by side_effect.yml (testinfra).

side_effect.yml ran the collection's deploy and rollback playbooks under
load, looked at every host after each step, and wrote what it saw to
/root/releases.json.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

KEEP = 5  # gunicorn_releases_keep's default


@pytest.fixture(scope="module")
def outcome(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/releases.json").content_string)


@pytest.fixture(scope="module")
def hostname(host: Any) -> str:
    return host.backend.get_hostname()


def step(outcome: dict[str, Any], name: str, limit: str = "") -> dict[str, Any]:
    found = [s for s in outcome["steps"] if s["name"] == name and s["limit"] in ("", limit)]
    assert len(found) == 1, name
    return found[0]


def seen(s: dict[str, Any], hostname: str) -> dict[str, Any]:
    return s["hosts"][hostname]


def test_each_step_ends_with_only_the_expected_version_answering(outcome: dict[str, Any], hostname: str) -> None:
    for s in outcome["steps"]:
        if s["limit"] and s["limit"] != hostname:
            continue
        assert s["rc"] == (2 if s["fails"] else 0), (s["name"], s["output"][-3000:])
        look = seen(s, hostname)
        assert look["versions"] == [s["expect"]], s["name"]
        assert look["active"] == "active", s["name"]


def test_no_request_failed_with_fresh_connections_throughout(outcome: dict[str, Any]) -> None:
    load = outcome["load"]["releases"]
    assert load["sent"] > 5000
    assert load["failed_total"] == 0, load["failed"]
    assert {f"1.0.{n}" for n in range(1, 14) if n != 8} <= set(load["versions"])


def test_deploys_switch_current_and_previous(outcome: dict[str, Any], hostname: str) -> None:
    first, second = seen(step(outcome, "deploy 1.0.2"), hostname), seen(step(outcome, "deploy 1.0.3"), hostname)
    assert re.fullmatch(r"releases/1\.0\.2-[0-9a-f]{12}", first["current"])
    assert re.fullmatch(r"releases/1\.0\.3-[0-9a-f]{12}", second["current"])
    assert second["previous"] == first["current"]
    assert first["main_pid"] != second["main_pid"]


def test_rollback_goes_back_to_the_previous_release_and_keeps_the_way_forward(outcome: dict[str, Any], hostname: str) -> None:
    forward = seen(step(outcome, "deploy 1.0.3"), hostname)
    back = seen(step(outcome, "rollback"), hostname)
    assert back["current"] == forward["previous"] and back["previous"] == forward["current"]
    assert back["main_pid"] != forward["main_pid"]


def test_deploying_the_same_version_again_changes_nothing(outcome: dict[str, Any], hostname: str) -> None:
    before, again = seen(step(outcome, "rollback"), hostname), seen(step(outcome, "deploy 1.0.2 again"), hostname)
    assert again == before  # same current, previous, releases and master
    assert re.search(r"ok=\d+\s+changed=0\s", "\n".join(step(outcome, "deploy 1.0.2 again")["recap"]))


def test_a_dependency_that_cannot_be_installed_fails_the_deploy_and_changes_nothing(outcome: dict[str, Any], hostname: str) -> None:
    s = step(outcome, "dependencies that cannot be installed")
    assert "resolving its packages (uv pip compile) failed" in s["output"]
    assert "fasterapi-deploy-no-such-package" in s["output"]
    before, after = seen(step(outcome, "deploy 1.0.2 again"), hostname), seen(s, hostname)
    assert after == before
    assert not any(r.startswith("9.9.9-") for r in after["releases"])  # the half-built release was removed


def test_a_failing_release_command_fails_the_deploy_and_changes_nothing(outcome: dict[str, Any], hostname: str) -> None:
    s = step(outcome, "a release command that fails")
    assert "release command failed with exit status 7: echo migrating; exit 7" in s["output"]
    assert "`current` still points to 1.0.2-" in s["output"]
    before, after = seen(step(outcome, "deploy 1.0.2 again"), hostname), seen(s, hostname)
    assert (after["current"], after["previous"], after["main_pid"]) == (before["current"], before["previous"], before["main_pid"])


def test_release_commands_run_in_the_new_release_before_it_goes_live(outcome: dict[str, Any], hostname: str) -> None:
    s = seen(step(outcome, "deploy 1.0.4 with a release command"), hostname)
    release = s["current"].removeprefix("releases/")
    previous = s["previous"].removeprefix("releases/")
    # Written by the command into the release's code directory, with the variables it is given.
    assert s["migrated"] == f"{release} after {previous}"
    assert seen(step(outcome, "deploy 1.0.3"), hostname)["migrated"] is None


def test_every_source_kind_deploys(outcome: dict[str, Any], hostname: str) -> None:
    assert seen(step(outcome, "deploy 1.0.5 from a tarball"), hostname)["current"].startswith("releases/1.0.5-")
    assert seen(step(outcome, "deploy 1.0.6 from git"), hostname)["current"].startswith("releases/v1.0.6-")
    wheel = seen(step(outcome, "deploy 1.0.7 from a wheel"), hostname)
    assert wheel["current"].startswith("releases/fasterapi_sample_app-1.0.7-py3-none-any-")


def test_after_seven_deploys_exactly_the_kept_releases_remain(outcome: dict[str, Any], hostname: str) -> None:
    after_seven = seen(step(outcome, "deploy 1.0.7 from a wheel"), hostname)
    assert len(after_seven["releases"]) == KEEP, after_seven["releases"]
    assert after_seven["current"].removeprefix("releases/") in after_seven["releases"]
    assert after_seven["previous"].removeprefix("releases/") in after_seven["releases"]
    assert not any(r.startswith(("1.0.1-", "1.0.2-", "1.0.3-")) for r in after_seven["releases"])


def test_rollback_to_a_named_release_and_refusal_of_an_unknown_one(outcome: dict[str, Any], hostname: str) -> None:
    named = seen(step(outcome, "rollback to a named release"), hostname)
    assert named["current"].startswith("releases/1.0.5-")
    refused = step(outcome, "rollback to a release that does not exist")
    assert 'gunicorn_rollback_to="1.0.0-000000000000" is not a built release on this host' in refused["output"]
    assert seen(refused, hostname) == named


def test_after_each_handover_the_workers_run_the_release_current_points_to(outcome: dict[str, Any], hostname: str) -> None:
    # USR2 re-executes the first master's argv and directory: the unit's paths
    # through `current` and the pre_exec hook make it load the new release.
    for s in outcome["steps"]:
        if s["limit"] and s["limit"] != hostname:
            continue
        look = seen(s, hostname)
        release = look["current_real"]
        assert len(look["runs_from"]) == 1, (s["name"], look["runs_from"])
        cwd, prefix, module = look["runs_from"][0]
        assert (cwd, prefix) == (f"{release}/app", f"{release}/venv"), s["name"]
        assert module.startswith((f"{release}/app/", f"{release}/venv/lib/")), s["name"]


def test_the_kept_releases_at_the_end(host: Any) -> None:
    assert len(host.file("/opt/fasterapi/releases").listdir()) == KEEP


# A code-only change (from 1.0.1 and 1.0.2, which have no more dependencies) and
# a new dependency (six, from 1.0.5 both times), by each installer.
INSTALLER_STEPS = ("deploy 1.0.3", "deploy 1.0.2", "new dependency with pip", "new dependency with uv")


def test_each_installer_deploys_code_and_new_dependencies(outcome: dict[str, Any], hostname: str) -> None:
    steps = [step(outcome, name, hostname) for name in INSTALLER_STEPS]
    assert [s["installer"] for s in steps] == ["pip", "uv", "pip", "uv"]
    added = [seen(s, hostname) for s in steps]
    assert [("six" in look["packages"]) for look in added] == [False, False, True, True], [s["name"] for s in steps]
    for s in steps:
        assert s["rc"] == 0 and s["seconds"] > 0, s["output"][-3000:]
        assert seen(s, hostname)["versions"] == [s["expect"]], s["name"]


@pytest.mark.parametrize("name", ["deploy with other settings on the command line", "rollback with other settings on the command line",
                                  "rolling restart with other settings on the command line"])
def test_the_handover_waits_for_what_the_host_runs_not_the_command_line(outcome: dict[str, Any], hostname: str, name: str) -> None:
    # -e gunicorn_workers=7 -e gunicorn_bind=["127.0.0.1:9999"]; the host runs 3 workers on 127.0.0.1:8000.
    s = step(outcome, name)
    assert s["rc"] == 0, s["output"][-3000:]
    said = "\n".join(s["restarts"])
    assert "3 workers ready" in said and "http://127.0.0.1:8000/health answered" in said, said
    assert "/etc/fasterapi/gunicorn.conf.py" in said, said
    assert 'gunicorn_workers=7, gunicorn_bind=["127.0.0.1:9999"] take effect when the role (site) applies them' in said, said
    before = [x for x in outcome["steps"] if x["limit"] in ("", hostname)]
    look, previous = seen(s, hostname), seen(before[before.index(s) - 1], hostname)
    assert look["main_pid"] != previous["main_pid"]  # a new master serves


# --- the app's own hashed lock (side_effect.yml makes it from 1.0.11's lock) ------


def release_dir(host: Any, version: str) -> str:
    found = [name for name in host.file("/opt/fasterapi/releases").listdir() if name.startswith(version + "-")]
    assert len(found) == 1, found
    return f"/opt/fasterapi/releases/{found[0]}"


def pins(lock: str) -> dict[str, str]:
    """name -> version of each requirement of LOCK (names lower-cased, - for _ and .)."""
    found = {}
    for line in lock.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


@pytest.mark.parametrize(("version", "installer"), [("1.0.12", "uv"), ("1.0.13", "pip")])
def test_the_apps_hashed_lock_is_what_gets_installed(host: Any, outcome: dict[str, Any], version: str, installer: str) -> None:
    s = step(outcome, f"deploy {version} with the app's hashed lock ({installer})")
    assert s["rc"] == 0, s["output"][-3000:]
    rel = release_dir(host, version)
    app_lock = host.file(f"{rel}/app/requirements.txt").content_string
    kept = host.file(f"{rel}/requirements.lock").content_string
    recorded = json.loads(host.file(f"{rel}/release.json").content_string)
    # The release's lock is the app's, as it is, then the collection's packages, pinned and hashed.
    assert "--hash=sha256:" in app_lock and "gunicorn==" not in app_lock
    assert kept.startswith(app_lock.rstrip("\n")), kept[:500]
    added = kept[len(app_lock.rstrip("\n")):]
    assert "# Added by fasterapi.deploy" in added
    for package in ("gunicorn==27.0.1", "uvicorn==0.54.0", "uvicorn-worker==0.4.0"):
        block = added[added.index(package):].split("\n\n")[0]
        assert "--hash=sha256:" in block.split("\n", 2)[1], block
    assert pins(added).keys().isdisjoint(pins(app_lock).keys())
    assert recorded["lock_source"] == "app" and recorded["installer"] == installer
    # What the venv holds is what the lock pins, version for version (pip's venv adds pip and setuptools).
    code = ("import importlib.metadata as m, json; print(json.dumps(sorted('%s==%s' % (d.metadata['Name'], d.version) "
            "for d in m.distributions())))")
    installed = json.loads(host.check_output("%s -c %s", f"{rel}/venv/bin/python", code))
    assert sorted(installed, key=str.lower) == sorted(recorded["packages"], key=str.lower)
    locked = pins(kept)
    for line in installed:
        name, got = line.split("==", 1)
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in ("pip", "setuptools") and key not in locked:
            continue
        assert locked.get(key) == got, (line, locked.get(key))
    assert {"six", "anyio", "gunicorn", "uvicorn", "uvicorn-worker"} <= {re.sub(r"[-_.]+", "-", i.split("==")[0]).lower() for i in installed}


@pytest.mark.parametrize(("name", "version", "says"), [
    ("a tampered hash in the app's lock", "9.9.8",
     r"requirements\.txt \(gunicorn_app_requirements_file\): the hash sha256:[0-9a-f]{64} of six==1\.17\.0 matches none of the "
     r"\d+ files of six 1\.17\.0 on the index"),
    ("a package missing from the app's lock", "9.9.7",
     r"requirements\.txt \(gunicorn_app_requirements_file\) does not name anyio, which [a-z-]+(, [a-z-]+)* needs"),
])
def test_a_lock_that_is_not_what_the_index_has_is_refused_before_any_change(
        outcome: dict[str, Any], hostname: str, name: str, version: str, says: str) -> None:
    s = step(outcome, name)
    assert re.search(says, s["output"]), s["output"][-3000:]
    assert "`current` still points to 1.0.13-" in s["output"]
    before = seen(step(outcome, "deploy 1.0.13 with the app's hashed lock (pip)"), hostname)
    after = seen(s, hostname)
    # The same release serves, from the same master, and not a file under /opt/fasterapi was added or removed.
    assert after == before
    assert not any(r.startswith(version + "-") for r in after["releases"])
