"""HTTP/1.1 load generator for restart tests, stdlib only.

N concurrent clients send GET (or POST, with a small body) requests to one
http:// or https:// URL of a test container, either on a new
connection each (``--mode fresh``) or on kept-alive connections (``--mode
keepalive``), until ``--duration`` runs out or the process gets SIGTERM or
SIGINT. It then prints (and writes to ``--output``) a JSON report: requests
sent, answered by status, failed by error kind, and which app version
answered (the ``version`` field of a JSON body).

A keep-alive client (``--mode keepalive``) reuses its connection blindly:
when the server has just closed it, that request fails (no retry). A
checking one (``--mode checked``) first looks whether the server closed the
connection while it was idle, and opens a new one then, as urllib3 and
browsers do. ``--mode http2`` runs curl (HTTP/2 over TLS), one connection
per batch of 50 requests, at 1/--interval requests a second per client.
A POST carries a 64-byte JSON body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# A load the scenario never stops still ends. 30 minutes: releases and
# real_hosts ask for 1,200 s, and their load stages run beside another stage,
# which can slow them past the 900 s this cap was (the load then stopped early).
MAX_DURATION = 1800.0
FAILURES_KEPT = 50


@dataclass
class Report:
    """What the clients saw."""

    mode: str
    clients: int
    sent: int = 0
    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    first_failure: float | None = None
    last_failure: float | None = None
    slowest: float = 0.0
    reconnected: int = 0
    # The first FAILURES_KEPT failures: when (the wall clock, to set beside the hosts' logs) and of what kind.
    failures: list[tuple[float, str]] = field(default_factory=list)

    def failure(self, kind: str) -> None:
        """Count one failed request of KIND, and when it happened (seconds since the start)."""
        self.failed[kind] += 1
        now = time.monotonic() - self.started
        if self.first_failure is None:
            self.first_failure = now
        self.last_failure = now
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append((time.time(), kind))

    def took(self, seconds: float) -> None:
        """Note one answered request's time, keeping the slowest."""
        self.slowest = max(self.slowest, seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "answered": dict(sorted(self.answered.items())),
            "answered_total": sum(self.answered.values()),
            "failed": dict(sorted(self.failed.items())),
            "failed_total": sum(self.failed.values()),
            "versions": dict(sorted(self.versions.items())),
            "first_failure": None if self.first_failure is None else round(self.first_failure, 3),
            "last_failure": None if self.last_failure is None else round(self.last_failure, 3),
            "slowest": round(self.slowest, 3),
            "reconnected": self.reconnected,
            "failures": [[round(at, 3), kind] for at, kind in self.failures],
        }


class EmptyReply(Exception):
    """The server closed the connection before sending a status line."""


@dataclass
class Response:
    status: int
    body: bytes
    close: bool


async def read_response(reader: asyncio.StreamReader) -> Response:
    """Read one HTTP/1.1 response with a Content-Length or chunked body."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            raise EmptyReply() from None
        raise
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    close = headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0"
    return Response(status, body, close)


def version_of(body: bytes) -> str | None:
    """The ``version`` field of a JSON object body, if any."""
    if not body.startswith(b"{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version) if version is not None else None


def error_kind(err: BaseException) -> str:
    """Name a failure the way an operator reads it."""
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, (EmptyReply, BrokenPipeError)):
        return "empty_reply"
    if isinstance(err, asyncio.IncompleteReadError):
        return "truncated"
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(err, ValueError):
        return "bad_response"
    if isinstance(err, OSError):
        return f"oserror_{err.errno}"
    return type(err).__name__


class Load:
    """Clients against one URL until a deadline or a stop request."""

    def __init__(self, url: str, clients: int, mode: str, duration: float, timeout: float,
                 interval: float = 0.0, method: str = "GET", cafile: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url {url!r}: expected http(s)://HOST:PORT/PATH")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl.create_default_context(cafile=cafile)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        body = b'{"pad": "' + b"x" * 53 + b'"}' if method == "POST" else b""
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if method == "POST" else ""
        head = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{length}"
        self.request_keepalive = f"{head}\r\n".encode() + body
        self.request_close = f"{head}Connection: close\r\n\r\n".encode() + body
        self.clients = clients
        self.mode = mode
        self.deadline = time.monotonic() + min(duration, MAX_DURATION)
        self.timeout = timeout
        self.interval = interval
        self.url, self.method, self.cafile, self.body = url, method, cafile, body
        self.stopping = asyncio.Event()
        self.report = Report(mode=mode, clients=clients)

    def running(self) -> bool:
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    async def pace(self) -> None:
        """Pause between a client's requests (--interval), to bound the load."""
        if self.interval > 0:
            await asyncio.sleep(self.interval)

    def _answered(self, response: Response, since: float) -> None:
        self.report.answered[str(response.status)] += 1
        self.report.took(time.monotonic() - since)
        version = version_of(response.body)
        if version is not None:
            self.report.versions[version] += 1

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(self.host, self.port, ssl=self.ssl), self.timeout)

    async def fresh_client(self) -> None:
        while self.running():
            self.report.sent += 1
            writer = None
            since = time.monotonic()
            try:
                reader, writer = await self._open()
                writer.write(self.request_close)
                await writer.drain()
                self._answered(await asyncio.wait_for(read_response(reader), self.timeout), since)
            except Exception as err:  # noqa: BLE001 - every failure is counted by kind
                self.report.failure(error_kind(err))
            finally:
                if writer is not None:
                    writer.close()
            await self.pace()

    async def keepalive_client(self) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while self.running():
            self.report.sent += 1
            since = time.monotonic()
            try:
                if self.mode == "checked" and reader is not None and writer is not None and reader.at_eof():
                    # The server closed it while it was idle: a new connection, as urllib3 does.
                    self.report.reconnected += 1
                    writer.close()
                    reader = writer = None
                if writer is None or reader is None:
                    reader, writer = await self._open()
                writer.write(self.request_keepalive)
                await writer.drain()
                response = await asyncio.wait_for(read_response(reader), self.timeout)
                self._answered(response, since)
                if response.close:
                    writer.close()
                    reader = writer = None
            except Exception as err:  # noqa: BLE001 - every failure is counted by kind
                self.report.failure(error_kind(err))
                if writer is not None:
                    writer.close()
                reader = writer = None
            await self.pace()
        if writer is not None:
            writer.close()

    async def http2_client(self) -> None:
        batch = 50
        while self.running():
            argv = ["curl", "--http2", "--silent", "--show-error", "--max-time", str(self.timeout),
                    "--write-out", "%{http_code} %{http_version}\n"]
            if self.interval > 0:
                argv += ["--rate", f"{max(int(60 / self.interval), 1)}/m"]
            if self.cafile:
                argv += ["--cacert", self.cafile]
            if self.method == "POST":
                argv += ["--header", "Content-Type: application/json", "--data-binary", self.body.decode()]
            for _request in range(batch):
                argv += ["--output", "/dev/null", self.url]
            process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                           stderr=asyncio.subprocess.PIPE)
            out, err = await process.communicate()
            lines = out.decode().split()
            codes = lines[0::2]
            self.report.sent += len(codes)
            for code, version in zip(codes, lines[1::2]):
                if code == "000":
                    self.report.failure(f"curl_exit_{process.returncode}: {err.decode().strip()[:80]}")
                else:
                    self.report.answered[code] += 1
                    self.report.versions[f"http/{version}"] += 1

    async def run(self) -> Report:
        client = {"fresh": self.fresh_client, "http2": self.http2_client}.get(self.mode, self.keepalive_client)
        tasks = [asyncio.create_task(client()) for _client in range(self.clients)]
        stopper = asyncio.create_task(self.stopping.wait())
        remaining = max(self.deadline - time.monotonic(), 0.0)
        await asyncio.wait([stopper, *tasks], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        self.stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()
        self.report.seconds = time.monotonic() - self.report.started
        return self.report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000/version", help="http:// or https:// URL to request")
    parser.add_argument("--method", choices=["GET", "POST"], default="GET", help="GET, or POST with a 64-byte body")
    parser.add_argument("--cafile", help="CA bundle to verify an https:// URL with (default: the system's)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--mode", choices=["fresh", "keepalive", "checked", "http2"], default="fresh",
                        help="a new connection per request, kept-alive connections reused blindly or checked first, "
                             "or HTTP/2 (curl)")
    parser.add_argument("--duration", type=float, default=30.0,
                        help=f"seconds to run at most (default 30, capped at {MAX_DURATION:.0f})")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per connect or response")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds each client pauses between requests (default 0: as fast as it can)")
    parser.add_argument("--output", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    if args.duration <= 0 or args.timeout <= 0 or args.interval < 0:
        parser.error("--duration and --timeout must be positive, --interval not negative")
    return args


async def _main(args: argparse.Namespace) -> Report:
    load = Load(args.url, args.clients, args.mode, args.duration, args.timeout, args.interval, args.method, args.cafile)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, load.stopping.set)
    return await load.run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(_main(args)).as_dict()
    text = json.dumps(report, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
