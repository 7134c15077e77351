"""Errors as JSON problem details (RFC 9457): never an HTML page or a stack trace.

Every problem has a ``code``: a stable name of its kind that programs (and the pages,
which translate it) can rely on, with the values its English ``detail`` mentions in
``params``. The code is the error's own (``PrivatetradeError.code``, or pydantic's error
type for a validation error, found along the error's causes), else one for its class or
HTTP status (``invalid_input``, ``not_found``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from privatetrade.errors import (
    AuthenticationError,
    ConflictError,
    DataError,
    IdempotencyConflictError,
    InputError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    PrivatetradeError,
    UnavailableError,
)
from privatetrade.web.schemas import Problem
from privatetrade.web.validation import body_model, error_params, field_errors

__all__ = [
    "INVALID",
    "UNAVAILABLE",
    "ProblemError",
    "error_code",
    "install_problem_handlers",
    "problem_for",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
# Inline (not a $ref): FastAPI only lists models of route fields under components.
_PROBLEM_SCHEMA = Problem.model_json_schema()
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
log = structlog.get_logger("privatetrade.web")

UNAVAILABLE = {503: "The database is unavailable or busy; retry later"}
"""The 503 of every route that uses the database (a ``problem_responses`` entry)."""
INVALID = {422: "Invalid input; the problem names the field"}
"""The 422 of a route with parameters or a body (a ``problem_responses`` entry)."""


class ProblemError(Exception):
    """Raise from a route to answer with a problem document.

    Without a ``code``, the answer takes the code of the error being handled when this
    was raised (``raise ProblemError(...) from exc``), else the status's.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        params: Mapping[str, str | int | float] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers
        self.code = code
        self.params = dict(params or {})
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    params: Mapping[str, str | int | float] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response (``code`` defaults to the status's)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code or _CODES.get(status, "error"),
    }
    if params:
        body["params"] = dict(params)
    if field is not None:
        body["field"] = field
    body.update({key: value for key, value in extra.items() if value is not None})
    if request is not None and "request_id" in request.scope.get("state", {}):
        body["request_id"] = request.scope["state"]["request_id"]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_responses(statuses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """Document error responses (status -> description) as problem+json bodies.

    For a route's ``responses=``; declaring 422 also replaces FastAPI's default
    ``HTTPValidationError`` entry, which this app never sends.
    """
    return {
        status: {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}
        for status, description in statuses.items()
    }


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """The methods some route answers on this path (Starlette names only the first route's).

    Asked route by route with each method, since FastAPI's included routers hide the
    routes (and their methods) behind one matching object.
    """
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error the app can raise with a problem document."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors(), body_model(request.scope))
        unknown = {"field": "body", "message": "invalid request"}
        first: dict[str, Any] = errors[0] if errors else unknown
        return problem_response(
            422,
            f"{first['field']}: {first['message']}",
            request=request,
            field=first["field"],
            code=first.get("code"),
            params=first.get("params"),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(exc.status_code, detail, request=request, headers=headers or None)

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _answer(request, exc)

    @app.exception_handler(PrivatetradeError)
    async def _domain(request: Request, exc: PrivatetradeError) -> JSONResponse:
        if isinstance(exc, UnavailableError):
            log.warning("db.unavailable", error=str(exc.__cause__ or exc))
        return _answer(request, problem_for(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("http.unhandled", exc_info=exc)
        return problem_response(500, "internal server error; see the server log", request=request)


def _answer(request: Request, problem: ProblemError) -> JSONResponse:
    code, params = problem.code, problem.params
    if code is None:
        code, params = error_code(problem.__cause__ or problem.__context__)
    return problem_response(
        problem.status,
        problem.detail,
        request=request,
        field=problem.field,
        headers=problem.headers,
        code=code,
        params=params,
        **problem.extra,
    )


def error_code(exc: BaseException | None) -> tuple[str | None, dict[str, str | int | float]]:
    """The code and params of an error: its own, else the first of its causes that has one.

    A ``PrivatetradeError`` with a ``code`` gives it; a pydantic ``ValidationError`` gives
    its first error's type and context. None when no error along the chain has one.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, PrivatetradeError) and exc.code is not None:
            return exc.code, dict(exc.params)
        if isinstance(exc, ValidationError) and exc.error_count():
            first = exc.errors(include_url=False)[0]
            return str(first["type"]), error_params(first)
        exc = exc.__cause__ or exc.__context__
    return None, {}


def problem_for(exc: PrivatetradeError) -> ProblemError:
    """Return the problem that answers a privatetrade error (a subclass before its base).

    Input and data errors are 422 naming the field, ``NotFoundError`` 404, a conflict 409
    with the job's state (a reused Idempotency-Key 422), limits 429 and unavailability
    503 with ``Retry-After``, authentication 401 (permission 403); any other error 422.
    """
    problem = _problem_of_class(exc)
    code, params = error_code(exc)
    if code is not None:
        problem.code, problem.params = code, params
    return problem


def _problem_of_class(exc: PrivatetradeError) -> ProblemError:
    detail = str(exc)
    if isinstance(exc, InputError):
        return ProblemError(422, detail, field=exc.field or "body")
    if isinstance(exc, DataError):
        return ProblemError(422, detail, field="symbol", code="data_error")
    if isinstance(exc, NotFoundError):
        return ProblemError(404, detail)
    if isinstance(exc, IdempotencyConflictError):
        message = "this Idempotency-Key was already used with a different request body"
        return ProblemError(422, message, field="Idempotency-Key", code="idempotency_conflict")
    if isinstance(exc, ConflictError):
        return ProblemError(409, detail, state=exc.state)
    if isinstance(exc, LimitExceededError):
        headers = {"Retry-After": str(exc.retry_after)}
        return ProblemError(429, detail, headers=headers, code="limit_exceeded")
    if isinstance(exc, UnavailableError):
        return ProblemError(503, detail, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, PermissionDeniedError):
        return ProblemError(403, detail)
    if isinstance(exc, AuthenticationError):
        return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})
    return ProblemError(422, detail)
