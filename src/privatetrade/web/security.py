"""Security headers on every response: a strict Content-Security-Policy and friends.

Every answer carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
``Referrer-Policy: same-origin``. HTML answers get a Content-Security-Policy that allows
only scripts from this site (no inline scripts: the pages load theirs from ``/static``);
other answers get one that allows nothing (a JSON or CSV answer opened in a browser
runs nothing and cannot be framed). A route that needs another policy (pages with
Plotly charts, the API docs, the offline report) sets its own header, which is kept.

The middleware is the outermost layer of the app (see ``create_app``), so even the
answers of the 500 handler and of the body size limit carry the headers.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "API_POLICY",
    "CHART_PAGE_POLICY",
    "CSP_HEADER",
    "PAGE_POLICY",
    "REDOC_POLICY",
    "SecuredFastAPI",
    "SecurityHeadersMiddleware",
    "policy",
    "report_policy",
    "script_hash",
]

CSP_HEADER = "Content-Security-Policy"

_PAGE_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(directives: Mapping[str, str], **changes: str) -> str:
    """Render CSP directives as a header value; ``changes`` replace or add directives.

    Keyword names use ``_`` for ``-`` (``style_src="'self'"``).
    """
    merged = dict(directives)
    merged.update({name.replace("_", "-"): value for name, value in changes.items()})
    return "; ".join(f"{name} {value}" for name, value in merged.items())


PAGE_POLICY = policy(_PAGE_DIRECTIVES)
"""Pages (Swagger UI's too): everything from this site, no inline script or style, no framing."""

CHART_PAGE_POLICY = policy(
    _PAGE_DIRECTIVES, style_src="'self' 'unsafe-inline'", img_src="'self' data: blob:"
)
"""Pages with Plotly charts: Plotly adds style rules and style attributes at run time
(styles only: scripts stay ``'self'``; Plotly needs no ``'unsafe-eval'``)."""

REDOC_POLICY = policy(
    _PAGE_DIRECTIVES, style_src="'self' 'unsafe-inline'", worker_src="'self' blob:"
)
"""ReDoc: styled-components inject style elements; search runs in a blob: worker."""

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""Everything that is not HTML (JSON, CSV, scripts, styles): nothing runs, no framing."""

_REPORT_DIRECTIVES: dict[str, str] = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "img-src": "data: blob:",
    "base-uri": "'none'",
    "form-action": "'none'",
}


def script_hash(source: str) -> str:
    """The CSP source expression (``'sha256-...'``) allowing one inline script."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def report_policy(script_hashes: Iterable[str], *, header: bool) -> str:
    """The policy of the offline HTML report: its own inline scripts and nothing else.

    The report works from a file (no server), so nothing is ``'self'``: scripts are
    allowed by hash, styles inline (Plotly's), images as data/blob URLs (Plotly's
    downloads). ``header`` adds ``frame-ancestors``, which only a header can carry (a
    ``<meta>`` policy may not name it).
    """
    directives = dict(_REPORT_DIRECTIVES)
    directives["script-src"] = " ".join(script_hashes)
    if header:
        directives["frame-ancestors"] = "'none'"
    return policy(directives)


_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = secured_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredFastAPI(FastAPI):
    """FastAPI whose outermost layer is :class:`SecurityHeadersMiddleware`.

    Outside even the server-error handler that ``add_middleware`` cannot wrap, so a
    500 answer carries the headers too.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the usual stack in the security headers."""
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def secured_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus every security header they do not set themselves."""
    present = {name.lower(): value for name, value in headers}
    added = [(name, value) for name, value in _ALWAYS if name not in present]
    if b"content-security-policy" not in present:
        html = present.get(b"content-type", b"").lower().startswith(b"text/html")
        added.append((b"content-security-policy", (PAGE_POLICY if html else API_POLICY).encode()))
    return headers + added
