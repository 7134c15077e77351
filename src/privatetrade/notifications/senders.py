"""Sending one message: a signed webhook POST (httpx), an e-mail (smtplib) or Apprise.

Every sender has a timeout and raises :class:`DeliveryError` with a short detail that
never holds the target's secrets (URLs, tokens and passwords are scrubbed out).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from privatetrade.notifications.messages import Rendered
from privatetrade.notifications.targets import with_timeouts

__all__ = [
    "DeliveryError",
    "Envelope",
    "SmtpServer",
    "send_apprise",
    "send_email",
    "send_webhook",
    "signature",
]

# Apprise logs the URLs it posts to at debug level; they may hold tokens.
logging.getLogger("apprise").setLevel(logging.WARNING)


class _QuietWhileSending(logging.Filter):
    """Drop HTTP clients' log lines (they name the URL) while this thread sends a message."""

    sending = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.sending, "on", False)


_QUIET = _QuietWhileSending()
for _name in ("httpx", "httpcore", "urllib3", "requests"):
    logging.getLogger(_name).addFilter(_QUIET)

SIGNATURE_HEADER = "X-Privatetrade-Signature"
TIMESTAMP_HEADER = "X-Privatetrade-Timestamp"
EVENT_HEADER = "X-Privatetrade-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    """A delivery attempt failed; the message says why (without secrets)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every sender needs besides the rendered message.

    Attributes:
        idempotency_key: The same on every retry of the message.
        event: The event's name.
        channel_id: The channel it goes through.
        created_at: When the message was queued (ISO 8601).
    """

    idempotency_key: str
    event: str
    channel_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """The server's SMTP settings."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = True


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_body(message: Rendered, envelope: Envelope) -> bytes:
    """The JSON document a webhook receives."""
    document = {
        "id": envelope.idempotency_key,
        "event": envelope.event,
        "channel": envelope.channel_id,
        "created_at": envelope.created_at,
        "title": message.title,
        "text": message.text,
        "link": message.link,
        **message.data,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def send_webhook(
    url: str, secret: str, message: Rendered, envelope: Envelope, *, timeout: float
) -> None:
    """POST the signed JSON document; any 2xx answer is a delivery.

    Raises:
        DeliveryError: No answer within ``timeout``, or a status other than 2xx.
    """
    body = webhook_body(message, envelope)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "privatetrade-notifications/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        IDEMPOTENCY_HEADER: envelope.idempotency_key,
        EVENT_HEADER: envelope.event,
    }
    _QUIET.sending.on = True
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(_scrub(f"{type(exc).__name__}: {exc}", [url, secret])) from None
    finally:
        _QUIET.sending.on = False
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}")


def send_email(
    server: SmtpServer, address: str, message: Rendered, envelope: Envelope, *, timeout: float
) -> None:
    """Send the message as a plain-text e-mail through the server's SMTP settings.

    Raises:
        DeliveryError: The SMTP server refused it or did not answer within ``timeout``.
    """
    mail = EmailMessage()
    mail["From"] = server.sender
    mail["To"] = address
    mail["Subject"] = message.title
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=server.sender.rsplit("@", 1)[-1] or None)
    mail["X-Privatetrade-Idempotency-Key"] = envelope.idempotency_key
    mail["X-Privatetrade-Event"] = envelope.event
    body = (
        message.text
        if message.link is None or message.link in message.text
        else (f"{message.text}\n{message.link}")
    )
    mail.set_content(body)
    secrets = [server.password or "", server.user or ""]
    try:
        with smtplib.SMTP(server.host, server.port, timeout=timeout) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(_scrub(f"{type(exc).__name__}: {exc}", secrets)) from None


def send_apprise(
    url: str, message: Rendered, *, connect_timeout: float, read_timeout: float
) -> None:
    """Send through Apprise (Slack, Discord, Telegram, ... as the URL says).

    Raises:
        DeliveryError: Apprise could not deliver (its warning, scrubbed, as the detail).
    """
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(with_timeouts(url, connect_timeout, read_timeout)):
        raise DeliveryError("Apprise cannot read this channel's URL")
    body = (
        message.text
        if message.link is None or message.link in message.text
        else (f"{message.text}\n{message.link}")
    )
    _QUIET.sending.on = True
    try:
        with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
            delivered = notifier.notify(title=message.title, body=body)
    finally:
        _QUIET.sending.on = False
    if not delivered:
        lines = [line for line in logs.getvalue().splitlines() if line.strip()]
        last = lines[-1].split(" - ", 2)[-1] if lines else "not delivered"
        raise DeliveryError(_scrub(f"Apprise: {last}", [url, *url.split("/")]))


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` (longer than 3 characters) in it."""
    for secret in sorted((s for s in secrets if len(s) > 3), key=len, reverse=True):
        text = text.replace(secret, "…")
    return text[:300]
