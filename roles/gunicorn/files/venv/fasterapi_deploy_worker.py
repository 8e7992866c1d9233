"""uvicorn workers for gunicorn that drop no just-accepted connection on a graceful stop.

Installed into the app's virtualenv by the fasterapi.deploy.gunicorn role.

uvicorn's ``Server.shutdown()`` stops accepting and at once closes every
connection whose request it has not parsed yet, including connections it
accepted a moment ago whose request bytes are already in the socket buffer:
those clients get a reset or an empty reply during a rolling restart, a
``max_requests`` recycle or a stop. These workers stop accepting first (the
kernel's listen queue stays with the shared socket, for the other workers or
the next generation), give the connections they hold ``DRAIN_SECONDS`` to
deliver their request, then run uvicorn's usual shutdown, which lets
in-flight requests finish. Every response sent during that pause carries
``Connection: close``, so a keep-alive client moves to a new connection
(served by the other workers or the next generation) instead of reusing one
that is about to close; what remains is a client that sends on an idle
connection at the very moment it closes. Set FASTERAPI_WORKER_DRAIN_SECONDS to change the
pause (default 0.3 s; 0 turns it off).

When FASTERAPI_WORKER_READY_DIR is set, a worker writes ``<pid>`` there once
its ASGI lifespan startup has completed and it serves, and removes it when it
stops: the rolling restart waits for every new worker to be ready that way,
whatever the app or its logging.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from typing import Any, Awaitable, Callable

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornH11Worker, UvicornWorker

__all__ = ["DrainingServer", "DrainingUvicornH11Worker", "DrainingUvicornWorker", "drain_seconds"]


def drain_seconds() -> float:
    """The pause between closing the listeners and closing idle connections."""
    try:
        value = float(os.environ.get("FASTERAPI_WORKER_DRAIN_SECONDS", "0.3"))
    except ValueError:
        return 0.3
    return min(max(value, 0.0), 10.0)


def _ready_file() -> str | None:
    directory = os.environ.get("FASTERAPI_WORKER_READY_DIR")
    return os.path.join(directory, str(os.getpid())) if directory else None


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
                   Awaitable[None]]


class DrainingServer(Server):
    """A uvicorn server that reports readiness, and on shutdown stops accepting, pauses, then shuts down as usual."""

    draining = False

    def closing_when_draining(self, app: ASGIApp) -> ASGIApp:
        """Wrap the app: while draining, answers say ``Connection: close``."""

        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
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
        pause = drain_seconds()
        if pause > 0 and self.server_state.connections:
            await asyncio.sleep(pause)
        ready = _ready_file()
        if ready:
            try:
                os.unlink(ready)
            except OSError:
                pass
        await super().shutdown(sockets=sockets)


class DrainingUvicornWorker(UvicornWorker):
    """``uvicorn_worker.UvicornWorker`` (uvloop, httptools) with a draining shutdown."""

    async def _serve(self) -> None:
        server = DrainingServer(config=self.config)
        self.config.app = server.closing_when_draining(self.wsgi)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class DrainingUvicornH11Worker(DrainingUvicornWorker):
    """``uvicorn_worker.UvicornH11Worker`` (asyncio, h11) with a draining shutdown."""

    CONFIG_KWARGS = UvicornH11Worker.CONFIG_KWARGS
