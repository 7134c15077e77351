"""Notifications: per-user channels, the outbox of messages and their delivery attempts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privatetrade.db.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create notification_channels, notification_outbox and notification_attempts."""
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default="1"),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("shown", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_channels"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_notification_channels_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_notification_channels_user_id", "notification_channels", ["user_id"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("job_id", sa.String(32)),
        sa.Column("payload", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("last_error", sa.String(300)),
        sa.PrimaryKeyConstraint("id", name="pk_notification_outbox"),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_notification_outbox_channel_id_notification_channels",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("channel_id", "key", name="uq_notification_outbox_channel_id_key"),
    )
    op.create_index(
        "ix_notification_outbox_state_next_attempt_at",
        "notification_outbox",
        ["state", "next_attempt_at"],
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(300)),
        sa.PrimaryKeyConstraint("id", name="pk_notification_attempts"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_outbox.id"],
            name="fk_notification_attempts_message_id_notification_outbox",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_notification_attempts_channel_id_notification_channels",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_notification_attempts_channel_id_at", "notification_attempts", ["channel_id", "at"]
    )


def downgrade() -> None:
    """Drop the notification tables (channels, queued messages and attempts are lost)."""
    op.drop_index("ix_notification_attempts_channel_id_at", "notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_notification_outbox_state_next_attempt_at", "notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_notification_channels_user_id", "notification_channels")
    op.drop_table("notification_channels")
