"""Channel targets: Slack, Discord and Telegram become the right Apprise URLs; bad ones refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac

import apprise
import pytest

from privatetrade.domain.notifications import ChannelKind, NotificationEvent, OutboxMessage
from privatetrade.errors import InputError
from privatetrade.notifications.messages import render
from privatetrade.notifications.sealing import SealBrokenError, Sealer
from privatetrade.notifications.senders import signature
from privatetrade.notifications.targets import build_target

SLACK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
DISCORD = "https://discord.com/api/webhooks/123456789012345678/abcDEF-ghi_jkl"
BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def plugin(url: str) -> apprise.NotifyBase:
    parsed = apprise.Apprise.instantiate(url)
    assert parsed is not None, url
    return parsed


def test_slack_webhook_url_becomes_its_apprise_url() -> None:
    target = build_target(ChannelKind.SLACK, SLACK)
    assert target.address == "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    parsed = plugin(target.address)
    assert type(parsed).__name__ == "NotifySlack"
    assert (parsed.token_a, parsed.token_b, parsed.token_c) == (
        "T1JJ3T3L2",
        "A1BRTD4JD",
        "TIiajkdnlazkcOXrIdevi7FQ",
    )
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in target.shown
    assert target.secret is None


def test_discord_webhook_url_becomes_its_apprise_url() -> None:
    target = build_target(ChannelKind.DISCORD, DISCORD)
    assert target.address == "discord://123456789012345678/abcDEF-ghi_jkl"
    parsed = plugin(target.address)
    assert (parsed.webhook_id, parsed.webhook_token) == ("123456789012345678", "abcDEF-ghi_jkl")
    assert "abcDEF" not in target.shown


def test_telegram_bot_token_and_chat_become_its_apprise_url() -> None:
    target = build_target(ChannelKind.TELEGRAM, BOT, "-100123456")
    assert target.address == f"tgram://{BOT}/-100123456"
    parsed = plugin(target.address)
    assert type(parsed).__name__ == "NotifyTelegram"
    assert parsed.bot_token == BOT
    assert "AAHdq" not in target.shown
    assert target.shown.endswith("/-100123456")


@pytest.mark.parametrize(
    ("kind", "target", "chat", "field", "code"),
    [
        (ChannelKind.SLACK, "https://hooks.slack.com.evil.org/services/A/B/C", None, "target",
         "notification_target_invalid"),
        (ChannelKind.DISCORD, "https://example.org/api/webhooks/1/x", None, "target",
         "notification_target_invalid"),
        (ChannelKind.TELEGRAM, BOT, None, "chat_id", "notification_target_invalid"),
        (ChannelKind.TELEGRAM, "not-a-token", "12345", "target", "notification_target_invalid"),
        (ChannelKind.WEBHOOK, "javascript:alert(1)", None, "target",
         "notification_target_invalid"),
        (ChannelKind.WEBHOOK, "https://user:pw@example.org/x", None, "target",
         "notification_target_invalid"),
        (ChannelKind.WEBHOOK, "https://example.org:99999/x", None, "target",
         "notification_target_invalid"),
        (ChannelKind.EMAIL, "not an address", None, "target", "notification_target_invalid"),
        (ChannelKind.APPRISE, "windows://", None, "target", "notification_scheme_not_allowed"),
        (ChannelKind.APPRISE, "json://", None, "target", "notification_target_invalid"),
        (ChannelKind.WEBHOOK, "https://example.org/" + "x" * 2000, None, "target",
         "notification_target_invalid"),
    ],
)  # fmt: skip
def test_bad_targets_name_their_field(
    kind: ChannelKind, target: str, chat: str | None, field: str, code: str
) -> None:
    with pytest.raises(InputError) as refused:
        build_target(kind, target, chat)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_webhook_gets_a_fresh_secret_and_a_masked_target() -> None:
    first = build_target(ChannelKind.WEBHOOK, "https://example.org:8443/hooks/s3cr3t?x=1")
    second = build_target(ChannelKind.WEBHOOK, "https://example.org:8443/hooks/s3cr3t?x=1")
    assert first.shown == "https://example.org:8443/…"
    assert first.secret is not None
    assert first.secret.startswith("whsec_")
    assert first.secret != second.secret


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # The key and message of RFC 4231's test case 2, split as "<timestamp>.<body>".
    whole = signature("Jefe", "what do ya want", b" for nothing?")
    assert whole != signature("Jefe", "what do ya want", b" for nothing!")
    expected = hmac.new(b"Jefe", b"what do ya want. for nothing?", hashlib.sha256).hexdigest()
    assert whole == "sha256=" + expected


def test_sealed_targets_open_only_with_their_key() -> None:
    sealer = Sealer.from_settings(None, "server-secret-1")
    token = sealer.seal({"address": "https://example.org/x", "secret": "whsec_1"})
    assert "example.org" not in token
    assert Sealer.from_settings(None, "server-secret-1").open(token)["secret"] == "whsec_1"
    with pytest.raises(SealBrokenError):
        Sealer.from_settings(None, "server-secret-2").open(token)


def test_alert_message_in_the_channel_language() -> None:
    message = OutboxMessage(
        id=1,
        channel_id="c" * 32,
        user_id="u" * 32,
        event=NotificationEvent.ALERT,
        key="alert:disk:firing",
        job_id=None,
        payload={"title": {"en": "Disk full", "ko": "디스크 부족"}, "text": "x", "link": "/status"},
        attempts=0,
        created_at=dt.datetime.now(dt.UTC),
    )
    korean = render(message, None, language="ko", base_url="https://a.example/", channel_name="c")
    english = render(message, None, language="en", base_url="https://a.example", channel_name="c")
    assert (korean.title, english.title) == ("디스크 부족", "Disk full")
    assert korean.link == english.link == "https://a.example/status"
    test = render(
        dataclasses.replace(message, event=NotificationEvent.TEST),
        None,
        language="ko",
        base_url="https://a.example",
        channel_name="내 휴대폰",
    )
    assert "내 휴대폰" in test.text
    assert "테스트" in test.title
