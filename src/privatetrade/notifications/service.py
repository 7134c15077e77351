"""The notification service: users' channels, queued messages, and one delivery attempt.

Channels are checked (:mod:`.targets`), their targets sealed (:mod:`.sealing`) and stored;
messages wait in the outbox until the dispatcher (:mod:`.dispatcher`) hands each to
:meth:`NotificationService.deliver`, which renders it in the channel's language, sends it
with a timeout and records the outcome: delivered, retried later (exponential backoff),
or failed after the last attempt.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from privatetrade.db.notifications import NotificationStore
from privatetrade.domain.jobs import Job
from privatetrade.domain.notifications import (
    Channel,
    ChannelKind,
    DeliveryAttempt,
    DeliveryOutcome,
    NotificationEvent,
    OutboxMessage,
)
from privatetrade.errors import InputError, NotFoundError
from privatetrade.notifications.messages import LANGUAGES, render
from privatetrade.notifications.sealing import SealBrokenError, Sealer
from privatetrade.notifications.senders import (
    DeliveryError,
    Envelope,
    SmtpServer,
    send_apprise,
    send_email,
    send_webhook,
)
from privatetrade.notifications.targets import build_target

__all__ = ["MAX_CHANNELS", "DeliverySettings", "NotificationService", "SentTest"]

MAX_CHANNELS = 10
SUBSCRIBABLE = (
    NotificationEvent.RUN_SUCCEEDED,
    NotificationEvent.RUN_FAILED,
    NotificationEvent.RUN_CANCELLED,
    NotificationEvent.ALERT,
)
_TEST_HOLD_SECONDS = 300.0  # a test message is sent at once, never by the dispatcher
log = structlog.get_logger("privatetrade.notifications")


class JobReader(Protocol):
    """Reads a job (the jobs tables' ``get``)."""

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """Return the job, or None."""
        ...


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How messages are sent and retried.

    Attributes:
        base_url: The service's public URL; links in messages start with it.
        smtp: The SMTP server of e-mail channels (None: e-mail is not offered).
        timeout: Seconds one attempt may take (connect and read each).
        max_attempts: Attempts before a message is given up (``failed``).
        retry_seconds: Wait before the first retry; it doubles with each retry.
        retry_max_seconds: The longest wait between two attempts.
    """

    base_url: str
    smtp: SmtpServer | None = None
    timeout: float = 10.0
    max_attempts: int = 8
    retry_seconds: float = 30.0
    retry_max_seconds: float = 3600.0

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
        return float(min(self.retry_seconds * 2 ** (attempt - 1), self.retry_max_seconds))


@dataclass(frozen=True, slots=True)
class SentTest:
    """What a test message did."""

    delivered: bool
    detail: str | None


class NotificationService:
    """Channels of users, and delivery of the messages queued for them."""

    def __init__(
        self,
        store: NotificationStore,
        jobs: JobReader,
        sealer: Sealer,
        delivery: DeliverySettings,
        *,
        on_outcome: Callable[[ChannelKind, DeliveryOutcome], None] | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.sealer = sealer
        self.delivery = delivery
        self.on_outcome = on_outcome
        self.on_queued = on_queued

    # ------------------------------------------------------------------ channels

    def create_channel(
        self,
        user_id: str,
        kind: ChannelKind,
        target: str,
        *,
        events: Sequence[NotificationEvent],
        language: str = "en",
        name: str | None = None,
        chat_id: str | None = None,
    ) -> tuple[Channel, str | None]:
        """Check and store a channel; return it and the webhook's secret (shown once).

        Raises:
            InputError: Naming the field (``target``, ``chat_id``, ``events``,
                ``language``, ``kind``), or ``too_many_channels``.
        """
        if kind is ChannelKind.EMAIL and self.delivery.smtp is None:
            raise InputError(
                "kind: e-mail is not available; the server has no SMTP settings",
                field="kind",
                code="notification_email_unavailable",
            )
        checked_events = _checked_events(events)
        checked_language = _checked_language(language)
        built = build_target(kind, target, chat_id)
        now = dt.datetime.now(dt.UTC)
        channel = Channel(
            id=uuid.uuid4().hex,
            user_id=user_id,
            kind=kind,
            name=_checked_name(name, kind),
            language=checked_language,
            events=checked_events,
            enabled=True,
            shown=built.shown,
            created_at=now,
            updated_at=now,
        )
        sealed = self.sealer.seal({"address": built.address, "secret": built.secret})
        self.store.create_channel(channel, sealed, max_channels=MAX_CHANNELS)
        log.info("notification.channel_created", channel_id=channel.id, kind=kind.value)
        return channel, built.secret

    def channels(self, user_id: str) -> list[Channel]:
        """The user's channels."""
        return self.store.channels(user_id)

    def channel(self, channel_id: str, user_id: str) -> Channel:
        """One of the user's channels.

        Raises:
            NotFoundError: No such channel of this user.
        """
        found = self.store.channel(channel_id, user_id)
        if found is None:
            raise NotFoundError(f"no notification channel with id {channel_id!r}")
        return found

    def update_channel(
        self,
        channel_id: str,
        user_id: str,
        *,
        name: str | None = None,
        events: Sequence[NotificationEvent] | None = None,
        enabled: bool | None = None,
        language: str | None = None,
        target: str | None = None,
        chat_id: str | None = None,
    ) -> Channel:
        """Change a channel (a new target keeps a webhook's secret).

        Raises:
            NotFoundError: No such channel of this user.
            InputError: Naming the field.
        """
        current = self.channel(channel_id, user_id)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _checked_name(name, current.kind)
        if events is not None:
            values["events"] = _checked_events(events)
        if enabled is not None:
            values["enabled"] = enabled
        if language is not None:
            values["language"] = _checked_language(language)
        if target is not None:
            built = build_target(current.kind, target, chat_id)
            secret = built.secret
            if current.kind is ChannelKind.WEBHOOK:
                secret = self._opened(channel_id).get("secret") or secret
            values["sealed"] = self.sealer.seal({"address": built.address, "secret": secret})
            values["shown"] = built.shown
        changed = self.store.update_channel(channel_id, user_id, values) if values else current
        if changed is None:
            raise NotFoundError(f"no notification channel with id {channel_id!r}")
        return changed

    def delete_channel(self, channel_id: str, user_id: str) -> None:
        """Delete a channel with its queued messages and attempts.

        Raises:
            NotFoundError: No such channel of this user.
        """
        if not self.store.delete_channel(channel_id, user_id):
            raise NotFoundError(f"no notification channel with id {channel_id!r}")

    def attempts(self, channel_id: str, user_id: str, limit: int = 20) -> list[DeliveryAttempt]:
        """The channel's newest delivery attempts.

        Raises:
            NotFoundError: No such channel of this user.
        """
        self.channel(channel_id, user_id)
        return self.store.attempts(channel_id, user_id, limit)

    # ------------------------------------------------------------------ messages

    def notify_user(
        self,
        user_id: str,
        event: NotificationEvent,
        *,
        key: str,
        title: str | Mapping[str, str],
        text: str | Mapping[str, str],
        link: str | None = None,
    ) -> int:
        """Queue a message for each of the user's channels that want ``event``.

        ``title`` and ``text`` are one text or one per language (``{"en": ..., "ko":
        ...}``); ``link`` may be a path (joined to the public URL). A ``key`` already
        queued on a channel is not queued again. Returns how many messages were queued.
        """
        if event is NotificationEvent.TEST or not key or len(key) > 200:
            raise ValueError("give a subscribable event and a key of 1 to 200 characters")
        payload = {
            "title": title if isinstance(title, str) else dict(title),
            "text": text if isinstance(text, str) else dict(text),
            "link": link,
        }
        queued = self.store.queue(user_id, event, key, payload=payload)
        if queued and self.on_queued is not None:
            self.on_queued()
        return len(queued)

    def send_test(self, channel_id: str, user_id: str) -> SentTest:
        """Send a test message now (one attempt, recorded like any other).

        Raises:
            NotFoundError: No such channel of this user.
        """
        self.channel(channel_id, user_id)
        key = f"test:{uuid.uuid4().hex}"
        ids = self.store.queue(
            user_id,
            NotificationEvent.TEST,
            key,
            channel_id=channel_id,
            hold_seconds=_TEST_HOLD_SECONDS,
        )
        message = self.store.message(ids[0]) if ids else None
        if message is None:
            raise NotFoundError(f"no notification channel with id {channel_id!r}")
        outcome, detail = self.deliver(message, last_attempt=True)
        return SentTest(outcome is DeliveryOutcome.DELIVERED, detail)

    def deliver(
        self, message: OutboxMessage, *, last_attempt: bool = False
    ) -> tuple[DeliveryOutcome, str | None]:
        """Make one delivery attempt of ``message`` and record its outcome."""
        channel = self.store.channel(message.channel_id)
        if channel is None:  # deleted meanwhile (its messages went with it)
            return DeliveryOutcome.FAILED, "the channel was deleted"
        attempt = message.attempts + 1
        detail: str | None = None
        try:
            self._send(channel, message)
        except (DeliveryError, SealBrokenError) as exc:
            detail = str(exc)
        except Exception as exc:  # a bug or a library's surprise must not stop the dispatcher
            detail = f"unexpected error: {type(exc).__name__}"
            log.exception("notification.unexpected_error", channel_id=channel.id)
        final = last_attempt or attempt >= self.delivery.max_attempts
        if detail is None:
            outcome = DeliveryOutcome.DELIVERED
        else:
            outcome = DeliveryOutcome.FAILED if final else DeliveryOutcome.RETRY
        retry_at = None
        if outcome is DeliveryOutcome.RETRY:
            wait = self.delivery.retry_delay(attempt)
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
        self.store.record(message, outcome, detail, retry_at=retry_at)
        log.info(
            "notification.attempt",
            message_id=message.id,
            channel_id=channel.id,
            kind=channel.kind.value,
            notification=message.event.value,
            attempt=attempt,
            outcome=outcome.value,
            detail=detail,
        )
        if self.on_outcome is not None:
            self.on_outcome(channel.kind, outcome)
        return outcome, detail

    def _opened(self, channel_id: str) -> dict[str, Any]:
        sealed = self.store.sealed(channel_id)
        if sealed is None:
            raise SealBrokenError("the channel was deleted")
        return self.sealer.open(sealed)

    def _send(self, channel: Channel, message: OutboxMessage) -> None:
        if not channel.enabled and message.event is not NotificationEvent.TEST:
            raise DeliveryError("the channel is turned off")
        target = self._opened(channel.id)
        job = self.jobs.get(message.job_id) if message.job_id else None
        rendered = render(
            message,
            job,
            language=channel.language,
            base_url=self.delivery.base_url,
            channel_name=channel.name,
        )
        envelope = Envelope(
            idempotency_key=f"{channel.id}:{message.key}",
            event=message.event.value,
            channel_id=channel.id,
            created_at=message.created_at.isoformat(),
        )
        timeout = self.delivery.timeout
        address = str(target["address"])
        if channel.kind is ChannelKind.WEBHOOK:
            send_webhook(address, str(target["secret"]), rendered, envelope, timeout=timeout)
        elif channel.kind is ChannelKind.EMAIL:
            if self.delivery.smtp is None:
                raise DeliveryError("the server has no SMTP settings")
            send_email(self.delivery.smtp, address, rendered, envelope, timeout=timeout)
        else:
            send_apprise(address, rendered, connect_timeout=timeout, read_timeout=timeout)


def _checked_events(events: Sequence[NotificationEvent]) -> tuple[NotificationEvent, ...]:
    chosen = tuple(dict.fromkeys(events))
    if not chosen or any(event not in SUBSCRIBABLE for event in chosen):
        raise InputError(
            "events: pick one or more of " + ", ".join(event.value for event in SUBSCRIBABLE),
            field="events",
            code="notification_events_invalid",
            params={"allowed": ", ".join(event.value for event in SUBSCRIBABLE)},
        )
    return chosen


def _checked_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InputError(
            "language: en or ko",
            field="language",
            code="notification_language_invalid",
            params={"allowed": ", ".join(LANGUAGES)},
        )
    return language


def _checked_name(name: str | None, kind: ChannelKind) -> str:
    text = (name or "").strip() or kind.value
    if len(text) > 100:
        raise InputError(
            "name: at most 100 characters",
            field="name",
            code="string_too_long",
            params={"max_length": 100},
        )
    return text
