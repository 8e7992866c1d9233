"""plugins/module_utils/host_processes.py: systemctl show and /proc read once, for app_status and the venv's hand-over helper.

The /proc readers are given a directory standing in for /proc; one test reads
the real one, as the hand-over helper does.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from ansible_collections.fasterapi.deploy.plugins.module_utils import host_processes

ROOT = Path(__file__).resolve().parents[4]
SOURCE = ROOT / "plugins" / "module_utils" / "host_processes.py"
ROLE = ROOT / "roles" / "gunicorn"

# As systemd 252 (Debian 12) and 257 (Debian 13) print it (systemctl show -p ExecStart).
EXEC_START = ("{ path=/opt/shop/current/venv/bin/python ; argv[]=/opt/shop/current/venv/bin/python "
              "/opt/shop/current/venv/bin/gunicorn --config /etc/shop/gunicorn.conf.py ; ignore_errors=no ; "
              "start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }")


def fake_proc(root: Path, stats: Dict[int, str], uptime: str = "1000.00 1.0\n") -> str:
    """ROOT as a /proc: `uptime`, a `self` link, and PID/stat holding "(COMMAND) STATE PPID ..." for each PID."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "uptime").write_text(uptime)
    (root / "self").symlink_to("1")
    for pid, after_pid in stats.items():
        (root / str(pid)).mkdir()
        (root / str(pid) / "stat").write_text(f"{pid} {after_pid}\n")
    return str(root)


def stat(ppid: int, state: str = "S", command: str = "python", start: int = 0) -> str:
    """The rest of a stat line after the PID: 17 fields from pgrp to itrealvalue between PPID and the start time."""
    return f"({command}) {state} {ppid} {' '.join(['0'] * 17)} {start} 0 0"


def test_systemctl_show() -> None:
    assert host_processes.show_argv("shop.service", "MainPID,ExecStart") == [
        "systemctl", "show", "shop.service", "--property=MainPID,ExecStart"]
    assert host_processes.parse_show("MainPID=12\nEnvironment=A=1 B=2\nno value here\nTriggeredBy=\n") == {
        "MainPID": "12", "Environment": "A=1 B=2", "TriggeredBy": ""}


def test_parse_show_of_what_gunicorn_restart_reads() -> None:
    # The gunicorn_restart module reads the unit's state with it too.
    assert host_processes.parse_show("ActiveState=active\nMainPID=12\nEnvironment=A=1\n") == {
        "ActiveState": "active", "MainPID": "12", "Environment": "A=1"}


def test_exec_start_argv() -> None:
    assert host_processes.exec_start_argv(EXEC_START) == [
        "/opt/shop/current/venv/bin/python", "/opt/shop/current/venv/bin/gunicorn", "--config", "/etc/shop/gunicorn.conf.py"]
    assert host_processes.exec_start_argv("{ path=/x ; argv[]=/x -v") == ["/x", "-v"]  # the last field, without " ;"
    assert host_processes.exec_start_argv("") == []
    assert host_processes.exec_start_argv("{ path=/x ; ignore_errors=no }") == []


def test_parents_and_children(tmp_path: Path) -> None:
    stats = {1: stat(0), 500: stat(1), 501: stat(500), 502: stat(500, "R"), 503: stat(500, "Z"), 504: stat(500, "X"), 600: stat(1)}
    proc = fake_proc(tmp_path / "proc", stats)
    assert host_processes.parent_of(501, proc) == 500
    assert host_processes.parent_of(502, proc) == 500
    assert host_processes.parent_of(503, proc) is None  # a zombie is gone
    assert host_processes.parent_of(504, proc) is None
    assert host_processes.parent_of(999, proc) is None
    assert host_processes.children_of(500, proc) == [501, 502]
    assert host_processes.children_of(1, proc) == [500, 600]
    assert host_processes.children_of(999, proc) == []


def test_a_command_name_with_parentheses_and_blanks(tmp_path: Path) -> None:
    # The command name is the process's own to choose: the fields are those after its last ")".
    proc = fake_proc(tmp_path / "proc", {500: stat(1), 501: stat(500, command="gunicorn: worker (x) S 1")})
    assert host_processes.parent_of(501, proc) == 500
    assert host_processes.children_of(500, proc) == [501]


@pytest.mark.parametrize("text", ["", "501 (python", "501 (python) S"])
def test_a_stat_cut_short_is_a_process_gone(tmp_path: Path, text: str) -> None:
    proc = fake_proc(tmp_path / "proc", {500: stat(1)})
    (tmp_path / "proc" / "501").mkdir()
    (tmp_path / "proc" / "501" / "stat").write_text(text)
    assert host_processes.parent_of(501, proc) is None
    assert host_processes.children_of(500, proc) == []
    assert host_processes.age_of(501, proc, 100) is None


def test_age(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {500: stat(1, start=10000), 501: stat(500, start=150000)})
    assert host_processes.age_of(500, proc, 100) == 900.0
    assert host_processes.age_of(501, proc, 100) == 0.0  # never below 0
    assert host_processes.age_of(999, proc, 100) is None
    (tmp_path / "proc" / "uptime").write_text("")
    assert host_processes.age_of(500, proc, 100) is None


def test_memory(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path / "proc", {500: stat(1), 501: stat(500), 502: stat(500)})
    (tmp_path / "proc" / "500" / "smaps_rollup").write_text("00400000-7ff [rollup]\nRss: 29000 kB\nPss: 12000 kB\nPss_Anon: 1 kB\n")
    (tmp_path / "proc" / "501" / "status").write_text("Name:\tpython\nVmRSS:\t  4242 kB\n")
    (tmp_path / "proc" / "502" / "smaps_rollup").write_text("Rss: many kB\n")
    assert host_processes.memory_of(500, proc) == {"rss_kib": 29000, "pss_kib": 12000}
    assert host_processes.memory_of(501, proc) == {"rss_kib": 4242, "pss_kib": None}  # no smaps_rollup: RSS from status
    assert host_processes.memory_of(502, proc) == {"rss_kib": None, "pss_kib": None}
    assert host_processes.memory_of(999, proc) == {"rss_kib": None, "pss_kib": None}


def test_the_real_proc_by_default() -> None:
    assert host_processes.parent_of(os.getpid()) == os.getppid()
    assert os.getpid() in host_processes.children_of(os.getppid())
    assert (host_processes.age_of(os.getpid()) or 0.0) >= 0.0
    assert (host_processes.memory_of(os.getpid())["rss_kib"] or 0) > 0


def test_it_runs_as_a_plain_module_of_the_standard_library() -> None:
    # In the app's venv it is fasterapi_host_processes, beside no collection and no Ansible.
    imported = set()
    for node in ast.walk(ast.parse(SOURCE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    spec = importlib.util.spec_from_file_location("fasterapi_host_processes_plain", SOURCE)
    assert spec and spec.loader
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    assert plain.exec_start_argv(EXEC_START)[1] == "/opt/shop/current/venv/bin/gunicorn"


def test_the_build_ships_what_the_venv_files_import() -> None:
    # roles/gunicorn/vars/main.yml names each file the build installs into a release's venv, and its source.
    sources: Dict[str, Any] = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))["_gunicorn_venv_sources"]
    resolved = {name: (ROLE / "files" / source) if "{{" not in source else (ROLE / source.replace("{{ role_path }}/", "")).resolve()
                for name, source in sources.items()}
    assert resolved["fasterapi_host_processes.py"] == SOURCE
    assert all(path.is_file() for path in resolved.values()), resolved
    for name, path in resolved.items():
        for module in re.findall(r"^(?:from|import) (fasterapi_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert module + ".py" in sources, f"{name} imports {module}, which the build does not install"
