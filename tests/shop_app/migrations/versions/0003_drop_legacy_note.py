"""Contract: drop items.legacy_note, which only release 1 read."""

from __future__ import annotations

from alembic import op

from migrations import log

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.drop_column("items", "legacy_note")
    log.ran(revision)
