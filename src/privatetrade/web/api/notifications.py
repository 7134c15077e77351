"""``/api/notification-channels``: the caller's notification channels, tests and deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from privatetrade.domain.notifications import (
    Channel,
    ChannelKind,
    DeliveryAttempt,
    DeliveryOutcome,
    MessageState,
    NotificationEvent,
)
from privatetrade.notifications import NotificationService
from privatetrade.notifications.targets import MAX_TARGET_CHARS
from privatetrade.web.deps import CurrentUser, SystemDep
from privatetrade.web.problems import INVALID, UNAVAILABLE, ProblemError, problem_responses
from privatetrade.web.ui.i18n import preferences

router = APIRouter(tags=["notifications"])

_WRITE = {
    400: "The body cannot be read (not UTF-8)",
    401: "Not signed in",
    403: "Cookie-authenticated without the X-CSRF-Token header",
    **INVALID,
    **UNAVAILABLE,
}
_MISSING = {401: "Not signed in", 404: "No such channel of yours", **UNAVAILABLE}


class ChannelOut(BaseModel):
    """A notification channel; ``target`` is masked (its secrets are never shown again)."""

    id: str
    kind: ChannelKind
    name: str
    language: str
    events: list[NotificationEvent]
    enabled: bool
    target: str = Field(description="The target, masked (e.g. https://hooks.example.org/…)")
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, channel: Channel) -> ChannelOut:
        """Map a domain channel."""
        return cls(
            id=channel.id,
            kind=channel.kind,
            name=channel.name,
            language=channel.language,
            events=list(channel.events),
            enabled=channel.enabled,
            target=channel.shown,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
        )


class NewChannelOut(ChannelOut):
    """A new channel; a webhook's signing secret is in this answer only."""

    secret: str | None = Field(
        None, description="The webhook's HMAC-SHA256 signing secret (webhooks only), shown once"
    )


class ChannelCreate(BaseModel):
    """A channel to create."""

    model_config = ConfigDict(extra="forbid")

    kind: ChannelKind
    target: str = Field(
        min_length=1,
        max_length=MAX_TARGET_CHARS,
        description="E-mail address, webhook URL, Slack/Discord webhook URL, Telegram bot "
        "token, or an Apprise URL (kind apprise)",
    )
    chat_id: str | None = Field(None, max_length=64, description="Telegram: the chat id")
    name: str | None = Field(None, max_length=100)
    events: list[NotificationEvent] = Field(min_length=1, max_length=4)
    language: Literal["en", "ko"] | None = Field(
        None, description="The messages' language (default: the request's)"
    )


class ChannelPatch(BaseModel):
    """Changes to a channel (fields left out stay)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100)
    events: list[NotificationEvent] | None = Field(None, min_length=1, max_length=4)
    enabled: bool | None = None
    language: Literal["en", "ko"] | None = None
    target: str | None = Field(None, min_length=1, max_length=MAX_TARGET_CHARS)
    chat_id: str | None = Field(None, max_length=64)


class DeliveryOut(BaseModel):
    """One delivery attempt of a message through the channel."""

    message_id: int
    event: NotificationEvent
    idempotency_key: str
    job_id: str | None
    attempt: int
    at: dt.datetime
    outcome: DeliveryOutcome
    detail: str | None
    message_state: MessageState

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> DeliveryOut:
        """Map a domain attempt."""
        return cls(
            message_id=attempt.message_id,
            event=attempt.event,
            idempotency_key=f"{attempt.channel_id}:{attempt.key}",
            job_id=attempt.job_id,
            attempt=attempt.attempt,
            at=attempt.at,
            outcome=attempt.outcome,
            detail=attempt.detail,
            message_state=attempt.message_state,
        )


class SentTestOut(BaseModel):
    """What the test message did."""

    delivered: bool
    detail: str | None


def _service(services: SystemDep) -> NotificationService:
    if services.notifications is None:
        raise ProblemError(503, "notifications are not available in this process")
    return services.notifications


@router.get(
    "/api/notification-channels",
    response_model=list[ChannelOut],
    responses=problem_responses({401: "Not signed in", **UNAVAILABLE}),
)
def list_channels(user: CurrentUser, services: SystemDep) -> list[ChannelOut]:
    """List the caller's notification channels (targets masked)."""
    return [ChannelOut.of(channel) for channel in _service(services).channels(user.id)]


@router.post(
    "/api/notification-channels",
    status_code=status.HTTP_201_CREATED,
    response_model=NewChannelOut,
    responses=problem_responses(_WRITE),
)
def create_channel(
    body: ChannelCreate, request: Request, user: CurrentUser, services: SystemDep
) -> NewChannelOut:
    """Create a channel (at most 10 per user); a webhook's secret is in this answer only."""
    language = body.language or preferences(request).language.value
    channel, secret = _service(services).create_channel(
        user.id,
        body.kind,
        body.target,
        events=body.events,
        language=language,
        name=body.name,
        chat_id=body.chat_id,
    )
    return NewChannelOut(**ChannelOut.of(channel).model_dump(), secret=secret)


@router.patch(
    "/api/notification-channels/{channel_id}",
    response_model=ChannelOut,
    responses=problem_responses({**_WRITE, 404: "No such channel of yours"}),
)
def update_channel(
    channel_id: str, body: ChannelPatch, user: CurrentUser, services: SystemDep
) -> ChannelOut:
    """Change a channel's name, events, language, on/off, or target (a webhook keeps its secret)."""
    channel = _service(services).update_channel(
        channel_id,
        user.id,
        name=body.name,
        events=body.events,
        enabled=body.enabled,
        language=body.language,
        target=body.target,
        chat_id=body.chat_id,
    )
    return ChannelOut.of(channel)


@router.delete(
    "/api/notification-channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(_MISSING),
)
def delete_channel(channel_id: str, user: CurrentUser, services: SystemDep) -> Response:
    """Delete a channel with its queued messages and attempts."""
    _service(services).delete_channel(channel_id, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/notification-channels/{channel_id}/test",
    response_model=SentTestOut,
    responses=problem_responses(_MISSING),
)
def send_test_message(channel_id: str, user: CurrentUser, services: SystemDep) -> SentTestOut:
    """Send a test message now (one attempt, listed with the deliveries)."""
    outcome = _service(services).send_test(channel_id, user.id)
    return SentTestOut(delivered=outcome.delivered, detail=outcome.detail)


@router.get(
    "/api/notification-channels/{channel_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=problem_responses({**_MISSING, **INVALID}),
)
def list_deliveries(
    channel_id: str,
    user: CurrentUser,
    services: SystemDep,
    limit: int = Query(20, ge=1, le=50),
) -> list[DeliveryOut]:
    """The channel's newest delivery attempts, newest first."""
    attempts = _service(services).attempts(channel_id, user.id, limit)
    return [DeliveryOut.of(attempt) for attempt in attempts]
