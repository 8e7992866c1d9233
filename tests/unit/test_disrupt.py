"""The disruption harness finds a process's children and measures recovery under load."""

from __future__ import annotations

import asyncio
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from _load import ROOT, load_module

sys.path.insert(0, str(ROOT / "tests/tools"))
disrupt = load_module("tests/tools/disrupt.py", "disrupt")


def test_children_are_the_live_child_processes() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in disrupt.children(os.getpid())
        assert os.getpid() not in disrupt.children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in disrupt.children(os.getpid())


def test_children_skips_zombies_and_odd_names(tmp_path: Path) -> None:
    for pid, stat in {"10": "10 (a) S 1 0", "11": "11 (b c) d) S 7 0", "12": "12 (z) Z 7 0", "self": "x"}.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(stat)
    assert disrupt.children(7, proc=tmp_path) == {11}


@pytest.fixture()
def server() -> Iterator[tuple[str, list[int]]]:
    """A local HTTP server that answers 200, or 503 while the list holds a 1."""
    state = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b'{"version": "1"}'
            self.send_response(503 if state[0] else 200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/version", state
    httpd.shutdown()


def test_run_measures_recovery_after_the_action(server: tuple[str, list[int]]) -> None:
    url, _port = server
    args = disrupt.parse_args(["--url", url, "--clients", "2", "--lead", "0.3", "--tail", "0.2", "--limit", "5",
                               "--", sys.executable, "-c", "import time; time.sleep(0.2)"])
    report = asyncio.run(disrupt.run(args))
    assert report["action_rc"] == 0
    assert 0.2 <= report["recovered_after"] < 1.0
    assert report["load"]["answered"].get("200", 0) > 0 and report["load"]["failed_total"] == 0


def test_run_reports_no_recovery_within_the_limit(server: tuple[str, list[int]]) -> None:
    url, state = server
    state[0] = 1  # the app answers 503 throughout
    args = disrupt.parse_args(["--url", url, "--clients", "1", "--lead", "0.1", "--tail", "0", "--limit", "0.3", "true"])
    report = asyncio.run(disrupt.run(args))
    assert report["recovered_after"] is None
    assert report["load"]["answered"].get("503", 0) > 0


def test_placeholders_need_a_unit() -> None:
    with pytest.raises(SystemExit):
        disrupt.parse_args(["--url", "http://127.0.0.1:1/", "kill", "-9", "{master}"])
    with pytest.raises(SystemExit):
        disrupt.parse_args(["--url", "http://127.0.0.1:1/", "--expect", "workers", "true"])
