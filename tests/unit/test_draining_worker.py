"""The collection's draining uvicorn worker (roles/gunicorn/files/venv/fasterapi_deploy_worker.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _load import load_module
from uvicorn.config import Config

worker = load_module("roles/gunicorn/files/venv/fasterapi_deploy_worker.py", "fasterapi_deploy_worker")


@pytest.mark.parametrize(("value", "expected"), [(None, 0.3), ("0", 0.0), ("1.5", 1.5), ("99", 10.0), ("-1", 0.0), ("x", 0.3)])
def test_drain_seconds(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: float) -> None:
    if value is None:
        monkeypatch.delenv("FASTERAPI_WORKER_DRAIN_SECONDS", raising=False)
    else:
        monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", value)
    assert worker.drain_seconds() == expected


def _headers_sent(draining: bool, app_headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": app_headers})
        await send({"type": "http.response.body", "body": b"ok"})

    server = worker.DrainingServer(Config(app=app))
    server.draining = draining
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    asyncio.run(server.closing_when_draining(app)({"type": "http"}, receive, send))
    assert sent[1]["body"] == b"ok"
    return sent[0]["headers"]


def test_answers_keep_their_headers_while_serving() -> None:
    headers = [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")]
    assert _headers_sent(False, headers) == headers


def test_answers_close_the_connection_while_draining() -> None:
    headers = _headers_sent(True, [(b"content-type", b"text/plain"), (b"Connection", b"keep-alive")])
    assert headers == [(b"content-type", b"text/plain"), (b"connection", b"close")]


def test_worker_classes_keep_uvicorns_loop_and_parser_choices() -> None:
    from uvicorn_worker import UvicornH11Worker, UvicornWorker

    assert issubclass(worker.DrainingUvicornWorker, UvicornWorker)
    assert worker.DrainingUvicornWorker.CONFIG_KWARGS == UvicornWorker.CONFIG_KWARGS
    assert worker.DrainingUvicornH11Worker.CONFIG_KWARGS == UvicornH11Worker.CONFIG_KWARGS
    # The private hooks the worker overrides still exist in the pinned uvicorn-worker.
    assert hasattr(UvicornWorker, "_serve") and hasattr(UvicornWorker, "_install_sigquit_handler")


def test_shutdown_pauses_only_with_open_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", "0.2")
    server = worker.DrainingServer(Config(app=lambda *a: None, lifespan="off"))

    async def scenario(connections: int) -> float:
        server.server_state.connections = {object() for _conn in range(connections)}
        server.servers = []
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def noop(sockets: Any = None) -> None:
            return None

        monkeypatch.setattr(worker.Server, "shutdown", lambda self, sockets=None: noop())
        await server.shutdown()
        return loop.time() - started

    assert asyncio.run(scenario(0)) < 0.1
    assert asyncio.run(scenario(2)) >= 0.19
    assert server.draining is True
