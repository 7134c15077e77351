"""Rule strategies: a user's saved rule documents, every version kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privatetrade.db.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``rule_strategies`` and ``rule_strategy_versions``."""
    op.create_table(
        "rule_strategies",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100)),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_rule_strategies"),
        sa.UniqueConstraint("owner", "name_key", name="uq_rule_strategies_owner_name_key"),
    )
    op.create_index("ix_rule_strategies_owner_updated", "rule_strategies", ["owner", "updated_at"])
    op.create_table(
        "rule_strategy_versions",
        sa.Column("strategy_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("strategy_id", "version", name="pk_rule_strategy_versions"),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["rule_strategies.id"],
            name="fk_rule_strategy_versions_strategy_id_rule_strategies",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    """Drop both tables (the saved strategies are lost; results keep their rules)."""
    op.drop_table("rule_strategy_versions")
    op.drop_index("ix_rule_strategies_owner_updated", table_name="rule_strategies")
    op.drop_table("rule_strategies")
