"""Table definitions (SQLAlchemy Core); Alembic migrations create and change them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "LOCAL_OWNER",
    "UTCDateTime",
    "api_tokens",
    "artifacts",
    "jobs",
    "login_failures",
    "login_links",
    "metadata",
    "rule_strategies",
    "rule_strategy_versions",
    "sessions",
    "users",
]

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
    Column("workers_ready_at", UTCDateTime),  # estimate, while waiting_for_workers
    UniqueConstraint("owner", "idempotency_key"),
    Index("ix_jobs_state_created", "state", "created_at"),
    Index("ix_jobs_owner_created", "owner", "created_at"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column(
        "job_id",
        String(32),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    # A path under the data directory's artifacts/ folder, or NULL when ``content``
    # holds the bytes (results stored before artifacts became files).
    Column("location", String(255)),
    Column("content", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255)),
    Column("role", String(16), nullable=False, server_default="user"),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index("ix_api_tokens_user_id", "user_id"),
)

login_links = Table(
    "login_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# One row per failed login (the audit log the login limits count): ``key`` is the
# case-folded username tried, ``client`` the caller's address; a later successful login
# of the same account from the same client sets ``cleared_at`` (no longer counted).
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("client", String(64)),
    Column("cleared_at", UTCDateTime),
    Index("ix_login_failures_key_at", "key", "at"),
    Index("ix_login_failures_client_at", "client", "at"),
)

# A user's saved rule strategies (docs/rules.md). ``name_key`` is the case-folded name,
# unique per owner; a deleted strategy keeps its row and versions (``deleted_at`` set,
# ``name_key`` NULL, so the name is free again). ``version`` is the latest version.
rule_strategies = Table(
    "rule_strategies",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100)),
    Column("description", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    UniqueConstraint("owner", "name_key"),
    Index("ix_rule_strategies_owner_updated", "owner", "updated_at"),
)

# Every saved version of a rule strategy, never changed once written: ``document`` is
# the rule document as JSON text, ``sha256`` its digest.
rule_strategy_versions = Table(
    "rule_strategy_versions",
    metadata,
    Column(
        "strategy_id",
        String(32),
        ForeignKey("rule_strategies.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("strategy_id", "version"),
)

# Per-user notification channels (docs/notifications.md). ``events`` lists the events the
# channel wants between commas (",run_failed,alert,") so one LIKE picks the channels of an
# event; ``sealed`` holds the target and its secrets, encrypted (never shown again);
# ``shown`` the masked target the API and the pages show.
notification_channels = Table(
    "notification_channels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("language", String(8), nullable=False),
    Column("events", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("sealed", Text, nullable=False),
    Column("shown", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_notification_channels_user_id", "user_id"),
)

# The outbox: one message per channel and event, written in the transaction that ended the
# job (or queued the alert); ``key`` is the message's idempotency key within its channel.
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "channel_id",
        String(32),
        ForeignKey("notification_channels.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("job_id", String(32)),
    Column("payload", Text),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("last_error", String(300)),
    UniqueConstraint("channel_id", "key"),
    Index("ix_notification_outbox_state_next_attempt_at", "state", "next_attempt_at"),
)

# Every delivery attempt (the newest few per channel are kept and shown to the user).
notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        Integer,
        ForeignKey("notification_outbox.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "channel_id",
        String(32),
        ForeignKey("notification_channels.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", String(300)),
    Index("ix_notification_attempts_channel_id_at", "channel_id", "at"),
)
