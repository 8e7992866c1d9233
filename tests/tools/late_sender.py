"""Clients slower than any fixed pause: connections accepted before a hand-over, their request sent late.

Run on the host as root, stdlib only:

    python3 late_sender.py [--unit fasterapi] [--port 8000] [--connections 20] [--late 1.0]

Opens CONNECTIONS connections to the app and sends nothing on them, so the
running workers accept them and wait for a request. Then starts ``systemctl
reload UNIT`` (the rolling restart) in the background, waits until the old
master logs that it got SIGTERM (its workers start to stop), waits LATE
seconds more, as a client starved of CPU might, and only then sends a request
on each connection. Prints a JSON report: how many were answered, and how the
others failed. A worker that drains by state answers every one of them; a
worker that closes silent connections at once, or after a fixed pause
shorter than LATE, fails them.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from collections import Counter


def outcome(sock: socket.socket, request: bytes, timeout: float) -> str:
    """Send REQUEST on SOCK and classify what came back."""
    try:
        sock.sendall(request)
        sock.settimeout(timeout)
        data = sock.recv(65536)
    except ConnectionResetError:
        return "reset"
    except BrokenPipeError:
        return "broken_pipe"
    except socket.timeout:
        return "timeout"
    except OSError as error:
        return type(error).__name__
    if not data:
        return "empty_reply"
    return "answered" if data.startswith(b"HTTP/1.1 200") else "other_answer"


def journal_cursor(unit: str) -> str:
    out = subprocess.run(["journalctl", "--unit", unit, "--lines", "0", "--show-cursor", "--quiet"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().removeprefix("-- cursor: ")


def wait_for_term(unit: str, cursor: str, most: float) -> float:
    """Seconds until the unit's journal, after CURSOR, shows gunicorn handling SIGTERM (the old master retiring)."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        found = subprocess.run(["journalctl", "--unit", unit, "--no-pager", "--output", "cat", f"--after-cursor={cursor}",
                                "--grep", "Handling signal: term"], capture_output=True, text=True, check=False).stdout
        if found.strip():
            return time.monotonic() - started
        time.sleep(0.05)
    sys.exit(f"late_sender: the old master of {unit} got no SIGTERM within {most} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit", default="fasterapi")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--late", type=float, default=1.0, help="seconds after the old master's SIGTERM")
    args = parser.parse_args(argv)
    request = f"GET /version HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n\r\n".encode()
    sockets = [socket.create_connection(("127.0.0.1", args.port), timeout=5) for _number in range(args.connections)]
    time.sleep(0.3)  # the running workers accept them
    cursor = journal_cursor(args.unit)
    reload = subprocess.Popen(["systemctl", "reload", args.unit])
    term_after = wait_for_term(args.unit, cursor, 60.0)
    time.sleep(args.late)
    outcomes = Counter(outcome(sock, request, 15.0) for sock in sockets)
    for sock in sockets:
        sock.close()
    reload.wait(timeout=120)
    print(json.dumps({"connections": args.connections, "late": args.late, "term_after_reload": round(term_after, 2),
                      "answered": outcomes.pop("answered", 0), "failed": dict(outcomes),
                      "reload_exit": reload.returncode}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
