"""Login failures: one row per failure with the client's address, cleared by a success.

Before, each failure was two rows, ``user:NAME`` and ``client:ADDRESS``, and a success
deleted the user's rows. Now a row keeps the username in ``key`` and the address in
``client``; a success sets ``cleared_at`` instead of deleting (the table is the audit
log). Old user rows keep their username (without the prefix) and no client; old client
rows, which no longer count anything, are dropped. A downgrade writes both kinds back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privatetrade.db.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_USER_PREFIX = "user:"
_CLIENT_PREFIX = "client:"


def _failures() -> sa.TableClause:
    return sa.table(
        "login_failures",
        sa.column("key", sa.String),
        sa.column("at", UTCDateTime),
        sa.column("client", sa.String),
        sa.column("cleared_at", UTCDateTime),
    )


def upgrade() -> None:
    """Add ``client`` and ``cleared_at``; rewrite the old rows."""
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(sa.Column("client", sa.String(64)))
        batch.add_column(sa.Column("cleared_at", UTCDateTime))
    op.create_index("ix_login_failures_client_at", "login_failures", ["client", "at"])
    failures = _failures()
    op.execute(sa.delete(failures).where(failures.c.key.startswith(_CLIENT_PREFIX)))
    op.execute(
        sa.update(failures)
        .where(failures.c.key.startswith(_USER_PREFIX))
        .values(key=sa.func.substr(failures.c.key, len(_USER_PREFIX) + 1))
    )


def downgrade() -> None:
    """Back to ``user:``/``client:`` rows (cleared failures are dropped, as a success did)."""
    failures = _failures()
    op.execute(sa.delete(failures).where(failures.c.cleared_at.is_not(None)))
    op.execute(
        sa.insert(failures).from_select(
            ["key", "at"],
            sa.select(sa.literal(_CLIENT_PREFIX) + failures.c.client, failures.c.at).where(
                failures.c.client.is_not(None), ~failures.c.key.startswith(_CLIENT_PREFIX)
            ),
        )
    )
    op.execute(
        sa.update(failures)
        .where(~failures.c.key.startswith(_CLIENT_PREFIX))
        .values(key=sa.literal(_USER_PREFIX) + failures.c.key)
    )
    op.drop_index("ix_login_failures_client_at", table_name="login_failures")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("cleared_at")
        batch.drop_column("client")
