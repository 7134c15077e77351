"""Notification channels, the outbox and delivery attempts.

:func:`queue_job_endings` runs inside the transaction that gives jobs their final state
(the jobs tables call it), so a run's messages are committed exactly when its ending is:
a crash between "job ended" and "message sent" loses nothing, and a job that ends twice
is impossible (every ending is guarded by the job's state). Messages are then claimed
with a lease by any server process's dispatcher and delivered at least once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from privatetrade.db.engine import is_sqlite, read_tx, write_tx
from privatetrade.db.schema import (
    UTCDateTime,
    jobs,
    notification_attempts,
    notification_channels,
    notification_outbox,
)
from privatetrade.domain.jobs import JobState
from privatetrade.domain.notifications import (
    Channel,
    ChannelKind,
    DeliveryAttempt,
    DeliveryOutcome,
    MessageState,
    NotificationEvent,
    OutboxMessage,
)
from privatetrade.errors import InputError

__all__ = ["NotificationStore", "events_column", "queue_job_endings"]

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_FINAL = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELLED.value)
_ATTEMPTS_KEPT = 50  # per channel
_DETAIL_CHARS = 300


def events_column(events: Sequence[NotificationEvent]) -> str:
    """The stored form of a channel's events: ``",run_failed,alert,"``."""
    return "," + ",".join(sorted({event.value for event in events})) + ","


def queue_job_endings(connection: Connection, job_ids: Sequence[str], now: dt.datetime) -> None:
    """Queue the messages of jobs that reached their final state at ``now`` in this transaction.

    One message per job and enabled channel of its owner subscribed to the job's event
    (``run_<state>``), keyed ``run_<state>:<job id>``. Jobs of ``job_ids`` that are not
    final, or did not end at ``now`` (ended earlier), get none.
    """
    if not job_ids:
        return
    event = literal("run_") + jobs.c.state
    chosen = (
        select(
            notification_channels.c.id,
            notification_channels.c.user_id,
            event,
            event + literal(":") + jobs.c.id,
            jobs.c.id,
            literal(MessageState.PENDING.value),
            literal(0),
            bindparam("queued_at", now, type_=UTCDateTime),
            bindparam("created", now, type_=UTCDateTime),
        )
        .select_from(
            jobs.join(notification_channels, notification_channels.c.user_id == jobs.c.owner)
        )
        .where(
            jobs.c.id.in_(list(job_ids)),
            jobs.c.state.in_(_FINAL),
            jobs.c.finished_at == bindparam("ended", now, type_=UTCDateTime),
            notification_channels.c.enabled.is_(True),
            notification_channels.c.events.contains(literal(",") + event + literal(",")),
        )
    )
    columns = ["channel_id", "user_id", "event", "key", "job_id", "state", "attempts"]
    connection.execute(
        insert(notification_outbox).from_select([*columns, "next_attempt_at", "created_at"], chosen)
    )


class NotificationStore:
    """Reads and writes channels, outbox messages and attempts."""

    def __init__(self, engine: Engine, clock: Clock = _utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # ------------------------------------------------------------------ channels

    def create_channel(
        self,
        channel: Channel,
        sealed: str,
        *,
        max_channels: int,
    ) -> Channel:
        """Store a new channel of ``channel.user_id``.

        Raises:
            InputError: The user has ``max_channels`` already (``too_many_channels``).
        """
        with write_tx(self.engine) as connection:
            count = connection.execute(
                select(func.count())
                .select_from(notification_channels)
                .where(notification_channels.c.user_id == channel.user_id)
            ).scalar_one()
            if count >= max_channels:
                raise InputError(
                    f"at most {max_channels} notification channels per user; delete one first",
                    field="body",
                    code="too_many_channels",
                    params={"limit": max_channels},
                )
            connection.execute(
                insert(notification_channels).values(
                    id=channel.id,
                    user_id=channel.user_id,
                    kind=channel.kind.value,
                    name=channel.name,
                    language=channel.language,
                    events=events_column(channel.events),
                    enabled=channel.enabled,
                    sealed=sealed,
                    shown=channel.shown,
                    created_at=channel.created_at,
                    updated_at=channel.updated_at,
                )
            )
        return channel

    def channels(self, user_id: str) -> list[Channel]:
        """Return the user's channels, oldest first."""
        with read_tx(self.engine) as connection:
            rows = connection.execute(
                select(notification_channels)
                .where(notification_channels.c.user_id == user_id)
                .order_by(notification_channels.c.created_at, notification_channels.c.id)
            ).all()
        return [_channel(row._mapping) for row in rows]

    def channel(self, channel_id: str, user_id: str | None = None) -> Channel | None:
        """Return the channel (only the user's when ``user_id`` is given)."""
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(notification_channels).where(*_owned(channel_id, user_id))
            ).first()
        return None if row is None else _channel(row._mapping)

    def sealed(self, channel_id: str) -> str | None:
        """Return the channel's sealed target (None when it is gone)."""
        with read_tx(self.engine) as connection:
            value = connection.execute(
                select(notification_channels.c.sealed).where(
                    notification_channels.c.id == channel_id
                )
            ).scalar()
        return None if value is None else str(value)

    def update_channel(
        self, channel_id: str, user_id: str, values: dict[str, Any]
    ) -> Channel | None:
        """Change some of a channel's columns (``events`` as a sequence of events)."""
        changes = dict(values)
        if "events" in changes:
            changes["events"] = events_column(changes["events"])
        with write_tx(self.engine) as connection:
            connection.execute(
                update(notification_channels)
                .where(*_owned(channel_id, user_id))
                .values(**changes, updated_at=self.clock())
            )
            row = connection.execute(
                select(notification_channels).where(*_owned(channel_id, user_id))
            ).first()
        return None if row is None else _channel(row._mapping)

    def delete_channel(self, channel_id: str, user_id: str) -> bool:
        """Delete a channel with its messages and attempts; False when not the user's."""
        with write_tx(self.engine) as connection:
            if (
                connection.execute(
                    select(notification_channels.c.id).where(*_owned(channel_id, user_id))
                ).first()
                is None
            ):
                return False
            connection.execute(
                delete(notification_attempts).where(
                    notification_attempts.c.channel_id == channel_id
                )
            )
            connection.execute(
                delete(notification_outbox).where(notification_outbox.c.channel_id == channel_id)
            )
            connection.execute(delete(notification_channels).where(*_owned(channel_id, user_id)))
        return True

    # ------------------------------------------------------------------ messages

    def queue(
        self,
        user_id: str,
        event: NotificationEvent,
        key: str,
        *,
        payload: dict[str, Any] | None = None,
        job_id: str | None = None,
        channel_id: str | None = None,
        hold_seconds: float = 0.0,
    ) -> list[int]:
        """Queue a message for each of the user's enabled channels that want ``event``.

        With ``channel_id``, only for that channel (whatever its events: a test message).
        A channel that already has a message with ``key`` gets no second one. Returns
        the new messages' ids. ``hold_seconds`` leases them to the caller at once (no
        dispatcher claims them meanwhile): the caller delivers them itself.
        """
        now = self.clock()
        held = now + dt.timedelta(seconds=hold_seconds) if hold_seconds > 0 else None
        conditions: list[Any] = [notification_channels.c.user_id == user_id]
        if channel_id is not None:
            conditions.append(notification_channels.c.id == channel_id)
        else:
            conditions += [
                notification_channels.c.enabled.is_(True),
                notification_channels.c.events.contains(f",{event.value},"),
            ]
        text = None if payload is None else json.dumps(payload, ensure_ascii=False)
        ids: list[int] = []
        with write_tx(self.engine) as connection:
            targets = connection.execute(
                select(notification_channels.c.id).where(*conditions)
            ).scalars()
            for target in list(targets):
                exists = connection.execute(
                    select(notification_outbox.c.id).where(
                        notification_outbox.c.channel_id == target,
                        notification_outbox.c.key == key,
                    )
                ).first()
                if exists is not None:
                    continue
                result = connection.execute(
                    insert(notification_outbox).values(
                        channel_id=target,
                        user_id=user_id,
                        event=event.value,
                        key=key,
                        job_id=job_id,
                        payload=text,
                        state=MessageState.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        lease_until=held,
                        created_at=now,
                    )
                )
                primary = result.inserted_primary_key
                if primary is not None:
                    ids.append(int(primary[0]))
        return ids

    def claim(self, limit: int, lease_seconds: float) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages (oldest first) to the caller for delivery."""
        if limit <= 0:
            return []
        now = self.clock()
        due = (
            select(notification_outbox.c.id)
            .where(
                notification_outbox.c.state == MessageState.PENDING.value,
                notification_outbox.c.next_attempt_at <= now,
                or_(
                    notification_outbox.c.lease_until.is_(None),
                    notification_outbox.c.lease_until < now,
                ),
            )
            .order_by(notification_outbox.c.next_attempt_at, notification_outbox.c.id)
            .limit(limit)
        )
        if not is_sqlite(self.engine):
            due = due.with_for_update(skip_locked=True)
        with write_tx(self.engine) as connection:
            ids = list(connection.execute(due).scalars())
            if not ids:
                return []
            connection.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id.in_(ids))
                .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
            )
            rows = connection.execute(
                select(notification_outbox)
                .where(notification_outbox.c.id.in_(ids))
                .order_by(notification_outbox.c.id)
            ).all()
        return [_message(row._mapping) for row in rows]

    def message(self, message_id: int) -> OutboxMessage | None:
        """Return one outbox message."""
        with read_tx(self.engine) as connection:
            row = connection.execute(
                select(notification_outbox).where(notification_outbox.c.id == message_id)
            ).first()
        return None if row is None else _message(row._mapping)

    def record(
        self,
        message: OutboxMessage,
        outcome: DeliveryOutcome,
        detail: str | None,
        *,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """Record one attempt: delivered, failed for good, or failed until ``retry_at``."""
        now = self.clock()
        attempt = message.attempts + 1
        short = None if detail is None else detail[:_DETAIL_CHARS]
        values: dict[str, Any] = {"attempts": attempt, "lease_until": None, "last_error": short}
        if outcome is DeliveryOutcome.DELIVERED:
            values.update(state=MessageState.DELIVERED.value, finished_at=now, last_error=None)
        elif outcome is DeliveryOutcome.FAILED or retry_at is None:
            values.update(state=MessageState.FAILED.value, finished_at=now)
        else:
            values.update(next_attempt_at=retry_at)
        with write_tx(self.engine) as connection:
            connection.execute(
                update(notification_outbox)
                .where(
                    notification_outbox.c.id == message.id,
                    notification_outbox.c.attempts == message.attempts,
                )
                .values(**values)
            )
            connection.execute(
                insert(notification_attempts).values(
                    message_id=message.id,
                    channel_id=message.channel_id,
                    attempt=attempt,
                    at=now,
                    outcome=outcome.value,
                    detail=short,
                )
            )
            _trim_attempts(connection, message.channel_id)

    def attempts(self, channel_id: str, user_id: str, limit: int = 20) -> list[DeliveryAttempt]:
        """Return the channel's newest delivery attempts (empty when not the user's)."""
        query = (
            select(
                notification_attempts,
                notification_outbox.c.event,
                notification_outbox.c.key,
                notification_outbox.c.job_id,
                notification_outbox.c.state,
            )
            .join(
                notification_outbox,
                notification_outbox.c.id == notification_attempts.c.message_id,
            )
            .join(
                notification_channels,
                notification_channels.c.id == notification_attempts.c.channel_id,
            )
            .where(
                notification_attempts.c.channel_id == channel_id,
                notification_channels.c.user_id == user_id,
            )
            .order_by(notification_attempts.c.id.desc())
            .limit(limit)
        )
        with read_tx(self.engine) as connection:
            rows = connection.execute(query).all()
        return [
            DeliveryAttempt(
                message_id=row.message_id,
                channel_id=row.channel_id,
                event=NotificationEvent(row.event),
                key=row.key,
                job_id=row.job_id,
                attempt=row.attempt,
                at=row.at,
                outcome=DeliveryOutcome(row.outcome),
                detail=row.detail,
                message_state=MessageState(row.state),
            )
            for row in rows
        ]

    def pending_count(self) -> int:
        """Messages waiting for delivery (all users)."""
        with read_tx(self.engine) as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(notification_outbox)
                    .where(notification_outbox.c.state == MessageState.PENDING.value)
                ).scalar_one()
            )

    def next_due(self) -> dt.datetime | None:
        """When the next unclaimed pending message is due (None: nothing waits)."""
        now = self.clock()
        with read_tx(self.engine) as connection:
            value: dt.datetime | None = connection.execute(
                select(func.min(notification_outbox.c.next_attempt_at)).where(
                    notification_outbox.c.state == MessageState.PENDING.value,
                    or_(
                        notification_outbox.c.lease_until.is_(None),
                        notification_outbox.c.lease_until < now,
                    ),
                )
            ).scalar()
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def forget_finished(self, older_than: dt.timedelta) -> int:
        """Delete delivered and failed messages that finished longer ago than ``older_than``."""
        cutoff = self.clock() - older_than
        finished = and_(
            notification_outbox.c.state != MessageState.PENDING.value,
            notification_outbox.c.finished_at < cutoff,
        )
        with write_tx(self.engine) as connection:
            old = select(notification_outbox.c.id).where(finished)
            connection.execute(
                delete(notification_attempts).where(notification_attempts.c.message_id.in_(old))
            )
            return int(connection.execute(delete(notification_outbox).where(finished)).rowcount)


def _trim_attempts(connection: Connection, channel_id: str) -> None:
    """Keep the channel's newest attempts only."""
    oldest_kept = connection.execute(
        select(notification_attempts.c.id)
        .where(notification_attempts.c.channel_id == channel_id)
        .order_by(notification_attempts.c.id.desc())
        .offset(_ATTEMPTS_KEPT - 1)
        .limit(1)
    ).scalar()
    if oldest_kept is not None:
        connection.execute(
            delete(notification_attempts).where(
                notification_attempts.c.channel_id == channel_id,
                notification_attempts.c.id < oldest_kept,
            )
        )


def _owned(channel_id: str, user_id: str | None) -> list[Any]:
    conditions: list[Any] = [notification_channels.c.id == channel_id]
    if user_id is not None:
        conditions.append(notification_channels.c.user_id == user_id)
    return conditions


def _channel(values: Any) -> Channel:
    events = tuple(
        NotificationEvent(name) for name in str(values["events"]).strip(",").split(",") if name
    )
    return Channel(
        id=values["id"],
        user_id=values["user_id"],
        kind=ChannelKind(values["kind"]),
        name=values["name"],
        language=values["language"],
        events=events,
        enabled=bool(values["enabled"]),
        shown=values["shown"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def _message(values: Any) -> OutboxMessage:
    payload = values["payload"]
    return OutboxMessage(
        id=int(values["id"]),
        channel_id=values["channel_id"],
        user_id=values["user_id"],
        event=NotificationEvent(values["event"]),
        key=values["key"],
        job_id=values["job_id"],
        payload=None if payload is None else json.loads(payload),
        attempts=int(values["attempts"]),
        created_at=values["created_at"],
    )
