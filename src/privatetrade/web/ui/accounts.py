"""Login, logout, the account page (API tokens) and the start page.

Forms are protected against cross-site request forgery: before login by a
double-submit cookie, after login by the session's own CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from privatetrade.accounts.service import AuthenticationError, RateLimitedError
from privatetrade.errors import InputError, UnavailableError
from privatetrade.web.auth import SESSION_COOKIE, Caller
from privatetrade.web.clients import client_address
from privatetrade.web.context import system_of
from privatetrade.web.ui.i18n import preferences
from privatetrade.web.ui.notification_pages import notification_context
from privatetrade.web.ui.render import page, safe_next, signed_in, to_login, user_page

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "pt_login_csrf"


def _secure(request: Request) -> bool:
    mode = system_of(request).settings.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return page(request, name, status, **context)


def _t(request: Request, key: str) -> str:
    return preferences(request).t(key)


def _start_session(request: Request, caller_user: Any, target: str) -> RedirectResponse:
    services = system_of(request)
    secret, session = services.accounts.start_session(caller_user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int((session.expires_at - session.created_at).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _login_form(
    request: Request, *, status: int = 200, error: str = "", username: str = "", next_: str = "/"
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = _page(
        request,
        "login.html",
        status,
        csrf_token=token,
        error=error,
        username=username,
        next=safe_next(next_),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    return response


@router.get("/login")
def login_page(request: Request, token: str | None = None, next: str | None = None) -> Response:
    """Show the login form, or sign in with a one-time link (``?token=``)."""
    services = system_of(request)
    if token is not None:
        user = services.accounts.use_login_link(token)
        if user is None:
            return _login_form(request, status=400, error=_t(request, "login.error.link"))
        return _start_session(request, user, "/account")
    if signed_in(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_=next or "/")


def _client(request: Request) -> str:
    return client_address(request, system_of(request).settings.trusted_proxies)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the username and password and open a session."""

    def refused(status: int, error_key: str) -> HTMLResponse:
        error = _t(request, error_key)
        return _login_form(request, status=status, error=error, username=username, next_=next)

    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return refused(403, "form.expired")
    try:
        user = system_of(request).accounts.authenticate(username, password, _client(request))
    except RateLimitedError as exc:  # slowed down
        return _retry_later(refused(429, "login.error.rate"), exc.retry_after)
    except UnavailableError as exc:  # the attempt could not be recorded, so was not checked
        return _retry_later(refused(503, "login.error.busy"), exc.retry_after)
    except AuthenticationError:
        return refused(401, "login.error.wrong")
    return _start_session(request, user, safe_next(next))


def _retry_later(response: HTMLResponse, seconds: int) -> HTMLResponse:
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session."""
    caller = signed_in(request)
    if caller is not None and caller.session is not None and caller.session_secret:
        if not hmac.compare_digest(caller.session.csrf_token.encode(), csrf_token.encode()):
            message = _t(request, "form.expired")
            return user_page(request, caller, "message.html", 403, message=message)
        system_of(request).accounts.end_session(caller.session_secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _require_page_session(request: Request) -> Caller | RedirectResponse:
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    return caller


def _account_page(request: Request, caller: Caller, status: int = 200, **extra: Any) -> Response:
    tokens = system_of(request).accounts.tokens(caller.user)
    context = notification_context(request, caller)
    return user_page(request, caller, "account.html", status, tokens=tokens, **context, **extra)


def _checked_form(request: Request, csrf_token: str) -> Caller | Response:
    caller = _require_page_session(request)
    if isinstance(caller, RedirectResponse):
        return caller
    assert caller.session is not None
    if not hmac.compare_digest(caller.session.csrf_token.encode(), csrf_token.encode()):
        return _account_page(request, caller, 403, error=_t(request, "form.expired"))
    return caller


@router.get("/status")
def status_page(request: Request) -> Response:
    """The operators' status page (administrators only)."""
    caller = _require_page_session(request)
    if isinstance(caller, RedirectResponse):
        return caller
    if not caller.user.is_admin:
        message = _t(request, "status.forbidden")
        return user_page(request, caller, "message.html", 403, message=message)
    return user_page(request, caller, "status.html", s=system_of(request).status())


@router.get("/account")
def account(request: Request) -> Response:
    """The account page: API tokens and notification channels."""
    caller = _require_page_session(request)
    if isinstance(caller, RedirectResponse):
        return caller
    return _account_page(request, caller)


@router.post("/account/tokens")
def create_token_form(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an API token and show it once."""
    caller = _checked_form(request, csrf_token)
    if not isinstance(caller, Caller):
        return caller
    try:
        secret, token = system_of(request).accounts.create_token(caller.user, name)
    except InputError as exc:
        return _account_page(request, caller, 422, error=str(exc))
    return _account_page(request, caller, new_token=secret, new_token_name=token.name)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token_form(
    request: Request, token_id: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Revoke an API token."""
    caller = _checked_form(request, csrf_token)
    if not isinstance(caller, Caller):
        return caller
    if not system_of(request).accounts.revoke_token(caller.user, token_id):
        return _account_page(request, caller, 404, error=_t(request, "account.no_token"))
    return RedirectResponse("/account", status_code=303)
