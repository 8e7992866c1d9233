"""uvicorn workers for gunicorn that drop no accepted connection on a graceful stop, and recycle by memory or age.

Installed into the app's virtualenv by the fasterapi.deploy.gunicorn role.

Draining by state. uvicorn's ``Server.shutdown()`` stops accepting and at
once closes every connection whose request it has not parsed yet, including
connections it accepted a moment ago whose client has not sent its request
yet (a client starved of CPU can take longer than any fixed pause): those
clients get a reset or an empty reply during a rolling restart, a recycle or
a stop. These workers stop accepting first (the kernel's listen queue stays
with the shared socket, for the other workers or the next generation), then
serve every connection that has not had its first request until that
request has been read and answered, or the client closes it, bounded by
FASTERAPI_WORKER_DRAIN_SECONDS (the role sets gunicorn_worker_drain_seconds;
0 closes them at once, as uvicorn does). Open WebSockets get the closing
handshake of RFC 6455 (close frame 1012 "service restart", then the TCP
connection is closed once the client answered it, within the same bound):
uvicorn's own shutdown sends the close frame and closes the connection at
once, so a message the client sent meanwhile makes the kernel reset it and
the client sees an abnormal end (1006), not the close frame. Connections that have been answered
and wait idle get IDLE_GRACE (0.3 s) to send another request, then are
closed by uvicorn's usual shutdown, which lets in-flight requests finish. Every response sent while draining carries
``Connection: close``, so a keep-alive client moves to a new connection
(served by the other workers or the next generation).

Recycling by memory or age. With FASTERAPI_WORKER_MAX_MEMORY_MB, a worker
whose resident memory passes that many MiB stops gracefully (as above) and
gunicorn starts a fresh one; with FASTERAPI_WORKER_MAX_AGE_SECONDS, a worker
does the same after that many seconds, plus up to a tenth more at random so
that workers started together do not stop together. Checked once a second;
0 or unset turns each off. Unlike ``max_requests``, this costs nothing while
memory stays below the limit.

When FASTERAPI_WORKER_READY_DIR is set, a worker writes ``<pid>`` there once
its ASGI lifespan startup has completed and it serves, and removes it when it
stops: the rolling restart waits for every new worker to be ready that way,
whatever the app or its logging.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import random
import socket
import sys
import time
from typing import Any, Awaitable, Callable

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornH11Worker, UvicornWorker

__all__ = ["DrainingServer", "DrainingUvicornH11Worker", "DrainingUvicornWorker", "Recycler", "counting_requests", "drain_seconds",
           "resident_mib", "says_close_when_not_kept_alive"]

logger = logging.getLogger("uvicorn.error")
DEFAULT_DRAIN_SECONDS = 30.0
# How long idle keep-alive connections stay open once a worker stops accepting.
IDLE_GRACE = 0.3


def _number(name: str, default: float, most: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return min(max(value, 0.0), most)


def drain_seconds() -> float:
    """The longest a stopping worker waits for the first request of a connection it accepted."""
    return _number("FASTERAPI_WORKER_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS, 3600.0)


def resident_mib(statm: str = "/proc/self/statm") -> float:
    """This process's resident memory in MiB (0 where /proc is not there)."""
    try:
        with open(statm, encoding="ascii") as status:
            pages = int(status.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1048576


class Recycler:
    """Whether a worker should stop to be replaced: its memory over a limit, or its age over a limit."""

    def __init__(self, max_mib: float, max_age: float, started: float, jitter: float | None = None,
                 memory: Callable[[], float] = resident_mib) -> None:
        self.max_mib, self.memory = max_mib, memory
        self.deadline = started + max_age * (1 + (random.uniform(0.0, 0.1) if jitter is None else jitter)) if max_age else 0.0

    @classmethod
    def from_environment(cls) -> "Recycler | None":
        max_mib = _number("FASTERAPI_WORKER_MAX_MEMORY_MB", 0.0, 1e9)
        max_age = _number("FASTERAPI_WORKER_MAX_AGE_SECONDS", 0.0, 1e9)
        return cls(max_mib, max_age, time.monotonic()) if max_mib or max_age else None

    def reason(self, now: float) -> str:
        """Why to recycle now ("" when not)."""
        if self.max_mib:
            used = self.memory()
            if used > self.max_mib:
                return "resident memory %.0f MiB is over the limit of %.0f MiB" % (used, self.max_mib)
        if self.deadline and now >= self.deadline:
            return "it reached its maximum age"
        return ""


def says_close_when_not_kept_alive(http: object) -> bool:
    """Whether uvicorn's HTTP protocol for HTTP (config.http) adds Connection: close to an answer that ends its connection.

    The httptools protocol does; h11's does not. "auto" is httptools when it is installed.
    """
    if http == "auto":
        return importlib.util.find_spec("httptools") is not None
    return http == "httptools"


def _ready_file() -> str | None:
    directory = os.environ.get("FASTERAPI_WORKER_READY_DIR")
    return os.path.join(directory, str(os.getpid())) if directory else None


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
                   Awaitable[None]]


class DrainingServer(Server):
    """A uvicorn server that reports readiness, and on shutdown stops accepting, pauses, then shuts down as usual."""

    draining = False
    recycler: Recycler | None = None
    # Whether answers to requests that started before the drain need the wrapper to say Connection: close.
    wrap_every_request = False

    async def on_tick(self, counter: int) -> bool:
        if await super().on_tick(counter):
            return True
        if self.recycler is not None and counter % 10 == 0:
            reason = self.recycler.reason(time.monotonic())
            if reason:
                logger.warning("Worker %d recycles (graceful): %s.", os.getpid(), reason)
                return True
        return False

    def closing_when_draining(self, app: ASGIApp) -> ASGIApp:
        """Wrap the app: while draining, answers say ``Connection: close``."""

        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            # Requests that start before the drain go straight through: shutdown()
            # sets keep_alive False on those still in progress, and uvicorn's
            # httptools protocol then says Connection: close itself. Only a
            # request that starts while draining pays for the wrapped send
            # (every request under h11, whose protocol does not say it).
            if scope["type"] != "http" or not (self.draining or self.wrap_every_request):
                await app(scope, receive, send)
                return

            async def send_closing(message: dict[str, Any]) -> None:
                if self.draining and message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
                await send(message)

            await app(scope, receive, send_closing)

        return wrapped

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        ready = _ready_file()
        if ready and not self.should_exit:
            try:
                with open(ready, "w", encoding="ascii") as marker:
                    marker.write("ready\n")
            except OSError:
                pass  # readiness is a hint for the rolling restart, never a reason to fail

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        self.draining = True
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is not None and not getattr(cycle, "response_complete", True):
                cycle.keep_alive = False  # a request in progress: its answer closes the connection
        self.close_websockets()
        await self.serve_first_requests(drain_seconds())
        ready = _ready_file()
        if ready:
            try:
                os.unlink(ready)
            except OSError:
                pass
        await super().shutdown(sockets=sockets)

    def close_websockets(self, code: int = 1012) -> int:
        """Start the closing handshake on each open WebSocket of uvicorn's websockets (sans-I/O) or wsproto protocols.

        The close frame goes out now and the app gets websocket.disconnect;
        the protocol closes the TCP connection when the client's close frame
        comes back (its own handler does), or after its close_timeout.
        Returns how many were started.
        """
        started = 0
        for connection in list(self.server_state.connections):
            conn = getattr(connection, "conn", None)
            transport = getattr(connection, "transport", None)
            if (conn is None or transport is None or not getattr(connection, "handshake_complete", False)
                    or getattr(connection, "close_sent", True) or transport.is_closing()):
                continue
            if hasattr(conn, "send_close"):  # websockets' sans-I/O ServerProtocol
                conn.send_close(code)
                data = b"".join(conn.data_to_send())
            else:  # wsproto's WSConnection
                from wsproto.events import CloseConnection  # pylint: disable=import-outside-toplevel
                data = conn.send(CloseConnection(code=code))
            getattr(connection, "stop_keepalive", lambda: None)()
            connection.queue.put_nowait({"type": "websocket.disconnect", "code": code})
            transport.write(data)
            connection.close_sent = True
            connection.close_timer = connection.loop.call_later(max(drain_seconds(), 0.1), transport.close)
            started += 1
        return started

    def closing_websockets(self) -> int:
        """How many WebSockets sent their close frame and wait for the client's."""
        return sum(1 for connection in self.server_state.connections
                   if getattr(connection, "close_sent", False) and getattr(connection, "close_timer", None) is not None
                   and not connection.transport.is_closing())

    def opening_websockets(self) -> int:
        """How many WebSockets are in their opening handshake (the app has not accepted or refused them yet)."""
        return sum(1 for connection in self.server_state.connections
                   if getattr(connection, "conn", None) is not None and getattr(connection, "transport", None) is not None
                   and not getattr(connection, "handshake_complete", True) and not connection.transport.is_closing())

    def awaiting_first_request(self) -> int:
        """How many open connections have not had a request yet (an HTTP protocol whose ``cycle`` is still None)."""
        return sum(1 for connection in self.server_state.connections if getattr(connection, "cycle", False) is None)

    async def serve_first_requests(self, bound: float) -> None:
        """Until each connection that has not had its request yet has had it answered or was closed; at most BOUND s.

        Idle keep-alive connections get IDLE_GRACE seconds too: a client that
        sends on one meanwhile is answered (with Connection: close) instead
        of finding it closed under its request (measured: 38 of 26,333
        keep-alive requests failed over six rolling restarts without it).
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + bound
        grace = now + min(IDLE_GRACE, bound) if self.server_state.connections else now
        while not self.force_exit and loop.time() < deadline:
            # A WebSocket whose opening handshake completed meanwhile (its upgrade request came in just before the
            # drain) gets the closing handshake too; closed by uvicorn's own shutdown, it would meet a reset
            # (measured: front_door, 1 of 3 connections over a rolling restart).
            self.close_websockets()
            if not (self.awaiting_first_request() or self.opening_websockets() or self.closing_websockets()
                    or loop.time() < grace):
                break
            await asyncio.sleep(0.01)


def counting_requests(app: ASGIApp, log: Any, clock: Callable[[], float] = time.monotonic) -> ASGIApp:
    """Wrap the app: send gunicorn's request metrics to statsd for every HTTP request, as gunicorn's own workers do.

    ``gunicorn.requests`` and ``gunicorn.request.status.<code>`` (counters) and
    ``gunicorn.request.duration`` (a timer, in ms), through gunicorn's statsd
    logger LOG. uvicorn's workers answer requests themselves, so gunicorn
    never sees them and sends only its master's metrics.
    """

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = clock()
        status = 500  # what uvicorn answers when the app raises before it started a response

        async def send_noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_noting_status)
        finally:
            log.timer("gunicorn.request.duration", (clock() - started) * 1000.0)
            log.increment("gunicorn.requests", 1)
            log.increment("gunicorn.request.status.%d" % status, 1)

    return counted


class DrainingUvicornWorker(UvicornWorker):
    """``uvicorn_worker.UvicornWorker`` (uvloop, httptools) with a draining shutdown."""

    async def _serve(self) -> None:
        server = DrainingServer(config=self.config)
        server.recycler = Recycler.from_environment()
        server.wrap_every_request = not says_close_when_not_kept_alive(self.config.http)
        self.config.app = server.closing_when_draining(self.wsgi)
        if self.cfg.statsd_host:
            self.config.app = counting_requests(self.config.app, self.log)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class DrainingUvicornH11Worker(DrainingUvicornWorker):
    """``uvicorn_worker.UvicornH11Worker`` (asyncio, h11) with a draining shutdown."""

    CONFIG_KWARGS = UvicornH11Worker.CONFIG_KWARGS
