"""Every privatetrade error type maps to its problem+json answer, and only those types do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from privatetrade import errors
from privatetrade.web.problems import install_problem_handlers

CASES: list[tuple[Callable[[], Exception], int, dict[str, object], dict[str, str]]] = [
    (lambda: errors.InputError("bad", field="start"), 422, {"field": "start"}, {}),
    (lambda: errors.ParameterError("bad", field="params.fast"), 422, {"field": "params.fast"}, {}),
    (lambda: errors.ConfigurationError("bad", field="costs"), 422, {"field": "costs"}, {}),
    (
        lambda: errors.RuleError("bad", path="$.long.entry", code="unknown_series"),
        422,
        {"field": "$.long.entry", "code": "unknown_series"},
        {},
    ),
    (lambda: errors.NotFoundError("no such job"), 404, {}, {}),
    (lambda: errors.ConflictError("not yet", state="running"), 409, {"state": "running"}, {}),
    (
        lambda: errors.IdempotencyConflictError("abc"),
        422,
        {"field": "Idempotency-Key"},
        {},
    ),
    (
        lambda: errors.LimitExceededError("slow down", retry_after=7),
        429,
        {},
        {"retry-after": "7"},
    ),
    (lambda: errors.AuthenticationError("who?"), 401, {}, {"www-authenticate": "Bearer"}),
    (lambda: errors.PermissionDeniedError("no"), 403, {}, {}),
    (
        lambda: errors.UnavailableError("database busy", retry_after=1),
        503,
        {},
        {"retry-after": "1"},
    ),
]


def app_raising(factory: Callable[[], Exception]) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise factory()

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(("factory", "status", "fields", "headers"), CASES)
def test_error_types_map_to_their_status(
    factory: Callable[[], Exception],
    status: int,
    fields: dict[str, object],
    headers: dict[str, str],
) -> None:
    response = app_raising(factory).get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    for key, value in fields.items():
        assert body[key] == value
    for key, value in headers.items():
        assert response.headers[key] == value


def test_every_error_type_is_covered() -> None:
    raised = {type(factory()) for factory, *_ in CASES}
    public = {getattr(errors, name) for name in errors.__all__}
    # Engine-side errors map through their bases (InputError, DataError, PrivatetradeError).
    through_bases = {
        errors.DataError,
        errors.ProviderError,
        errors.StrategyError,
        errors.JobError,
        errors.CancelledError,
        errors.TimeLimitError,
        errors.PrivatetradeError,
    }
    assert public - raised - through_bases == set()


def test_unexpected_exceptions_are_a_generic_500_without_details() -> None:
    response = app_raising(lambda: RuntimeError("secret path /etc/x")).get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.headers["content-type"] == "application/problem+json"
