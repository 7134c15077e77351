"""Render a page: the template with the user, language, colours and CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from privatetrade import __version__
from privatetrade.domain.users import User
from privatetrade.web.services import Services
from privatetrade.web.ui.i18n import Language, catalog, preferences

__all__ = ["page", "services_of", "templates"]

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def services_of(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


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
        **context.pop("js", {}),
    }
    return templates.TemplateResponse(
        request,
        name,
        {
            "version": __version__,
            "user": user,
            "csrf_token": csrf_token,
            "t": prefs.t,
            "lang": language.value,
            "colors": prefs.colors.value,
            "path": request.url.path,
            "query": request.url.query,
            "js_config": js_config,
            **context,
        },
        status_code=status,
    )
