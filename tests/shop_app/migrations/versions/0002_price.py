"""Expand: add items.price, which release 2 reads (release 1 ignores it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations import log

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("items", sa.Column("price", sa.Integer, nullable=False, server_default="42"))
    log.ran(revision)
