"""A statsd server for tests: receives UDP datagrams and sums what they say.

    statsd_sink.py --listen 127.0.0.1:8125 --output /root/statsd.json [--duration 600]

Until SIGTERM (or --duration), it records every metric line (``name:value|type``,
several per datagram are allowed) and then writes JSON: counters summed, the
last value of each gauge, the count of timer samples, and the line count.
Stdlib only: copied to hosts alone.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import socket
import time
from typing import Any


class Sums:
    """What the received metric lines add up to."""

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.gauges: dict[str, float] = {}
        self.timers: dict[str, int] = {}
        self.lines = 0
        self.malformed = 0

    def add(self, datagram: bytes) -> None:
        for line in datagram.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            self.lines += 1
            try:
                name, rest = line.split(":", 1)
                value, kind = rest.split("|")[:2]
                number = float(value)
            except ValueError:
                self.malformed += 1
                continue
            if kind == "c":
                self.counters[name] = self.counters.get(name, 0.0) + number
            elif kind == "g":
                self.gauges[name] = number
            elif kind in ("ms", "h"):
                self.timers[name] = self.timers.get(name, 0) + 1
            else:
                self.malformed += 1

    def report(self) -> dict[str, Any]:
        return {"counters": dict(sorted(self.counters.items())), "gauges": dict(sorted(self.gauges.items())),
                "timers": dict(sorted(self.timers.items())), "lines": self.lines, "malformed": self.malformed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:8125", help="HOST:PORT to receive on (UDP)")
    parser.add_argument("--output", required=True, help="where to write the JSON report")
    parser.add_argument("--duration", type=float, default=600.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host.strip("[]"), int(port)))
    sums = Sums()
    stop = {"now": False}

    def on_term(signum: int, frame: Any) -> None:  # pylint: disable=unused-argument
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    deadline = time.monotonic() + args.duration
    while not stop["now"] and time.monotonic() < deadline:
        ready, _w, _x = select.select([sock], [], [], 0.2)
        if ready:
            sums.add(sock.recv(65535))
    while True:  # what is queued already
        ready, _w, _x = select.select([sock], [], [], 0)
        if not ready:
            break
        sums.add(sock.recv(65535))
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(sums.report(), out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
