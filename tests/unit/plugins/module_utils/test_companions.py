"""An app's companions and scheduled jobs as systemd units (plugins/module_utils/companions.py), without a host."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from ansible_collections.fasterapi.deploy.plugins.module_utils import companions


def test_instances_are_named_after_their_release_and_index() -> None:
    assert companions.template("shop", "worker", 2) == "shop-worker-2@.service"
    assert companions.instance("shop", "worker", 1, "2.0.0-0123abcd4567") == "shop-worker-1@2.0.0-0123abcd4567.service"
    assert companions.parse_instance("shop-worker-1@2.0.0-0123abcd4567.service") == ("shop-worker-1@.service", "2.0.0-0123abcd4567")
    assert companions.parse_instance("shop.service") is None
    with pytest.raises(ValueError):
        companions.instance("shop", "worker", 1, "../etc")


def test_the_templates_cover_every_instance_in_order() -> None:
    assert companions.wanted_templates("shop", [{"name": "worker", "instances": 2}, {"name": "beat"}]) == [
        "shop-worker-1@.service", "shop-worker-2@.service", "shop-beat-1@.service"]


def test_instances_are_grouped_by_release_keeping_the_apps_own() -> None:
    units = ["shop-worker-1@r1.service", "shop-worker-2@r1.service", "shop-worker-1@r2.service", "shop-other-1@r1.service",
             "shop-worker-1@r1.service"]
    assert companions.instances_of(units, ["shop-worker-1@.service", "shop-worker-2@.service"]) == {
        "r1": ["shop-worker-1@r1.service", "shop-worker-2@r1.service"], "r2": ["shop-worker-1@r2.service"]}


def test_list_units_output_gives_the_unit_names() -> None:
    text = ("shop-worker-1@r1.service loaded active running shop worker 1 (release r1)\n"
            "shop-worker-1@r2.service loaded failed failed shop worker 1 (release r2)\n")
    assert companions.parse_list_units(text) == ["shop-worker-1@r1.service", "shop-worker-1@r2.service"]
    assert companions.parse_list_units("") == []


def test_only_the_marked_unit_files_of_the_app_are_found(tmp_path: Path) -> None:
    mark = companions.marker_line("shop")
    (tmp_path / "shop-worker-1@.service").write_text("# Ansible managed\n%s\n[Unit]\n" % mark)
    (tmp_path / "shop-report.timer").write_text("# Ansible managed\n%s\n" % mark)
    (tmp_path / "shop-mine.service").write_text("[Unit]\nDescription=the operator's own\n")
    (tmp_path / "shopx-worker-1@.service").write_text("%s\n" % companions.marker_line("shopx"))
    (tmp_path / "shop.service").write_text("%s\n" % mark)
    assert companions.marked_files(str(tmp_path), "shop") == ["shop-report.timer", "shop-worker-1@.service"]
    assert companions.marked_files(str(tmp_path / "missing"), "shop") == []


def test_enabled_instances_are_read_from_the_wants_directories(tmp_path: Path) -> None:
    wants = tmp_path / "multi-user.target.wants"
    wants.mkdir()
    os.symlink("../shop-worker-1@.service", wants / "shop-worker-1@r1.service")
    os.symlink("/lib/systemd/system/ssh.service", wants / "ssh.service")
    assert companions.wants_instances(str(tmp_path), "shop") == ["shop-worker-1@r1.service"]


@pytest.mark.parametrize("state, why", [
    ({"ActiveState": "active", "NRestarts": "0"}, None),
    ({"ActiveState": "activating", "NRestarts": "0"}, None),
    ({"ActiveState": "active", "NRestarts": "2"}, "it exited and systemd restarted it (2 times)"),
    ({"ActiveState": "failed", "NRestarts": "0", "Result": "exit-code"}, "it is failed (exit-code)"),
    ({"ActiveState": "inactive", "NRestarts": "0", "Result": "success"}, "it is inactive"),
    ({"ActiveState": "activating", "SubState": "auto-restart", "NRestarts": "0", "Result": "exit-code"},
     "it exited (exit-code) and systemd is about to restart it"),
])
def test_a_started_companion_settles_only_while_it_keeps_running(state: dict[str, str], why: str | None) -> None:
    assert companions.settled(state) == why


@pytest.mark.parametrize("command, line", [
    ("celery -A shop worker --concurrency 4", '/r/%i/venv/bin/celery "-A" "shop" "worker" "--concurrency" "4"'),
    (["python", "-m", "shop.consumer"], '/r/%i/venv/bin/python "-m" "shop.consumer"'),
    ("python3 -m shop.consumer", '/r/%i/venv/bin/python "-m" "shop.consumer"'),
    ("/usr/bin/env X=1 arq shop.Worker", '/usr/bin/env "X=1" "arq" "shop.Worker"'),
    # systemd would expand % specifiers and $VARIABLES, and unescape \\ and \": all kept as written.
    ('celery -A shop worker -n "w%h" --x \'$HOME\' "a\\"b"', '/r/%i/venv/bin/celery "-A" "shop" "worker" "-n" "w%%h" "--x" "$$HOME" "a\\"b"'),
])
def test_the_exec_line_runs_the_venvs_program_with_the_words_as_written(command: object, line: str) -> None:
    assert companions.exec_line(command, "/r/%i/venv/bin") == line


def test_an_empty_command_has_no_exec_line() -> None:
    with pytest.raises(ValueError):
        companions.exec_line("", "/venv/bin")
    assert companions.command_argv("celery -A 'my app'") == ["celery", "-A", "my app"] == shlex.split("celery -A 'my app'")


def test_unit_files_are_one_template_an_instance_and_a_service_and_timer_a_job() -> None:
    files = companions.unit_files("shop", "/etc/systemd/system", [{"name": "worker", "command": "x", "instances": 2}],
                                  [{"name": "report", "command": "y", "on_calendar": "daily"}])
    assert [(item["dest"], item["template"]) for item in files] == [
        ("/etc/systemd/system/shop-worker-1@.service", "companion.service.j2"),
        ("/etc/systemd/system/shop-worker-2@.service", "companion.service.j2"),
        ("/etc/systemd/system/shop-report.service", "timer.service.j2"),
        ("/etc/systemd/system/shop-report.timer", "timer.timer.j2")]
    assert files[1]["vars"] == {"__gunicorn_item": {"name": "worker", "command": "x", "instances": 2}, "__gunicorn_index": 2,
                                "__gunicorn_template": "shop-worker-2@.service"}
    assert companions.calendar_argv("daily") == ["systemd-analyze", "calendar", "--iterations=1", "daily"]
