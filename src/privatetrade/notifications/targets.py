"""Where a channel delivers: check what the user typed and build the delivery target.

Slack, Discord and Telegram (and the ``apprise`` kind) become Apprise URLs, checked by
Apprise itself; a webhook is an http(s) URL and gets a signing secret; an e-mail channel
is an address (sent through the server's SMTP settings). Every refusal is an
:class:`~privatetrade.errors.InputError` naming the field, with a code and params.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from privatetrade.domain.notifications import ChannelKind
from privatetrade.errors import InputError

__all__ = [
    "APPRISE_SCHEMES",
    "MAX_TARGET_CHARS",
    "Target",
    "build_target",
    "mask_url",
]

MAX_TARGET_CHARS = 2000
# Network services an ``apprise`` channel may use (no local ones: files, desktop, syslog).
APPRISE_SCHEMES = frozenset(
    {
        "json", "jsons", "form", "forms", "xml", "xmls", "ntfy", "ntfys", "gotify", "gotifys",
        "mmost", "mmosts", "msteams", "pover", "matrix", "matrixs", "rocket", "rockets",
        "slack", "discord", "tgram", "mailto", "mailtos",
    }
)  # fmt: skip
_EMAIL = re.compile(r"^[^@\s,;<>]{1,64}@[A-Za-z0-9.-]{1,253}$")
_SLACK = re.compile(
    r"^https://hooks\.slack\.com/services/([A-Z0-9]{1,32})/([A-Z0-9]{1,32})/([A-Za-z0-9]{1,64})/?$"
)
_DISCORD = re.compile(
    r"^https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/(\d{1,32})/([\w-]{1,128})/?$"
)
_TELEGRAM_TOKEN = re.compile(r"^(\d{1,20}):([\w-]{20,64})$")
_TELEGRAM_CHAT = re.compile(r"^(-?\d{1,20}|@\w{4,32})$")
_TIMEOUTS = "cto={connect:g}&rto={read:g}"


@dataclass(frozen=True, slots=True)
class Target:
    """A checked delivery target.

    Attributes:
        address: What the sender uses: an Apprise URL, the webhook URL or the e-mail address.
        secret: The webhook's signing secret (None for other kinds).
        shown: The target masked, safe to show and log.
    """

    address: str
    secret: str | None
    shown: str


def build_target(kind: ChannelKind, target: str, chat_id: str | None = None) -> Target:
    """Check ``target`` (and a Telegram ``chat_id``) for ``kind``.

    Raises:
        InputError: Naming ``target`` or ``chat_id``, code ``notification_target_invalid``
            (or ``notification_scheme_not_allowed`` for an Apprise URL's scheme).
    """
    text = target.strip()
    if not text or len(text) > MAX_TARGET_CHARS:
        raise _invalid(kind, f"give a target of 1 to {MAX_TARGET_CHARS} characters")
    if kind is ChannelKind.EMAIL:
        return _email(text)
    if kind is ChannelKind.WEBHOOK:
        return _webhook(text)
    if kind is ChannelKind.SLACK:
        return _slack(text)
    if kind is ChannelKind.DISCORD:
        return _discord(text)
    if kind is ChannelKind.TELEGRAM:
        return _telegram(text, chat_id)
    return _apprise(text)


def with_timeouts(url: str, connect: float, read: float) -> str:
    """Add Apprise's connect and read timeouts to an Apprise URL."""
    separator = "&" if "?" in url else "?"
    return url + separator + _TIMEOUTS.format(connect=connect, read=read)


def mask_url(url: str) -> str:
    """``scheme://host[:port]/…``: what a URL may show of itself (no path, query or user)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if _port(url) is not None else ""
    return f"{parts.scheme}://{host}{port}/…"


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _port_ok(url: str) -> bool:
    try:
        return urlsplit(url).port is not None or True
    except ValueError:
        return False


def _invalid(kind: ChannelKind, why: str, field: str = "target") -> InputError:
    return InputError(
        f"{field}: not a valid {kind.value} target ({why})",
        field=field,
        code="notification_target_invalid",
        params={"kind": kind.value},
    )


def _email(text: str) -> Target:
    if not _EMAIL.match(text) or "." not in text.split("@")[1].strip("."):
        raise _invalid(ChannelKind.EMAIL, "an e-mail address like name@example.org")
    return Target(text, None, text)


def _webhook(text: str) -> Target:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or not _port_ok(text):
        raise _invalid(ChannelKind.WEBHOOK, "an http:// or https:// URL")
    if parts.username or parts.password:
        raise _invalid(ChannelKind.WEBHOOK, "no user name or password in the URL")
    return Target(text, "whsec_" + secrets.token_urlsafe(32), mask_url(text))


def _slack(text: str) -> Target:
    match = _SLACK.match(text)
    if match is not None:
        first, second, token = match.groups()
        url = f"slack://{first}/{second}/{token}"
    elif text.startswith("slack://"):
        url = text
    else:
        raise _invalid(ChannelKind.SLACK, "https://hooks.slack.com/services/… or slack://…")
    _check_apprise(ChannelKind.SLACK, url, "NotifySlack")
    workspace = url.removeprefix("slack://").split("/")[0]
    return Target(url, None, f"slack://{workspace[:4]}…/…")


def _discord(text: str) -> Target:
    match = _DISCORD.match(text)
    if match is not None:
        url = "discord://{}/{}".format(*match.groups())
    elif text.startswith("discord://"):
        url = text
    else:
        raise _invalid(ChannelKind.DISCORD, "https://discord.com/api/webhooks/… or discord://…")
    _check_apprise(ChannelKind.DISCORD, url, "NotifyDiscord")
    webhook = url.removeprefix("discord://").split("/")[0]
    return Target(url, None, f"discord://{webhook[:4]}…/…")


def _telegram(text: str, chat_id: str | None) -> Target:
    token = _TELEGRAM_TOKEN.match(text)
    if token is None:
        raise _invalid(ChannelKind.TELEGRAM, "a bot token like 123456:ABC-…")
    chat = (chat_id or "").strip()
    if not _TELEGRAM_CHAT.match(chat):
        raise _invalid(ChannelKind.TELEGRAM, "a chat id like 12345678 or @channel", "chat_id")
    url = f"tgram://{text}/{chat}"
    _check_apprise(ChannelKind.TELEGRAM, url, "NotifyTelegram")
    return Target(url, None, f"tgram://{token.group(1)[:4]}…/{chat}")


def _apprise(text: str) -> Target:
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme not in APPRISE_SCHEMES:
        raise InputError(
            f"target: the scheme {scheme or '(none)'!r} is not allowed; use one of "
            + ", ".join(sorted(APPRISE_SCHEMES)),
            field="target",
            code="notification_scheme_not_allowed",
            params={"scheme": scheme or "-", "allowed": ", ".join(sorted(APPRISE_SCHEMES))},
        )
    _check_apprise(ChannelKind.APPRISE, text, None)
    return Target(text, None, mask_url(text))


def _check_apprise(kind: ChannelKind, url: str, plugin: str | None) -> None:
    """Let Apprise parse ``url``; it must be the expected service (``plugin``)."""
    import apprise

    parsed = apprise.Apprise.instantiate(url)
    if parsed is None or (plugin is not None and type(parsed).__name__ != plugin):
        raise _invalid(kind, "Apprise cannot read this URL")
