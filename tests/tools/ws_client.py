"""A WebSocket client for restart tests, stdlib only (RFC 6455, text frames).

It keeps one connection to ``--url`` (ws:// or wss://) open, sends a text
message every ``--interval`` seconds and expects it echoed back (the sample
app's /ws echoes, after a first message that names its version and pid).
When the server ends the connection it notes how: a close frame and its
code (1012 "service restart", 1001 "going away" are clean), or an abrupt
end without one. Then it connects again at once, until ``--duration`` runs
out or SIGTERM/SIGINT. It prints (and writes to ``--output``) a JSON report:
every connection with the version and pid that greeted it, its echoes and
how it ended, and every failed attempt to connect.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import ssl
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLEAN_CODES = (1000, 1001, 1012)
MAX_DURATION = 900.0


class Closed(Exception):
    """The server sent a close frame (code, or None without one)."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Connection:
    """One connection, from greeting to end."""

    opened: float
    version: str = ""
    pid: int = 0
    echoes: int = 0
    ended: float = 0.0
    # "close <code>", "abrupt" (no close frame), "echo mismatch", or "client" (the client stopped).
    end: str = ""


@dataclass
class Report:
    url: str
    connections: list[Connection] = field(default_factory=list)
    connect_failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ends = [connection.end for connection in self.connections]
        return {"url": self.url, "connections": [asdict(connection) for connection in self.connections],
                "connect_failures": self.connect_failures,
                "echoes": sum(connection.echoes for connection in self.connections),
                "clean_closes": sum(1 for end in ends if end in {f"close {code}" for code in CLEAN_CODES}),
                "unclean_ends": [end for end in ends if end not in {f"close {code}" for code in CLEAN_CODES} | {"client"}],
                "versions": sorted({connection.version for connection in self.connections if connection.version})}


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer KEY with."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame; clients mask (MASK given), servers do not."""
    head = bytes([0x80 | opcode])
    length = len(payload)
    bit = 0x80 if mask is not None else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if mask is None:
        return head + payload
    return head + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next frame's opcode and payload (unmasked)."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if second & 0x80 else None
    payload = await reader.readexactly(length)
    if mask is not None:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return first & 0x0F, payload


class Client:
    """Connections to one WebSocket URL until a deadline or a stop request."""

    def __init__(self, url: str, duration: float, interval: float, timeout: float, cafile: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"--url {url!r}: expected ws(s)://HOST:PORT/PATH")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "wss" else 80)
        self.netloc = parts.netloc
        self.path = parts.path or "/"
        self.ssl = ssl.create_default_context(cafile=cafile) if parts.scheme == "wss" else None
        self.deadline = time.monotonic() + min(duration, MAX_DURATION)
        self.interval = interval
        self.timeout = timeout
        self.started = time.monotonic()
        self.stopping = asyncio.Event()
        self.report = Report(url=url)

    def running(self) -> bool:
        return not self.stopping.is_set() and time.monotonic() < self.deadline

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)

    async def _handshake(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port, ssl=self.ssl), self.timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)).decode("latin-1")
        status = head.split("\r\n", 1)[0]
        if " 101 " not in status + " ":
            writer.close()
            raise ConnectionError(f"handshake answered {status!r}")
        if f"sec-websocket-accept: {accept_key(key)}".lower() not in head.lower():
            writer.close()
            raise ConnectionError("handshake: wrong Sec-WebSocket-Accept")
        return reader, writer

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """The next text message; answers pings; raises Closed at a close frame."""
        while True:
            opcode, payload = await asyncio.wait_for(read_frame(reader), self.timeout)
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                try:
                    writer.write(frame(0x8, payload[:2], os.urandom(4)))
                    await writer.drain()
                except ConnectionError:
                    pass
                raise Closed(code)
            if opcode == 0x9:
                writer.write(frame(0xA, payload, os.urandom(4)))
                await writer.drain()
            elif opcode == 0x1:
                return payload.decode()

    async def one_connection(self) -> None:
        try:
            reader, writer = await self._handshake()
        except Exception as err:  # noqa: BLE001 - every failure to connect is reported
            self.report.connect_failures.append(f"{self.now()} {type(err).__name__}: {err}")
            await asyncio.sleep(0.2)
            return
        connection = Connection(opened=self.now())
        self.report.connections.append(connection)
        try:
            greeting = json.loads(await self._receive(reader, writer))
            connection.version, connection.pid = str(greeting.get("version", "")), int(greeting.get("pid", 0))
            counter = 0
            while self.running():
                counter += 1
                text = f"ping {counter}"
                writer.write(frame(0x1, text.encode(), os.urandom(4)))
                await writer.drain()
                if await self._receive(reader, writer) != text:
                    connection.end = "echo mismatch"
                    break
                connection.echoes += 1
                try:
                    await asyncio.wait_for(self.stopping.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
            else:
                connection.end = "client"
                writer.write(frame(0x8, struct.pack("!H", 1000), os.urandom(4)))
        except Closed as closed:
            connection.end = f"close {closed.code}"
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, OSError) as err:
            connection.end = f"abrupt ({type(err).__name__})"
        finally:
            connection.ended = self.now()
            writer.close()

    async def run(self) -> Report:
        while self.running():
            await self.one_connection()
        return self.report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="ws:// or wss:// URL of an echoing endpoint")
    parser.add_argument("--cafile", help="CA bundle to verify a wss:// URL with (default: the system's)")
    parser.add_argument("--duration", type=float, default=60.0, help=f"seconds to run, at most {MAX_DURATION:.0f}")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between messages (default 0.2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per connect or answer")
    parser.add_argument("--output", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.interval < 0 or args.timeout <= 0:
        parser.error("--duration and --timeout must be positive, --interval not negative")
    return args


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    client = Client(args.url, args.duration, args.interval, args.timeout, args.cafile)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, client.stopping.set)
    return (await client.run()).as_dict()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(_main(args))
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
