"""Zero-downtime rolling restart of a gunicorn master under systemd.

Installed into the app's virtualenv by the fasterapi.deploy.gunicorn role and
run by its restart tasks (as root) and by the unit's ExecReload= (as the app
user)::

    python -m fasterapi_handover --unit APP.service             # rolling restart
    python -m fasterapi_handover --unit APP.service --wait 60   # wait until the app answers

Everything it waits for comes from the host, never from the caller: the
unit's ExecStart= names the gunicorn.conf.py the new master will load (read
the way gunicorn reads it: config file, GUNICORN_CMD_ARGS from the unit's
environment, then the command line), which gives the worker count, the
first TCP or unix bind to probe, the pid file and graceful_timeout; the
health path, accepted statuses and rolling timeout are the config's
``fasterapi_*`` names (gunicorn ignores names it does not know); the ready
dir is the unit's FASTERAPI_WORKER_READY_DIR.

1. Reads systemd's MainPID (the old master) and checks the unit is active.
2. Sends USR2: the old master forks a new master with the new code and venv.
3. Waits until the new master (PIDFILE.2, a child of the old one) runs and
   each of its workers has finished its ASGI lifespan startup (a file per
   worker in the ready dir, written by fasterapi_deploy_worker), then checks
   the health URL.
4. Sends TERM to the old master (not WINCH: gunicorn ignores WINCH unless
   daemonized). Its workers finish their in-flight requests within
   graceful_timeout; its on_exit hook writes the new master's PID into the
   pid file, which systemd (PIDFile=) adopts as the new main PID.
5. Verifies: unit active, MainPID = new master = pid file, old processes gone.

If the new generation does not come up (import error, failed startup, crash
loop, timeout), it stops the new master only, removes its stale PIDFILE.2
and exits 1: the old master keeps serving and stays systemd's main PID.
Prints one JSON object either way, with what it read from the host.

With --systemd-reload it runs as the unit's ExecReload= (``systemctl reload``):
systemd reads the pid file for the new main PID only once the reload command
has finished, so the MainPID check is left to systemd then.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import runpy
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import Any

# plugins/module_utils/host_processes.py of the collection, installed into the
# venv under this name by the build: one reader of systemd and /proc for this
# tool and the fasterapi.deploy.app_status module.
from fasterapi_host_processes import children_of, exec_start_argv, parent_of, parse_show, show_argv


class HandoverError(Exception):
    """The rolling restart failed; the message says where."""


def systemd_show(unit: str, properties: str = "MainPID,ActiveState,SubState,Result") -> dict[str, str]:
    """PROPERTIES of UNIT as systemctl show prints them (a failing systemctl raises CalledProcessError)."""
    return parse_show(subprocess.run(show_argv(unit, properties), check=True, capture_output=True, text=True).stdout)


@dataclasses.dataclass
class Settings:
    """What the hand-over waits for, as the host's unit and gunicorn.conf.py say."""

    config: str
    workers: int
    pidfile: str
    graceful_timeout: float
    worker_class: str
    health_url: str
    health_unix_socket: str | None
    health_status: list[int]
    rolling_timeout: float
    ready_dir: str
    # Where new masters copy their startup output (fasterapi_deploy_hooks): beside the unit's ready dir.
    capture_dir: str = ""

    def public(self) -> dict[str, Any]:
        """The settings worth showing the operator."""
        return {"config": self.config, "workers": self.workers, "health_url": self.health_url,
                "health_unix_socket": self.health_unix_socket, "worker_class": self.worker_class}


def unit_environment(environment: str) -> dict[str, str]:
    """systemctl show's Environment= value (assignments, quoted where they hold spaces) as a dict."""
    pairs = (item.split("=", 1) for item in shlex.split(environment))
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def gunicorn_arguments(argv: list[str]) -> list[str]:
    """The arguments after the gunicorn script (or `-m gunicorn`) in a command line."""
    for position, arg in enumerate(argv):
        if os.path.basename(arg) == "gunicorn":
            return argv[position + 1:]
    raise HandoverError(f"the unit's ExecStart= does not run gunicorn: {' '.join(argv)}")


def probe_target(bind: list[str]) -> tuple[str, str | None]:
    """The health URL's origin and unix socket for the first TCP or unix bind (wildcards probed on loopback)."""
    for address in bind:
        if address.startswith("fd://"):
            continue
        if address.startswith("unix:"):
            return "http://localhost", address[len("unix:"):]
        host, port = address, "8000"
        if address.startswith("["):
            host, _bracket, rest = address[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else port
        elif address.count(":") == 1:
            host, port = address.split(":")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}", None
    raise HandoverError(f"no TCP or unix address to probe in bind={bind!r}")


def load_settings(unit: str) -> Settings:
    """Read the hand-over's settings from the unit and the gunicorn.conf.py it names.

    The same order as gunicorn's own: the config file, then GUNICORN_CMD_ARGS,
    then the command line.
    """
    from gunicorn.config import Config  # the release's gunicorn: pylint: disable=import-outside-toplevel

    shown = systemd_show(unit, "ExecStart,Environment,LoadState")
    if shown.get("LoadState") != "loaded":
        raise HandoverError(f"{unit} is not installed (LoadState={shown.get('LoadState')})")
    environment = unit_environment(shown.get("Environment", ""))
    cfg = Config()
    parser = cfg.parser()
    argv = exec_start_argv(shown.get("ExecStart", ""))
    if not argv:
        raise HandoverError(f"cannot read the unit's ExecStart= ({shown.get('ExecStart', '')!r})")
    args = parser.parse_args(gunicorn_arguments(argv))
    env_args = parser.parse_args(shlex.split(environment.get("GUNICORN_CMD_ARGS", "")))
    config = args.config or env_args.config
    if not config:
        raise HandoverError(f"{unit} starts gunicorn without --config: no gunicorn.conf.py to read")
    config = config[len("file:"):] if config.startswith("file:") else config
    try:
        names = runpy.run_path(config)
    except Exception as err:  # the config is Python: any error is the config's
        raise HandoverError(f"cannot load {config}: {type(err).__name__}: {err}") from err
    for name, value in names.items():
        if name in cfg.settings:
            cfg.set(name.lower(), value)
    for source in (env_args, args):
        for name, value in vars(source).items():
            if value is not None and name != "args":
                cfg.set(name.lower(), value)
    if "fasterapi_health_path" not in names:
        raise HandoverError(f"{config} has no fasterapi_health_path: it was written by an older fasterapi.deploy;"
                            " apply the role (the site playbook) once to rewrite it")
    if not cfg.pidfile:
        raise HandoverError(f"{config} sets no pidfile: the hand-over needs one")
    origin, unix_socket = probe_target(list(cfg.bind))
    worker_class = cfg.worker_class_str
    return Settings(
        config=config, workers=int(cfg.workers), pidfile=cfg.pidfile, graceful_timeout=float(cfg.graceful_timeout),
        worker_class=worker_class, health_url=origin + names["fasterapi_health_path"], health_unix_socket=unix_socket,
        health_status=[int(status) for status in names.get("fasterapi_health_status", [200])],
        rolling_timeout=float(names.get("fasterapi_rolling_timeout", 60)),
        ready_dir=environment.get("FASTERAPI_WORKER_READY_DIR", "") if worker_class.startswith("fasterapi_deploy_worker.") else "",
        capture_dir=os.path.dirname(os.path.normpath(environment["FASTERAPI_WORKER_READY_DIR"]))
        if environment.get("FASTERAPI_WORKER_READY_DIR") else "",
    )


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (a gunicorn bind of unix:/path)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def healthy(url: str, statuses: set[int], unix_socket: str | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """GET the health URL on a fresh connection (over a unix socket if given)."""
    parts = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if unix_socket:
        conn = UnixHTTPConnection(unix_socket, timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                     headers={"Connection": "close"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as err:
        return False, str(err) or type(err).__name__
    finally:
        conn.close()
    return status in statuses, f"HTTP {status}"


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if parent_of(pid) is None:
            return True
        time.sleep(0.05)
    return parent_of(pid) is None


def stop_new_master(new: int, old: int, grace: float) -> None:
    """Stop the new master (only if it is still the old master's child)."""
    if parent_of(new) != old:
        return
    os.kill(new, signal.SIGTERM)
    if not wait_gone(new, grace):
        os.kill(new, signal.SIGKILL)
        wait_gone(new, 5.0)


def startup_files(run_dir: str) -> list[str]:
    """The startup-<pid>.log files that new masters' fasterapi_deploy_hooks write in RUN_DIR."""
    if not run_dir:
        return []
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    return sorted(os.path.join(run_dir, name) for name in names if name.startswith("startup-") and name.endswith(".log"))


def startup_output(run_dir: str, lines: int = 200) -> list[str]:
    """The last LINES lines the new generation wrote to stderr (its own copy, which journald cannot drop)."""
    output: list[str] = []
    for path in startup_files(run_dir):
        try:
            with open(path, encoding="utf-8", errors="replace") as captured:
                output += captured.read().splitlines()
        except OSError:
            pass
    return output[-lines:]


def remove_startup_files(run_dir: str) -> None:
    for path in startup_files(run_dir):
        try:
            os.unlink(path)
        except OSError:
            pass


class HandoverFailed(HandoverError):
    """A failed hand-over, with what the new generation wrote to stderr."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output


def handover(unit: str, conf: Settings, systemd_reload: bool = False) -> dict[str, Any]:
    """The rolling restart (steps 1 to 5 above), with the new generation's output when it fails (HandoverFailed)."""
    remove_startup_files(conf.capture_dir)  # left by an earlier hand-over
    try:
        return _handover(unit, conf, systemd_reload)
    except HandoverError as err:
        raise HandoverFailed(str(err), startup_output(conf.capture_dir)) from err
    finally:
        remove_startup_files(conf.capture_dir)


def _handover(unit: str, conf: Settings, systemd_reload: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    statuses = set(conf.health_status)
    before = systemd_show(unit)
    old = int(before.get("MainPID", "0"))
    running = ("active", "reloading") if systemd_reload else ("active",)
    if before.get("ActiveState") not in running or old <= 0:
        raise HandoverError(f"{unit} is not running (ActiveState={before.get('ActiveState')}, MainPID={old})")
    ok, said = healthy(conf.health_url, statuses, conf.health_unix_socket)
    if not ok:
        raise HandoverError(f"{unit} is not healthy before the restart ({conf.health_url}: {said}); not touching it")
    old_workers = children_of(old)
    pidfile2 = conf.pidfile + ".2"

    os.kill(old, signal.SIGUSR2)
    signalled = time.monotonic()
    new = None
    stable_set: list[int] = []
    stable_since = signalled
    deadline = signalled + conf.rolling_timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise HandoverError(f"the new generation did not become ready within {conf.rolling_timeout:g} s")
            if parent_of(old) is None:
                raise HandoverError(f"the old master {old} died during the restart")
            candidate = read_pid(pidfile2)
            if new is None and candidate and parent_of(candidate) == old:
                new = candidate
            if new is not None:
                if parent_of(new) != old:
                    raise HandoverError(f"the new master {new} exited before it was ready")
                workers = children_of(new)
                if conf.ready_dir:
                    ready = [w for w in workers if os.path.exists(os.path.join(conf.ready_dir, str(w)))]
                else:
                    # A worker class that does not report readiness: the same
                    # full set of workers alive for a second is the best sign.
                    if workers != stable_set:
                        stable_set, stable_since = workers, time.monotonic()
                    ready = workers if time.monotonic() - stable_since >= 1.0 else []
                if len(ready) >= conf.workers:
                    ok, said = healthy(conf.health_url, statuses, conf.health_unix_socket)
                    if ok:
                        break
            time.sleep(0.05)
    except HandoverError:
        # stop_new_master touches only a live child of the old master.
        stop_new_master(new or read_pid(pidfile2) or 0, old, conf.graceful_timeout)
        stale = read_pid(pidfile2)
        if stale is not None and parent_of(stale) != old:
            try:
                os.unlink(pidfile2)  # gunicorn leaves it behind when the new master dies
            except OSError:
                pass
        raise
    ready_after = time.monotonic() - signalled

    os.kill(old, signal.SIGTERM)
    if not wait_gone(old, conf.graceful_timeout + 10):
        raise HandoverError(f"the old master {old} did not exit within graceful_timeout + 10 s")
    retired = time.monotonic()
    # systemd adopts the PID the old master's on_exit hook wrote; the new
    # master renames PIDFILE.2 over the pid file within about a second.
    after: dict[str, str] = {}
    while time.monotonic() - retired < 10:
        after = systemd_show(unit)
        main_pid_ok = systemd_reload or after.get("MainPID") == str(new)
        if main_pid_ok and read_pid(conf.pidfile) == new and not os.path.exists(pidfile2):
            break
        time.sleep(0.1)
    problems = []
    if after.get("ActiveState") not in running:
        problems.append(f"unit is {after.get('ActiveState')}/{after.get('SubState')}")
    if not systemd_reload and after.get("MainPID") != str(new):
        problems.append(f"systemd's MainPID is {after.get('MainPID')}, not the new master {new}")
    if read_pid(conf.pidfile) != new:
        problems.append(f"{conf.pidfile} names {read_pid(conf.pidfile)}, not {new}")
    left = [w for w in old_workers if parent_of(w) is not None]
    if left:
        problems.append(f"old workers still running: {left}")
    ok, said = healthy(conf.health_url, statuses, conf.health_unix_socket)
    if not ok:
        problems.append(f"{conf.health_url}: {said}")
    if problems:
        raise HandoverError("after the hand-over: " + "; ".join(problems))
    return {
        "changed": True, "strategy": "rolling", "old_master": old, "new_master": new,
        "new_workers": children_of(new), "seconds_to_ready": round(ready_after, 3),
        "seconds_total": round(time.monotonic() - started, 3), **conf.public(),
    }


def wait_healthy(conf: Settings, timeout: float) -> dict[str, Any]:
    """Request the health URL until it answers with an accepted status, for at most TIMEOUT seconds."""
    started = time.monotonic()
    statuses = set(conf.health_status)
    while True:
        ok, said = healthy(conf.health_url, statuses, conf.health_unix_socket)
        waited = time.monotonic() - started
        if ok:
            return {"changed": False, "healthy": True, "said": said, "seconds": round(waited, 3), **conf.public()}
        if waited >= timeout:
            raise HandoverError(f"{conf.health_url} did not answer with {' or '.join(map(str, conf.health_status))}"
                                f" within {timeout:g} s; last try: {said}")
        # A fifth of a second: a service that has just started answers within
        # one or two seconds, and each wait costs the deploy the rest of a poll.
        time.sleep(0.2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", required=True, help="the app's service unit, e.g. shop.service")
    parser.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="no restart: wait until the app answers its health path, for at most SECONDS")
    parser.add_argument("--systemd-reload", action="store_true",
                        help="run as ExecReload=: systemd adopts the new main PID after this command ends")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conf: Settings | None = None
    try:
        conf = load_settings(args.unit)
        result = wait_healthy(conf, args.wait) if args.wait is not None else handover(args.unit, conf, args.systemd_reload)
    except HandoverError as err:
        failed: dict[str, Any] = {"failed": True, "msg": str(err), **(conf.public() if conf else {})}
        if isinstance(err, HandoverFailed):
            failed["output"] = err.output
        if args.wait is None:
            failed["strategy"] = "rolling"
        print(json.dumps(failed))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
