"""The WebSocket client tells a clean close from an abrupt end, and connects again."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest
from _load import load_module

ws = load_module("tests/tools/ws_client.py", "ws_client")


def _server(close_after: int, how: str) -> Any:
    """A WebSocket echo server: its first connection ends after CLOSE_AFTER echoes, by HOW (a close code or abrupt)."""
    state = {"connections": 0}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        number = state["connections"]
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key"))
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {ws.accept_key(key)}\r\n\r\n").encode())
        writer.write(ws.frame(0x1, json.dumps({"version": f"1.0.{number}", "pid": 100 + number}).encode()))
        echoes = 0
        try:
            while True:
                opcode, payload = await ws.read_frame(reader)
                if opcode == 0x8:
                    break
                if number == 1 and echoes == close_after:
                    if how == "abrupt":
                        writer.transport.abort()
                        return
                    writer.write(ws.frame(0x8, struct.pack("!H", int(how))))
                    await writer.drain()
                    await ws.read_frame(reader)  # the client's answering close
                    break
                writer.write(ws.frame(0x1, payload))
                await writer.drain()
                echoes += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return handler


async def _run(close_after: int, how: str, duration: float = 0.6) -> dict[str, Any]:
    server = await asyncio.start_server(_server(close_after, how), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        client = ws.Client(f"ws://127.0.0.1:{port}/ws", duration, 0.01, 2.0)
        return (await client.run()).as_dict()


def test_a_service_restart_close_and_a_reconnect() -> None:
    report = asyncio.run(_run(3, "1012"))
    first, second = report["connections"][:2]
    assert (first["version"], first["pid"], first["echoes"], first["end"]) == ("1.0.1", 101, 3, "close 1012")
    assert second["version"] == "1.0.2" and second["echoes"] > 3 and second["end"] == "client"
    assert report["unclean_ends"] == [] and report["clean_closes"] == 1 and report["connect_failures"] == []
    assert report["versions"] == ["1.0.1", "1.0.2"]


def test_an_abrupt_end_is_reported() -> None:
    report = asyncio.run(_run(2, "abrupt"))
    assert report["connections"][0]["end"].startswith("abrupt")
    assert report["unclean_ends"] == [report["connections"][0]["end"]]


def test_a_refused_connection_is_a_connect_failure() -> None:
    client = ws.Client("ws://127.0.0.1:9/ws", 0.3, 0.01, 1.0)
    report = asyncio.run(client.run()).as_dict()
    assert report["connections"] == [] and report["connect_failures"]
    assert "ConnectionRefusedError" in report["connect_failures"][0]


def test_frames_of_every_length_round_trip() -> None:
    async def roundtrip(payload: bytes, mask: bytes | None) -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(ws.frame(0x1, payload, mask))
        reader.feed_eof()
        return await ws.read_frame(reader)

    for size in (0, 125, 126, 65535, 65536):
        for mask in (None, b"\x01\x02\x03\x04"):
            assert asyncio.run(roundtrip(b"y" * size, mask)) == (0x1, b"y" * size)


def test_bad_urls_and_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected ws\(s\)://"):
        ws.Client("https://front/ws", 1.0, 0.1, 1.0)
    with pytest.raises(SystemExit):
        ws.parse_args(["--url", "ws://x/ws", "--duration", "0"])
