"""Rule documents equal the built-in strategies they restate, byte for byte, on the samples.

The issue's promise: "SMA(close, fast) crosses above SMA(close, slow); exit on the
opposite cross" is ``sma_cross`` (shorts mirrored when a short section is given), and the
RSI and Bollinger level rules are ``rsi_reversion`` and ``bollinger_reversion``. Compared
here are the equity, cash and position series, every fill and trade field, the metrics
and the warm-up, on every bundled sample symbol; and the sweep rows of a grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import privatetrade as pt
from privatetrade.data.sample import SAMPLE_SYMBOLS, load_sample_bars
from privatetrade.engine.rules import rule_strategy_class
from privatetrade.engine.strategies import StrategyRegistry, check_causal

CLOSE = {"price": "close"}


def _sma(period: Any) -> dict[str, Any]:
    return {"indicator": "sma", "source": CLOSE, "period": period}


def _int(default: int, low: int, high: int) -> dict[str, Any]:
    return {"type": "int", "default": default, "min": low, "max": high}


def _float(default: float, low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "default": default, "min": low, "max": high}


def _cross(kind: str) -> dict[str, Any]:
    return {kind: [_sma("${fast}"), _sma("${slow}")]}


SMA_CROSS = {
    "schema": "privatetrade.rules/1",
    "parameters": {"fast": _int(10, 1, 1000), "slow": _int(30, 2, 1000)},
    "long": {"entry": _cross("crosses_above"), "exit": _cross("crosses_below")},
    "short": {"entry": _cross("crosses_below"), "exit": _cross("crosses_above")},
}

_RSI = {"indicator": "rsi", "source": CLOSE, "period": "${period}"}
RSI_REVERSION = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "period": _int(14, 2, 500),
        "lower": _float(30.0, 0.0, 100.0),
        "upper": _float(70.0, 0.0, 100.0),
    },
    "long": {
        "entry": {"compare": "<", "left": _RSI, "right": "${lower}"},
        "exit": {"compare": ">", "left": _RSI, "right": "${upper}"},
    },
}


def _band(band: str) -> dict[str, Any]:
    return {
        "indicator": "bollinger",
        "source": CLOSE,
        "period": "${period}",
        "k": "${k}",
        "band": band,
    }


BOLLINGER_REVERSION = {
    "schema": "privatetrade.rules/1",
    "parameters": {"period": _int(20, 2, 1000), "k": _float(2.0, 0.1, 10.0)},
    "long": {
        "entry": {"compare": "<", "left": CLOSE, "right": _band("lower")},
        "exit": {"compare": ">", "left": CLOSE, "right": _band("middle")},
    },
}

CASES = [
    ("sma_cross", SMA_CROSS, {"fast": 10, "slow": 30}),
    ("sma_cross", SMA_CROSS, {"fast": 3, "slow": 7}),
    ("rsi_reversion", RSI_REVERSION, {"period": 14, "lower": 30, "upper": 70}),
    ("rsi_reversion", RSI_REVERSION, {"period": 5, "lower": 25.5, "upper": 60}),
    ("bollinger_reversion", BOLLINGER_REVERSION, {"period": 20, "k": 2.0}),
    ("bollinger_reversion", BOLLINGER_REVERSION, {"period": 7, "k": 1.3}),
]


def _assert_same_records(rule: np.ndarray, builtin: np.ndarray) -> None:
    assert rule.dtype == builtin.dtype
    assert rule.shape == builtin.shape
    for name in rule.dtype.names or ():
        # Byte-identical field by field (the padding bytes of aligned records are not data).
        assert rule[name].tobytes() == builtin[name].tobytes(), name


def _assert_same_result(rule: pt.BacktestResult, builtin: pt.BacktestResult) -> None:
    for series in ("equity", "cash", "position"):
        assert getattr(rule.output, series).tobytes() == getattr(builtin.output, series).tobytes()
    _assert_same_records(rule.output.fills, builtin.output.fills)
    _assert_same_records(rule.output.trades, builtin.output.trades)
    assert rule.metrics == builtin.metrics
    assert rule.warnings == builtin.warnings


@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
@pytest.mark.parametrize(("builtin", "document", "params"), CASES)
def test_rule_document_backtests_exactly_as_its_builtin(
    symbol: str, builtin: str, document: dict[str, Any], params: dict[str, Any]
) -> None:
    bars = load_sample_bars(symbol)
    options: dict[str, Any] = {"costs": "us", "stops": {"trailing_stop": 0.1}}
    rule = pt.run_backtest(bars, "rules", params, rules=document, **options)
    reference = pt.run_backtest(bars, builtin, params, **options)
    assert rule.strategy == "rules"
    assert rule.metrics.trade_count > 0
    _assert_same_result(rule, reference)


@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_sma_cross_rule_mirrors_the_short_side(symbol: str) -> None:
    bars = load_sample_bars(symbol)
    params = {"fast": 8, "slow": 21}
    rule = pt.run_backtest(bars, "rules", params, rules=SMA_CROSS, allow_short=True, costs="us")
    reference = pt.run_backtest(bars, "sma_cross", params, allow_short=True, costs="us")
    assert (rule.output.trades["direction"] == -1).any()
    _assert_same_result(rule, reference)


@pytest.mark.parametrize(("builtin", "document", "params"), CASES)
def test_rule_signals_indicators_and_warmup_equal_the_builtin(
    builtin: str, document: dict[str, Any], params: dict[str, Any]
) -> None:
    registry = StrategyRegistry.with_builtins().with_rules(document)
    rule = registry.build("rules", params)
    reference = registry.build(builtin, params)
    bars = pt.run_backtest(load_sample_bars("AAPL"), builtin, params).prepared.bars
    ours, theirs = rule.signals(bars), reference.signals(bars)
    assert ours.entries.tobytes() == theirs.entries.tobytes()
    assert ours.exits.tobytes() == theirs.exits.tobytes()
    assert rule.warmup_bars() == reference.warmup_bars()
    their_lines = {line.values.tobytes() for line in reference.indicators(bars).lines}
    our_lines = {line.values.tobytes() for line in rule.indicators(bars).lines}
    # Every line the rule draws is one the built-in decides on (the built-in may draw more).
    assert our_lines <= their_lines | {bars.close.tobytes()}
    check_causal(rule)


@pytest.mark.parametrize(
    ("builtin", "document", "grid"),
    [
        ("sma_cross", SMA_CROSS, {"fast": range(2, 20, 3), "slow": range(20, 90, 10)}),
        (
            "rsi_reversion",
            RSI_REVERSION,
            {"period": [5, 9, 14], "lower": [20, 30], "upper": [65, 75]},
        ),
        (
            "bollinger_reversion",
            BOLLINGER_REVERSION,
            {"period": [10, 20, 30], "k": [1.5, 2.0, 2.5]},
        ),
    ],
)
def test_rule_sweep_rows_equal_the_builtin_sweep(
    builtin: str, document: dict[str, Any], grid: dict[str, Any]
) -> None:
    bars = load_sample_bars("MSFT")
    rule = pt.sweep(bars, "rules", grid, rules=document, costs="us", blocks=4, start=50)
    reference = pt.sweep(bars, builtin, grid, costs="us", blocks=4, start=50)
    assert rule.params == reference.params
    assert rule.values.tobytes() == reference.values.tobytes()
    assert rule.block_stats is not None
    assert reference.block_stats is not None
    assert rule.block_stats.tobytes() == reference.block_stats.tobytes()
    assert np.isfinite(rule.column("total_return")).all()


def test_rule_sweep_row_equals_the_rule_backtest_with_parameter_stops() -> None:
    document = {
        **SMA_CROSS,
        "parameters": {**SMA_CROSS["parameters"], "hold": _int(5, 1, 50)},
        "exits": {"stop_loss": 0.04, "max_bars_held": "${hold}"},
    }
    bars = load_sample_bars("IBM")
    grid = {"fast": [5, 10], "slow": [30], "hold": [3, 12, 50]}
    swept = pt.sweep(bars, "rules", grid, rules=document, costs="us")
    for row, params in enumerate(swept.params):
        single = pt.run_backtest(bars, "rules", params, rules=document, costs="us")
        assert swept.values[row, 0] == single.final_equity
        reasons = {trade["exit_reason"] for trade in single.to_dict()["trades"]}
        assert reasons <= {"signal", "stop_loss", "time", "end_of_data"}
        if params["hold"] == 3:
            assert "time" in reasons
    final = {p["hold"]: swept.values[i, 0] for i, p in enumerate(swept.params) if p["fast"] == 5}
    assert len(set(final.values())) == 3  # the holding limit changes the outcome


def test_the_strategy_class_is_built_once_per_document() -> None:
    assert rule_strategy_class(SMA_CROSS) is rule_strategy_class(dict(SMA_CROSS))
    assert rule_strategy_class(SMA_CROSS) is not rule_strategy_class(RSI_REVERSION)
