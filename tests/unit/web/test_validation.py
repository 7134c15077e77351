"""Validation errors name the field the caller sent, through unions and dict keys."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from privatetrade.domain.specs import BacktestSpec
from privatetrade.web.validation import field_errors


def errors_of(model: type[BaseModel], body: str) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(body)
    located: list[dict[str, Any]] = [
        {**error, "loc": ("body", *error["loc"])} for error in caught.value.errors()
    ]
    return field_errors(located, model)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        # The union of a preset name and a cost model: the model's field, not the union.
        (
            '"costs":{"sell_tax":[{"since":"2000-01-01","rate":NaN}]}',
            "costs.sell_tax.0.rate",
            "Input should be a finite number",
        ),
        ('"costs":{"min_commission":1e400}', "costs.min_commission", "finite number"),
        ('"costs":{"lot_size":0}', "costs.lot_size", "greater than or equal to 1"),
        (
            '"costs":"bogus"',
            "costs",
            "unknown cost preset 'bogus'; use auto, krx, us, zero or a cost model object",
        ),
        ('"costs":5', "costs", "use a cost preset (auto, krx, us, zero) or a cost model object"),
        # The union of int, float, bool and str in strategy parameters.
        ('"params":{"fast":NaN}', "params.fast", "finite number"),
        ('"params":{"fast":1e20}', "params.fast", "less than or equal to 1000000000000000"),
        ('"params":{"fast":[1]}', "params.fast", "valid integer; or a valid number"),
        ('"params":{"a b":1}', "params.a b", "should match pattern"),
        # A validator's message, without pydantic's "Value error, ".
        ('"sizing":{"mode":"shares","value":1e13}', "sizing.value", "a share count must be"),
        ('"start":"0001-01-01"', "start", "a date must lie between 1900-01-01 and 2100-12-31"),
        ('"start":0', "start", "a date must be written YYYY-MM-DD"),
    ],
)
def test_the_field_is_the_path_the_caller_sent(fields: str, field: str, message: str) -> None:
    errors = errors_of(BacktestSpec, '{"symbol":"AAPL",' + fields + "}")
    assert errors[0]["field"] == field
    assert message in errors[0]["message"]
    assert not errors[0]["message"].startswith("Value error")


def test_every_error_of_the_chosen_member_is_kept() -> None:
    errors = errors_of(
        BacktestSpec, '{"symbol":"AAPL","costs":{"min_commission":-1,"lot_size":0,"bogus":1}}'
    )
    assert [error["field"] for error in errors] == [
        "costs.min_commission",
        "costs.lot_size",
        "costs.bogus",
    ]


def test_locations_outside_the_body_are_named_as_they_are() -> None:
    errors = field_errors(
        [
            {"type": "int_parsing", "loc": ("query", "limit"), "msg": "Input should be an int"},
            {"type": "json_invalid", "loc": ("body", 17), "msg": "JSON decode error"},
            {"type": "missing", "loc": ("body",), "msg": "Field required"},
        ]
    )
    assert [error["field"] for error in errors] == ["limit", "body", "body"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{"exits":{"stop_loss":NaN}}', "rules.document.exits.stop_loss"),
        ('{"long":{"exit":{"all":[{},{"right":1e400}]}}}', "rules.document.long.exit.all[1].right"),
        ('{"a":[[-Infinity]]}', "rules.document.a[0][0]"),
    ],
)
def test_a_non_finite_number_in_a_rule_document_is_named_by_its_path(
    document: str, field: str
) -> None:
    errors = errors_of(
        BacktestSpec, '{"symbol":"AAPL","strategy":"rules","rules":{"document":' + document + "}}"
    )
    assert [error["field"] for error in errors] == [field]
    assert errors[0]["code"] == "rule_document_not_json"
    assert errors[0]["params"] == {"path": field}
    assert "must be finite" in errors[0]["message"]
