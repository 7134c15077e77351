"""The built-in strategies: typed parameters in, vectorized long (and short) signals out.

Every rule decides at bar ``t``'s close from bars ``0..t`` only; the engine
executes the decision on a later bar. Indicator warm-ups yield no signal.

==========================  ==========================================================
name                        rule
==========================  ==========================================================
``buy_and_hold``            enter on the first bar, never exit
``sma_cross``               enter when SMA(fast) crosses above SMA(slow), exit below
``ema_cross``               the same with exponential averages
``rsi_reversion``           enter while RSI < lower, exit while RSI > upper
``macd_cross``              enter when MACD crosses above its signal line, exit below
``bollinger_reversion``     enter while close < lower band, exit while close > middle
``donchian_breakout``       enter above the previous N-bar high, exit below the M-bar low
``momentum``                enter while the N-bar return > threshold, exit when <=
``volatility_breakout``     buy stop at next open + k * today's range, sell the open after
==========================  ==========================================================

Cross strategies (``sma_cross``, ``ema_cross``, ``macd_cross``) also emit the
mirror signals as ``short_entries`` / ``short_exits``; the engine uses them only
when shorting is allowed. Level rules (RSI, Bollinger, momentum) repeat their
entry on every qualifying bar; the engine enters only when flat.

Example:
    >>> from privatetrade.engine.strategies.registry import synthetic_bars
    >>> strategy = SmaCross(SmaCrossParams(fast=5, slow=20))
    >>> signals = strategy.signals(synthetic_bars(100))
    >>> bool(signals.entries[: strategy.warmup_bars()].any())
    False
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Any, ClassVar, TypeVar

import numpy as np
from pydantic import BeforeValidator, Field

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
from privatetrade.engine.strategies.base import (
    Bars,
    FloatArray,
    IndicatorLevel,
    IndicatorLine,
    Indicators,
    Pane,
    Signals,
    Strategy,
    StrategyParams,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "BollingerReversion",
    "BollingerReversionParams",
    "BuyAndHold",
    "BuyAndHoldParams",
    "DonchianBreakout",
    "DonchianBreakoutParams",
    "EmaCross",
    "EmaCrossParams",
    "FastSlowParams",
    "MacdCross",
    "MacdCrossParams",
    "Momentum",
    "MomentumParams",
    "RsiReversion",
    "RsiReversionParams",
    "SmaCross",
    "SmaCrossParams",
    "VolatilityBreakout",
    "VolatilityBreakoutParams",
]


def _reject_bool(value: object) -> object:
    """Refuse ``True``/``False`` where a number is expected (pydantic would take 1/0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Window = Annotated[int, BeforeValidator(_reject_bool)]
"""A bar count; booleans are rejected."""
Number = Annotated[float, BeforeValidator(_reject_bool)]
"""A finite real number; booleans are rejected."""


def _window(default: int, title: str, description: str, *, ge: int = 1, le: int = 1000) -> Any:
    """Declare a bar-count parameter from ``ge`` to ``le``."""
    return Field(default, ge=ge, le=le, title=title, description=description)


def _number(
    default: float,
    title: str,
    description: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float,
) -> Any:
    """Declare a finite real parameter, at least ``ge`` (or above ``gt``) and at most ``le``."""
    return Field(
        default, ge=ge, gt=gt, le=le, allow_inf_nan=False, title=title, description=description
    )


def _as_float(values: FloatArray) -> FloatArray:
    """Return ``values`` as a float64 array (no copy when it already is one)."""
    return np.asarray(values, dtype=np.float64)


def _cross_signals(fast: FloatArray, slow: FloatArray) -> Signals:
    """Return long signals on crosses of ``fast`` over ``slow`` and the mirrored shorts."""
    up = crossed_above_nb(fast, slow)
    down = crossed_below_nb(fast, slow)
    # The kernel never writes into signals, so the short side can share the arrays.
    return Signals(entries=up, exits=down, short_entries=down, short_exits=up)


# --------------------------------------------------------------------------- buy and hold


class BuyAndHoldParams(StrategyParams):
    """Buy and hold takes no parameters."""


class BuyAndHold(Strategy[BuyAndHoldParams]):
    """Enter on the first bar and never exit (the usual benchmark)."""

    name = "buy_and_hold"
    title = "Buy and hold"
    description = "Buy at the first opportunity and hold until the end of the data."
    Params = BuyAndHoldParams

    def signals(self, bars: Bars) -> Signals:
        """Return an entry on bar 0 and no exit."""
        entries = np.zeros(len(bars), dtype=np.bool_)
        entries[:1] = True
        return Signals(entries, np.zeros(len(bars), dtype=np.bool_))


# --------------------------------------------------------------------------- moving averages


class FastSlowParams(StrategyParams):
    """Base of the crossover parameters: a fast and a slow average, ``fast < slow``."""

    fast: Window
    slow: Window

    ordered = (("fast", "slow"),)


_FastSlowT = TypeVar("_FastSlowT", bound=FastSlowParams)


class _AverageCross(Strategy[_FastSlowT]):
    """A fast moving average of the close crossing a slow one (see :class:`SmaCross`)."""

    @abstractmethod
    def average(self, close: FloatArray, window: int) -> FloatArray:
        """Return the moving average of ``close`` over ``window`` bars."""

    line_prefix: ClassVar[str]

    def averages(self, bars: Bars) -> tuple[FloatArray, FloatArray]:
        """Return the fast and the slow average of the close."""
        close = _as_float(bars.close)
        return self.average(close, self.params.fast), self.average(close, self.params.slow)

    def signals(self, bars: Bars) -> Signals:
        """Return crosses of the fast average over the slow average of the close."""
        return _cross_signals(*self.averages(bars))

    def indicators(self, bars: Bars) -> Indicators:
        """Return both averages, drawn over the prices."""
        fast, slow = self.averages(bars)
        prefix = self.line_prefix
        return Indicators(
            (IndicatorLine(f"{prefix}_fast", fast), IndicatorLine(f"{prefix}_slow", slow))
        )

    def warmup_bars(self) -> int:
        """Return ``slow``: the slow average must exist on the previous bar."""
        return self.params.slow


class SmaCrossParams(FastSlowParams):
    """Windows of the two simple moving averages."""

    fast: Window = _window(10, "Fast window", "Bars in the fast SMA.")
    slow: Window = _window(30, "Slow window", "Bars in the slow SMA.", ge=2)


class SmaCross(_AverageCross[SmaCrossParams]):
    """Golden cross / dead cross of two simple moving averages.

    Entry at ``t`` when ``SMA(fast)`` crosses above ``SMA(slow)``
    (``fast[t] > slow[t]`` and ``fast[t-1] <= slow[t-1]``), exit on the mirror
    cross. Both averages must exist at ``t-1``, so the first signal can come at
    bar ``slow``.
    """

    name = "sma_cross"
    title = "SMA crossover"
    description = (
        "Buy when the fast simple moving average crosses above the slow one "
        "(golden cross); sell when it crosses below (dead cross)."
    )
    Params = SmaCrossParams
    line_prefix = "sma"

    def average(self, close: FloatArray, window: int) -> FloatArray:
        """Return the simple moving average."""
        return sma_nb(close, window)


class EmaCrossParams(FastSlowParams):
    """Spans of the two exponential moving averages."""

    fast: Window = _window(12, "Fast span", "Span of the fast EMA, in bars.")
    slow: Window = _window(26, "Slow span", "Span of the slow EMA, in bars.", ge=2)


class EmaCross(_AverageCross[EmaCrossParams]):
    """Crossover of two exponential moving averages (``alpha = 2 / (span + 1)``).

    Same rule as :class:`SmaCross`; each EMA is seeded with the SMA of its first
    ``span`` closes, so the first signal can come at bar ``slow``.
    """

    name = "ema_cross"
    title = "EMA crossover"
    description = (
        "Buy when the fast exponential moving average crosses above the slow one; "
        "sell when it crosses below."
    )
    Params = EmaCrossParams
    line_prefix = "ema"

    def average(self, close: FloatArray, window: int) -> FloatArray:
        """Return the exponential moving average (the window is its span)."""
        return ema_nb(close, window)


class MacdCrossParams(FastSlowParams):
    """Spans of the MACD's averages."""

    fast: Window = _window(12, "Fast span", "Span of the fast EMA of the close.", le=500)
    slow: Window = _window(26, "Slow span", "Span of the slow EMA of the close.", ge=2)
    signal: Window = _window(9, "Signal span", "Span of the EMA of the MACD line.", le=500)


class MacdCross(Strategy[MacdCrossParams]):
    """MACD line crossing its signal line.

    ``macd = EMA(close, fast) - EMA(close, slow)``, ``signal = EMA(macd, signal)``
    (seeded with the SMA of the first ``signal`` MACD values). Entry when the MACD
    line crosses above the signal line, exit when it crosses below.
    """

    name = "macd_cross"
    title = "MACD crossover"
    description = (
        "Buy when the MACD line (fast EMA minus slow EMA) crosses above its signal "
        "line; sell when it crosses below."
    )
    Params = MacdCrossParams

    def lines(self, bars: Bars) -> tuple[FloatArray, FloatArray]:
        """Return the MACD line and its signal line."""
        close = _as_float(bars.close)
        line = ema_nb(close, self.params.fast) - ema_nb(close, self.params.slow)
        return line, ema_nb(line, self.params.signal)

    def signals(self, bars: Bars) -> Signals:
        """Return crosses of the MACD line over its signal line."""
        return _cross_signals(*self.lines(bars))

    def indicators(self, bars: Bars) -> Indicators:
        """Return the MACD and signal lines in the lower pane, with the zero line."""
        line, signal = self.lines(bars)
        return Indicators(
            (
                IndicatorLine("macd", line, Pane.LOWER),
                IndicatorLine("macd_signal", signal, Pane.LOWER),
            ),
            (IndicatorLevel("macd_zero", 0.0),),
        )

    def warmup_bars(self) -> int:
        """Return ``slow + signal - 1``: the signal line must exist on the previous bar."""
        return self.params.slow + self.params.signal - 1


# --------------------------------------------------------------------------- mean reversion


class RsiReversionParams(StrategyParams):
    """RSI period and the oversold / overbought levels."""

    period: Window = _window(14, "Period", "Wilder smoothing period of the RSI.", ge=2, le=500)
    lower: Number = _number(
        30.0, "Oversold level", "Enter while the RSI is below this level.", ge=0.0, le=100.0
    )
    upper: Number = _number(
        70.0, "Overbought level", "Exit while the RSI is above this level.", ge=0.0, le=100.0
    )

    ordered = (("lower", "upper"),)


class RsiReversion(Strategy[RsiReversionParams]):
    """Buy oversold, sell overbought on Wilder's RSI.

    Level rule: the entry signal is on while ``RSI < lower`` and the exit signal
    while ``RSI > upper`` (not only on the bar the level is crossed). The RSI
    first exists at bar ``period``.
    """

    name = "rsi_reversion"
    title = "RSI mean reversion"
    description = (
        "Buy while the RSI is below the oversold level; sell once it rises above "
        "the overbought level."
    )
    Params = RsiReversionParams

    def rsi(self, bars: Bars) -> FloatArray:
        """Return Wilder's RSI of the close."""
        return rsi_nb(_as_float(bars.close), self.params.period)

    def signals(self, bars: Bars) -> Signals:
        """Return ``RSI < lower`` as entries and ``RSI > upper`` as exits."""
        rsi = self.rsi(bars)
        return Signals(rsi < self.params.lower, rsi > self.params.upper)

    def indicators(self, bars: Bars) -> Indicators:
        """Return the RSI in the lower pane with its oversold and overbought levels."""
        return Indicators(
            (IndicatorLine("rsi", self.rsi(bars), Pane.LOWER),),
            (
                IndicatorLevel("rsi_lower", self.params.lower),
                IndicatorLevel("rsi_upper", self.params.upper),
            ),
        )

    def warmup_bars(self) -> int:
        """Return ``period``: the RSI needs that many price changes."""
        return self.params.period


class BollingerReversionParams(StrategyParams):
    """Window and width of the Bollinger Bands."""

    period: Window = _window(20, "Period", "Bars in the middle band (an SMA).", ge=2)
    k: Number = _number(
        2.0,
        "Band width",
        "Distance of the bands from the middle, in population standard deviations.",
        gt=0.0,
        le=10.0,
    )


class BollingerReversion(Strategy[BollingerReversionParams]):
    """Buy below the lower Bollinger Band, sell back at the middle band.

    ``middle = SMA(close, period)``, ``lower = middle - k * std`` with the
    population standard deviation of the same window. Level rule: entry while
    ``close < lower``, exit while ``close > middle``.
    """

    name = "bollinger_reversion"
    title = "Bollinger Band reversion"
    description = (
        "Buy while the close is below the lower Bollinger Band; sell once it is "
        "above the middle band."
    )
    Params = BollingerReversionParams

    def bands(self, bars: Bars) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return the middle band and the distance ``k * std`` of the outer bands from it."""
        close = _as_float(bars.close)
        middle = sma_nb(close, self.params.period)
        return close, middle, self.params.k * rolling_std_nb(close, self.params.period, 0)

    def signals(self, bars: Bars) -> Signals:
        """Return ``close < lower band`` as entries and ``close > middle band`` as exits."""
        close, middle, width = self.bands(bars)
        return Signals(close < middle - width, close > middle)

    def indicators(self, bars: Bars) -> Indicators:
        """Return the three bands (the upper one is drawn for reference, not traded)."""
        _close, middle, width = self.bands(bars)
        return Indicators(
            (
                IndicatorLine("bb_upper", middle + width),
                IndicatorLine("bb_middle", middle),
                IndicatorLine("bb_lower", middle - width),
            )
        )

    def warmup_bars(self) -> int:
        """Return ``period - 1``: the bands exist from the ``period``-th bar."""
        return self.params.period - 1


# --------------------------------------------------------------------------- trend following


class DonchianBreakoutParams(StrategyParams):
    """Channel lengths for entries and exits."""

    entry_period: Window = _window(
        20,
        "Entry channel",
        "Enter when the close exceeds the highest high of this many previous bars.",
    )
    exit_period: Window = _window(
        10,
        "Exit channel",
        "Exit when the close falls below the lowest low of this many previous bars.",
    )


class DonchianBreakout(Strategy[DonchianBreakoutParams]):
    """Donchian channel breakout (the Turtle rule).

    Entry at ``t`` when ``close[t] > max(high[t - entry_period : t])``, exit when
    ``close[t] < min(low[t - exit_period : t])``; the channels exclude bar ``t``.
    """

    name = "donchian_breakout"
    title = "Donchian breakout"
    description = (
        "Buy when the close breaks above the highest high of the previous N bars; "
        "sell when it breaks below the lowest low of the previous M bars."
    )
    Params = DonchianBreakoutParams

    def channel(self, bars: Bars) -> tuple[FloatArray, FloatArray]:
        """Return the entry channel (previous highs) and the exit channel (previous lows)."""
        upper = rolling_max_nb(_as_float(bars.high), self.params.entry_period, True)
        lower = rolling_min_nb(_as_float(bars.low), self.params.exit_period, True)
        return upper, lower

    def signals(self, bars: Bars) -> Signals:
        """Return closes above the entry channel and below the exit channel."""
        close = _as_float(bars.close)
        upper, lower = self.channel(bars)
        return Signals(close > upper, close < lower)

    def indicators(self, bars: Bars) -> Indicators:
        """Return the entry and exit channels, drawn over the prices."""
        upper, lower = self.channel(bars)
        return Indicators(
            (IndicatorLine("donchian_upper", upper), IndicatorLine("donchian_lower", lower))
        )

    def warmup_bars(self) -> int:
        """Return ``entry_period``: the entry channel needs that many previous bars."""
        return self.params.entry_period


class MomentumParams(StrategyParams):
    """Lookback and threshold of the rate of change."""

    lookback: Window = _window(20, "Lookback", "Bars in the return close[t]/close[t-N].")
    threshold: Number = _number(
        0.0,
        "Threshold",
        "Hold while the lookback return is above this (0.05 = 5%).",
        ge=-1.0,
        le=10.0,
    )


class Momentum(Strategy[MomentumParams]):
    """Time-series momentum: long while the N-bar return is above a threshold.

    ``ret[t] = close[t] / close[t - lookback] - 1``. Level rule: entry while
    ``ret > threshold``, exit while ``ret <= threshold``.
    """

    name = "momentum"
    title = "Momentum"
    description = (
        "Hold while the return over the lookback is above the threshold; sell when "
        "it drops to or below it."
    )
    Params = MomentumParams

    def change(self, bars: Bars) -> FloatArray:
        """Return the lookback return ``close[t] / close[t - lookback] - 1``."""
        close = _as_float(bars.close)
        lookback = self.params.lookback
        change = np.full(close.shape[0], np.nan)
        change[lookback:] = close[lookback:] / close[:-lookback] - 1.0
        return change

    def signals(self, bars: Bars) -> Signals:
        """Return ``ret > threshold`` as entries and ``ret <= threshold`` as exits."""
        change = self.change(bars)
        threshold = self.params.threshold
        return Signals(change > threshold, change <= threshold)

    def indicators(self, bars: Bars) -> Indicators:
        """Return the lookback return in the lower pane with the threshold."""
        return Indicators(
            (IndicatorLine("momentum", self.change(bars), Pane.LOWER),),
            (IndicatorLevel("momentum_threshold", self.params.threshold),),
        )

    def warmup_bars(self) -> int:
        """Return ``lookback``: the return needs the close ``lookback`` bars ago."""
        return self.params.lookback


class VolatilityBreakoutParams(StrategyParams):
    """Fraction of the day's range added to the next open."""

    k: Number = _number(
        0.5,
        "Range fraction",
        "Buy stop at the next open plus k times this bar's high-low range.",
        ge=0.0,
        le=3.0,
    )


class VolatilityBreakout(Strategy[VolatilityBreakoutParams]):
    """Larry Williams' volatility breakout, one day at a time.

    Every bar ``t`` arms a buy stop for bar ``t+1`` at its open plus
    ``k * (high[t] - low[t])`` (``entry_offset``, valid that bar only) and asks to
    exit any position at the next open. So a breakout bought intrabar at ``t+1`` is
    sold at the open of ``t+2``, where the next stop is armed again after the exit.
    """

    name = "volatility_breakout"
    title = "Volatility breakout"
    description = (
        "Each bar, buy if the price rises k times the previous bar's range above "
        "the open; sell at the next open."
    )
    Params = VolatilityBreakoutParams

    def offset(self, bars: Bars) -> FloatArray:
        """Return ``k * (high - low)``: the distance of the next bar's buy stop above its open."""
        high, low = _as_float(bars.high), _as_float(bars.low)
        return self.params.k * (high - low)

    def signals(self, bars: Bars) -> Signals:
        """Return a stop entry and an exit on every bar."""
        always = np.ones(len(bars), dtype=np.bool_)
        return Signals(always, always.copy(), entry_offset=self.offset(bars))

    def indicators(self, bars: Bars) -> Indicators:
        """Return the buy stop of each bar: its open plus the previous bar's offset."""
        target = np.full(len(bars), np.nan)
        target[1:] = _as_float(bars.open)[1:] + self.offset(bars)[:-1]
        return Indicators((IndicatorLine("breakout_target", target),))


BUILTIN_STRATEGIES: tuple[type[Strategy[Any]], ...] = (
    BuyAndHold,
    SmaCross,
    EmaCross,
    RsiReversion,
    MacdCross,
    BollingerReversion,
    DonchianBreakout,
    Momentum,
    VolatilityBreakout,
)
"""The built-in strategy classes, in the order the registry lists them."""
