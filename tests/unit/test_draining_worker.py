"""The collection's draining uvicorn worker (roles/gunicorn/files/venv/fasterapi_deploy_worker.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from _load import load_module
from uvicorn.config import Config
from uvicorn.server import Server

worker = load_module("roles/gunicorn/files/venv/fasterapi_deploy_worker.py", "fasterapi_deploy_worker")


@pytest.mark.parametrize(("value", "expected"), [(None, 30.0), ("0", 0.0), ("1.5", 1.5), ("9999", 3600.0), ("-1", 0.0), ("x", 30.0)])
def test_drain_seconds(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: float) -> None:
    if value is None:
        monkeypatch.delenv("FASTERAPI_WORKER_DRAIN_SECONDS", raising=False)
    else:
        monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", value)
    assert worker.drain_seconds() == expected


def _headers_sent(draining: bool, app_headers: list[tuple[bytes, bytes]], wrap_every_request: bool = False,
                  drain_starts_during_request: bool = False) -> list[tuple[bytes, bytes]]:
    server = worker.DrainingServer(Config(app=lambda *a: None))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if drain_starts_during_request:
            server.draining = True
        await send({"type": "http.response.start", "status": 200, "headers": app_headers})
        await send({"type": "http.response.body", "body": b"ok"})

    server.draining = draining
    server.wrap_every_request = wrap_every_request
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


def test_answers_keep_their_headers_while_serving_with_every_request_wrapped() -> None:
    headers = [(b"content-type", b"text/plain")]
    assert _headers_sent(False, headers, wrap_every_request=True) == headers


def test_a_request_in_progress_when_the_drain_starts_closes_under_h11() -> None:
    # h11 does not say Connection: close for a cycle whose keep_alive shutdown() cleared: the wrapper must.
    headers = _headers_sent(False, [(b"content-type", b"text/plain")], wrap_every_request=True,
                            drain_starts_during_request=True)
    assert headers == [(b"content-type", b"text/plain"), (b"connection", b"close")]


def test_a_request_in_progress_when_the_drain_starts_is_left_to_httptools() -> None:
    # Not wrapped: uvicorn's httptools protocol says Connection: close once keep_alive is False.
    headers = [(b"content-type", b"text/plain")]
    assert _headers_sent(False, headers, drain_starts_during_request=True) == headers


@pytest.mark.parametrize(("http", "httptools_installed", "expected"),
                         [("httptools", False, True), ("h11", True, False), ("auto", True, True), ("auto", False, False)])
def test_which_protocols_say_close_themselves(monkeypatch: pytest.MonkeyPatch, http: str, httptools_installed: bool,
                                              expected: bool) -> None:
    real = worker.importlib.util.find_spec
    monkeypatch.setattr(worker.importlib.util, "find_spec",
                        lambda name: (object() if httptools_installed else None) if name == "httptools" else real(name))
    assert worker.says_close_when_not_kept_alive(http) is expected


def test_worker_classes_keep_uvicorns_loop_and_parser_choices() -> None:
    from uvicorn_worker import UvicornH11Worker, UvicornWorker

    assert issubclass(worker.DrainingUvicornWorker, UvicornWorker)
    assert worker.DrainingUvicornWorker.CONFIG_KWARGS == UvicornWorker.CONFIG_KWARGS
    assert worker.DrainingUvicornH11Worker.CONFIG_KWARGS == UvicornH11Worker.CONFIG_KWARGS
    # The private hooks the worker overrides still exist in the pinned uvicorn-worker.
    assert hasattr(UvicornWorker, "_serve") and hasattr(UvicornWorker, "_install_sigquit_handler")


class Connection:
    """An HTTP protocol as the server holds it: cycle None until its first request arrives."""

    def __init__(self, cycle: Any) -> None:
        self.cycle = cycle


class Answered:
    response_complete = True


def _shutdown_time(monkeypatch: pytest.MonkeyPatch, connections: list[Any], bound: str,
                   first_request_after: float | None = None) -> tuple[float, Any]:
    monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", bound)
    server = worker.DrainingServer(Config(app=lambda *a: None, lifespan="off"))

    async def noop(sockets: Any = None) -> None:
        return None

    monkeypatch.setattr(worker.Server, "shutdown", lambda self, sockets=None: noop())

    async def scenario() -> float:
        server.server_state.connections = set(connections)
        server.servers = []
        loop = asyncio.get_running_loop()
        if first_request_after is not None:
            # The starved client's request arrives late; the worker answers it and the connection closes.
            loop.call_later(first_request_after, lambda: [setattr(c, "cycle", Answered()) for c in connections])
        started = loop.time()
        await server.shutdown()
        return loop.time() - started

    return asyncio.run(scenario()), server


def test_shutdown_gives_answered_idle_connections_a_short_grace_only(monkeypatch: pytest.MonkeyPatch) -> None:
    elapsed, server = _shutdown_time(monkeypatch, [Connection(Answered()), Connection(Answered()), object()], "5")
    # The grace, not the 5 s bound (the slack above it is for a saturated CPU: CI measured 0.61 s once).
    assert worker.IDLE_GRACE - 0.01 <= elapsed < worker.IDLE_GRACE + 1.5 and server.draining is True
    elapsed, _server = _shutdown_time(monkeypatch, [], "5")
    assert elapsed < worker.IDLE_GRACE - 0.05  # no connection: nothing to wait for, not even the grace


def test_shutdown_waits_for_the_first_request_of_a_connection_however_late(monkeypatch: pytest.MonkeyPatch) -> None:
    elapsed, _server = _shutdown_time(monkeypatch, [Connection(None), Connection(Answered())], "5", first_request_after=0.8)
    assert 0.75 <= elapsed < 3.0  # no fixed pause: as long as the request takes to arrive, far less than the bound


def test_shutdown_waits_at_most_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    elapsed, _server = _shutdown_time(monkeypatch, [Connection(None)], "1")
    assert 0.99 <= elapsed < 2.5  # the bound, not the worker's default of 30 s (slack for a saturated CPU)
    elapsed, _server = _shutdown_time(monkeypatch, [Connection(None)], "0")
    assert elapsed < 0.25


def test_the_recycler_by_memory_and_by_age() -> None:
    used = [100.0]
    recycler = worker.Recycler(max_mib=512, max_age=0, started=0.0, memory=lambda: used[0])
    assert recycler.reason(now=10**6) == ""
    used[0] = 600.0
    assert recycler.reason(now=1.0) == "resident memory 600 MiB is over the limit of 512 MiB"
    aged = worker.Recycler(max_mib=0, max_age=100, started=50.0, jitter=0.05)
    assert aged.reason(now=154.0) == "" and aged.reason(now=155.0) == "it reached its maximum age"


def test_the_age_jitter_is_up_to_a_tenth() -> None:
    deadlines = {worker.Recycler(0, 1000, 0.0).deadline for _attempt in range(50)}
    assert len(deadlines) > 1 and all(1000 <= deadline <= 1100 for deadline in deadlines)


@pytest.mark.parametrize(("memory", "age", "on"), [(None, None, False), ("0", "0", False), ("512", None, True), (None, "3600", True)])
def test_the_recycler_is_on_only_when_asked(monkeypatch: pytest.MonkeyPatch, memory: str | None, age: str | None, on: bool) -> None:
    for name, value in (("FASTERAPI_WORKER_MAX_MEMORY_MB", memory), ("FASTERAPI_WORKER_MAX_AGE_SECONDS", age)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert (worker.Recycler.from_environment() is not None) == on


def test_resident_memory_of_this_process() -> None:
    assert 1 < worker.resident_mib() < 100000


def test_the_server_recycles_on_a_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    server = worker.DrainingServer(Config(app=lambda *a: None, lifespan="off"))
    server.recycler = worker.Recycler(max_mib=1, max_age=0, started=0.0, memory=lambda: 2.0)

    async def ticks() -> tuple[bool, bool]:
        return await server.on_tick(1), await server.on_tick(10)

    assert asyncio.run(ticks()) == (False, True)  # checked once a second (every 10th tick)


ws_client = load_module("tests/tools/ws_client.py", "ws_client")
sample = load_module("tests/sample_app/main.py", "sample_main_for_ws")


async def _serve_sample_app(server_class: type) -> tuple[Any, socket.socket, "asyncio.Task[None]"]:
    """SERVER_CLASS serving the sample app (WebSockets by uvicorn's websockets sans-I/O protocol) on a loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = server_class(Config(app=sample.app, lifespan="off", ws="websockets-sansio", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, sock, serving


async def _websocket_through_a_stop(server_class: type, messages_every: float) -> dict[str, Any]:
    """The sample app's /ws served by SERVER_CLASS; a client sending a message every MESSAGES_EVERY s; the server stops."""
    server, sock, serving = await _serve_sample_app(server_class)
    port = sock.getsockname()[1]
    client = ws_client.Client(f"ws://127.0.0.1:{port}/ws", 5.0, messages_every, 2.0)
    talking = asyncio.create_task(client.one_connection())
    await asyncio.sleep(0.3)
    server.should_exit = True
    await asyncio.wait_for(serving, 10)
    await asyncio.wait_for(talking, 10)
    sock.close()
    return client.report.as_dict()


async def _open_after_close_frame(server_class: type) -> tuple[int | None, bool, bytes]:
    """Stop SERVER_CLASS under an open /ws; 0.3 s after the close frame, is the TCP connection still open?

    Returns the close code, whether the server had closed the connection by
    then (a message the client sent meanwhile would have met a reset), and
    what the client read after answering with its own close frame.
    """
    server, sock, serving = await _serve_sample_app(server_class)
    port = sock.getsockname()[1]
    client = ws_client.Client(f"ws://127.0.0.1:{port}/ws", 5.0, 0.0, 2.0)
    reader, writer = await client._handshake()  # pylint: disable=protected-access
    await ws_client.read_frame(reader)  # the greeting
    server.should_exit = True
    opcode, payload = await asyncio.wait_for(ws_client.read_frame(reader), 5)
    assert opcode == 0x8
    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
    await asyncio.sleep(0.3)
    closed_early = reader.at_eof()
    rest = b""
    if not closed_early:
        writer.write(ws_client.frame(0x8, payload[:2], b"\x01\x02\x03\x04"))
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)  # then the server closes: end of file, no reset
    writer.close()
    await asyncio.wait_for(serving, 10)
    sock.close()
    return code, closed_early, rest


def test_a_stopping_worker_closes_websockets_with_the_closing_handshake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", "5")
    code, closed_early, rest = asyncio.run(_open_after_close_frame(worker.DrainingServer))
    assert (code, closed_early, rest) == (1012, False, b"")
    # uvicorn alone closes the connection with its close frame: a client message in flight then meets a reset.
    code, closed_early, _rest = asyncio.run(_open_after_close_frame(Server))
    assert (code, closed_early) == (1012, True)


def test_websocket_clients_racing_the_close_see_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", "5")
    report = asyncio.run(_websocket_through_a_stop(worker.DrainingServer, 0.0))
    (connection,) = report["connections"]
    assert connection["end"] == "close 1012" and connection["echoes"] > 10, connection


def test_close_websockets_skips_what_is_not_an_open_websocket() -> None:
    server = worker.DrainingServer(Config(app=lambda *a: None, lifespan="off"))
    server.server_state.connections = {Connection(None), Connection(Answered())}
    assert server.close_websockets() == 0 and server.closing_websockets() == 0


class StatsdLog:
    """Records what gunicorn's statsd logger would send."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def timer(self, name: str, value: float) -> None:
        self.sent.append(f"{name}:{value:.0f}|ms")

    def increment(self, name: str, value: int, sampling_rate: float = 1.0) -> None:  # pylint: disable=unused-argument
        self.sent.append(f"{name}:{value}|c")


@pytest.mark.parametrize(("status", "raises", "expected"), [(204, False, 204), (404, False, 404), (None, True, 500)])
def test_each_http_request_is_counted_for_statsd(status: int | None, raises: bool, expected: int) -> None:
    log = StatsdLog()
    times = iter([10.0, 10.025])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if raises:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    wrapped = worker.counting_requests(app, log, clock=lambda: next(times))
    if raises:
        with pytest.raises(RuntimeError):
            asyncio.run(wrapped({"type": "http"}, receive, send))
    else:
        asyncio.run(wrapped({"type": "http"}, receive, send))
    assert log.sent == ["gunicorn.request.duration:25|ms", "gunicorn.requests:1|c", f"gunicorn.request.status.{expected}:1|c"]
    assert [message["type"] for message in sent] == ([] if raises else ["http.response.start", "http.response.body"])


def test_lifespan_and_websockets_are_not_counted() -> None:
    log = StatsdLog()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        pass

    async def nothing(*args: Any) -> Any:
        return None

    for kind in ("lifespan", "websocket"):
        asyncio.run(worker.counting_requests(app, log)({"type": kind}, nothing, nothing))
    assert not log.sent


class OpeningWebSocket:
    """A WebSocket protocol as uvicorn's websockets sans-I/O one holds it, whose app accepts it HANDSHAKE_AFTER s in."""

    class Conn:
        def __init__(self) -> None:
            self.closed_with: int | None = None

        def send_close(self, code: int) -> None:
            self.closed_with = code

        def data_to_send(self) -> list[bytes]:
            return [b"close frame"]

    class Transport:
        def __init__(self) -> None:
            self.written: list[bytes] = []
            self.closed = False

        def write(self, data: bytes) -> None:
            self.written.append(data)

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

    def __init__(self) -> None:
        self.conn, self.transport = self.Conn(), self.Transport()
        self.handshake_complete, self.close_sent = False, False
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.loop = asyncio.get_event_loop_policy().get_event_loop()


def test_a_websocket_opened_during_the_drain_gets_the_closing_handshake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERAPI_WORKER_DRAIN_SECONDS", "5")
    server = worker.DrainingServer(Config(app=lambda *a: None, lifespan="off"))

    async def noop(sockets: Any = None) -> None:
        return None

    monkeypatch.setattr(worker.Server, "shutdown", lambda self, sockets=None: noop())

    async def scenario() -> tuple[OpeningWebSocket, float]:
        websocket = OpeningWebSocket()
        websocket.loop = asyncio.get_running_loop()
        server.server_state.connections = {websocket}
        server.servers = []
        loop = asyncio.get_running_loop()
        # The app accepts 0.5 s into the drain (past IDLE_GRACE); the client answers the close frame 0.2 s later.
        loop.call_later(0.5, lambda: setattr(websocket, "handshake_complete", True))
        loop.call_later(0.7, websocket.transport.close)
        started = loop.time()
        await server.shutdown()
        return websocket, loop.time() - started

    websocket, elapsed = asyncio.run(scenario())
    assert websocket.conn.closed_with == 1012 and websocket.transport.written == [b"close frame"]
    assert 0.65 <= elapsed < 1.5  # waited for the handshake, then for the client's close
