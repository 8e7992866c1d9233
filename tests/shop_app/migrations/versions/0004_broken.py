"""An expand step that fails: it alters a table that does not exist (the whole upgrade is rolled back)."""

from __future__ import annotations

from alembic import op

from migrations import log

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    log.ran(revision)
    op.execute("ALTER TABLE no_such_table ADD COLUMN flag boolean")
