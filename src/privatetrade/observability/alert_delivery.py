"""The built-in alerts' messages, and their delivery to the administrators' channels.

Each change (an alert firing, or resolved) becomes one notification per administrator
(``NotificationEvent.ALERT``), in English and Korean (the channel's language picks), with
an idempotency key per alert, episode and kind: the outbox queues it once per channel
and its dispatcher delivers it with retries (see ``privatetrade.notifications``).
The sentences come from the pages' catalogs (``web/locales``, keys ``alert.*``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import structlog

from privatetrade.observability.alerting import AlertChange

__all__ = ["AdminNotifier", "Notifications", "alert_message", "format_value"]

log = structlog.get_logger("privatetrade.alerting")
LANGUAGES = ("en", "ko")
_LOCALES = Path(__file__).resolve().parent.parent / "web" / "locales"
STATUS_PATH = "/status"


@cache
def _catalog(language: str) -> dict[str, str]:
    catalog: dict[str, str] = json.loads((_LOCALES / f"{language}.json").read_text("utf-8"))
    return catalog


def _text(language: str, key: str, **values: Any) -> str:
    return _catalog(language).get(key, key).format(**values)


def _duration(language: str, seconds: float) -> str:
    if seconds < 120:
        return _text(language, "alert.unit.seconds", n=f"{seconds:.0f}")
    if seconds < 2 * 3600:
        return _text(language, "alert.unit.minutes", n=f"{seconds / 60:.0f}")
    return _text(language, "alert.unit.hours", n=f"{seconds / 3600:.1f}")


def format_value(language: str, unit: str, value: float | None) -> str:
    """A reading or threshold as shown in a message (``12.5%``, ``60``, ``15 min``)."""
    if value is None:
        return "?"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return _duration(language, value)
    return f"{value:.0f}"


def alert_message(change: AlertChange, host: str) -> tuple[dict[str, str], dict[str, str]]:
    """The title and text of a change, by language."""
    rule = change.rule
    titles: dict[str, str] = {}
    texts: dict[str, str] = {}
    for language in LANGUAGES:
        name = _text(language, f"alert.name.{rule.name}")
        severity = _text(language, f"alert.severity.{rule.severity}")
        titles[language] = _text(
            language, f"alert.title.{change.kind}", name=name, severity=severity
        )
        texts[language] = _text(
            language,
            f"alert.text.{change.kind}",
            name=name,
            host=host,
            since=dt.datetime.fromtimestamp(change.since, dt.UTC).strftime("%Y-%m-%d %H:%M"),
            duration=_duration(language, max(change.at - change.since, 0.0)),
            measure=_text(language, f"alert.measure.{rule.name}"),
            value=format_value(language, rule.unit, change.value),
            threshold=format_value(language, rule.unit, change.threshold),
        )
    return titles, texts


class Notifications(Protocol):
    """What the alerts need of the notification service."""

    def notify_user(
        self,
        user_id: str,
        event: Any,
        *,
        key: str,
        title: str | Mapping[str, str],
        text: str | Mapping[str, str],
        link: str | None = None,
    ) -> int:
        """Queue a message for the user's channels taking ``event``; return how many."""
        ...


class AdminNotifier:
    """Sends a change to every enabled administrator's channels that take alerts.

    Args:
        admins: The user ids of the enabled administrators (read at each change).
        notifications: The notification service (``System.notifications``).
        event: The notification event of alerts (``NotificationEvent.ALERT``).
        host: The installation's name in messages (the machine's host name).
    """

    def __init__(
        self,
        admins: Callable[[], Iterable[str]],
        notifications: Notifications,
        event: Any,
        host: str,
    ) -> None:
        self.admins = admins
        self.notifications = notifications
        self.event = event
        self.host = host

    def __call__(self, change: AlertChange) -> None:
        """Queue the change's message for each administrator."""
        title, text = alert_message(change, self.host)
        queued = 0
        for user_id in self.admins():
            queued += self.notifications.notify_user(
                user_id, self.event, key=change.key, title=title, text=text, link=STATUS_PATH
            )
        if queued == 0:
            log.warning("alert.no_channel", alert=change.rule.name, kind=change.kind)
