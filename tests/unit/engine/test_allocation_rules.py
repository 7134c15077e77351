"""PortfolioRule: each rule's fields, bounds, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from privatetrade.engine.portfolio.rules import (
    ALLOCATION_RULES,
    RULE_NAMES,
    PortfolioRule,
)


def error_of(**fields: Any) -> tuple[tuple[str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        PortfolioRule(**fields)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return tuple(str(part) for part in errors[0]["loc"]), errors[0]["msg"]


def test_defaults_are_a_monthly_equal_weight_rebalance() -> None:
    rule = PortfolioRule()
    assert (rule.rule, rule.rebalance, rule.rebalance_on, rule.band) == (
        "equal_weight",
        "monthly",
        "last",
        0.0,
    )
    assert rule.is_allocation
    assert set(RULE_NAMES) - {"signals"} == ALLOCATION_RULES


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"top": 3}, "top", "top: only the top_n_* rules take top"),
        ({"rule": "top_n_momentum"}, "top", "top: the top_n_momentum rule needs top"),
        ({"rule": "top_n_signal", "top": 2}, "strategy", "strategy: the top_n_signal rule needs"),
        ({"rule": "signals"}, "strategy", "strategy: the signals rule needs a strategy"),
        ({"rule": "fixed_weights"}, "weights", "weights: the fixed_weights rule needs weights"),
        ({"weights": {"A": 0.5}}, "weights", "weights: only the fixed_weights rule"),
        (
            {"rule": "fixed_weights", "weights": {"A": 0.6, "B": 0.5}},
            "weights",
            "weights: the weights sum to 1.1; at most 1",
        ),
        ({"rule": "fixed_weights", "weights": {"A": 1.5}}, "weights.A", "less than or equal to 1"),
        ({"rule": "fixed_weights", "weights": {"A": -0.1}}, "weights.A", "greater than or equal"),
        ({"rule": "fixed_weights", "weights": {}}, "weights", "at least 1 item"),
        ({"lookback": 20}, "lookback", "lookback: only rankings"),
        ({"rule": "top_n_momentum", "top": 2, "lookback": 1}, "lookback", "greater than or equal"),
        ({"rule": "top_n_momentum", "top": 2, "lookback": 2521}, "lookback", "less than or equal"),
        ({"rule": "top_n_momentum", "top": 501}, "top", "less than or equal to 500"),
        ({"weighting": "inverse_volatility"}, "weighting", "weighting: only the top_n_* rules"),
        ({"momentum_threshold": 0.1}, "momentum_threshold", "only rules with absolute_momentum"),
        ({"absolute_momentum": True, "momentum_threshold": 2.0}, "momentum_threshold", "less"),
        ({"band": float("nan")}, "band", "finite number"),
        ({"band": 1.5}, "band", "less than or equal to 1"),
        ({"rule": "signals", "strategy": "s", "band": 0.1}, "band", "band: only the allocation"),
        (
            {"rule": "signals", "strategy": "s", "rebalance": "weekly"},
            "rebalance",
            "rebalance: only the allocation rules",
        ),
        (
            {"rule": "signals", "strategy": "s", "absolute_momentum": True},
            "absolute_momentum",
            "absolute_momentum: only the allocation rules",
        ),
        ({"strategy": "sma_cross"}, "strategy", "strategy: only signals and top_n_signal"),
        ({"params": {"fast": 5}}, "params", "params: only signals and top_n_signal"),
        ({"max_positions": 3}, "max_positions", "max_positions: only the signals rule"),
        ({"position_size": "all_in"}, "position_size", "position_size: only the signals rule"),
        ({"entry_priority": "momentum"}, "entry_priority", "entry_priority: only the signals"),
        (
            {"rule": "signals", "strategy": "s", "position_size": "fraction"},
            "position_value",
            "position_value: position_size 'fraction' needs position_value",
        ),
        (
            {"rule": "signals", "strategy": "s", "position_size": "fraction", "position_value": 2},
            "position_value",
            "a fraction of equity must be at most 1",
        ),
        (
            {"rule": "signals", "strategy": "s", "position_value": 5.0},
            "position_value",
            "position_value: only position_size fraction or amount",
        ),
        (
            {"rule": "signals", "strategy": "s", "position_size": "amount", "position_value": 1e16},
            "position_value",
            "less than or equal to 1000000000000000",
        ),
        ({"rule": "signals", "strategy": "s", "max_positions": 0}, "max_positions", "greater"),
        ({"rule": "momentum"}, "rule", "Input should be 'equal_weight'"),
        ({"rebalance": "yearly"}, "rebalance", "Input should be 'daily'"),
        ({"delisted": "drop"}, "delisted", "Input should be 'hold' or 'liquidate'"),
        ({"rule": "signals", "strategy": ""}, "strategy", "at least 1 character"),
        (
            {"rule": "signals", "strategy": "s", "params": {"x": float("inf")}},
            "params.x",
            "",
        ),
        ({"universe": ["A"]}, "universe", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_field_gets_one_error_naming_it(
    fields: dict[str, Any], field: str, words: str
) -> None:
    if field == "params.x":  # the union of value types reports per member; the loc names x
        with pytest.raises(ValidationError) as caught:
            PortfolioRule(**fields)
        assert all(err["loc"][:2] == ("params", "x") for err in caught.value.errors())
        return
    loc, message = error_of(**fields)
    assert ".".join(loc) == field
    assert words in message


def test_each_rule_accepts_its_own_fields() -> None:
    rules = [
        PortfolioRule(rule="fixed_weights", weights={"A": 0.1, "B": 0.9}),
        PortfolioRule(
            rule="fixed_weights", weights={f"S{i}": 0.1 for i in range(10)}
        ),  # ten times 0.1 sums to 0.9999999999999999 or 1.0000000000000002: both fine
        PortfolioRule(rule="inverse_volatility", lookback=20, rebalance="weekly", band=0.02),
        PortfolioRule(
            rule="top_n_momentum",
            top=5,
            lookback=120,
            weighting="inverse_volatility",
            absolute_momentum=True,
            momentum_threshold=-0.05,
            rebalance="quarterly",
            rebalance_on="first",
        ),
        PortfolioRule(rule="top_n_low_volatility", top=1, lookback=2),
        PortfolioRule(rule="top_n_signal", top=3, strategy="sma_cross", params={"fast": 5}),
        PortfolioRule(
            rule="signals",
            strategy="rsi_reversion",
            params={"period": 14},
            max_positions=5,
            position_size="amount",
            position_value=1_000_000,
            entry_priority="low_volatility",
            lookback=30,
            delisted="hold",
        ),
        PortfolioRule(absolute_momentum=True, lookback=250),
    ]
    assert [r.rule for r in rules][-1] == "equal_weight"
    assert not rules[6].is_allocation
    assert rules[2].is_allocation


def test_defaults_sent_explicitly_are_accepted_and_spell_the_same_rule() -> None:
    explicit = PortfolioRule(
        rule="top_n_momentum", top=3, lookback=60, max_positions=10, position_size="equal"
    )
    assert explicit == PortfolioRule(rule="top_n_momentum", top=3)
    assert explicit.model_dump(mode="json") == PortfolioRule(
        rule="top_n_momentum", top=3
    ).model_dump(mode="json")


def test_the_rule_is_frozen() -> None:
    rule = PortfolioRule()
    with pytest.raises(ValidationError):
        rule.band = 0.5  # type: ignore[misc]


def test_a_json_round_trip_keeps_the_rule() -> None:
    rule = PortfolioRule(rule="fixed_weights", weights={"005930": 0.6, "000660": 0.4})
    assert PortfolioRule.model_validate_json(rule.model_dump_json()) == rule
