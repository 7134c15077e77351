"""Render a page: the template with the user, language, colours and CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from privatetrade import __version__
from privatetrade.domain.users import User
from privatetrade.web.auth import Caller, caller_from_request
from privatetrade.web.context import system_of
from privatetrade.web.security import CHART_PAGE_POLICY, CSP_HEADER
from privatetrade.web.ui.i18n import Language, catalog, notices, preferences

__all__ = ["page", "safe_next", "signed_in", "templates", "to_login", "user_page"]

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# Pages that draw Plotly charts, which sets inline styles (web/security.py).
_CHART_TEMPLATES = frozenset({"run.html", "stock.html", "compare.html"})


def signed_in(request: Request) -> Caller | None:
    """The caller if they have a browser session, else None."""
    caller = caller_from_request(request, system_of(request))
    return caller if caller is not None and caller.session is not None else None


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def to_login(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login form, then back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(
    request: Request,
    name: str,
    status: int = 200,
    *,
    user: User | None = None,
    csrf_token: str = "",
    **context: Any,
) -> HTMLResponse:
    """Render template ``name`` in the request's language.

    Every page gets ``t`` (translate), ``lang``, ``colors``, ``user``, ``csrf_token``,
    ``version`` and ``js_config``: what the page's JavaScript needs (locale, CSRF token,
    colour convention, messages), embedded as JSON.
    """
    prefs = preferences(request)
    language: Language = prefs.language
    js_config = {
        "lang": language.value,
        "locale": language.locale,
        "colors": prefs.colors.value,
        "csrf": csrf_token,
        "messages": catalog(language),
        "notices": notices(),
        **context.pop("js", {}),
    }
    response = templates.TemplateResponse(
        request,
        name,
        {
            "version": __version__,
            "user": user,
            "csrf_token": csrf_token,
            "t": prefs.t,
            "notice": prefs.notice,
            "lang": language.value,
            "colors": prefs.colors.value,
            "path": request.url.path,
            "query": request.url.query,
            "js_config": js_config,
            **context,
        },
        status_code=status,
    )
    if name in _CHART_TEMPLATES:
        response.headers[CSP_HEADER] = CHART_PAGE_POLICY
    return response


def user_page(
    request: Request, caller: Caller, name: str, status: int = 200, **context: Any
) -> Response:
    """Render a page for a signed-in user (with the session's CSRF token)."""
    assert caller.session is not None
    return page(
        request, name, status, user=caller.user, csrf_token=caller.session.csrf_token, **context
    )
