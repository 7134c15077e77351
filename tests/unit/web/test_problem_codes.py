"""Every problem document names its kind (``code``) and the values it mentions (``params``).

Pages translate a problem from its code and params; programs rely on the code. The code
is the error's own, else that of the error it was raised from (a wrapped pydantic error
gives its type and context), else the one of its class or HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from privatetrade import errors
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.api import default_registry
from privatetrade.web.problems import ProblemError, install_problem_handlers


class Body(BaseModel):
    fast: int = Field(ge=1, le=1000)
    name: str = Field(max_length=4)


def client_raising(factory: Callable[[], Exception]) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise factory()

    @app.post("/body")
    def body(value: Body) -> None:
        del value

    return TestClient(app, raise_server_exceptions=False)


def problem(factory: Callable[[], Exception]) -> dict[str, Any]:
    body: dict[str, Any] = client_raising(factory).get("/boom").json()
    return body


def strategy_error() -> Exception:
    try:
        default_registry().build("sma_cross", {"fast": 40, "slow": 20})
    except errors.ParameterError as exc:
        return exc
    raise AssertionError("the parameters were accepted")


def wrapped(inner: Exception) -> Exception:
    try:
        raise inner
    except Exception as exc:
        try:
            raise errors.InputError(f"symbols: {exc}", field="symbols") from exc
        except errors.InputError as outer:
            return outer


def test_an_error_with_a_code_answers_its_code_and_params() -> None:
    body = problem(
        lambda: errors.InputError(
            "5,200 bars", field="start", code="too_many_bars", params={"count": 5200, "limit": 5000}
        )
    )
    assert (body["code"], body["params"], body["field"]) == (
        "too_many_bars",
        {"count": 5200, "limit": 5000},
        "start",
    )
    assert body["detail"] == "5,200 bars"  # the English sentence is unchanged


def test_a_wrapped_error_answers_the_code_of_its_cause() -> None:
    inner = errors.InputError("unknown", code="unknown_symbol", params={"symbol": "NOPE"})
    body = problem(lambda: wrapped(inner))
    assert (body["code"], body["params"], body["field"]) == (
        "unknown_symbol",
        {"symbol": "NOPE"},
        "symbols",
    )


def test_a_strategy_rule_names_the_strategy_and_both_parameters() -> None:
    body = problem(strategy_error)
    assert body["code"] == "param_order"
    assert body["params"] == {
        "strategy": "sma_cross",
        "param": "fast",
        "low": "fast",
        "high": "slow",
        "low_value": 40,
        "high_value": 20,
    }


def test_a_bound_of_a_spec_answers_pydantics_type_and_context() -> None:
    def invalid_spec() -> Exception:
        try:
            BacktestSpec(symbol="DEMO01", start="2020-02-01", end="2020-01-01")
        except ValueError as exc:
            return wrapped(exc)
        raise AssertionError("the spec was accepted")

    body = problem(invalid_spec)
    assert body["code"] == "start_after_end"


def test_a_problem_raised_from_an_error_takes_its_code() -> None:
    def raised() -> Exception:
        try:
            raise errors.InputError("bad", code="no_raw_prices", params={"symbol": "AAPL"})
        except errors.InputError as exc:
            try:
                raise ProblemError(422, str(exc), field="symbol") from None
            except ProblemError as problem_error:
                return problem_error

    body = problem(raised)
    assert (body["code"], body["params"]) == ("no_raw_prices", {"symbol": "AAPL"})


@pytest.mark.parametrize(
    ("factory", "code"),
    [
        (lambda: errors.InputError("bad", field="x"), "invalid_input"),
        (lambda: errors.NotFoundError("no such job"), "not_found"),
        (lambda: errors.ConflictError("not yet", state="running"), "conflict"),
        (lambda: errors.LimitExceededError("slow down"), "limit_exceeded"),
        (lambda: errors.PermissionDeniedError("no"), "forbidden"),
        (lambda: errors.UnavailableError("busy"), "unavailable"),
        (lambda: RuntimeError("secret"), "internal_error"),
        (lambda: ProblemError(404, "no backtest"), "not_found"),
    ],
)
def test_other_errors_answer_the_code_of_their_class_or_status(
    factory: Callable[[], Exception], code: str
) -> None:
    body = problem(factory)
    assert body["code"] == code
    assert "params" not in body


def test_each_invalid_field_of_a_body_has_its_code_and_params() -> None:
    response = client_raising(lambda: RuntimeError()).post(
        "/body", json={"fast": 0, "name": "too long"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "greater_than_equal"
    assert body["params"] == {"ge": 1}
    assert body["errors"] == [
        {
            "field": "fast",
            "message": "Input should be greater than or equal to 1",
            "code": "greater_than_equal",
            "params": {"ge": 1},
        },
        {
            "field": "name",
            "message": "String should have at most 4 characters",
            "code": "string_too_long",
            "params": {"max_length": 4},
        },
    ]
