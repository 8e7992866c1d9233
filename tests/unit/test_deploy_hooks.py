"""The gunicorn hooks the role's gunicorn.conf.py imports (roles/gunicorn/files/venv/fasterapi_deploy_hooks.py)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Iterator

import pytest
from _load import load_module, venv_site
from gunicorn.arbiter import Arbiter
from gunicorn.ctl.server import ControlSocketServer

hooks = load_module("roles/gunicorn/files/venv/fasterapi_deploy_hooks.py", "fasterapi_deploy_hooks")


def test_the_pinned_gunicorn_has_what_the_hooks_patch() -> None:
    # A gunicorn upgrade that renames or reshapes these fails here, not in production.
    assert hooks.check_gunicorn_api() == []


def test_a_changed_gunicorn_api_is_reported() -> None:
    class OtherArbiter:
        pass

    class OtherServer:
        def stop(self) -> None:
            pass

    assert hooks.check_gunicorn_api(OtherArbiter, OtherServer) == [
        "Arbiter._stop_control_server()",
        "ControlSocketServer.stop() reading self.socket_path",
        "ControlSocketServer._serve() reading self.socket_path",
    ]


class _Master:
    """Enough of gunicorn's Arbiter to run its real _stop_control_server with a real ControlSocketServer."""

    def __init__(self, path: str, reexec_pid: int) -> None:
        self.log = logging.getLogger("test-master")
        self.cfg = types.SimpleNamespace(control_socket_disable=False, pidfile=None, chdir="/nonexistent/app")
        self.reexec_pid = reexec_pid
        self._control_server: Any = ControlSocketServer(self, path)
        self._stop_control_server = types.MethodType(Arbiter._stop_control_server, self)


def _wait_for(path: str) -> None:
    deadline = time.monotonic() + 5
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.fixture()
def successor() -> Iterator[int]:
    """A live process standing in for the new master."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield child.pid
    child.kill()
    child.wait()


def _rolling_exit(tmp_path: Path, reexec_pid: int, with_hooks: bool) -> tuple[Path, int]:
    """The old master serves the control socket, the new one rebinds the path, the old one exits."""
    path = tmp_path / "gunicorn.ctl"
    master = _Master(str(path), reexec_pid)
    if with_hooks:
        hooks.when_ready(master)
    master._control_server.start()
    _wait_for(str(path))
    # The new master takes the path over, as gunicorn's _serve does: unlink, bind.
    path.unlink()
    new_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    new_socket.bind(str(path))
    new_socket.listen()
    inode = path.stat().st_ino
    master._stop_control_server()
    new_socket.close()
    return path, inode


def test_the_old_masters_exit_keeps_the_new_masters_control_socket(tmp_path: Path, successor: int) -> None:
    path, inode = _rolling_exit(tmp_path, successor, with_hooks=True)
    assert path.exists() and path.stat().st_ino == inode


def test_without_the_hook_gunicorn_removes_the_new_masters_socket(tmp_path: Path, successor: int) -> None:
    # The defect the hook fixes, shown on the pinned gunicorn itself.
    path, _inode = _rolling_exit(tmp_path, successor, with_hooks=False)
    assert not path.exists()


def test_a_plain_stop_still_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "gunicorn.ctl"
    master = _Master(str(path), reexec_pid=0)
    hooks.when_ready(master)
    master._control_server.start()
    _wait_for(str(path))
    master._stop_control_server()
    assert not path.exists()


def test_on_exit_hands_the_pid_file_to_a_live_new_master(tmp_path: Path, successor: int) -> None:
    pidfile = tmp_path / "gunicorn.pid"
    master = types.SimpleNamespace(reexec_pid=successor, cfg=types.SimpleNamespace(pidfile=str(pidfile)),
                                   log=logging.getLogger("test"))
    hooks.on_exit(master)
    assert pidfile.read_text() == f"{successor}\n"
    assert not (tmp_path / "gunicorn.pid.handover").exists()


def test_on_exit_hands_nothing_over_after_a_failed_restart(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    pidfile = tmp_path / "gunicorn.pid"
    for reexec_pid in (0, gone.pid):
        master = types.SimpleNamespace(reexec_pid=reexec_pid, cfg=types.SimpleNamespace(pidfile=str(pidfile)),
                                       log=logging.getLogger("test"))
        hooks.on_exit(master)
        assert not pidfile.exists()


def test_pre_exec_restarts_in_current(tmp_path: Path) -> None:
    (tmp_path / "current" / "venv" / "bin").mkdir(parents=True)
    python = tmp_path / "current" / "venv" / "bin" / "python"
    python.touch()
    master = types.SimpleNamespace(
        cfg=types.SimpleNamespace(chdir=str(tmp_path / "current" / "app")), systemd=False,
        START_CTX={"cwd": "/opt/shop/releases/old/app", 0: "/usr/bin/python3",
                   "args": ["/usr/bin/python3", "/x/gunicorn", "--config", "c.py"]})
    hooks.pre_exec(master)
    assert master.START_CTX["cwd"] == str(tmp_path / "current" / "app")
    assert master.START_CTX[0] == str(python)
    assert master.START_CTX["args"] == [str(python), "/x/gunicorn", "--config", "c.py"]


def test_socket_activation_listeners_move_to_fd_3(tmp_path: Path) -> None:
    # In a child process: the hook dup2s onto fds 3.., which this test process uses.
    script = f"""
import socket, sys, types, os
sys.path.insert(0, {str(venv_site(tmp_path / "site"))!r})
import fasterapi_deploy_hooks as hooks
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]  # fds 3 to 5: the listeners land above
listeners = [socket.socket() for _ in range(2)]
for s in listeners:
    s.bind(("127.0.0.1", 0)); s.listen()
ports = [s.getsockname()[1] for s in listeners]
for fd in held:  # gunicorn closed fds 3.. at start
    os.close(fd)
server = types.SimpleNamespace(LISTENERS=listeners, log=None)
hooks.listeners_at_listen_fds_start(server)
moved = [socket.socket(fileno=os.dup(fd)).getsockname()[1] for fd in (3, 4)]
print(moved == ports, os.get_inheritable(3), os.get_inheritable(4))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.split() == ["True", "True", "True"]


@pytest.mark.parametrize(("dotted", "problem"), [
    ("gunicorn.workers.sync.SyncWorker", ""),
    ("uvicorn_worker.UvicornWorker", ""),
    ("no_such_module.Worker", "ModuleNotFoundError: No module named 'no_such_module'"),
    ("os.path", "os.path is <module"),
    ("json.dumps", "json.dumps is <function dumps"),
    ("Worker", "Worker is not a dotted path module.Class"),
    ("gunicorn.workers.sync.NoSuch", "AttributeError: module 'gunicorn.workers.sync' has no attribute 'NoSuch'"),
])
def test_worker_class_problem(tmp_path: Path, dotted: str, problem: str) -> None:
    found = hooks.worker_class_problem(dotted, str(tmp_path))
    assert found.startswith(problem) if problem else found == ""


def test_a_worker_class_from_the_apps_code(tmp_path: Path) -> None:
    (tmp_path / "myworkers.py").write_text("from uvicorn_worker import UvicornWorker\nclass Mine(UvicornWorker):\n    pass\n")
    installed = str(venv_site(tmp_path / "site") / "fasterapi_deploy_hooks.py")
    out = subprocess.run([sys.executable, installed, "check-worker-class", "myworkers.Mine", str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert (out.returncode, out.stderr) == (0, "")
    out = subprocess.run([sys.executable, installed, "check-worker-class", "myworkers.Other", str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "has no attribute 'Other'" in out.stderr


def test_capture_path_only_in_a_master_a_rolling_restart_started() -> None:
    environ = {"FASTERAPI_WORKER_READY_DIR": "/run/shop/ready"}
    assert hooks.capture_path(environ, pid=42) == ""  # started by systemd
    environ["GUNICORN_PID"] = "7"  # re-executed by the old master 7 (USR2)
    assert hooks.capture_path(environ, pid=42) == "/run/shop/startup-42.log"
    assert hooks.capture_path({"GUNICORN_PID": "7"}, pid=42) == ""


def test_the_capture_copies_stderr_for_a_while_and_up_to_a_limit(tmp_path: Path) -> None:
    import io
    stream = io.StringIO()
    path = tmp_path / "startup-42.log"
    capture = hooks.StartupCapture(stream, str(path), seconds=60, limit=40)
    capture.write("[ERROR] Exception in worker process\n")
    capture.write("Traceback (most recent call last): long enough to pass the limit\n")
    capture.write("not copied any more\n")
    assert stream.getvalue().count("\n") == 3  # stderr itself gets everything
    assert path.read_text() == "[ERROR] Exception in worker process\nTrac"
    assert capture.getvalue() == stream.getvalue()  # anything else goes to the real stream
    late = hooks.StartupCapture(io.StringIO(), str(tmp_path / "late.log"), seconds=0)
    time.sleep(0.01)
    late.write("after the window\n")
    assert (tmp_path / "late.log").read_text() == ""


def test_a_re_executed_master_copies_its_stderr_from_the_config_import(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.mkdir()
    hooks_dir = venv_site(tmp_path / "site")
    code = ("import sys; sys.path.insert(0, %r); import fasterapi_deploy_hooks, os; "
            "print('boom in the new master', file=sys.stderr); print(os.getpid())") % str(hooks_dir)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, GUNICORN_PID="1", FASTERAPI_WORKER_READY_DIR=str(ready)))
    assert done.stderr == "boom in the new master\n"
    assert (tmp_path / f"startup-{done.stdout.strip()}.log").read_text() == "boom in the new master\n"


def test_statsd_sends_quietly_while_nothing_listens() -> None:
    # gunicorn's own connected socket fails each send with ECONNREFUSED and logs a traceback every time.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()
    warnings: list[str] = []
    log = types.SimpleNamespace(warning=lambda message, *args: warnings.append(message % args))
    times = iter([0.0, 1.0, 2.0, 3.0, 61.0, 62.0])
    quiet = hooks.QuietStatsdSocket(socket.AF_INET, address, log, clock=lambda: next(times))
    for _count in range(4):
        quiet.send(b"app.gunicorn.requests:1|c")
    assert warnings == []  # unconnected: the kernel does not report the unreachable port
    quiet.close()


def test_statsd_failures_are_said_once_a_minute() -> None:
    warnings: list[str] = []
    log = types.SimpleNamespace(warning=lambda message, *args: warnings.append(message % args))
    times = iter([0.0, 1.0, 59.0, 61.0])
    quiet = hooks.QuietStatsdSocket(socket.AF_INET, ("127.0.0.1", 8125), log, clock=lambda: next(times))
    quiet.sock.close()  # every send now fails (EBADF)
    for _count in range(4):
        assert quiet.send(b"x:1|c") == 0
    assert len(warnings) == 2 and "said at most once a minute" in warnings[0]


def test_the_statsd_logger_gets_the_quiet_socket_and_still_delivers() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(2)
        address = receiver.getsockname()
        original = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        original.connect(address)
        log = types.SimpleNamespace(sock=original, warning=lambda *a: None)
        server = types.SimpleNamespace(log=log, cfg=types.SimpleNamespace(statsd_host=address))
        hooks.quiet_statsd(server)
        assert isinstance(log.sock, hooks.QuietStatsdSocket) and original.fileno() == -1
        log.sock.send(b"app.gunicorn.workers:2|g")
        assert receiver.recv(100) == b"app.gunicorn.workers:2|g"
        log.sock.close()
