"""The web process of the queue app (tests of fasterapi.deploy's companions): an ASGI app, dependency-free.

Paths: /health ("ok"), /version (JSON: the release's version and the worker's pid).
The queue's side is jobs.py (Celery on Redis).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Awaitable, Callable

VERSION = Path(__file__).with_name("VERSION").read_text(encoding="utf-8").strip()


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """/health and /version; a 404 for the rest."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/health":
        status, body, kind = 200, b"ok", b"text/plain"
    elif path == "/version":
        status, body, kind = 200, json.dumps({"version": VERSION, "pid": os.getpid()}).encode(), b"application/json"
    else:
        status, body, kind = 404, b"not found", b"text/plain"
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})
