"""Zero-downtime rolling restart of a gunicorn master under systemd.

Installed into the app's virtualenv by the fasterapi.deploy.gunicorn role and
run as root by its restart tasks:

    python -m fasterapi_handover --unit APP.service --pidfile /run/APP/gunicorn.pid \\
        --ready-dir /run/APP/ready --workers 5 --health-url http://127.0.0.1:8000/health

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
Prints one JSON object either way.

With --systemd-reload it runs as the unit's ExecReload= (``systemctl reload``):
systemd reads the pid file for the new main PID only once the reload command
has finished, so the MainPID check is left to systemd then.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import Any


class HandoverError(Exception):
    """The rolling restart failed; the message says where."""


def systemd_show(unit: str) -> dict[str, str]:
    out = subprocess.run(
        ["systemctl", "show", unit, "--property=MainPID,ActiveState,SubState,Result"],
        check=True, capture_output=True, text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def parent_of(pid: int) -> int | None:
    """The parent PID of a live process, or None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1])


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == pid:
            kids.append(int(entry))
    return sorted(kids)


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


def handover(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    statuses = set(args.health_status)
    before = systemd_show(args.unit)
    old = int(before.get("MainPID", "0"))
    running = ("active", "reloading") if args.systemd_reload else ("active",)
    if before.get("ActiveState") not in running or old <= 0:
        raise HandoverError(f"{args.unit} is not running (ActiveState={before.get('ActiveState')}, MainPID={old})")
    ok, said = healthy(args.health_url, statuses, args.health_unix_socket)
    if not ok:
        raise HandoverError(f"{args.unit} is not healthy before the restart ({args.health_url}: {said}); not touching it")
    old_workers = children_of(old)
    pidfile2 = args.pidfile + ".2"

    os.kill(old, signal.SIGUSR2)
    signalled = time.monotonic()
    new = None
    stable_set: list[int] = []
    stable_since = signalled
    deadline = signalled + args.timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise HandoverError(f"the new generation did not become ready within {args.timeout:g} s")
            if parent_of(old) is None:
                raise HandoverError(f"the old master {old} died during the restart")
            candidate = read_pid(pidfile2)
            if new is None and candidate and parent_of(candidate) == old:
                new = candidate
            if new is not None:
                if parent_of(new) != old:
                    raise HandoverError(f"the new master {new} exited before it was ready (see its journal lines)")
                workers = children_of(new)
                if args.ready_dir:
                    ready = [w for w in workers if os.path.exists(os.path.join(args.ready_dir, str(w)))]
                else:
                    # A worker class that does not report readiness: the same
                    # full set of workers alive for a second is the best sign.
                    if workers != stable_set:
                        stable_set, stable_since = workers, time.monotonic()
                    ready = workers if time.monotonic() - stable_since >= 1.0 else []
                if len(ready) >= args.workers:
                    ok, said = healthy(args.health_url, statuses, args.health_unix_socket)
                    if ok:
                        break
            time.sleep(0.05)
    except HandoverError:
        # stop_new_master touches only a live child of the old master.
        stop_new_master(new or read_pid(pidfile2) or 0, old, args.graceful_timeout)
        stale = read_pid(pidfile2)
        if stale is not None and parent_of(stale) != old:
            try:
                os.unlink(pidfile2)  # gunicorn leaves it behind when the new master dies
            except OSError:
                pass
        raise
    ready_after = time.monotonic() - signalled

    os.kill(old, signal.SIGTERM)
    if not wait_gone(old, args.graceful_timeout + 10):
        raise HandoverError(f"the old master {old} did not exit within graceful_timeout + 10 s")
    retired = time.monotonic()
    # systemd adopts the PID the old master's on_exit hook wrote; the new
    # master renames PIDFILE.2 over the pid file within about a second.
    after: dict[str, str] = {}
    while time.monotonic() - retired < 10:
        after = systemd_show(args.unit)
        main_pid_ok = args.systemd_reload or after.get("MainPID") == str(new)
        if main_pid_ok and read_pid(args.pidfile) == new and not os.path.exists(pidfile2):
            break
        time.sleep(0.1)
    problems = []
    if after.get("ActiveState") not in running:
        problems.append(f"unit is {after.get('ActiveState')}/{after.get('SubState')}")
    if not args.systemd_reload and after.get("MainPID") != str(new):
        problems.append(f"systemd's MainPID is {after.get('MainPID')}, not the new master {new}")
    if read_pid(args.pidfile) != new:
        problems.append(f"{args.pidfile} names {read_pid(args.pidfile)}, not {new}")
    left = [w for w in old_workers if parent_of(w) is not None]
    if left:
        problems.append(f"old workers still running: {left}")
    ok, said = healthy(args.health_url, statuses, args.health_unix_socket)
    if not ok:
        problems.append(f"{args.health_url}: {said}")
    if problems:
        raise HandoverError("after the hand-over: " + "; ".join(problems))
    return {
        "changed": True, "strategy": "rolling", "old_master": old, "new_master": new,
        "new_workers": children_of(new), "seconds_to_ready": round(ready_after, 3),
        "seconds_total": round(time.monotonic() - started, 3),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--ready-dir", default="",
                        help="where fasterapi_deploy_worker workers mark themselves ready; empty for other worker classes")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--health-url", required=True)
    parser.add_argument("--health-unix-socket", default=None, help="send the health request over this unix socket")
    parser.add_argument("--health-status", type=int, action="append", default=None)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the new generation to be ready")
    parser.add_argument("--graceful-timeout", type=float, default=30.0)
    parser.add_argument("--systemd-reload", action="store_true",
                        help="run as ExecReload=: systemd adopts the new main PID after this command ends")
    args = parser.parse_args(argv)
    args.health_status = args.health_status or [200]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = handover(args)
    except HandoverError as err:
        print(json.dumps({"failed": True, "strategy": "rolling", "msg": str(err)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
