"""Compiled series: price columns and indicators, computed once per distinct key.

Each series has a fixed kernel (a numba indicator) chosen from fixed tables: no name
from the document reaches ``getattr``, ``eval`` or an import. Every series is causal
(its value at bar ``t`` uses bars ``0..t`` only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from privatetrade.engine.kernels.indicators import (
    atr_nb,
    ema_nb,
    roc_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_std_nb,
    rsi_nb,
    shift_nb,
    sma_nb,
    wma_nb,
)
from privatetrade.engine.rules.evaluation import Evaluation, Key, Scalar, Values, resolve, whole
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.strategies.base import FloatArray, Pane

__all__ = [
    "Atr",
    "Average",
    "Bollinger",
    "Donchian",
    "Macd",
    "Number",
    "Operand",
    "Previous",
    "Price",
    "RangeBreakout",
    "Series",
]


def _from_first_value(source: FloatArray, kernel: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """Apply ``kernel`` from the source's first non-NaN value on (NaN before it)."""
    valid = ~np.isnan(source)
    first = int(np.argmax(valid)) if source.shape[0] else 0
    if first == 0 and (source.shape[0] == 0 or valid[0]):
        return kernel(source)
    out = np.full(source.shape[0], np.nan)
    if valid.any():
        out[first:] = kernel(np.ascontiguousarray(source[first:]))
    return out


class Operand(ABC):
    """A number or a series of a compiled document."""

    @abstractmethod
    def key(self, values: Values) -> Key:
        """Return what the operand is, with its arguments resolved."""

    @abstractmethod
    def value(self, ev: Evaluation, values: Values) -> FloatArray | Scalar:
        """Return the series (or the number) on the evaluation's bars."""

    @abstractmethod
    def first(self, values: Values) -> int:
        """Return the first bar where the series has a value."""

    def series(self) -> Iterator[Series]:
        """Yield the indicator series of this operand and its sources, outermost first."""
        return iter(())


@dataclass(frozen=True, slots=True)
class Number(Operand):
    """A constant (a literal or a parameter)."""

    number: int | float | ParamRef

    def key(self, values: Values) -> Key:
        return ("number", resolve(self.number, values))

    def value(self, ev: Evaluation, values: Values) -> Scalar:
        return resolve(self.number, values)

    def first(self, values: Values) -> int:
        return 0

    def label(self, values: Values) -> str:
        """Return the number as text."""
        return f"{resolve(self.number, values):g}"


class Series(Operand):
    """A series of values per bar."""

    pane: Pane = Pane.PRICE

    def value(self, ev: Evaluation, values: Values) -> FloatArray:
        key = self.key(values)
        result: FloatArray = ev.cached(key, lambda: self.compute(ev, values))
        return result

    @abstractmethod
    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        """Compute the series (called once per distinct key)."""

    @abstractmethod
    def label(self, values: Values) -> str:
        """Return a short readable name: ``SMA(close, 10)``."""

    def series(self) -> Iterator[Series]:
        yield self


@dataclass(frozen=True, slots=True)
class Price(Series):
    """A price column."""

    column: str

    @property
    def pane(self) -> Pane:  # type: ignore[override]
        return Pane.LOWER if self.column == "volume" else Pane.PRICE

    def key(self, values: Values) -> Key:
        return ("price", self.column)

    def value(self, ev: Evaluation, values: Values) -> FloatArray:
        return ev.columns[self.column]

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        return ev.columns[self.column]

    def first(self, values: Values) -> int:
        return 0

    def label(self, values: Values) -> str:
        return self.column

    def series(self) -> Iterator[Series]:
        return iter(())


_AVERAGE_KERNELS: dict[str, Callable[[FloatArray, int], FloatArray]] = {
    "sma": sma_nb,
    "ema": ema_nb,
    "wma": wma_nb,
    "rsi": rsi_nb,
    "roc": roc_nb,
}
# Bars after the source's first value where the indicator has its first value.
_AVERAGE_DELAY = {"sma": -1, "ema": -1, "wma": -1, "rsi": 0, "roc": 0}


@dataclass(frozen=True, slots=True)
class Average(Series):
    """SMA, EMA, WMA, RSI or rate of change of a source over ``period`` bars."""

    kind: str
    source: Series
    period: int | float | ParamRef

    @property
    def pane(self) -> Pane:  # type: ignore[override]
        return Pane.LOWER if self.kind in ("rsi", "roc") else self.source.pane

    def key(self, values: Values) -> Key:
        return (self.kind, self.source.key(values), whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        kernel = _AVERAGE_KERNELS[self.kind]
        period = whole(self.period, values)
        source = self.source.value(ev, values)
        if self.kind in ("sma", "ema"):  # both handle NaNs (sma_nb exactly as the built-ins)
            return kernel(source, period)
        return _from_first_value(source, lambda values_: kernel(values_, period))

    def first(self, values: Values) -> int:
        return self.source.first(values) + whole(self.period, values) + _AVERAGE_DELAY[self.kind]

    def label(self, values: Values) -> str:
        return f"{self.kind.upper()}({self.source.label(values)}, {whole(self.period, values)})"

    def series(self) -> Iterator[Series]:
        yield self
        yield from self.source.series()


@dataclass(frozen=True, slots=True)
class Macd(Series):
    """The MACD line, its signal line or their difference."""

    source: Series
    fast: int | float | ParamRef
    slow: int | float | ParamRef
    signal: int | float | ParamRef
    output: str
    pane: Pane = Pane.LOWER

    def _spans(self, values: Values) -> tuple[int, int, int]:
        return (
            whole(self.fast, values),
            whole(self.slow, values),
            whole(self.signal, values),
        )

    def key(self, values: Values) -> Key:
        return ("macd", self.output, self.source.key(values), *self._spans(values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        fast, slow, signal = self._spans(values)
        source_key = self.source.key(values)
        line_key = ("macd", "line", source_key, fast, slow, signal)

        def line() -> FloatArray:
            source = self.source.value(ev, values)
            fast_ema = ev.cached(("ema", source_key, fast), lambda: ema_nb(source, fast))
            slow_ema = ev.cached(("ema", source_key, slow), lambda: ema_nb(source, slow))
            result: FloatArray = fast_ema - slow_ema
            return result

        macd: FloatArray = ev.cached(line_key, line)
        if self.output == "line":
            return macd
        signal_key = ("macd", "signal", source_key, fast, slow, signal)
        smoothed: FloatArray = ev.cached(signal_key, lambda: ema_nb(macd, signal))
        if self.output == "signal":
            return smoothed
        histogram: FloatArray = macd - smoothed
        return histogram

    def first(self, values: Values) -> int:
        fast, slow, signal = self._spans(values)
        line = self.source.first(values) + max(fast, slow) - 1
        return line if self.output == "line" else line + signal - 1

    def label(self, values: Values) -> str:
        fast, slow, signal = self._spans(values)
        name = {"line": "MACD", "signal": "MACD signal", "histogram": "MACD histogram"}
        return f"{name[self.output]}({self.source.label(values)}, {fast}, {slow}, {signal})"

    def series(self) -> Iterator[Series]:
        yield self
        yield from self.source.series()


@dataclass(frozen=True, slots=True)
class Bollinger(Series):
    """A Bollinger band: the SMA, plus or minus ``k`` population standard deviations."""

    source: Series
    period: int | float | ParamRef
    k: int | float | ParamRef
    band: str

    @property
    def pane(self) -> Pane:  # type: ignore[override]
        return self.source.pane

    def key(self, values: Values) -> Key:
        period = whole(self.period, values)
        k = resolve(self.k, values)
        return ("bollinger", self.band, self.source.key(values), period, k)

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        period = whole(self.period, values)
        source_key = self.source.key(values)
        source = self.source.value(ev, values)
        middle: FloatArray = ev.cached(("sma", source_key, period), lambda: sma_nb(source, period))
        if self.band == "middle":
            return middle
        std: FloatArray = ev.cached(
            ("std", source_key, period),
            lambda: _from_first_value(source, lambda v: rolling_std_nb(v, period, 0)),
        )
        # The same operations, in the same order, as the built-in bollinger_reversion.
        width = resolve(self.k, values) * std
        band: FloatArray = middle + width if self.band == "upper" else middle - width
        return band

    def first(self, values: Values) -> int:
        return self.source.first(values) + whole(self.period, values) - 1

    def label(self, values: Values) -> str:
        period = whole(self.period, values)
        k = resolve(self.k, values)
        return f"Bollinger {self.band}({self.source.label(values)}, {period}, {k:g})"

    def series(self) -> Iterator[Series]:
        yield self
        yield from self.source.series()


@dataclass(frozen=True, slots=True)
class Atr(Series):
    """Wilder's average true range."""

    period: int | float | ParamRef
    pane: Pane = Pane.LOWER

    def key(self, values: Values) -> Key:
        return ("atr", whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        high, low, close = ev.columns["high"], ev.columns["low"], ev.columns["close"]
        return atr_nb(high, low, close, whole(self.period, values))

    def first(self, values: Values) -> int:
        return whole(self.period, values)

    def label(self, values: Values) -> str:
        return f"ATR({whole(self.period, values)})"


@dataclass(frozen=True, slots=True)
class Donchian(Series):
    """Highest high (upper) or lowest low (lower) of the ``period`` bars ending at ``t``."""

    period: int | float | ParamRef
    band: str

    def key(self, values: Values) -> Key:
        return ("donchian", self.band, whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        period = whole(self.period, values)
        if self.band == "upper":
            return rolling_max_nb(ev.columns["high"], period, False)
        return rolling_min_nb(ev.columns["low"], period, False)

    def first(self, values: Values) -> int:
        return whole(self.period, values) - 1

    def label(self, values: Values) -> str:
        return f"Donchian {self.band}({whole(self.period, values)})"


@dataclass(frozen=True, slots=True)
class Previous(Series):
    """A source's value ``bars`` bars ago."""

    source: Series
    bars: int | float | ParamRef

    @property
    def pane(self) -> Pane:  # type: ignore[override]
        return self.source.pane

    def key(self, values: Values) -> Key:
        return ("previous", self.source.key(values), whole(self.bars, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        return shift_nb(self.source.value(ev, values), whole(self.bars, values))

    def first(self, values: Values) -> int:
        return self.source.first(values) + whole(self.bars, values)

    def label(self, values: Values) -> str:
        return f"{self.source.label(values)} {whole(self.bars, values)} bars ago"

    def series(self) -> Iterator[Series]:
        yield self
        yield from self.source.series()


@dataclass(frozen=True, slots=True)
class RangeBreakout(Series):
    """``open[t] + k * (high[t-1] - low[t-1])``."""

    k: int | float | ParamRef

    def key(self, values: Values) -> Key:
        return ("range_breakout", resolve(self.k, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        columns = ev.columns
        # As the built-in volatility_breakout: its offset k * (high - low), then open + offset.
        offset = resolve(self.k, values) * (columns["high"] - columns["low"])
        target = np.full(ev.n, np.nan)
        target[1:] = columns["open"][1:] + offset[:-1]
        return target

    def first(self, values: Values) -> int:
        return 1

    def label(self, values: Values) -> str:
        return f"Range breakout({resolve(self.k, values):g})"
