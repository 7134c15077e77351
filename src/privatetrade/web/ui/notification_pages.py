"""The account page's notifications section: add a channel, send a test, delete one.

Plain forms (no script): each posts with the session's CSRF token and answers with the
account page again, showing a new webhook's secret once, a test's outcome or the error
in the page's language.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from privatetrade.domain.notifications import ChannelKind, NotificationEvent
from privatetrade.errors import InputError, NotFoundError
from privatetrade.notifications import NotificationService
from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.ui.i18n import preferences
from privatetrade.web.ui.render import signed_in, to_login, user_page

__all__ = ["notification_context", "router"]

router = APIRouter(include_in_schema=False)
_SHOWN_ATTEMPTS = 5


def _service(request: Request) -> NotificationService | None:
    return system_of(request).notifications


def notification_context(request: Request, caller: Caller) -> dict[str, Any]:
    """What the account page's notifications section shows."""
    service = _service(request)
    if service is None:
        return {"notifications_on": False}
    channels = service.channels(caller.user.id)
    kinds: list[ChannelKind] = [kind for kind in ChannelKind if kind is not ChannelKind.EMAIL]
    if service.delivery.smtp is not None:
        kinds.insert(0, ChannelKind.EMAIL)
    events = [
        NotificationEvent.RUN_SUCCEEDED,
        NotificationEvent.RUN_FAILED,
        NotificationEvent.RUN_CANCELLED,
    ]
    if caller.user.is_admin:
        events.append(NotificationEvent.ALERT)
    return {
        "notifications_on": True,
        "channels": channels,
        "deliveries": {
            channel.id: service.store.attempts(channel.id, caller.user.id, _SHOWN_ATTEMPTS)
            for channel in channels
        },
        "channel_kinds": kinds,
        "channel_events": events,
        "page_language": preferences(request).language.value,
    }


def _account(request: Request, caller: Caller, status: int = 200, **extra: Any) -> Response:
    tokens = system_of(request).accounts.tokens(caller.user)
    context = notification_context(request, caller)
    return user_page(request, caller, "account.html", status, tokens=tokens, **context, **extra)


def _checked(request: Request, csrf_token: str) -> Caller | Response:
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    assert caller.session is not None
    if not hmac.compare_digest(caller.session.csrf_token.encode(), csrf_token.encode()):
        return _account(request, caller, 403, error=preferences(request).t("form.expired"))
    return caller


def _told(request: Request, exc: InputError) -> str:
    """The error in the page's language (the catalog's ``problem.<code>``)."""
    prefs = preferences(request)
    key = f"problem.{exc.code}"
    message = prefs.t(key, **dict(exc.params))
    return str(exc) if message == key else message


@router.post("/account/notifications")
def create_channel_form(
    request: Request,
    kind: Annotated[str, Form(max_length=16)] = "",
    target: Annotated[str, Form(max_length=2000)] = "",
    chat_id: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    language: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a channel; a webhook's signing secret is shown this once."""
    caller = _checked(request, csrf_token)
    if not isinstance(caller, Caller):
        return caller
    service = _service(request)
    if service is None:
        return RedirectResponse("/account", status_code=303)
    try:
        if kind not in ChannelKind._value2member_map_:
            raise InputError("kind", field="kind", code="notification_kind_invalid")
        chosen = [NotificationEvent(event) for event in events or [] if _is_event(event)]
        channel, secret = service.create_channel(
            caller.user.id,
            ChannelKind(kind),
            target,
            events=chosen,
            language=language or preferences(request).language.value,
            name=name or None,
            chat_id=chat_id or None,
        )
    except InputError as exc:
        return _account(request, caller, 422, error=_told(request, exc), form_kind=kind)
    return _account(request, caller, new_channel=channel, new_channel_secret=secret)


def _is_event(value: str) -> bool:
    return value in NotificationEvent._value2member_map_


@router.post("/account/notifications/{channel_id}/test")
def send_test_form(
    request: Request, channel_id: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Send a test message through a channel and show what happened."""
    caller = _checked(request, csrf_token)
    if not isinstance(caller, Caller):
        return caller
    service = _service(request)
    if service is None:
        return RedirectResponse("/account", status_code=303)
    try:
        outcome = service.send_test(channel_id, caller.user.id)
    except NotFoundError:
        return _account(request, caller, 404, error=preferences(request).t("notify.page.gone"))
    return _account(request, caller, tested=channel_id, test_outcome=outcome)


@router.post("/account/notifications/{channel_id}/delete")
def delete_channel_form(
    request: Request, channel_id: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Delete a channel."""
    caller = _checked(request, csrf_token)
    if not isinstance(caller, Caller):
        return caller
    service = _service(request)
    if service is not None:
        try:
            service.delete_channel(channel_id, caller.user.id)
        except NotFoundError:
            return _account(request, caller, 404, error=preferences(request).t("notify.page.gone"))
    return RedirectResponse("/account#notifications", status_code=303)
