"""How the late sender (tests/tools/late_sender.py) classifies what a connection gives back."""

from __future__ import annotations

import socket

from _load import load_module

late = load_module("tests/tools/late_sender.py", "late_sender")
REQUEST = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"


def test_an_answer_counts_as_answered() -> None:
    client, server = socket.socketpair()
    server.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    assert late.outcome(client, REQUEST, 1.0) == "answered"
    assert server.recv(100) == REQUEST


def test_a_connection_the_server_ended_is_an_empty_reply() -> None:
    client, server = socket.socketpair()
    server.shutdown(socket.SHUT_WR)
    assert late.outcome(client, REQUEST, 1.0) == "empty_reply"


def test_an_error_status_is_not_an_answer() -> None:
    client, server = socket.socketpair()
    server.sendall(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
    assert late.outcome(client, REQUEST, 1.0) == "other_answer"


def test_silence_is_a_timeout() -> None:
    client, _server = socket.socketpair()
    assert late.outcome(client, REQUEST, 0.05) == "timeout"
