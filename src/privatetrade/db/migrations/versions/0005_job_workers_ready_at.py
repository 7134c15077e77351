"""Jobs: when the workers a queued job waits for are expected to be ready.

A job handed to worker processes that are still starting (loading the engine's
compiled kernels) shows the stage ``waiting_for_workers``; ``workers_ready_at`` holds
the dispatcher's estimate of when they will be ready, so every server process can
show the time left. Nothing else reads it; a downgrade drops it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privatetrade.db.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, no batch copy: on SQLite, dropping the copied ``jobs`` table would
# delete every artifact row through the foreign key's ON DELETE CASCADE. (DROP COLUMN needs
# SQLite 3.35 or newer.)


def upgrade() -> None:
    """Add ``jobs.workers_ready_at``."""
    op.add_column("jobs", sa.Column("workers_ready_at", UTCDateTime))


def downgrade() -> None:
    """Drop ``jobs.workers_ready_at``."""
    op.drop_column("jobs", "workers_ready_at")
