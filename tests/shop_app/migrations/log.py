"""What every migration of the shop app does besides its change: a row in migration_log, the count the tests read."""

from __future__ import annotations

import os
import socket

from alembic import op
from sqlalchemy import text


def ran(revision: str) -> None:
    """Log that REVISION ran: on which host, from which release, at what time (the database's clock)."""
    op.get_bind().execute(text("INSERT INTO migration_log (revision, host, release) VALUES (:revision, :host, :release)"),
                          {"revision": revision, "host": socket.gethostname(), "release": os.environ.get("FASTERAPI_RELEASE", "")})
