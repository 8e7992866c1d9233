"""The environment file: written by the role (environment.j2, systemd_env_quote), read by systemd and by the hooks.

The hooks' parser follows systemd's (env-file.c); the molecule scenario
``operate`` checks on real systemd that the app sees what was written.
"""

from __future__ import annotations

import glob
import os
import types
from pathlib import Path
from typing import Any

import jinja2
import pytest
from _load import ROOT, load_module
from ansible_collections.fasterapi.deploy.plugins.filter import gunicorn as filters

hooks = load_module("roles/gunicorn/files/venv/fasterapi_deploy_hooks.py", "fasterapi_deploy_hooks")

PEM = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"
TRICKY = {
    "PEM_KEY": PEM,
    "QUOTES": 'say "hi" and \'bye\'',
    "BACKSLASHES": "C:\\temp\\new \\n not a newline \\",
    "SHELLISH": "$HOME `id` ${PATH} $(true)",
    "SPACES": "  leading and trailing  ",
    "TABS_CR": "a\tb\r\nc",
    "UNICODE": "päss wörd ✓ 秘密",
    "HASH": "#not a comment; nor this",
    "EQUALS": "a=b==c",
    "EMPTY": "",
    "NUMBER": 5,
    "FLAG": True,
}


def render(environment: dict[str, Any]) -> str:
    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    jinja.filters["fasterapi.deploy.systemd_env_quote"] = filters.systemd_env_quote
    template = jinja.from_string((ROOT / "roles/gunicorn/templates/environment.j2").read_text(encoding="utf-8"))
    return template.render(gunicorn_environment=environment, ansible_managed="Ansible managed")


def test_every_value_the_role_writes_reads_back_exactly() -> None:
    parsed = hooks.parse_environment(render(TRICKY))
    expected = {name: str(value) for name, value in TRICKY.items()}
    assert parsed == {**expected, "FASTERAPI_ENVIRONMENT_KEYS": " ".join(sorted(TRICKY))}
    assert parsed["PEM_KEY"].count("\n") == 3 and "\\n" not in parsed["PEM_KEY"]


def test_an_empty_environment_still_names_its_keys() -> None:
    assert hooks.parse_environment(render({})) == {"FASTERAPI_ENVIRONMENT_KEYS": ""}


@pytest.mark.parametrize("value", ["nul\x00inside", "lone \udc80 surrogate"])
def test_values_no_environment_can_hold_are_refused(value: str) -> None:
    with pytest.raises(Exception, match="NUL|Unicode"):
        filters.systemd_env_quote(value)


@pytest.mark.parametrize(("text", "expected"), [
    # systemd's own rules, as env-file.c applies them
    ("A=plain value   \n", {"A": "plain value"}),
    ("A = spaced\n", {"A": "spaced"}),
    ("A='single \\n $kept'\n", {"A": "single \\n $kept"}),
    ('A="double \\q kept, \\" \\\\ \\$ \\` unescaped"\n', {"A": 'double \\q kept, " \\ $ ` unescaped'}),
    ('A="two\nlines"\n', {"A": "two\nlines"}),
    ('A="joined \\\nline"\n', {"A": "joined line"}),
    ("A=continued \\\nline\n", {"A": "continued line"}),
    ("A=esc\\aped\n", {"A": "escaped"}),
    ("# comment\n; another\n  B=1\nnovalue\nC=\n", {"B": "1", "C": ""}),
    ('A="json \\n stays"\n', {"A": "json \\n stays"}),  # what the role's files before 0.8.0 gave the app
    ("A=last line without newline", {"A": "last line without newline"}),
])
def test_parses_as_systemd_does(text: str, expected: dict[str, str]) -> None:
    assert hooks.parse_environment(text) == expected


def write(path: Path, environment: dict[str, Any]) -> None:
    path.write_text(render(environment), encoding="utf-8")


def test_the_new_master_gets_the_file_as_it_is_now(tmp_path: Path) -> None:
    env_file = tmp_path / "environment"
    write(env_file, {"KEEP": "1", "CHANGE": "old", "DROP": "x"})
    env = {"PATH": "/venv/bin", "INVOCATION_ID": "abc", **hooks.parse_environment(env_file.read_text(encoding="utf-8"))}
    write(env_file, {"KEEP": "1", "CHANGE": "new\nline", "ADD": PEM})

    changed = hooks.renewed_environment(env, str(env_file))

    assert env == {"PATH": "/venv/bin", "INVOCATION_ID": "abc", "KEEP": "1", "CHANGE": "new\nline", "ADD": PEM,
                   "FASTERAPI_ENVIRONMENT_KEYS": "ADD CHANGE KEEP"}
    assert changed == ["ADD", "CHANGE", "DROP", "FASTERAPI_ENVIRONMENT_KEYS"]


def test_a_removed_file_takes_its_variables_away_and_nothing_else(tmp_path: Path) -> None:
    env = {"PATH": "/venv/bin", "A": "1", "FASTERAPI_ENVIRONMENT_KEYS": "A"}
    assert hooks.renewed_environment(env, str(tmp_path / "gone")) == ["A", "FASTERAPI_ENVIRONMENT_KEYS"]
    assert env == {"PATH": "/venv/bin"}


def test_variables_set_before_the_keys_were_recorded_stay(tmp_path: Path) -> None:
    # A master started from a file of an older role version: nothing says which names were the file's.
    env_file = tmp_path / "environment"
    write(env_file, {"B": "2"})
    env = {"A": "1"}
    hooks.renewed_environment(env, str(env_file))
    assert env == {"A": "1", "B": "2", "FASTERAPI_ENVIRONMENT_KEYS": "B"}


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)

    error = warning = info


def server_with(env_orig: dict[str, str]) -> Any:
    return types.SimpleNamespace(cfg=types.SimpleNamespace(env_orig=env_orig), log=Log())


def test_pre_exec_part_logs_names_never_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "environment"
    write(env_file, {"SECRET": "hunter2"})
    monkeypatch.setenv("FASTERAPI_ENVIRONMENT_FILE", str(env_file))
    server = server_with({})
    hooks.environment_for_the_new_master(server)
    assert server.cfg.env_orig["SECRET"] == "hunter2"
    assert server.log.lines == [f"New master's environment from {env_file}: FASTERAPI_ENVIRONMENT_KEYS, SECRET changed"]


def test_an_unreadable_file_stops_the_new_master_before_it_execs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "environment"
    env_file.write_bytes(b"A=\xff\xfe\n")
    monkeypatch.setenv("FASTERAPI_ENVIRONMENT_FILE", str(env_file))
    exits: list[int] = []
    monkeypatch.setattr(hooks.os, "_exit", exits.append)
    server = server_with({"A": "1"})
    hooks.environment_for_the_new_master(server)
    assert exits == [1]
    assert "Cannot read the environment file" in server.log.lines[0]


def test_prometheus_dir_is_emptied_by_a_first_master_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("counter_11.db", "gauge_livesum_11.db", "histogram_12.db"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("GUNICORN_PID", "7")  # a rolling restart's master: the old workers still write here
    hooks.on_starting(server_with({}))
    assert len(os.listdir(tmp_path)) == 3
    monkeypatch.delenv("GUNICORN_PID")
    hooks.on_starting(server_with({}))
    assert os.listdir(tmp_path) == []


def test_a_dead_worker_leaves_its_counters_and_loses_its_live_gauges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["counter_11.db", "gauge_livesum_11.db", "gauge_liveall_11.db", "gauge_all_11.db", "gauge_livesum_111.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    hooks.child_exit(server_with({}), types.SimpleNamespace(pid=11))
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*"))) == [
        "counter_11.db", "gauge_all_11.db", "gauge_livesum_111.db"]
