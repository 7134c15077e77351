"""Every built-in strategy draws the very series its signals are computed from."""

from __future__ import annotations

import numpy as np
import pytest

import privatetrade as pt
from privatetrade.engine.costs import CostModel
from privatetrade.engine.kernels.indicators import (
    crossed_above_nb,
    crossed_below_nb,
    ema_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_std_nb,
    rsi_nb,
    sma_nb,
)
from privatetrade.engine.strategies import Pane, StrategyRegistry, synthetic_bars
from privatetrade.engine.strategies.base import Bars, Indicators

BARS = synthetic_bars(600, seed=7)
REGISTRY = StrategyRegistry.with_builtins()


def lines(
    name: str, params: dict[str, object] | None = None
) -> tuple[Indicators, dict[str, np.ndarray]]:
    strategy = REGISTRY.build(name, params or {})
    found = strategy.indicators(BARS)
    return found, {line.name: line.values for line in found.lines}


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def test_every_builtin_but_buy_and_hold_draws_its_lines_bar_by_bar() -> None:
    for entry in REGISTRY.describe():
        found, by_name = lines(entry["name"])
        if entry["name"] == "buy_and_hold":
            assert found == Indicators()
            continue
        assert found.lines, entry["name"]
        for values in by_name.values():
            assert values.shape == (len(BARS),)
            assert np.isfinite(values[-50:]).all(), entry["name"]
        names = [line.name for line in found.lines] + [level.name for level in found.levels]
        assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("name", "kernel", "prefix"), [("sma_cross", sma_nb, "sma"), ("ema_cross", ema_nb, "ema")]
)
def test_crossovers_draw_both_averages_and_trade_their_crosses(
    name: str, kernel: object, prefix: str
) -> None:
    found, by_name = lines(name, {"fast": 7, "slow": 21})
    assert [line.pane for line in found.lines] == [Pane.PRICE, Pane.PRICE]
    assert same(by_name[f"{prefix}_fast"], kernel(BARS.close, 7))  # type: ignore[operator]
    assert same(by_name[f"{prefix}_slow"], kernel(BARS.close, 21))  # type: ignore[operator]
    signals = REGISTRY.build(name, {"fast": 7, "slow": 21}).signals(BARS)
    crosses = crossed_above_nb(by_name[f"{prefix}_fast"], by_name[f"{prefix}_slow"])
    assert signals.entries.any()
    assert same(signals.entries, crosses)
    assert same(
        signals.exits, crossed_below_nb(by_name[f"{prefix}_fast"], by_name[f"{prefix}_slow"])
    )


def test_rsi_pane_with_its_thresholds() -> None:
    found, by_name = lines("rsi_reversion", {"period": 10, "lower": 35, "upper": 60})
    assert same(by_name["rsi"], rsi_nb(BARS.close, 10))
    assert found.lines[0].pane == Pane.LOWER
    assert {(level.name, level.value) for level in found.levels} == {
        ("rsi_lower", 35.0),
        ("rsi_upper", 60.0),
    }
    signals = REGISTRY.build("rsi_reversion", {"period": 10, "lower": 35, "upper": 60}).signals(
        BARS
    )
    assert same(signals.entries, by_name["rsi"] < 35)
    assert same(signals.exits, by_name["rsi"] > 60)


def test_bollinger_bands_around_the_sma() -> None:
    _found, by_name = lines("bollinger_reversion", {"period": 15, "k": 1.5})
    middle = sma_nb(BARS.close, 15)
    width = 1.5 * rolling_std_nb(BARS.close, 15, 0)
    assert same(by_name["bb_middle"], middle)
    assert same(by_name["bb_lower"], middle - width)
    assert same(by_name["bb_upper"], middle + width)
    signals = REGISTRY.build("bollinger_reversion", {"period": 15, "k": 1.5}).signals(BARS)
    assert signals.entries.any()
    assert same(signals.entries, BARS.close < by_name["bb_lower"])
    assert same(signals.exits, BARS.close > by_name["bb_middle"])


def test_donchian_channel_of_previous_bars() -> None:
    _found, by_name = lines("donchian_breakout", {"entry_period": 12, "exit_period": 6})
    assert same(by_name["donchian_upper"], rolling_max_nb(BARS.high, 12, True))
    assert same(by_name["donchian_lower"], rolling_min_nb(BARS.low, 6, True))
    assert by_name["donchian_upper"][12] == BARS.high[:12].max()  # excludes the bar itself


def test_macd_and_momentum_in_the_lower_pane() -> None:
    found, by_name = lines("macd_cross", {"fast": 5, "slow": 13, "signal": 4})
    macd = ema_nb(BARS.close, 5) - ema_nb(BARS.close, 13)
    assert same(by_name["macd"], macd)
    assert same(by_name["macd_signal"], ema_nb(macd, 4))
    assert {line.pane for line in found.lines} == {Pane.LOWER}
    found, by_name = lines("momentum", {"lookback": 9, "threshold": 0.02})
    assert by_name["momentum"][9] == pytest.approx(BARS.close[9] / BARS.close[0] - 1.0, rel=1e-15)
    assert np.isnan(by_name["momentum"][:9]).all()
    assert [(level.name, level.value) for level in found.levels] == [("momentum_threshold", 0.02)]


def test_breakout_target_is_the_level_the_engine_buys_at() -> None:
    _found, by_name = lines("volatility_breakout", {"k": 0.4})
    target = by_name["breakout_target"]
    assert np.isnan(target[0])
    assert target[5] == BARS.open[5] + 0.4 * (BARS.high[4] - BARS.low[4])
    frame = {
        "time": BARS.time,
        "open": BARS.open,
        "high": BARS.high,
        "low": BARS.low,
        "close": BARS.close,
        "volume": BARS.volume,
    }
    result = pt.run_backtest(
        frame, "volatility_breakout", {"k": 0.4}, costs=CostModel.zero(), tz="UTC"
    )
    buys = [fill for fill in result.output.fills if fill["side"] == 1]
    assert len(buys) > 20
    for fill in buys:
        bar = int(fill["bar"])
        assert float(fill["price"]) == pytest.approx(max(BARS.open[bar], target[bar]), rel=1e-12)


def test_a_custom_strategy_without_indicators_draws_none() -> None:
    class Plain(pt.Strategy[pt.StrategyParams]):
        name = "plain"
        title = "Plain"
        description = "No indicators."
        Params = pt.StrategyParams

        def signals(self, bars: Bars) -> pt.Signals:
            return pt.Signals(np.zeros(len(bars), bool), np.zeros(len(bars), bool))

    assert Plain(pt.StrategyParams()).indicators(BARS) == Indicators()
