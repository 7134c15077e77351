"""Notifications: channels, events, outbox messages and delivery attempts (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from privatetrade.domain.jobs import JobState

__all__ = [
    "RUN_EVENTS",
    "Channel",
    "ChannelKind",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "MessageState",
    "NotificationEvent",
    "OutboxMessage",
]


class NotificationEvent(StrEnum):
    """What a message is about; each channel picks the events it wants."""

    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    RUN_CANCELLED = "run_cancelled"
    ALERT = "alert"  # an operator alert (administrators' channels)
    TEST = "test"  # the "send test message" button; never subscribed to

    @classmethod
    def of_state(cls, state: JobState) -> NotificationEvent:
        """The event of a job that reached the final ``state``."""
        return cls(f"run_{state.value}")


RUN_EVENTS = (
    NotificationEvent.RUN_SUCCEEDED,
    NotificationEvent.RUN_FAILED,
    NotificationEvent.RUN_CANCELLED,
)
"""The events of a run (any job kind) reaching its final state."""


class ChannelKind(StrEnum):
    """How a channel delivers."""

    EMAIL = "email"  # the server's SMTP settings
    SLACK = "slack"  # Apprise (incoming webhook)
    DISCORD = "discord"  # Apprise (webhook)
    TELEGRAM = "telegram"  # Apprise (bot token + chat id)
    WEBHOOK = "webhook"  # our signed JSON POST
    APPRISE = "apprise"  # any other Apprise URL of the allowed services


class MessageState(StrEnum):
    """Where an outbox message is: waiting (or retrying), delivered, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryOutcome(StrEnum):
    """The outcome of one delivery attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"  # failed; tried again later
    FAILED = "failed"  # failed; the last attempt


@dataclass(frozen=True, slots=True)
class Channel:
    """A user's notification channel (its target's secrets are never part of it).

    Attributes:
        shown: The target masked (e.g. ``slack://T0…/B0…/…``), safe to show and log.
        language: ``en`` or ``ko``: the language of its messages.
    """

    id: str
    user_id: str
    kind: ChannelKind
    name: str
    language: str
    events: tuple[NotificationEvent, ...]
    enabled: bool
    shown: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message waiting in the outbox for one channel.

    Attributes:
        key: The idempotency key (unique per channel; the same on every retry).
        job_id: The run it is about (run events), else None.
        payload: What an alert or test says (``title``, ``text``, ``link``), else None.
        attempts: Delivery attempts made so far.
    """

    id: int
    channel_id: str
    user_id: str
    event: NotificationEvent
    key: str
    job_id: str | None
    payload: dict[str, Any] | None
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One delivery attempt of a message, as shown to its channel's owner."""

    message_id: int
    channel_id: str
    event: NotificationEvent
    key: str
    job_id: str | None
    attempt: int
    at: dt.datetime
    outcome: DeliveryOutcome
    detail: str | None
    message_state: MessageState
