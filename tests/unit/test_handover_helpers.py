"""Helpers of roles/gunicorn/files/venv/fasterapi_handover.py, on real processes and sockets."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from _load import load_module

handover = load_module("roles/gunicorn/files/venv/fasterapi_handover.py", "fasterapi_handover")


def test_parent_and_children_of_a_real_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert handover.parent_of(child.pid) == os.getpid()
        assert child.pid in handover.children_of(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert handover.parent_of(child.pid) is None


def test_a_zombie_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert handover.wait_gone(child.pid, 5.0)  # exited, not yet reaped: a zombie
    child.wait()


def test_read_pid(tmp_path: Path) -> None:
    (tmp_path / "ok").write_text("1234\n")
    (tmp_path / "bad").write_text("x\n")
    assert handover.read_pid(str(tmp_path / "ok")) == 1234
    assert handover.read_pid(str(tmp_path / "bad")) is None
    assert handover.read_pid(str(tmp_path / "missing")) is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def tcp_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_healthy_over_tcp(tcp_server: int) -> None:
    assert handover.healthy(f"http://127.0.0.1:{tcp_server}/health", {200}) == (True, "HTTP 200")
    assert handover.healthy(f"http://127.0.0.1:{tcp_server}/other", {200}) == (False, "HTTP 503")
    ok, said = handover.healthy("http://127.0.0.1:1/health", {200}, timeout=1.0)
    assert not ok and said


def test_healthy_over_a_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")

    class UnixServer(http.server.ThreadingHTTPServer):
        address_family = socket.AF_UNIX

        def server_bind(self) -> None:
            self.socket.bind(self.server_address)

        def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
            conn, _address = self.socket.accept()
            return conn, ("local", 0)

    server = UnixServer(path, _Handler)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert handover.healthy("http://localhost/health", {200}, unix_socket=path) == (True, "HTTP 200")
    finally:
        server.shutdown()


def _settings(pidfile: str = "/nonexistent", timeout: float = 60.0, capture_dir: str = "") -> object:
    return handover.Settings(config="/etc/x/gunicorn.conf.py", workers=1, pidfile=pidfile, graceful_timeout=1.0,
                             worker_class="sync", health_url="http://127.0.0.1:1/", health_unix_socket=None,
                             health_status=[200], rolling_timeout=timeout, ready_dir="", capture_dir=capture_dir)


def test_not_running_unit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handover, "systemd_show", lambda unit: {"ActiveState": "inactive", "MainPID": "0"})
    with pytest.raises(handover.HandoverError, match="is not running"):
        handover.handover("x.service", _settings())


def test_a_new_generation_that_never_gets_ready_is_given_up_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The "old master": a process that ignores USR2, as if its new master died at once.
    old = subprocess.Popen([sys.executable, "-c",
                            "import signal, time; signal.signal(signal.SIGUSR2, signal.SIG_IGN); time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        pidfile = tmp_path / "gunicorn.pid"
        pidfile.write_text(f"{old.pid}\n")
        (tmp_path / "gunicorn.pid.2").write_text(f"{dead.pid}\n")  # stale, as gunicorn leaves it
        monkeypatch.setattr(handover, "systemd_show", lambda unit: {"ActiveState": "active", "MainPID": str(old.pid)})
        monkeypatch.setattr(handover, "healthy", lambda *a, **k: (True, "HTTP 200"))
        time.sleep(0.2)  # let the child install its USR2 handler
        # What the new master copied of its stderr (fasterapi_deploy_hooks), and a file an earlier hand-over left.
        (tmp_path / "startup-1.log").write_text("stale line from an earlier hand-over\n")
        real_handover = handover._handover

        def new_master_writes(*args: Any, **kwargs: Any) -> Any:
            (tmp_path / f"startup-{dead.pid}.log").write_text("[ERROR] Exception in worker process\nRuntimeError: boom\n")
            return real_handover(*args, **kwargs)

        monkeypatch.setattr(handover, "_handover", new_master_writes)
        with pytest.raises(handover.HandoverFailed, match="did not become ready") as failed:
            handover.handover("x.service", _settings(str(pidfile), timeout=0.5, capture_dir=str(tmp_path)))
        assert failed.value.output == ["[ERROR] Exception in worker process", "RuntimeError: boom"]
        assert not list(tmp_path.glob("startup-*.log"))
        assert not (tmp_path / "gunicorn.pid.2").exists()
        assert handover.parent_of(old.pid) == os.getpid()  # the old master was left alone
    finally:
        old.kill()
        old.wait()
