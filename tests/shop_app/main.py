"""A small ASGI app with a PostgreSQL database, for the migrations scenario of fasterapi.deploy.

Its schema is Alembic's (migrations/): 0001 makes the table items with a
column legacy_note, 0002 (an expand step) adds price, 0003 (a contract
step) drops legacy_note, 0004 fails. Release 1.x reads legacy_note; every
later release reads price, so each works on the schema of the step before
and after it, and no other: a request answered 200 says the order was kept.

Paths:
  /health   200 "ok" once this worker reached the database
  /version  JSON: the version (file VERSION), the column this release reads
            and its value in item 1; 500 when the column is not there

The database: SHOP_DATABASE_URL (the environment file) with the password of
the credential db-password ($CREDENTIALS_DIRECTORY/db-password), as the
service and the role's migration steps both get them.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any, Awaitable, Callable

from sqlalchemy import Engine, create_engine, make_url, text

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

VERSION = Path(__file__).with_name("VERSION").read_text(encoding="utf-8").strip()
# What each release reads: the column 0003 drops, or the one 0002 adds.
COLUMN = "legacy_note" if VERSION.startswith("1.") else "price"


def database_url() -> str:
    """SHOP_DATABASE_URL with the password from the credential db-password."""
    password = (Path(os.environ["CREDENTIALS_DIRECTORY"]) / "db-password").read_text(encoding="utf-8").strip()
    return make_url(os.environ["SHOP_DATABASE_URL"]).set(password=password).render_as_string(hide_password=False)


_ENGINE: list[Engine] = []


def _engine() -> Engine:
    if not _ENGINE:
        _ENGINE.append(create_engine(database_url(), pool_size=4, pool_pre_ping=True))
    return _ENGINE[0]


def _read() -> Any:
    with _engine().connect() as connection:
        return connection.execute(text(f"SELECT {COLUMN} FROM items WHERE id = 1")).scalar_one()


def _ping() -> None:
    with _engine().connect() as connection:
        connection.execute(text("SELECT 1"))


async def _answer(send: Send, status: int, body: bytes, kind: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI callable."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await asyncio.to_thread(_ping)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/health":
        await asyncio.to_thread(_ping)
        await _answer(send, 200, b"ok", b"text/plain")
        return
    try:
        value = await asyncio.to_thread(_read)
    except Exception as err:  # noqa: BLE001 - the answer says what went wrong
        await _answer(send, 500, json.dumps({"version": VERSION, "error": str(err).splitlines()[0]}).encode())
        return
    await _answer(send, 200, json.dumps({"version": VERSION, "column": COLUMN, "value": value}).encode())
