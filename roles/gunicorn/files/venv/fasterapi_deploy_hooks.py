"""gunicorn server hooks of the fasterapi.deploy.gunicorn role.

Installed into each release's virtualenv; the role's ``gunicorn.conf.py``
imports them, so the config file holds settings only::

    from fasterapi_deploy_hooks import child_exit, on_exit, on_starting, pre_exec, when_ready

They make gunicorn's USR2 re-exec a rolling restart that systemd follows:

- ``on_exit``: the old master, exiting after a successful USR2, writes the
  new master's PID into the pid file; systemd (``PIDFile=``) adopts it as
  the unit's main PID, so the unit keeps running and a later stop is graceful.
- ``pre_exec``: the re-executed master starts in the release ``current``
  points to now (gunicorn resolved its working directory at first start),
  and, under socket activation, finds systemd's sockets where
  ``LISTEN_FDS`` says they are (gunicorn closed those fds: issue #1109).
- ``pre_exec`` also gives the new master the environment file as it is
  now (``FASTERAPI_ENVIRONMENT_FILE``, read the way systemd reads it):
  gunicorn would exec it with the environment the first master started
  with, so a changed file would need a full restart. Variables the running
  master got from the file (``FASTERAPI_ENVIRONMENT_KEYS``) and the file no
  longer has are removed; what systemd set itself stays.
- ``on_starting`` / ``child_exit``: with ``PROMETHEUS_MULTIPROC_DIR`` set
  (the role's ``gunicorn_prometheus_multiproc``), a master systemd started
  empties that directory, and the live gauges of every worker that exits
  are removed, as prometheus_client's ``mark_process_dead`` does.
- ``when_ready``: the old master's exit leaves the new master's control
  socket in place (both use one path; gunicorn's cleanup removes the path
  whoever bound it last).

Importing it in a master that a rolling restart started (USR2: gunicorn
sets ``GUNICORN_PID``) also copies what that master and its workers write to
stderr (gunicorn's error log, the app's tracebacks) during their first
minutes into ``startup-<pid>.log`` beside the ready dir, where journald's
rate limit cannot drop it: a failed hand-over shows the new generation's own
error lines from there, however busy the journal is (``start_capture``).

Run as a program, it loads a worker class the way gunicorn will, from a
release (gunicorn --check-config does not)::

    python -m fasterapi_deploy_hooks check-worker-class mypkg.workers.MyWorker /opt/shop/releases/<name>/app

``when_ready`` replaces a private method of gunicorn's arbiter
(``_stop_control_server``). ``check_gunicorn_api`` says whether the
installed gunicorn still has what it relies on; the unit tests run it
against the pinned gunicorn, and ``when_ready`` logs an error and leaves
gunicorn alone when it fails, so a gunicorn upgrade that changes it is
loud, never a broken master.
"""

from __future__ import annotations

import fcntl
import glob
import importlib
import os
import socket
import sys
import time
from typing import IO, Any, Callable, MutableMapping

# plugins/module_utils/systemd_env.py of the collection, installed into the
# venv under this name by the build: one parser for the role's modules and hooks.
from fasterapi_systemd_env import parse_environment, read_environment_file  # noqa: F401  pylint: disable=unused-import

CAPTURE_SECONDS = 300.0
CAPTURE_BYTES = 1 << 20


class StartupCapture:
    """A stderr that also appends what is written to a file, for SECONDS and up to LIMIT characters (per process)."""

    def __init__(self, stream: IO[str], path: str, seconds: float = CAPTURE_SECONDS, limit: int = CAPTURE_BYTES) -> None:
        self._stream, self.path = stream, path
        self._until, self._left = time.monotonic() + seconds, limit
        self._file: IO[str] | None = open(path, "a", encoding="utf-8", errors="replace")  # pylint: disable=consider-using-with

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if self._file is not None:
            if time.monotonic() > self._until or self._left <= 0:
                self._file.close()
                self._file = None
            else:
                try:
                    self._file.write(text[:self._left])
                    self._file.flush()
                except OSError:
                    pass  # the copy is a help for the hand-over, never a reason to fail
                self._left -= len(text)
        return written

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def capture_path(environ: Any = None, pid: int | None = None) -> str:
    """Where this master's startup output goes ("" for a master not started by a rolling restart)."""
    environ = os.environ if environ is None else environ
    ready_dir = environ.get("FASTERAPI_WORKER_READY_DIR", "")
    if not environ.get("GUNICORN_PID") or not ready_dir:
        return ""
    return os.path.join(os.path.dirname(os.path.normpath(ready_dir)), "startup-%d.log" % (pid or os.getpid()))


def start_capture() -> str:
    """Copy this process's stderr into capture_path() for its first minutes; the path ("" when not)."""
    path = capture_path()
    if path and not isinstance(sys.stderr, StartupCapture):
        try:
            sys.stderr = StartupCapture(sys.stderr, path)
        except OSError:
            return ""
    return path if isinstance(sys.stderr, StartupCapture) else ""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_exit(server: Any) -> None:
    """Hand systemd's main PID to the new master before this old one exits.

    After USR2 gunicorn's new master runs as a child of the old one. When
    the old master exits, systemd re-reads ``PIDFile=`` and adopts a live
    PID it finds there that belongs to the unit. gunicorn has removed the
    pid file by now: write the new master's PID, atomically.
    """
    new_master = getattr(server, "reexec_pid", 0)
    pidfile = server.cfg.pidfile
    if not new_master or not pidfile or not _alive(new_master):
        return
    handover = pidfile + ".handover"
    with open(handover, "w", encoding="ascii") as out:
        out.write("%d\n" % new_master)
    os.replace(handover, pidfile)
    server.log.info("Handed the main PID over to the new master %s", new_master)


def venv_python(chdir: str) -> str:
    """The python of the release layout ``<release>/app`` + ``<release>/venv``, by the path of ``chdir``."""
    return os.path.join(os.path.dirname(os.path.normpath(chdir)), "venv", "bin", "python")


def pre_exec(server: Any) -> None:
    """Make a re-exec (USR2) run the release ``current`` points to now.

    gunicorn re-executes the argv and working directory the first master
    was started with, the directory resolved then (the old release). Start
    from ``chdir`` (``current/app``) instead, with the venv's python by its
    path through ``current``. Runs in the forked child, just before the exec.
    """
    chdir = server.cfg.chdir
    server.START_CTX["cwd"] = chdir
    python = venv_python(chdir)
    if os.path.exists(python):
        server.START_CTX[0] = python
        server.START_CTX["args"][0] = python
    environment_for_the_new_master(server)
    if getattr(server, "systemd", False):
        listeners_at_listen_fds_start(server)


ENVIRONMENT_FILE = "FASTERAPI_ENVIRONMENT_FILE"
ENVIRONMENT_KEYS = "FASTERAPI_ENVIRONMENT_KEYS"


def renewed_environment(env: MutableMapping[str, str], path: str) -> list[str]:
    """Give ENV the variables of the environment file at PATH as it is now; the names that changed.

    Variables ENV got from the file before (named by its FASTERAPI_ENVIRONMENT_KEYS)
    that the file no longer has are removed; a missing file has no variables.
    Raises OSError or UnicodeDecodeError when the file cannot be read.
    """
    try:
        now = read_environment_file(path)
    except FileNotFoundError:
        now = {}
    changed = []
    for name in env.get(ENVIRONMENT_KEYS, "").split() + ([ENVIRONMENT_KEYS] if ENVIRONMENT_KEYS in env else []):
        if name not in now and name in env:
            del env[name]
            changed.append(name)
    for name, value in now.items():
        if env.get(name) != value:
            env[name] = value
            changed.append(name)
    return sorted(set(changed))


def environment_for_the_new_master(server: Any) -> None:
    """Put the environment file as it is now into what gunicorn execs the new master with (``cfg.env_orig``).

    This is the forked child: when the file cannot be read it exits, so that
    no master starts with an environment it was not given (the hand-over
    then fails and the running master keeps serving).
    """
    path = os.environ.get(ENVIRONMENT_FILE)
    if not path:
        return
    try:
        changed = renewed_environment(server.cfg.env_orig, path)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        server.log.error("Cannot read the environment file %s for the new master: %s", path, err)
        os._exit(1)
    else:
        if changed:
            # Names only: values may be secrets.
            server.log.info("New master's environment from %s: %s changed", path, ", ".join(changed))


def prometheus_dir() -> str:
    """The directory of prometheus_client's multiprocess mode, if the unit sets one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: Any) -> None:
    """A master systemd started empties the Prometheus multiprocess directory (a rolling restart's master does not)."""
    directory = prometheus_dir()
    if not directory or os.environ.get("GUNICORN_PID"):
        return
    removed = 0
    for path in glob.glob(os.path.join(directory, "*.db")):
        try:
            os.unlink(path)
            removed += 1
        except OSError as err:
            server.log.warning("Cannot remove %s: %s", path, err)
    if removed:
        server.log.info("Removed %d metrics files of an earlier run from %s", removed, directory)


def child_exit(server: Any, worker: Any) -> None:  # pylint: disable=unused-argument
    """Remove the live gauges of a worker that exited (prometheus_client's ``mark_process_dead``)."""
    directory = prometheus_dir()
    if not directory:
        return
    for path in glob.glob(os.path.join(directory, "gauge_live*_%d.db" % worker.pid)):
        try:
            os.unlink(path)
        except OSError:
            pass


def listeners_at_listen_fds_start(server: Any) -> None:
    """Put the sockets systemd passed back where ``LISTEN_FDS`` says they are.

    Under socket activation gunicorn re-executes with ``LISTEN_FDS=<n>``,
    which means fds 3 to 3+n-1, but it closed those fds at start (it keeps
    dups elsewhere): the new master would fail with EBADF. This is the
    forked child: if the sockets cannot be put in place it exits, never
    running on as a second master.
    """
    count = len(server.LISTENERS)
    try:
        # Copies above the target range first, so that no dup2 overwrites a
        # listener still to be moved.
        held = [fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD, 3 + count) for listener in server.LISTENERS]
        for position, fd in enumerate(held):
            os.dup2(fd, 3 + position, inheritable=True)
            os.close(fd)
    except OSError:
        server.log.exception("Cannot pass the listening sockets to the new master")
        os._exit(1)


def check_gunicorn_api(arbiter_class: Any = None, control_server_class: Any = None) -> list[str]:
    """What ``when_ready`` needs of gunicorn's private API (on an arbiter, or its class) and is missing."""
    if arbiter_class is None:
        from gunicorn.arbiter import Arbiter as arbiter_class  # pylint: disable=import-outside-toplevel
    if control_server_class is None:
        try:
            from gunicorn.ctl.server import ControlSocketServer as control_server_class  # pylint: disable=import-outside-toplevel
        except ImportError as err:
            return [f"gunicorn.ctl.server.ControlSocketServer: {err}"]
    missing = []
    if not callable(getattr(arbiter_class, "_stop_control_server", None)):
        missing.append("Arbiter._stop_control_server()")
    if not callable(getattr(control_server_class, "stop", None)):
        missing.append("ControlSocketServer.stop()")
    # Its cleanup must read the path from the attribute when it runs.
    for method in ("stop", "_serve"):
        code = getattr(getattr(control_server_class, method, None), "__code__", None)
        if code is None or "socket_path" not in code.co_names:
            missing.append(f"ControlSocketServer.{method}() reading self.socket_path")
    return missing


class QuietStatsdSocket:
    """The socket of gunicorn's statsd logger, sending without a connection.

    gunicorn connects its UDP socket to the statsd server, so while nothing
    listens there every send fails (the kernel reports the ICMP "port
    unreachable" to a connected socket) and gunicorn logs a warning with a
    traceback for each metric: with per-request metrics, several lines per
    request in the journal. Datagrams sent with ``sendto`` are not told
    about it; what fails all the same (a full buffer, no route) is said at
    most once a minute.
    """

    def __init__(self, family: int, address: Any, log: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.address = address
        self.log = log
        self.clock = clock
        self.said = -3600.0

    def send(self, data: bytes) -> int:
        try:
            return self.sock.sendto(data, self.address)
        except OSError as err:
            now = self.clock()
            if now - self.said >= 60.0:
                self.said = now
                self.log.warning("Cannot send metrics to statsd at %s: %s (said at most once a minute)", self.address, err)
            return 0

    def close(self) -> None:
        self.sock.close()


def quiet_statsd(server: Any) -> None:
    """Give gunicorn's statsd logger (when statsd_host is set) a socket that does not flood the log while statsd is down."""
    log = server.log
    sock = getattr(log, "sock", None)
    address = getattr(server.cfg, "statsd_host", None)
    if sock is None or not isinstance(address, tuple) or isinstance(sock, QuietStatsdSocket):
        return
    log.sock = QuietStatsdSocket(sock.family, address, log)
    sock.close()


def when_ready(server: Any) -> None:
    """Quiet statsd (``quiet_statsd``), and keep the new master's control socket when this master exits after USR2.

    Both masters use one path. The new master unlinks it and binds its own
    socket; then the old master, exiting, unlinks the path again (in
    ``ControlSocketServer.stop`` and in its serving thread) and the new
    master's socket is gone. Just before the old master stops its control
    server, point that server at a path of its own, so its cleanup removes
    nothing the new master owns. Only when a new master is alive: a plain
    stop still cleans up the path.
    """
    quiet_statsd(server)
    if server.cfg.control_socket_disable:
        return
    missing = check_gunicorn_api(server)
    if missing:
        server.log.error("fasterapi_deploy_hooks: this gunicorn lacks %s; the control socket may vanish after a rolling restart",
                         ", ".join(missing))
        return
    stop: Callable[[], None] = server._stop_control_server  # pylint: disable=protected-access

    def stop_leaving_the_successors_socket() -> None:
        control = getattr(server, "_control_server", None)
        successor = getattr(server, "reexec_pid", 0)
        if control is not None and _alive(successor):
            control.socket_path = "%s.retired-%d" % (control.socket_path, os.getpid())
        stop()

    server._stop_control_server = stop_leaving_the_successors_socket  # pylint: disable=protected-access


def worker_class_problem(dotted: str, app_dir: str) -> str:
    """Why DOTTED (module.Class) cannot serve as a gunicorn worker class loaded with APP_DIR on the path; "" when it can."""
    sys.path.insert(0, app_dir)
    module, _dot, name = dotted.rpartition(".")
    if not module:
        return f"{dotted} is not a dotted path module.Class"
    try:
        cls = getattr(importlib.import_module(module), name)
    except Exception as err:  # whatever the import raises is the answer  pylint: disable=broad-exception-caught
        return f"{type(err).__name__}: {err}"
    if not hasattr(cls, "init_process"):
        return f"{dotted} is {cls!r}, not a gunicorn worker class"
    return ""


_USAGE = "usage: python -m fasterapi_deploy_hooks check-worker-class MODULE.CLASS APP_DIR"


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "check-worker-class":
        problem = worker_class_problem(argv[1], argv[2])
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
else:
    # Imported by gunicorn.conf.py, before gunicorn sets up its logging.
    start_capture()
