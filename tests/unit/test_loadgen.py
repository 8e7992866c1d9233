"""The load generator counts answers, versions and each kind of failure."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from _load import load_module

loadgen = load_module("tests/tools/loadgen.py", "loadgen")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _answer(version: str, close: bool = False, chunked: bool = False) -> bytes:
    body = json.dumps({"version": version}).encode()
    head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    if close:
        head += "connection: close\r\n"
    if chunked:
        half = len(body) // 2
        return (head + "transfer-encoding: chunked\r\n\r\n").encode() + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
            half, body[:half], len(body) - half, body[half:])
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


async def _run(handler: Handler, mode: str, duration: float = 0.4, clients: int = 3) -> dict[str, Any]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        load = loadgen.Load(f"http://127.0.0.1:{port}/version", clients, mode, duration, timeout=2.0)
        report = await load.run()
    return report.as_dict()


async def _serve_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, version: str = "7") -> None:
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            close = b"connection: close" in request.lower()
            writer.write(_answer(version, close=close))
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.mark.parametrize("mode", ["fresh", "keepalive"])
def test_healthy_server_everything_answered_with_its_version(mode: str) -> None:
    report = asyncio.run(_run(_serve_forever, mode))
    assert report["sent"] > 10
    assert report["failed_total"] == 0
    assert report["answered"] == {"200": report["sent"]}
    assert report["versions"] == {"7": report["sent"]}


def test_keepalive_reuses_connections() -> None:
    accepted = 0

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await _serve_forever(reader, writer)

    report = asyncio.run(_run(counting, "keepalive", clients=2))
    assert report["sent"] > 20 and accepted == 2


def test_server_closing_idle_keepalive_connections_counts_empty_replies() -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_answer("1"))  # keep-alive answer, then the server closes anyway
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request arrives ...
        writer.close()  # ... and is never answered

    report = asyncio.run(_run(one_then_close, "keepalive", duration=0.3, clients=1))
    assert report["failed"].get("empty_reply", 0) > 0
    assert report["answered_total"] + report["failed_total"] == report["sent"]


def test_connection_close_answer_is_not_a_failure_and_chunked_bodies_parse() -> None:
    async def chunked_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_answer("2", close=True, chunked=True))
        await writer.drain()
        writer.close()

    report = asyncio.run(_run(chunked_close, "keepalive", clients=2))
    assert report["failed_total"] == 0 and report["versions"] == {"2": report["sent"]}


def test_refused_connections_are_counted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    load = loadgen.Load(f"http://127.0.0.1:{port}/", 2, "fresh", 0.2, timeout=1.0)
    began = time.time()
    report = asyncio.run(load.run()).as_dict()
    assert report["sent"] > 0 and report["failed"] == {"refused": report["sent"]}
    assert 0 <= report["first_failure"] <= report["last_failure"] <= 1.5  # within the 0.2 s run (slack for a busy CPU)
    # The first FAILURES_KEPT, each with its wall-clock time.
    assert len(report["failures"]) == min(report["sent"], loadgen.FAILURES_KEPT)
    assert all(kind == "refused" and began - 0.001 <= at <= time.time() for at, kind in report["failures"])  # rounded to ms
    assert report["slowest"] == 0.0  # nothing answered


def test_the_slowest_answer_is_kept() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.15)
        writer.write(_answer("3", close=True))
        await writer.drain()
        writer.close()

    report = asyncio.run(_run(slow, "fresh", duration=0.3, clients=1))
    assert report["failed_total"] == 0 and report["first_failure"] is None
    assert 0.15 <= report["slowest"] < 1.0


def test_stop_request_ends_the_run_early() -> None:
    async def scenario() -> dict[str, Any]:
        server = await asyncio.start_server(_serve_forever, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            load = loadgen.Load(f"http://127.0.0.1:{port}/", 2, "fresh", 60.0, timeout=1.0)
            asyncio.get_running_loop().call_later(0.2, load.stopping.set)
            return (await load.run()).as_dict()

    report = asyncio.run(scenario())
    assert report["seconds"] < 2.0 and report["sent"] > 0


@pytest.mark.parametrize(
    ("err", "kind"),
    [(ConnectionRefusedError(), "refused"), (ConnectionResetError(), "reset"), (loadgen.EmptyReply(), "empty_reply"),
     (asyncio.IncompleteReadError(b"HTTP/1.1 2", 10), "truncated"), (asyncio.TimeoutError(), "timeout"),
     (ValueError("x"), "bad_response")],
)
def test_error_kinds(err: BaseException, kind: str) -> None:
    assert loadgen.error_kind(err) == kind


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        loadgen.parse_args(["--clients", "0"])
    with pytest.raises(ValueError, match=r"expected http\(s\)://HOST:PORT/PATH"):
        loadgen.Load("ftp://127.0.0.1/", 1, "fresh", 1.0, 1.0)


@pytest.mark.parametrize("mode", ["fresh", "keepalive"])
def test_https_post_sends_its_body_and_verifies_the_server(tmp_path: Path, mode: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                bodies.append(head.split(b" ")[0] + b" " + await reader.readexactly(length))
                writer.write(_answer("9", close=b"connection: close" in head.lower()))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> dict[str, Any]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        async with server:
            load = loadgen.Load(f"https://localhost:{port}/version", 2, mode, 0.3, timeout=2.0, method="POST",
                                cafile=str(tmp_path / "cert.pem"))
            return (await load.run()).as_dict()

    report = asyncio.run(run())
    assert report["failed_total"] == 0 and report["versions"] == {"9": report["sent"]} and report["sent"] > 2
    assert bodies and set(bodies) == {b'POST {"pad": "' + b"x" * 53 + b'"}'}
    assert len(bodies[0]) == len(b"POST ") + 64


@pytest.mark.parametrize(("mode", "fails"), [("keepalive", True), ("checked", False)])
def test_a_connection_closed_while_idle_fails_a_blind_client_not_a_checking_one(mode: str, fails: bool) -> None:
    """nginx's reload closes idle keep-alive connections: the checking client sees it and opens a new one."""
    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_answer("3"))  # a keep-alive answer ...
        await writer.drain()
        writer.close()  # ... then the connection is closed while idle

    async def run() -> dict[str, Any]:
        server = await asyncio.start_server(answer_then_close, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            load = loadgen.Load(f"http://127.0.0.1:{port}/version", 1, mode, 0.5, timeout=2.0, interval=0.05)
            return (await load.run()).as_dict()

    report = asyncio.run(run())
    assert report["sent"] > 4
    assert (report["failed_total"] > 0) is fails
    if not fails:
        assert report["reconnected"] > 0 and report["answered"] == {"200": report["sent"]}


def test_https_verifies_with_the_system_store_by_default() -> None:
    load = loadgen.Load("https://localhost:1/", 1, "fresh", 0.1, timeout=0.5, cafile=None)
    assert load.ssl is not None and load.ssl.verify_mode == ssl.CERT_REQUIRED


def test_version_of() -> None:
    assert loadgen.version_of(b'{"version": "3.1", "pid": 1}') == "3.1"
    assert loadgen.version_of(b"hello") is None and loadgen.version_of(b"{broken") is None


def test_interval_bounds_the_rate() -> None:
    async def scenario() -> dict[str, Any]:
        server = await asyncio.start_server(_serve_forever, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            load = loadgen.Load(f"http://127.0.0.1:{port}/", 2, "keepalive", 0.5, timeout=1.0, interval=0.05)
            return (await load.run()).as_dict()

    report = asyncio.run(scenario())
    assert 4 <= report["sent"] <= 24 and report["failed_total"] == 0
