"""Make items (with legacy_note, which release 1.x reads) and migration_log."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations import log

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("migration_log", sa.Column("revision", sa.Text, nullable=False), sa.Column("host", sa.Text, nullable=False),
                    sa.Column("release", sa.Text, nullable=False),
                    sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False))
    items = op.create_table("items", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text, nullable=False),
                            sa.Column("legacy_note", sa.Text))
    op.bulk_insert(items, [{"id": 1, "name": "widget", "legacy_note": "read by release 1"}])
    log.ran(revision)
