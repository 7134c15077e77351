"""ASGI middleware: request ids, one log line and metrics per request, body size limit."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from privatetrade.observability.metrics import ServiceMetrics

__all__ = ["BodyLimitMiddleware", "RequestContextMiddleware"]

log = structlog.get_logger("privatetrade.http")


class RequestContextMiddleware:
    """Give each request an id (``X-Request-ID``), log it, and measure it."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.observe_request(method, route, status, seconds)
            log.info(
                "http.request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                ms=round(seconds * 1000, 2),
            )


class BodyLimitMiddleware:
    """Answer 413 to request bodies over the limit, before the app reads them.

    ``path_limits`` gives some paths (uploads) a limit of their own.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope.get("path", ""), self.max_bytes)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send, limit)
            return
        if declared is None and _header(scope, b"transfer-encoding") is not None:
            # A chunked body has no declared size: read it (up to the limit) before the
            # app does, so that an oversized one is answered 413 rather than a parse error.
            messages = await self._read_body(receive, limit)
            if messages is None:
                await _too_large(scope, send, limit)
                return
            receive = _replay(messages, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive, limit: int) -> list[Message] | None:
        """Return the body's messages, or None once they exceed ``limit``."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > limit:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    problem = {
        "type": "about:blank",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the request body exceeds {limit} bytes",
        "code": "too_large",
        "params": {"limit": limit},
    }
    request_id = scope.get("state", {}).get("request_id")
    if request_id is not None:
        problem["request_id"] = request_id
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> Any:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None
