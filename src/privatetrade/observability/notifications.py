"""Notification deliveries in /metrics: attempts by channel kind and outcome."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from privatetrade.domain.notifications import ChannelKind, DeliveryOutcome

__all__ = ["NotificationMetrics"]


class NotificationMetrics:
    """``privatetrade_notifications_total{channel_kind, outcome}``.

    ``outcome`` is ``delivered``, ``retry`` (failed, tried again later) or ``failed``
    (failed, the last attempt).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "privatetrade_notifications",
            "Notification delivery attempts by channel kind and outcome",
            ["channel_kind", "outcome"],
            registry=registry,
        )
        for kind in ChannelKind:  # every series from the start (rates need a zero)
            for outcome in DeliveryOutcome:
                self.attempts.labels(kind.value, outcome.value)

    def observe(self, kind: ChannelKind, outcome: DeliveryOutcome) -> None:
        """Count one delivery attempt."""
        self.attempts.labels(kind.value, outcome.value).inc()
