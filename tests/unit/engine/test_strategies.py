"""Built-in strategies, parameter validation, the registry and the look-ahead check."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privatetrade.engine.strategies import (
    BUILTIN_STRATEGIES,
    ENTRY_POINT_GROUP,
    Bars,
    Signals,
    Strategy,
    StrategyParams,
    StrategyRegistry,
    check_causal,
    compute_signals,
    load_entry_point_strategies,
    synthetic_bars,
    validate_signals,
)
from privatetrade.engine.strategies import builtin as b
from privatetrade.errors import InputError, ParameterError, StrategyError

T, F = True, False


def make_bars(
    close: Sequence[float],
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    open_: Sequence[float] | None = None,
) -> Bars:
    """Bars from closes; open, high and low default to the close."""
    c = np.asarray(close, dtype=np.float64)

    def column(values: Sequence[float] | None) -> npt.NDArray[np.float64]:
        return c.copy() if values is None else np.asarray(values, dtype=np.float64)

    time = np.arange(len(c), dtype=np.int64) * 86_400 * 10**9
    return Bars(time, column(open_), column(high), column(low), c, np.full(len(c), 1_000.0))


def bools(*values: bool) -> npt.NDArray[np.bool_]:
    return np.array(values, dtype=bool)


@pytest.fixture(scope="module")
def registry() -> StrategyRegistry:
    return StrategyRegistry.with_builtins()


def run(strategy: type[Strategy[Any]], bars: Bars, **params: Any) -> Signals:
    instance = strategy(strategy.Params(**params))
    return validate_signals(instance.signals(bars), len(bars))


def assert_signals(signals: Signals, entries: Sequence[bool], exits: Sequence[bool]) -> None:
    np.testing.assert_array_equal(signals.entries, bools(*entries))
    np.testing.assert_array_equal(signals.exits, bools(*exits))


def assert_mirrored_shorts(signals: Signals) -> None:
    assert signals.short_entries is not None
    assert signals.short_exits is not None
    np.testing.assert_array_equal(signals.short_entries, signals.exits)
    np.testing.assert_array_equal(signals.short_exits, signals.entries)


# ----------------------------------------------------------------------- hand-computed cases


def test_buy_and_hold_enters_on_first_bar_only() -> None:
    signals = run(b.BuyAndHold, make_bars([5, 6, 4, 7]))
    assert_signals(signals, [T, F, F, F], [F, F, F, F])
    assert signals.short_entries is None
    assert run(b.BuyAndHold, make_bars([])).entries.shape == (0,)


def test_sma_cross_hand_case() -> None:
    # sma2 = [nan, 2.5, 1.5, 1.5, 2.5, 2.5, 1.5]
    # sma3 = [nan, nan, 2, 1.667, 2, 2.333, 2]
    signals = run(b.SmaCross, make_bars([3, 2, 1, 2, 3, 2, 1]), fast=2, slow=3)
    assert_signals(signals, [F, F, F, F, T, F, F], [F, F, F, F, F, F, T])
    assert_mirrored_shorts(signals)


def test_sma_cross_after_tie_and_no_signal_before_both_exist() -> None:
    # sma1 = close; sma2 = [nan, 1, 1, 1.5]: tie on bars 1-2, cross on bar 3.
    # On bar 1 sma1 > sma2 is false anyway; bar 0 has no sma2.
    signals = run(b.SmaCross, make_bars([1, 1, 1, 2]), fast=1, slow=2)
    assert_signals(signals, [F, F, F, T], [F, F, F, F])
    # close > sma2 on bar 1 but sma2 does not exist on bar 0: no cross.
    signals = run(b.SmaCross, make_bars([1, 3, 3]), fast=1, slow=2)
    assert_signals(signals, [F, F, F], [F, F, F])


def test_ema_cross_hand_case() -> None:
    # ema1 = close; ema3 (alpha 0.5) = [nan, nan, 2, 3, 2, 1.5, 3.25]
    signals = run(b.EmaCross, make_bars([1, 2, 3, 4, 1, 1, 5]), fast=1, slow=3)
    assert_signals(signals, [F, F, F, F, F, F, T], [F, F, F, F, T, F, F])
    assert_mirrored_shorts(signals)


def test_rsi_reversion_hand_case() -> None:
    # period 2: rsi = [nan, nan, 66.7, 85.7, 31.6, 22.2]
    signals = run(
        b.RsiReversion, make_bars([1, 2, 1.5, 2.5, 1.0, 0.5]), period=2, lower=30, upper=70
    )
    assert_signals(signals, [F, F, F, F, F, T], [F, F, F, T, F, F])
    assert signals.short_entries is None


def test_macd_cross_hand_case() -> None:
    # ema2 = [nan, 3, 3, 13/3, 25/9, 133/27]; macd = close - ema2 (fast=1)
    #      = [nan, 1, 0, 2/3, -7/9, 29/27]
    # signal (span 2, seeded with mean(1, 0)) = [nan, nan, 0.5, 11/18, -17/54, 11/18]
    signals = run(b.MacdCross, make_bars([2, 4, 3, 5, 2, 6]), fast=1, slow=2, signal=2)
    assert_signals(signals, [F, F, F, T, F, T], [F, F, F, F, T, F])
    assert_mirrored_shorts(signals)


def test_bollinger_reversion_hand_case() -> None:
    # period 2: middle = [nan, 10, 9, 8.5, 10.5], population std = [nan, 0, 1, 0.5, 1.5]
    # k = 0.5: lower = [nan, 10, 8.5, 8.25, 9.75]
    signals = run(b.BollingerReversion, make_bars([10, 10, 8, 9, 12]), period=2, k=0.5)
    assert_signals(signals, [F, F, T, F, F], [F, F, F, T, T])


def test_bollinger_uses_population_std() -> None:
    # period 3 on [10, 12, 10]: middle 32/3 = 10.667, close 10 is 0.667 below it.
    # population std 0.943 (sample 1.155): k = 0.6 puts the lower band at 10.10
    # (population) but 9.97 (sample); k = 0.75 puts it at 9.96 either way.
    signals = run(b.BollingerReversion, make_bars([10, 12, 10]), period=3, k=0.6)
    assert_signals(signals, [F, F, T], [F, F, F])
    signals = run(b.BollingerReversion, make_bars([10, 12, 10]), period=3, k=0.75)
    assert not signals.entries.any()


def test_donchian_breakout_hand_case_excludes_current_bar() -> None:
    close = [5, 6, 7, 6, 4, 8]
    high = [c + 0.5 for c in close]  # bar 2's own high (7.5) is above its close
    low = [c - 0.5 for c in close]
    signals = run(b.DonchianBreakout, make_bars(close, high, low), entry_period=2, exit_period=2)
    # upper (previous 2 highs) = [nan, nan, 6.5, 7.5, 7.5, 6.5]
    # lower (previous 2 lows)  = [nan, nan, 4.5, 5.5, 5.5, 3.5]
    assert_signals(signals, [F, F, T, F, F, T], [F, F, F, F, T, F])


def test_momentum_hand_case() -> None:
    # lookback 2: ret = [nan, nan, 0.2, 0, -1/12, 0.21]
    signals = run(b.Momentum, make_bars([10, 10, 12, 10, 11, 12.1]), lookback=2, threshold=0.1)
    assert_signals(signals, [F, F, T, F, F, T], [F, F, F, T, T, F])


def test_momentum_zero_return_is_an_exit_at_zero_threshold() -> None:
    signals = run(b.Momentum, make_bars([10, 11, 10, 12]), lookback=2)
    assert_signals(signals, [F, F, F, T], [F, F, T, F])


def test_volatility_breakout_arms_a_stop_and_an_exit_every_bar() -> None:
    # k = 0.5; offsets = 0.5 * (high - low) = [1.5, 1.0, 1.0, 0.5, 0.3]
    bars = make_bars(
        close=[11, 11, 12, 12, 12.5],
        open_=[10, 10, 11, 12, 12],
        high=[12, 11.5, 12.5, 12.5, 12.6],
        low=[9, 9.5, 10.5, 11.5, 12],
    )
    signals = run(b.VolatilityBreakout, bars, k=0.5)
    assert signals.entry_offset is not None
    assert signals.entry_offset.dtype == np.float64
    np.testing.assert_allclose(signals.entry_offset, [1.5, 1.0, 1.0, 0.5, 0.3])
    assert_signals(signals, [T] * 5, [T] * 5)


# ----------------------------------------------------------------------- every built-in

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "buy_and_hold": {},
    "sma_cross": {"fast": 2, "slow": 5},
    "ema_cross": {"fast": 2, "slow": 5},
    "rsi_reversion": {"period": 3, "lower": 40, "upper": 60},
    "macd_cross": {"fast": 2, "slow": 4, "signal": 2},
    "bollinger_reversion": {"period": 4, "k": 0.5},
    "donchian_breakout": {"entry_period": 3, "exit_period": 2},
    "momentum": {"lookback": 3, "threshold": 0.01},
    "volatility_breakout": {"k": 1.0},
}


def test_with_builtins_holds_the_nine_builtins(registry: StrategyRegistry) -> None:
    assert registry.names() == list(SMALL_PARAMS)
    assert len(registry) == 9
    assert [cls.name for cls in BUILTIN_STRATEGIES] == list(SMALL_PARAMS)


@pytest.mark.parametrize("name", list(SMALL_PARAMS))
@pytest.mark.parametrize("small", [False, True], ids=["defaults", "small"])
def test_builtin_is_causal(registry: StrategyRegistry, name: str, small: bool) -> None:
    check_causal(registry.build(name, SMALL_PARAMS[name] if small else None))


@pytest.mark.parametrize("name", list(SMALL_PARAMS))
@pytest.mark.parametrize("small", [False, True], ids=["defaults", "small"])
def test_no_signal_during_warmup(registry: StrategyRegistry, name: str, small: bool) -> None:
    strategy = registry.build(name, SMALL_PARAMS[name] if small else None)
    signals = compute_signals(strategy, synthetic_bars(300, seed=11))
    warmup = strategy.warmup_bars()
    for array in (signals.entries, signals.exits, signals.short_entries, signals.short_exits):
        if array is not None:
            assert not array[:warmup].any()


@pytest.mark.parametrize(
    ("name", "params", "warmup"),
    [
        ("buy_and_hold", {}, 0),
        ("sma_cross", {"fast": 2, "slow": 5}, 5),
        ("ema_cross", {"fast": 2, "slow": 5}, 5),
        ("rsi_reversion", {"period": 3}, 3),
        ("macd_cross", {"fast": 2, "slow": 4, "signal": 3}, 6),
        ("bollinger_reversion", {"period": 4}, 3),
        ("donchian_breakout", {"entry_period": 3, "exit_period": 2}, 3),
        ("momentum", {"lookback": 3}, 3),
        ("volatility_breakout", {}, 0),
    ],
)
def test_warmup_bars(
    registry: StrategyRegistry, name: str, params: dict[str, Any], warmup: int
) -> None:
    assert registry.build(name, params).warmup_bars() == warmup


def test_warmup_is_tight_for_indicator_strategies(registry: StrategyRegistry) -> None:
    # Over many random series, some signal fires exactly on the warm-up bar.
    for name in ("sma_cross", "ema_cross", "macd_cross", "rsi_reversion", "momentum"):
        strategy = registry.build(name, SMALL_PARAMS[name])
        warmup = strategy.warmup_bars()
        fired = False
        for seed in range(200):
            signals = compute_signals(strategy, synthetic_bars(warmup + 1, seed=seed))
            fired |= bool(signals.entries[warmup] or signals.exits[warmup])
        assert fired, name


@pytest.mark.parametrize("name", list(SMALL_PARAMS))
def test_signals_have_the_right_shape_on_short_input(registry: StrategyRegistry, name: str) -> None:
    strategy = registry.build(name)
    for count in (0, 1, 2):
        signals = compute_signals(strategy, synthetic_bars(count))
        assert signals.entries.shape == (count,)


@given(
    st.sampled_from(sorted(SMALL_PARAMS)),
    st.integers(min_value=0, max_value=10_000),
)
@settings(max_examples=40, deadline=None)
def test_builtins_causal_on_random_bars(name: str, seed: int) -> None:
    strategy = StrategyRegistry.with_builtins().build(name, SMALL_PARAMS[name])
    check_causal(strategy, synthetic_bars(120, seed=seed))


# ----------------------------------------------------------------------- look-ahead


class PeekNextClose(Strategy[StrategyParams]):
    """Buys when tomorrow's close is higher: a look-ahead bug."""

    name = "peek_next_close"
    title = "Peek"
    description = "Uses close[t + 1]."
    Params = StrategyParams

    def signals(self, bars: Bars) -> Signals:
        entries = np.zeros(len(bars), dtype=bool)
        entries[:-1] = bars.close[1:] > bars.close[:-1]
        return Signals(entries, np.zeros(len(bars), dtype=bool))


class AboveWholeSeriesMean(Strategy[StrategyParams]):
    """Normalizes by the mean of all bars, future ones included."""

    name = "above_mean"
    title = "Above mean"
    description = "close > mean(close)."
    Params = StrategyParams

    def signals(self, bars: Bars) -> Signals:
        above = bars.close > bars.close.mean()
        return Signals(above, ~above)


class UpDay(Strategy[StrategyParams]):
    """A causal rule: buy after an up close, sell after a down close."""

    name = "up_day"
    title = "Up day"
    description = "close[t] > close[t - 1]."
    Params = StrategyParams

    def signals(self, bars: Bars) -> Signals:
        up = np.zeros(len(bars), dtype=bool)
        up[1:] = bars.close[1:] > bars.close[:-1]
        down = np.zeros(len(bars), dtype=bool)
        down[1:] = bars.close[1:] < bars.close[:-1]
        return Signals(up, down)


def test_check_causal_names_the_first_changed_bar() -> None:
    bars = make_bars([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    strategy = PeekNextClose(StrategyParams())
    with pytest.raises(StrategyError, match=r"looks ahead: its entries at bar 4 changed"):
        check_causal(strategy, bars, cut_points=[5, 8])


class AboveLastClose(Strategy[StrategyParams]):
    """Compares every bar with the last close of the series."""

    name = "above_last"
    title = "Above last"
    description = "close > close[-1]."
    Params = StrategyParams

    def signals(self, bars: Bars) -> Signals:
        above = bars.close > bars.close[-1] if len(bars) else np.zeros(0, bool)
        return Signals(above, np.zeros(len(bars), dtype=bool))


def test_check_causal_reports_the_earliest_bar_over_all_prefixes() -> None:
    # Full series: last close 0, every earlier bar is above it.
    # Prefix of 3 bars: last close 1, bar 2 changes. Prefix of 5: last 4, bar 0 changes.
    bars = make_bars([3, 9, 1, 9, 4, 0])
    with pytest.raises(StrategyError, match=r"entries at bar 0 changed when the bars after bar 4"):
        check_causal(AboveLastClose(StrategyParams()), bars, cut_points=[3, 5])


@pytest.mark.parametrize("strategy", [PeekNextClose, AboveWholeSeriesMean, AboveLastClose])
def test_check_causal_rejects_look_ahead_on_default_bars(strategy: type[Strategy[Any]]) -> None:
    with pytest.raises(StrategyError, match="looks ahead"):
        check_causal(strategy(StrategyParams()))


def test_check_causal_accepts_a_causal_strategy() -> None:
    check_causal(UpDay(StrategyParams()))


def test_check_causal_rejects_bad_cut_points() -> None:
    with pytest.raises(InputError, match="cut points") as info:
        check_causal(UpDay(StrategyParams()), make_bars([1, 2, 3]), cut_points=[3])
    assert info.value.field == "cut_points"


def test_check_causal_reports_a_strategy_that_fails_on_short_input() -> None:
    class NeedsTenBars(UpDay):
        name = "needs_ten"

        def signals(self, bars: Bars) -> Signals:
            _ = bars.close[9]
            return super().signals(bars)

    with pytest.raises(StrategyError, match="failed on 1 bars: IndexError"):
        check_causal(NeedsTenBars(StrategyParams()))


def test_register_with_verify_rejects_look_ahead() -> None:
    registry = StrategyRegistry()
    with pytest.raises(StrategyError, match=r"peek_next_close.*looks ahead"):
        registry.register(PeekNextClose)
    assert "peek_next_close" not in registry
    registry.register(PeekNextClose, verify=False)
    assert "peek_next_close" in registry


def test_register_accepts_a_causal_user_strategy_and_works_as_decorator() -> None:
    registry = StrategyRegistry.with_builtins()
    assert registry.register(UpDay) is UpDay
    assert registry.get("up_day") is UpDay
    assert registry.names()[-1] == "up_day"


# ----------------------------------------------------------------------- registry


def test_unknown_strategy_lists_known_names(registry: StrategyRegistry) -> None:
    with pytest.raises(StrategyError) as info:
        registry.get("sma_crosss")
    message = str(info.value)
    assert all(name in message for name in SMALL_PARAMS)
    assert "did you mean 'sma_cross'" in message
    with pytest.raises(StrategyError, match="known strategies"):
        registry.build("nope")


def test_contains_and_names(registry: StrategyRegistry) -> None:
    assert "macd_cross" in registry
    assert "MACD_cross" not in registry
    assert 3 not in registry


def test_register_rejects_duplicates() -> None:
    registry = StrategyRegistry.with_builtins()
    with pytest.raises(StrategyError, match="already registered"):
        registry.register(b.SmaCross)

    class Impostor(UpDay):
        name = "sma_cross"

    with pytest.raises(StrategyError, match="already registered"):
        registry.register(Impostor, verify=False)


@pytest.mark.parametrize("bad_name", ["SmaCross", "9lives", "with-dash", "", "a b"])
def test_register_rejects_bad_names(bad_name: str) -> None:
    strategy = type("Bad", (UpDay,), {"name": bad_name})
    with pytest.raises(StrategyError, match="lowercase identifier"):
        StrategyRegistry().register(strategy, verify=False)


def test_register_rejects_malformed_classes() -> None:
    registry = StrategyRegistry()
    with pytest.raises(StrategyError, match="not a Strategy subclass"):
        registry.register(int, verify=False)  # type: ignore[type-var]

    class NoSignals(Strategy[StrategyParams]):
        name = "no_signals"
        title = "x"
        description = "x"
        Params = StrategyParams

    with pytest.raises(StrategyError, match="does not implement signals"):
        registry.register(NoSignals, verify=False)

    class WrongParams(UpDay):
        name = "wrong_params"
        Params = dict  # type: ignore[assignment]

    with pytest.raises(StrategyError, match="Params must be a StrategyParams subclass"):
        registry.register(WrongParams, verify=False)

    class RequiredParams(StrategyParams):
        window: int

    class NoDefault(UpDay):
        name = "no_default"
        Params = RequiredParams

    with pytest.raises(StrategyError, match="give parameter 'window' a default"):
        registry.register(NoDefault, verify=False)

    class NoTitle(UpDay):
        name = "no_title"
        title = None  # type: ignore[assignment]

    with pytest.raises(StrategyError, match="title must be a string"):
        registry.register(NoTitle, verify=False)
    assert len(registry) == 0


def test_registries_are_independent() -> None:
    first, second = StrategyRegistry(), StrategyRegistry()
    first.register(UpDay)
    assert "up_day" in first
    assert "up_day" not in second


def test_describe(registry: StrategyRegistry) -> None:
    described = registry.describe()
    assert [item["name"] for item in described] == registry.names()
    sma = described[1]
    assert sma["title"] == "SMA crossover"
    assert "golden cross" in sma["description"]
    assert sma["defaults"] == {"fast": 10, "slow": 30}
    assert sma["parameters_schema"] == b.SmaCrossParams.model_json_schema()
    json.dumps(described)  # serializable as-is


@pytest.mark.parametrize("strategy", BUILTIN_STRATEGIES, ids=lambda s: s.name)
def test_schema_has_defaults_bounds_and_descriptions(strategy: type[Strategy[Any]]) -> None:
    schema = strategy.Params.model_json_schema()
    assert schema.get("additionalProperties") is False
    defaults = strategy.Params().model_dump()
    for field, spec in schema.get("properties", {}).items():
        assert spec["default"] == defaults[field]
        assert spec["description"]
        assert spec["title"]
        assert "minimum" in spec or "exclusiveMinimum" in spec, field
        assert "maximum" in spec, field


def test_specific_defaults_match_the_documented_ones() -> None:
    assert b.SmaCrossParams().model_dump() == {"fast": 10, "slow": 30}
    assert b.EmaCrossParams().model_dump() == {"fast": 12, "slow": 26}
    assert b.RsiReversionParams().model_dump() == {"period": 14, "lower": 30, "upper": 70}
    assert b.MacdCrossParams().model_dump() == {"fast": 12, "slow": 26, "signal": 9}
    assert b.BollingerReversionParams().model_dump() == {"period": 20, "k": 2.0}
    assert b.DonchianBreakoutParams().model_dump() == {"entry_period": 20, "exit_period": 10}
    assert b.MomentumParams().model_dump() == {"lookback": 20, "threshold": 0.0}
    assert b.VolatilityBreakoutParams().model_dump() == {"k": 0.5}


def test_params_are_frozen_and_hashable() -> None:
    params = b.SmaCrossParams(fast=3)
    with pytest.raises(ValueError, match="frozen"):
        params.fast = 4  # type: ignore[misc]
    assert hash(params) == hash(b.SmaCrossParams(fast=3, slow=30))


# ----------------------------------------------------------------------- build and errors


@pytest.mark.parametrize(
    ("name", "params", "field", "message"),
    [
        (
            "sma_cross",
            {"fast": 30, "slow": 10},
            "fast",
            "parameter 'fast' must be less than 'slow' (got fast=30, slow=10)",
        ),
        ("sma_cross", {"fast": 0}, "fast", "parameter 'fast' must be >= 1 (got 0)"),
        ("sma_cross", {"slow": 5000}, "slow", "parameter 'slow' must be <= 1000 (got 5000)"),
        (
            "sma_cross",
            {"fats": 3},
            "fats",
            "unknown parameter 'fats' (known parameters: fast, slow)",
        ),
        ("sma_cross", {"fast": "ten"}, "fast", "parameter 'fast': input should be a valid integer"),
        ("sma_cross", {"fast": 2.5}, "fast", "fractional part (got 2.5)"),
        ("sma_cross", {"fast": True}, "fast", "not true/false"),
        ("ema_cross", {"fast": 26}, "fast", "'fast' must be less than 'slow'"),
        ("macd_cross", {"signal": 0}, "signal", "parameter 'signal' must be >= 1 (got 0)"),
        ("macd_cross", {"fast": 30}, "fast", "'fast' must be less than 'slow'"),
        ("rsi_reversion", {"period": 1}, "period", "parameter 'period' must be >= 2 (got 1)"),
        ("rsi_reversion", {"lower": 80}, "lower", "'lower' must be less than 'upper'"),
        ("rsi_reversion", {"upper": 101}, "upper", "parameter 'upper' must be <= 100.0"),
        ("bollinger_reversion", {"k": 0}, "k", "parameter 'k' must be > 0.0 (got 0)"),
        ("bollinger_reversion", {"k": float("nan")}, "k", "finite number"),
        ("donchian_breakout", {"exit_period": 0}, "exit_period", "must be >= 1"),
        ("momentum", {"threshold": -2}, "threshold", "must be >= -1.0"),
        ("volatility_breakout", {"k": float("inf")}, "k", "finite number"),
        ("buy_and_hold", {"x": 1}, "x", "unknown parameter 'x' (known parameters: none)"),
    ],
)
def test_parameter_errors_name_the_field(
    registry: StrategyRegistry, name: str, params: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        registry.build(name, params)
    assert info.value.field == field
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


def test_parameter_error_counts_further_problems(registry: StrategyRegistry) -> None:
    with pytest.raises(ParameterError, match=r"\(and 2 more problems\)$") as info:
        registry.build("sma_cross", {"fast": 0, "slow": 1, "zzz": 1})
    assert info.value.field == "fast"


def test_build_variants(registry: StrategyRegistry) -> None:
    by_name = registry.build("sma_cross", {"fast": 5})
    assert isinstance(by_name, b.SmaCross)
    assert by_name.params == b.SmaCrossParams(fast=5, slow=30)
    assert registry.build(b.SmaCross).params == b.SmaCrossParams()
    ready = b.SmaCrossParams(fast=3, slow=4)
    assert registry.build("sma_cross", ready).params is ready
    assert registry.build("sma_cross", {"fast": "7"}).params.fast == 7  # form strings coerce
    assert registry.build(UpDay).name == "up_day"  # unregistered classes are allowed


def test_build_rejects_foreign_params_and_non_mappings(registry: StrategyRegistry) -> None:
    with pytest.raises(ParameterError, match="takes SmaCrossParams, got EmaCrossParams"):
        registry.build("sma_cross", b.EmaCrossParams())
    with pytest.raises(ParameterError, match="mapping"):
        registry.build("sma_cross", [("fast", 3)])  # type: ignore[arg-type]
    with pytest.raises(StrategyError, match="not a Strategy subclass"):
        registry.build(dict)  # type: ignore[arg-type]


@given(st.integers(-5, 1100), st.integers(-5, 1100))
@settings(max_examples=200, deadline=None)
def test_sma_cross_params_accept_exactly_the_valid_pairs(fast: int, slow: int) -> None:
    valid = 1 <= fast <= 1000 and 2 <= slow <= 1000 and fast < slow
    registry = StrategyRegistry.with_builtins()
    if valid:
        assert registry.build("sma_cross", {"fast": fast, "slow": slow}).params.fast == fast
    else:
        with pytest.raises(ParameterError) as info:
            registry.build("sma_cross", {"fast": fast, "slow": slow})
        assert info.value.field in {"fast", "slow"}


# ----------------------------------------------------------------------- signal validation


def _signals(n: int, **overrides: Any) -> Signals:
    fields: dict[str, Any] = {"entries": np.zeros(n, bool), "exits": np.zeros(n, bool)}
    fields.update(overrides)
    return Signals(**fields)


def test_validate_signals_accepts_and_returns_good_signals() -> None:
    good = _signals(3, short_entries=np.zeros(3, bool), short_exits=np.zeros(3, bool))
    assert validate_signals(good, 3) is good
    offsets = _signals(2, entry_offset=np.array([np.nan, 1.0]))
    assert validate_signals(offsets, 2) is offsets


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        (_signals(4), "entries must be a 1-D numpy bool array of length 3, got a bool array"),
        (_signals(3, entries=np.zeros(3, np.int64)), "got a int64 array of shape (3,)"),
        (_signals(3, exits=[False] * 3), "exits must be a 1-D numpy bool array"),
        (_signals(3, exits=np.zeros((3, 1), bool)), "shape (3, 1)"),
        (_signals(3, short_entries=np.zeros(3, bool)), "set both short_entries and short_exits"),
        (_signals(3, short_exits=np.zeros(2, bool)), "short_exits must be"),
        (_signals(3, entry_offset=np.zeros(3, np.float32)), "entry_offset must be a 1-D numpy"),
        (_signals(3, entry_offset=np.array([0.0, np.inf, 0.0])), "finite or NaN"),
        ((np.zeros(3, bool), np.zeros(3, bool)), "must return Signals, got tuple"),
    ],
)
def test_validate_signals_rejects_malformed(signals: Any, message: str) -> None:
    with pytest.raises(StrategyError) as info:
        validate_signals(signals, 3, strategy="demo")
    assert message in str(info.value)
    assert str(info.value).startswith("strategy 'demo': ")


def test_compute_signals_wraps_strategy_failures() -> None:
    class Broken(UpDay):
        name = "broken"

        def signals(self, bars: Bars) -> Signals:
            raise ZeroDivisionError("oops")

    with pytest.raises(StrategyError, match="'broken' failed on 3 bars: ZeroDivisionError: oops"):
        compute_signals(Broken(StrategyParams()), make_bars([1, 2, 3]))


# ----------------------------------------------------------------------- synthetic bars


def test_synthetic_bars_are_valid_deterministic_and_read_only() -> None:
    bars = synthetic_bars()
    assert len(bars) == 400
    assert (bars.low <= np.minimum(bars.open, bars.close)).all()
    assert (bars.high >= np.maximum(bars.open, bars.close)).all()
    assert (bars.low > 0).all()
    assert (np.diff(bars.time) > 0).all()
    np.testing.assert_array_equal(bars.close, synthetic_bars().close)
    assert not np.array_equal(bars.close, synthetic_bars(seed=1).close)
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


# ----------------------------------------------------------------------- entry points

_plugin_counter = itertools.count()


def _install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    module = f"pt_test_plugin_{next(_plugin_counter)}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ndemo = {module}:Demo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    return module


CAUSAL_PLUGIN = """
    import numpy as np
    from privatetrade.engine.strategies import Signals, Strategy, StrategyParams

    class Demo(Strategy[StrategyParams]):
        name = "demo_plugin"
        title = "Demo"
        description = "Enter on up closes."
        Params = StrategyParams

        def signals(self, bars):
            up = np.zeros(len(bars), dtype=bool)
            up[1:] = bars.close[1:] > bars.close[:-1]
            return Signals(up, ~up)
"""


def test_entry_point_strategies_are_registered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(tmp_path, monkeypatch, CAUSAL_PLUGIN)
    registry = StrategyRegistry.with_builtins()
    assert load_entry_point_strategies(registry) == ["demo_plugin"]
    assert "demo_plugin" in registry
    assert load_entry_point_strategies(registry) == []
    assert registry.build("demo_plugin").title == "Demo"


def test_entry_point_with_look_ahead_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = CAUSAL_PLUGIN.replace("bars.close[1:] > bars.close[:-1]", "bars.close[1:] > 100")
    body = body.replace("up[1:] =", "up[:-1] =")
    _install_plugin(tmp_path, monkeypatch, body)
    with pytest.raises(StrategyError, match="looks ahead"):
        load_entry_point_strategies(StrategyRegistry())


def test_broken_entry_point_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_plugin(tmp_path, monkeypatch, "raise ImportError('missing dependency')\n")
    with pytest.raises(StrategyError, match="cannot load strategy entry point 'demo'"):
        load_entry_point_strategies(StrategyRegistry())


# ----------------------------------------------------------------------- import cost


def test_strategies_do_not_import_pandas() -> None:
    code = "import sys, privatetrade.engine.strategies.registry;sys.exit('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
