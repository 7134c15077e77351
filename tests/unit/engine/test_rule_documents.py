"""Rule documents: what is refused (RuleError with the JSON path and a stable code) and why."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from privatetrade.engine.rules import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    RuleDocument,
    parse_rules,
    rule_stops,
    rule_strategy_class,
    rules_json_schema,
)
from privatetrade.errors import InputError, ParameterError, RuleError

CLOSE = {"price": "close"}
VALID: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "fast": {"type": "int", "default": 10, "min": 2, "max": 50, "title": "Fast"},
        "level": {"type": "float", "default": 30.0, "min": 10.0, "max": 40.0},
    },
    "long": {
        "entry": {
            "all": [
                {
                    "crosses_above": [
                        {"indicator": "sma", "source": CLOSE, "period": "${fast}"},
                        {"indicator": "sma", "source": CLOSE, "period": 30},
                    ]
                },
                {
                    "compare": "<",
                    "left": {"indicator": "rsi", "source": CLOSE, "period": 14},
                    "right": "${level}",
                },
            ]
        },
        "exit": {"not": {"between": CLOSE, "low": 1, "high": 1000.5}},
    },
    "exits": {"stop_loss": 0.05, "max_bars_held": 20},
}


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    change(document)
    return document


def _sma(period: object) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["long"]["entry"]["all"][0]["crosses_above"][1].__setitem__("period", period)


def _right(value: object) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["long"]["entry"]["all"][1].__setitem__("right", value)


def _nested_sources(levels: int) -> dict[str, Any]:
    series: dict[str, Any] = CLOSE
    for _ in range(levels):
        series = {"indicator": "ema", "source": series, "period": 2}
    return series


PERIOD = "$.long.entry.all[0].crosses_above[1].period"
RIGHT = "$.long.entry.all[1].right"

INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("period zero", _sma(0), "out_of_range", PERIOD),
    ("period above the bound", _sma(1001), "out_of_range", PERIOD),
    ("fractional period", _sma(2.5), "whole_number_expected", PERIOD),
    ("bool as a period", _sma(True), "bool_not_number", PERIOD),
    ("text as a period", _sma("ten"), "number_expected", PERIOD),
    ("undeclared parameter", _sma("${slow}"), "undeclared_parameter", PERIOD),
    ("float parameter as a period", _sma("${level}"), "parameter_type", PERIOD),
    ("NaN", _right(float("nan")), "not_finite", RIGHT),
    ("infinity", _right(float("inf")), "not_finite", RIGHT),
    ("huge number", _right(10**30), "out_of_range", RIGHT),
    ("bool as a number", _right(False), "bool_not_number", RIGHT),
    ("list as a number", _right([1]), "number_expected", RIGHT),
    (
        "unknown indicator",
        lambda d: d["long"]["entry"]["all"][1]["left"].__setitem__("indicator", "kama"),
        "unknown_indicator",
        "$.long.entry.all[1].left.indicator",
    ),
    (
        "unknown price",
        lambda d: d["long"]["exit"]["not"].__setitem__("between", {"price": "vwap"}),
        "literal_error",
        "$.long.exit.not.between.price",
    ),
    (
        "neither price nor indicator",
        lambda d: d["long"]["exit"]["not"].__setitem__("between", {"series": "close"}),
        "unknown_series",
        "$.long.exit.not.between",
    ),
    (
        "unknown condition",
        lambda d: d["long"]["entry"]["all"].append({"equals": [1, 2]}),
        "unknown_condition",
        "$.long.entry.all[2]",
    ),
    (
        "unknown operator",
        lambda d: d["long"]["entry"]["all"][1].__setitem__("compare", "=="),
        "literal_error",
        "$.long.entry.all[1].compare",
    ),
    (
        "extra field",
        lambda d: d["long"]["entry"]["all"][1].__setitem__("comment", "x"),
        "extra_forbidden",
        "$.long.entry.all[1].comment",
    ),
    (
        "missing operand",
        lambda d: d["long"]["entry"]["all"][1].pop("left"),
        "missing",
        "$.long.entry.all[1].left",
    ),
    (
        "one-operand cross",
        lambda d: d["long"]["entry"]["all"][0]["crosses_above"].pop(),
        "missing",
        "$.long.entry.all[0].crosses_above[1]",
    ),
    (
        "empty all",
        lambda d: d["long"]["entry"].__setitem__("all", []),
        "too_short",
        "$.long.entry.all",
    ),
    ("wrong schema", lambda d: d.__setitem__("schema", "rules/2"), "literal_error", "$.schema"),
    ("no long section", lambda d: d.pop("long"), "missing", "$.long"),
    (
        "parameter default outside its bounds",
        lambda d: d["parameters"]["fast"].__setitem__("default", 60),
        "default_out_of_bounds",
        "$.parameters.fast",
    ),
    (
        "parameter min above max",
        lambda d: d["parameters"]["fast"].__setitem__("min", 70),
        "min_above_max",
        "$.parameters.fast",
    ),
    (
        "fractional int parameter",
        lambda d: d["parameters"]["fast"].__setitem__("max", 50.5),
        "int_type",
        "$.parameters.fast.max",
    ),
    (
        "bool parameter bound",
        lambda d: d["parameters"]["level"].__setitem__("min", True),
        "bool_not_number",
        "$.parameters.level.min",
    ),
    (
        "parameter range beyond the position",
        lambda d: d["parameters"]["fast"].__setitem__("min", 0),
        "parameter_out_of_range",
        "$.long.entry.all[0].crosses_above[0].period",
    ),
    (
        "bad parameter name",
        lambda d: d["parameters"].__setitem__(
            "Fast", {"type": "int", "default": 1, "min": 1, "max": 2}
        ),
        "string_pattern_mismatch",
        "$.parameters.Fast",
    ),
    (
        "nine parameters",
        lambda d: d["parameters"].update(
            {f"p{i}": {"type": "int", "default": 1, "min": 1, "max": 2} for i in range(7)}
        ),
        "too_long",
        "$.parameters",
    ),
    (
        "unknown parameter type",
        lambda d: d["parameters"]["level"].__setitem__("type", "decimal"),
        "unknown_parameter_type",
        "$.parameters.level",
    ),
    (
        "stop loss of 100%",
        lambda d: d["exits"].__setitem__("stop_loss", 1.0),
        "out_of_range",
        "$.exits.stop_loss",
    ),
    (
        "holding limit of zero",
        lambda d: d["exits"].__setitem__("max_bars_held", 0),
        "out_of_range",
        "$.exits.max_bars_held",
    ),
    (
        "too deep",
        lambda d: d["long"]["entry"]["all"][1].__setitem__("left", _nested_sources(MAX_DEPTH)),
        "too_deep",
        # all (1), compare (2), left (3): the 11th nested source is level 13.
        "$.long.entry.all[1].left" + ".source" * (MAX_DEPTH - 2),
    ),
    (
        "too many nodes",
        lambda d: d["long"].__setitem__(
            "entry",
            {"any": [{"compare": ">", "left": CLOSE, "right": i} for i in range(MAX_NODES)]},
        ),
        "too_many_nodes",
        # any (1), then two nodes per comparison: node 65 is the 32nd comparison's left side.
        f"$.long.entry.any[{(MAX_NODES - 2) // 2}].left",
    ),
    (
        "oversized",
        lambda d: d["parameters"]["fast"].__setitem__("title", "x" * MAX_DOCUMENT_BYTES),
        "document_too_large",
        "$",
    ),
]


@pytest.mark.parametrize(("change", "code", "path"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])  # fmt: skip
def test_an_invalid_document_is_refused_with_its_path(
    change: Callable[[dict[str, Any]], None], code: str, path: str
) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(_changed(change))
    error = caught.value
    assert (error.code, error.path) == (code, path)
    assert error.field == path
    assert error.params["path"] == path
    assert str(error).startswith(f"{path}: ")
    assert isinstance(error, InputError)


def test_the_valid_document_round_trips_through_its_canonical_form() -> None:
    document = parse_rules(VALID)
    assert isinstance(document, RuleDocument)
    assert parse_rules(document.to_dict()) == document
    assert parse_rules(document.to_json()) == document
    assert parse_rules(json.dumps(VALID).encode()) == document
    assert parse_rules(document) is document


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "invalid_json"),
        ("[" * 200_000, "document_too_large"),
        ("[" * 10_000 + "]" * 10_000, "too_deep"),
        ("[1, 2]", "not_an_object"),
        (42, "not_an_object"),
        (
            {"schema": "privatetrade.rules/1", "long": {"entry": {"any": [7]}}},
            "unknown_condition",
        ),
    ],
)
def test_data_that_is_not_a_document_is_refused(data: Any, code: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(data)
    assert caught.value.code == code


def test_a_python_value_json_cannot_hold_is_refused() -> None:
    document = _changed(lambda d: d["parameters"]["fast"].__setitem__("title", {1, 2}))
    with pytest.raises(RuleError) as caught:
        parse_rules(document)
    assert caught.value.code == "not_json"


def test_a_cycle_is_refused_as_too_deep() -> None:
    document = copy.deepcopy(VALID)
    node: dict[str, Any] = {"not": None}
    node["not"] = node
    document["long"]["exit"] = node
    with pytest.raises(RuleError) as caught:
        parse_rules(document)
    assert caught.value.code == "too_deep"


def test_parameters_become_a_bounded_params_model() -> None:
    strategy = rule_strategy_class(VALID)
    assert strategy.name == "rules"
    assert strategy.Params().model_dump() == {"fast": 10, "level": 30.0}
    schema = strategy.Params.model_json_schema()["properties"]
    assert (schema["fast"]["minimum"], schema["fast"]["maximum"]) == (2, 50)
    assert schema["fast"]["title"] == "Fast"
    from privatetrade.engine.strategies import parse_params

    for bad in ({"fast": 1}, {"fast": True}, {"level": 41.0}, {"level": float("nan")}, {"x": 1}):
        with pytest.raises(ParameterError):
            parse_params(strategy, bad)


def test_rule_stops_resolve_the_exits_with_the_parameters() -> None:
    document = _changed(lambda d: d["exits"].__setitem__("max_bars_held", "${fast}"))
    assert rule_stops(document) == {"stop_loss": 0.05, "max_bars_held": 10}
    assert rule_stops(document, {"fast": 7}) == {"stop_loss": 0.05, "max_bars_held": 7}
    assert rule_stops(_changed(lambda d: d.pop("exits"))) is None


def test_the_published_schema_describes_the_grammar() -> None:
    schema = rules_json_schema()
    assert schema["$id"] == "privatetrade.rules/1"
    assert "_UnknownSeries" not in json.dumps(schema)
    assert set(schema["required"]) == {"schema", "long"}
    period = schema["$defs"]["AverageSeries"]["properties"]["period"]["anyOf"]
    assert period[0] == {"type": "integer", "minimum": 1, "maximum": 1000}
    json.dumps(schema)  # plain JSON data


def test_a_rule_strategy_class_pickles_as_its_document() -> None:
    import pickle

    from privatetrade.engine.rules import strategy as rule_strategy

    strategy_class = rule_strategy_class(VALID)
    data = pickle.dumps(strategy_class)
    assert pickle.loads(data) is strategy_class
    rule_strategy._class_for.cache_clear()  # as in a fresh worker process
    rebuilt = pickle.loads(data)
    assert rebuilt is not strategy_class
    assert rebuilt.document == strategy_class.document
    assert rebuilt.Params().model_dump() == {"fast": 10, "level": 30.0}
