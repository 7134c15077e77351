"""Every number a caller can set is bounded and finite; every date is 1900..2100, YYYY-MM-DD.

The number fields are found by walking the models' JSON Schemas, so a new field without
bounds fails here before it reaches the API.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine import limits
from privatetrade.engine.costs import CostModel, TaxStep
from privatetrade.engine.settings import SimulationSettings, Sizing

DOCS = Path(__file__).resolve().parents[3] / "docs" / "api.md"
MODELS = [BacktestSpec, SimulationSettings]


def number_schemas(model: type[BaseModel]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, schema)`` of every number or integer in the model's JSON Schema."""
    root = model.model_json_schema()
    definitions = root.get("$defs", {})

    def walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if "$ref" in schema:
            schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        for member in schema.get("anyOf", []):
            yield from walk(member, path)
        kind = schema.get("type")
        if kind in ("number", "integer"):
            yield path, schema
        elif kind == "array":
            yield from walk(schema.get("items", {}), f"{path}.0")
        for name, sub in schema.get("properties", {}).items():
            yield from walk(sub, f"{path}.{name}".lstrip("."))
        for sub in schema.get("patternProperties", {}).values():
            yield from walk(sub, f"{path}.<name>")

    yield from walk(root, "")


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_number_field_declares_both_bounds(model: type[BaseModel]) -> None:
    unbounded = [
        path
        for path, schema in number_schemas(model)
        if not ({"minimum", "exclusiveMinimum"} & schema.keys())
        or not ({"maximum", "exclusiveMaximum"} & schema.keys())
    ]
    assert unbounded == []
    assert len(list(number_schemas(model))) >= 10


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    ("model", "values"),
    [
        (SimulationSettings, lambda v: {"initial_cash": v}),
        (SimulationSettings, lambda v: {"risk_free_rate": v}),
        (SimulationSettings, lambda v: {"periods_per_year": v}),
        (SimulationSettings, lambda v: {"stops": {"take_profit": v}}),
        (Sizing, lambda v: {"mode": "shares", "value": v}),
        (Sizing, lambda v: {"mode": "fraction", "value": v}),
        (CostModel, lambda v: {"min_commission": v}),
        (CostModel, lambda v: {"sell_fee_per_share": v}),
        (CostModel, lambda v: {"sell_fee_per_share_max": v}),
        (CostModel, lambda v: {"slippage": v}),
        (TaxStep, lambda v: {"since": "2000-01-01", "rate": v}),
        (BacktestSpec, lambda v: {"symbol": "AAPL", "capital": v}),
        (BacktestSpec, lambda v: {"symbol": "AAPL", "params": {"fast": v}}),
    ],
)
def test_non_finite_numbers_are_refused(model: type[BaseModel], values: Any, value: float) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(values(value))


def test_share_counts_and_lots_stop_at_their_limits() -> None:
    Sizing(mode="shares", value=limits.MAX_SHARES)
    with pytest.raises(ValidationError, match="share count"):
        Sizing(mode="shares", value=limits.MAX_SHARES * 10)
    CostModel(lot_size=limits.MAX_LOT_SIZE)
    with pytest.raises(ValidationError):
        CostModel(lot_size=limits.MAX_LOT_SIZE + 1)
    with pytest.raises(ValidationError):
        CostModel(
            sell_tax=tuple(
                TaxStep(since=dt.date(1950, 1, 1) + dt.timedelta(days=i), rate=0.001)
                for i in range(limits.MAX_TAX_STEPS + 1)
            )
        )


@pytest.mark.parametrize(
    "text", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31", "0", "20200101", "2020-1-1"]
)
def test_dates_outside_the_range_or_not_iso_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BacktestSpec.model_validate({"symbol": "AAPL", "start": text})
    assert caught.value.errors()[0]["loc"] == ("start",)


@pytest.mark.parametrize("value", [0, 1_700_000_000, 0.0, True])
def test_a_number_is_not_a_date(value: Any) -> None:
    """Pydantic's lax mode would read these as seconds since 1970."""
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        BacktestSpec.model_validate({"symbol": "AAPL", "end": value})


def test_the_ends_of_the_date_range_are_allowed() -> None:
    spec = BacktestSpec(symbol="AAPL", start=limits.MIN_DATE, end=limits.MAX_DATE)
    assert BacktestSpec.from_json(spec.canonical_json()) == spec
    assert (
        BacktestSpec.model_validate_json(
            '{"symbol":"AAPL","start":"1900-01-01","end":"2100-12-31"}'
        )
        == spec
    )


def test_docs_list_every_limit() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Limits") :]
    section = section[: section.index("\n## ")]
    numbers = {
        name: value
        for name in limits.__all__
        if name.startswith("MAX_") and isinstance(value := getattr(limits, name), (int, float))
    }
    missing = [name for name, value in numbers.items() if f"{int(value):,}" not in section]
    assert missing == []
    assert str(limits.MIN_DATE) in section
    assert str(limits.MAX_DATE) in section
