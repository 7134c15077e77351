"""Random rule documents: only RuleError ever escapes, and no signal looks ahead.

Hypothesis builds valid rule trees (every indicator, condition and modifier, literal and
parameter numbers) and arbitrary JSON-like junk. A valid tree must evaluate to one bool
per bar; its signals on the first ``t`` bars must equal the full run's (truncation: no
look-ahead); junk must either parse or raise RuleError, never anything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privatetrade.engine.rules import (
    RuleDocument,
    evaluate_signals,
    parse_rules,
    rule_strategy_class,
)
from privatetrade.engine.strategies import synthetic_bars
from privatetrade.errors import RuleError

BARS = synthetic_bars(160, seed=11)
PARAMETERS = {
    "p": {"type": "int", "default": 5, "min": 1, "max": 40},
    "x": {"type": "float", "default": 1.5, "min": 0.1, "max": 4.0},
}

counts = st.one_of(st.integers(1, 40), st.just("${p}"))
widths = st.one_of(st.floats(0.1, 4.0), st.just("${x}"))
numbers = st.one_of(st.integers(-200, 200), st.floats(-1e4, 1e4, allow_nan=False), st.just("${x}"))
prices = st.sampled_from(["open", "high", "low", "close", "volume"]).map(lambda p: {"price": p})


def _series(sources: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    average = st.fixed_dictionaries(
        {
            "indicator": st.sampled_from(["sma", "ema", "wma", "rsi", "roc"]),
            "source": sources,
            "period": counts,
        }
    )
    macd = st.fixed_dictionaries(
        {
            "indicator": st.just("macd"),
            "source": sources,
            "fast": counts,
            "slow": counts,
            "signal": counts,
            "output": st.sampled_from(["line", "signal", "histogram"]),
        }
    )
    bollinger = st.fixed_dictionaries(
        {
            "indicator": st.just("bollinger"),
            "source": sources,
            "period": counts,
            "k": widths,
            "band": st.sampled_from(["upper", "middle", "lower"]),
        }
    )
    previous = st.fixed_dictionaries(
        {"indicator": st.just("previous"), "source": sources, "bars": counts}
    )
    leaves = st.one_of(
        st.fixed_dictionaries({"indicator": st.just("atr"), "period": counts}),
        st.fixed_dictionaries(
            {
                "indicator": st.just("donchian"),
                "period": counts,
                "band": st.sampled_from(["upper", "lower"]),
            }
        ),
        st.fixed_dictionaries({"indicator": st.just("volume_average"), "period": counts}),
        st.fixed_dictionaries({"indicator": st.just("range_breakout"), "k": widths}),
    )
    return st.one_of(average, macd, bollinger, previous, leaves)


series = st.recursive(prices, _series, max_leaves=3)
operands = st.one_of(numbers, series)

comparisons = st.one_of(
    st.fixed_dictionaries(
        {"compare": st.sampled_from([">", "<", ">=", "<="]), "left": operands, "right": operands}
    ),
    st.builds(lambda a, b: {"crosses_above": [a, b]}, operands, operands),
    st.builds(lambda a, b: {"crosses_below": [a, b]}, operands, operands),
    st.fixed_dictionaries({"between": operands, "low": operands, "high": operands}),
)


def _combined(conditions: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(conditions, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(conditions, min_size=1, max_size=3).map(lambda c: {"any": c}),
        conditions.map(lambda c: {"not": c}),
        st.builds(lambda n, c: {"for_bars": n, "condition": c}, counts, conditions),
        st.builds(lambda n, c: {"within_bars": n, "condition": c}, counts, conditions),
    )


conditions = st.recursive(comparisons, _combined, max_leaves=4)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": "privatetrade.rules/1",
        "parameters": PARAMETERS,
        "long": {"entry": draw(conditions), "exit": draw(st.none() | conditions)},
    }
    if draw(st.booleans()):
        document["short"] = {"entry": draw(conditions), "exit": draw(conditions)}
    return document


def _parse(data: Any) -> tuple[RuleDocument | None, RuleError | None]:
    """Return the parsed document, or the RuleError (any other exception propagates)."""
    try:
        return parse_rules(data), None
    except RuleError as error:
        return None, error


values = st.fixed_dictionaries({"p": st.integers(1, 40), "x": st.floats(0.1, 4.0)})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), values, st.lists(st.integers(1, len(BARS) - 1), min_size=1, max_size=3))
def test_random_rule_trees_evaluate_causally(
    document: dict[str, Any], params: dict[str, Any], cuts: list[int]
) -> None:
    parsed, error = _parse(document)
    if parsed is None:  # a tree over the depth or node limits
        assert error is not None
        assert error.code in {"too_deep", "too_many_nodes"}
        return
    full = evaluate_signals(parsed, BARS, params)
    short = parsed.short is not None
    names = ("entries", "exits", "short_entries", "short_exits") if short else ("entries", "exits")
    for name in names:
        array = getattr(full, name)
        assert array.dtype == np.bool_
        assert array.shape == (len(BARS),)
    if not short:
        assert full.short_entries is None
    for cut in cuts:
        partial = evaluate_signals(parsed, BARS.head(cut), params)
        for name in names:
            assert np.array_equal(getattr(partial, name), getattr(full, name)[:cut]), (name, cut)
    strategy_class = rule_strategy_class(parsed)
    strategy = strategy_class(strategy_class.Params(**params))
    assert strategy.warmup_bars() >= 0
    for line in strategy.indicators(BARS).lines:
        assert line.values.shape == (len(BARS),)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["${p}", "${x}", "close", "sma", "compare", ">", "all"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["schema", "long", "short", "entry", "exit", "compare", "left", "right", "all",
             "not", "indicator", "source", "period", "price", "parameters", "exits", "x"]
        ),
        children,
        max_size=4,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(json_values, documents())
def test_junk_and_mutated_documents_raise_only_rule_errors(
    junk: Any, document: dict[str, Any]
) -> None:
    for data in (junk, {**document, "long": junk}, {**document, "long": {"entry": junk}}):
        parsed, error = _parse(data)
        if parsed is None:
            assert error is not None
            assert error.path.startswith("$")
            assert error.code
