"""User notifications: channels (e-mail, Slack, Discord, Telegram, webhooks), the outbox, delivery.

See docs/notifications.md. The server builds one :class:`NotificationService` (channels,
``notify_user``, one delivery attempt) and one :class:`NotificationDispatcher` (the thread
that empties the outbox); the jobs tables queue run messages in the transaction that ends
a job (:func:`privatetrade.db.notifications.queue_job_endings`).
"""

from __future__ import annotations

from privatetrade.domain.notifications import ChannelKind, DeliveryOutcome, NotificationEvent
from privatetrade.notifications.dispatcher import NotificationDispatcher
from privatetrade.notifications.service import (
    MAX_CHANNELS,
    DeliverySettings,
    NotificationService,
    SentTest,
)

__all__ = [
    "MAX_CHANNELS",
    "ChannelKind",
    "DeliveryOutcome",
    "DeliverySettings",
    "NotificationDispatcher",
    "NotificationEvent",
    "NotificationService",
    "SentTest",
]
