"""Table definitions (SQLAlchemy Core); Alembic migrations create and change them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = ["LOCAL_OWNER", "UTCDateTime", "jobs", "metadata", "results"]

# Until accounts exist every object belongs to this one local owner.
LOCAL_OWNER = "local"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Store UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Read back an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("kind", String(16), nullable=False, server_default="backtest"),
    Column("state", String(16), nullable=False),
    Column("spec", Text, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("idempotency_key", String(255)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("stage", String(32), nullable=False, server_default="queued"),
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("lost_attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(128)),
    Column("lease_until", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("worker", String(255)),
    Column("cancel_requested", Boolean, nullable=False, server_default="0"),
    Column("error", Text),
    Column("reason", String(32)),
    Column("summary", JSON),
    UniqueConstraint("owner", "idempotency_key"),
    Index("ix_jobs_state_created", "state", "created_at"),
    Index("ix_jobs_owner_created", "owner", "created_at"),
)

results = Table(
    "results",
    metadata,
    Column(
        "job_id",
        String(32),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("owner", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("trades_csv", LargeBinary, nullable=False),
    Column("equity_csv", LargeBinary, nullable=False),
    Column("document_sha256", String(64), nullable=False),
)
