"""Errors on pages are pages: a browser asking for a page never gets problem JSON.

A request is for a page when it accepts ``text/html`` and is outside the API paths;
programs (no ``text/html`` in ``Accept``) keep getting problem JSON everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from privatetrade.web.auth import caller_from_request
from privatetrade.web.context import system_of
from privatetrade.web.ui.i18n import preferences
from privatetrade.web.ui.render import page

__all__ = ["install_page_error_handlers"]

_Handler = Callable[[Request, Exception], Awaitable[Response]]
_PAGE_ERRORS = frozenset({400, 404, 405, 422})
_MACHINE_PREFIXES = (
    "/api/",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/static/",
    "/assets/",
)


def _is_page(request: Request) -> bool:
    """A browser asking for a page (programs get problem JSON, whatever the path)."""
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and not request.url.path.startswith(_MACHINE_PREFIXES)


def _error_page(request: Request, status: int) -> Response:
    caller = caller_from_request(request, system_of(request))
    session = caller.session if caller is not None else None
    user = caller.user if session is not None and caller is not None else None
    csrf = session.csrf_token if session is not None else ""
    if status == 404:
        return page(request, "not_found.html", 404, user=user, csrf_token=csrf)
    key = "error.bad_address" if status != 405 else "error.unexpected"
    return page(
        request,
        "message.html",
        status,
        user=user,
        csrf_token=csrf,
        message=preferences(request).t(key),
    )


def install_page_error_handlers(app: FastAPI) -> None:
    """Render 4xx answers of page routes as pages; API routes keep their problem JSON.

    Must be installed after the problem handlers, which it delegates to.
    """
    api_invalid = cast(_Handler, app.exception_handlers[RequestValidationError])
    api_http = cast(_Handler, app.exception_handlers[StarletteHTTPException])

    async def invalid(request: Request, exc: Exception) -> Response:
        if _is_page(request):
            return _error_page(request, 422)
        return await api_invalid(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        page_error = isinstance(exc, StarletteHTTPException) and exc.status_code in _PAGE_ERRORS
        if page_error and _is_page(request):
            return _error_page(request, exc.status_code)  # type: ignore[attr-defined]
        return await api_http(request, exc)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
