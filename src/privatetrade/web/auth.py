"""Who is calling: Bearer tokens for programs, session cookies (with CSRF) for browsers."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from privatetrade.domain.users import Session, User
from privatetrade.system import System
from privatetrade.web.context import system_of
from privatetrade.web.problems import ProblemError

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AdminUser",
    "Caller",
    "CurrentCaller",
    "CurrentUser",
    "Owner",
    "caller_from_request",
    "require_user",
]

SESSION_COOKIE = "pt_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller and how they authenticated."""

    user: User
    session: Session | None = None
    session_secret: str | None = None


def caller_from_request(request: Request, services: System) -> Caller | None:
    """Resolve the caller from the Authorization header or the session cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None
        user = services.accounts.user_for_token(credentials.strip())
        return None if user is None else Caller(user)
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    session = services.accounts.session(secret)
    return None if session is None else Caller(session.user, session, secret)


def _current_caller(request: Request) -> Caller:
    services = system_of(request)
    caller = caller_from_request(request, services)
    if caller is None:
        raise ProblemError(
            401,
            "sign in or send a valid API token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if caller.session is not None and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), caller.session.csrf_token.encode()):
            raise ProblemError(
                403, f"missing or wrong {CSRF_HEADER} header for a cookie-authenticated request"
            )
    return caller


def _current_user(caller: Annotated[Caller, Depends(_current_caller)]) -> User:
    return caller.user


def require_user(caller: Annotated[Caller, Depends(_current_caller)]) -> None:
    """Router-level guard: 401 without a valid session or token."""


def _admin(user: Annotated[User, Depends(_current_user)]) -> User:
    if not user.is_admin:
        raise ProblemError(403, "only administrators may see this")
    return user


def _owner(user: Annotated[User, Depends(_current_user)]) -> str:
    return user.id


CurrentCaller = Annotated[Caller, Depends(_current_caller)]
CurrentUser = Annotated[User, Depends(_current_user)]
AdminUser = Annotated[User, Depends(_admin)]
Owner = Annotated[str, Depends(_owner)]
