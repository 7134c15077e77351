"""Compile a rule document into vectorized operations over the bars.

Each part of a document becomes a node with a fixed kernel (a numba indicator or a
numpy comparison) chosen from fixed tables: no name from the document reaches
``getattr``, ``eval`` or an import. Every node is causal (its value at bar ``t`` uses
bars ``0..t`` only).

Values are computed through an :class:`Evaluation`, which caches every series and
condition under a key made of what it is and its resolved arguments
(``("sma", ("price", "close"), 10)``). A sweep keeps one cache across parameter sets,
so an indicator is computed once per distinct argument, whatever the number of
combinations that use it.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from privatetrade.engine.kernels.indicators import (
    atr_nb,
    crossed_above_nb,
    crossed_below_nb,
    ema_nb,
    held_for_nb,
    held_within_nb,
    roc_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_std_nb,
    rsi_nb,
    shift_nb,
    sma_nb,
    wma_nb,
)
from privatetrade.engine.rules import model as m
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.strategies.base import (
    Bars,
    BoolArray,
    FloatArray,
    IndicatorLevel,
    IndicatorLine,
    Indicators,
    Pane,
    Signals,
)

__all__ = ["CACHE_BYTES", "Evaluation", "Program", "compile_document"]

Values = Mapping[str, int | float]
"""Resolved parameter values by name."""
Scalar = int | float
Key = Hashable

CACHE_BYTES: Final = 256 * 1024 * 1024
"""Arrays an evaluation cache may hold before it is emptied (bytes)."""


class Evaluation:
    """The bars a document is evaluated on and the cache of computed arrays.

    Args:
        bars: The bars.
        cache_bytes: Emptied when the cached arrays exceed this many bytes.
    """

    def __init__(self, bars: Bars, cache_bytes: int = CACHE_BYTES) -> None:
        self.bars = bars
        self.n = len(bars)
        self._cache: dict[Key, Any] = {}
        self._cached_bytes = 0
        self._limit = cache_bytes
        self.columns: dict[str, FloatArray] = {
            "open": np.asarray(bars.open, dtype=np.float64),
            "high": np.asarray(bars.high, dtype=np.float64),
            "low": np.asarray(bars.low, dtype=np.float64),
            "close": np.asarray(bars.close, dtype=np.float64),
            "volume": np.asarray(bars.volume, dtype=np.float64),
        }

    def cached(self, key: Key, compute: Callable[[], Any]) -> Any:
        """Return the array stored under ``key``, computing and storing it if missing."""
        found = self._cache.get(key)
        if found is None:
            found = self.store(key, compute())
        return found

    def lookup(self, key: Key) -> Any:
        """Return the array stored under ``key``, or None."""
        return self._cache.get(key)

    def store(self, key: Key, value: Any) -> Any:
        """Store ``value`` under ``key`` (emptying the cache first when it is full)."""
        size = _nbytes(value)
        if self._cached_bytes + size > self._limit:
            self._cache.clear()
            self._cached_bytes = 0
        self._cache[key] = value
        self._cached_bytes += size
        return value

    def full(self, value: Scalar) -> FloatArray:
        """Return a constant series."""
        constant: FloatArray = self.cached(("full", value), lambda: np.full(self.n, float(value)))
        return constant


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(item) for item in value)
    return 0


def _resolve(number: int | float | ParamRef, values: Values) -> Scalar:
    return values[number.name] if isinstance(number, ParamRef) else number


def _whole(number: int | float | ParamRef, values: Values) -> int:
    return int(_resolve(number, values))


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


# --------------------------------------------------------------------------- operands


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
        return ("number", _resolve(self.number, values))

    def value(self, ev: Evaluation, values: Values) -> Scalar:
        return _resolve(self.number, values)

    def first(self, values: Values) -> int:
        return 0

    def label(self, values: Values) -> str:
        """Return the number as text."""
        return f"{_resolve(self.number, values):g}"


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
        return (self.kind, self.source.key(values), _whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        kernel = _AVERAGE_KERNELS[self.kind]
        period = _whole(self.period, values)
        source = self.source.value(ev, values)
        if self.kind in ("sma", "ema"):  # both handle NaNs (sma_nb exactly as the built-ins)
            return kernel(source, period)
        return _from_first_value(source, lambda values_: kernel(values_, period))

    def first(self, values: Values) -> int:
        return self.source.first(values) + _whole(self.period, values) + _AVERAGE_DELAY[self.kind]

    def label(self, values: Values) -> str:
        return f"{self.kind.upper()}({self.source.label(values)}, {_whole(self.period, values)})"

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
            _whole(self.fast, values),
            _whole(self.slow, values),
            _whole(self.signal, values),
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
        period = _whole(self.period, values)
        k = _resolve(self.k, values)
        return ("bollinger", self.band, self.source.key(values), period, k)

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        period = _whole(self.period, values)
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
        width = _resolve(self.k, values) * std
        band: FloatArray = middle + width if self.band == "upper" else middle - width
        return band

    def first(self, values: Values) -> int:
        return self.source.first(values) + _whole(self.period, values) - 1

    def label(self, values: Values) -> str:
        period = _whole(self.period, values)
        k = _resolve(self.k, values)
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
        return ("atr", _whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        high, low, close = ev.columns["high"], ev.columns["low"], ev.columns["close"]
        return atr_nb(high, low, close, _whole(self.period, values))

    def first(self, values: Values) -> int:
        return _whole(self.period, values)

    def label(self, values: Values) -> str:
        return f"ATR({_whole(self.period, values)})"


@dataclass(frozen=True, slots=True)
class Donchian(Series):
    """Highest high (upper) or lowest low (lower) of the ``period`` bars ending at ``t``."""

    period: int | float | ParamRef
    band: str

    def key(self, values: Values) -> Key:
        return ("donchian", self.band, _whole(self.period, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        period = _whole(self.period, values)
        if self.band == "upper":
            return rolling_max_nb(ev.columns["high"], period, False)
        return rolling_min_nb(ev.columns["low"], period, False)

    def first(self, values: Values) -> int:
        return _whole(self.period, values) - 1

    def label(self, values: Values) -> str:
        return f"Donchian {self.band}({_whole(self.period, values)})"


@dataclass(frozen=True, slots=True)
class Previous(Series):
    """A source's value ``bars`` bars ago."""

    source: Series
    bars: int | float | ParamRef

    @property
    def pane(self) -> Pane:  # type: ignore[override]
        return self.source.pane

    def key(self, values: Values) -> Key:
        return ("previous", self.source.key(values), _whole(self.bars, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        return shift_nb(self.source.value(ev, values), _whole(self.bars, values))

    def first(self, values: Values) -> int:
        return self.source.first(values) + _whole(self.bars, values)

    def label(self, values: Values) -> str:
        return f"{self.source.label(values)} {_whole(self.bars, values)} bars ago"

    def series(self) -> Iterator[Series]:
        yield self
        yield from self.source.series()


@dataclass(frozen=True, slots=True)
class RangeBreakout(Series):
    """``open[t] + k * (high[t-1] - low[t-1])``."""

    k: int | float | ParamRef

    def key(self, values: Values) -> Key:
        return ("range_breakout", _resolve(self.k, values))

    def compute(self, ev: Evaluation, values: Values) -> FloatArray:
        columns = ev.columns
        # As the built-in volatility_breakout: its offset k * (high - low), then open + offset.
        offset = _resolve(self.k, values) * (columns["high"] - columns["low"])
        target = np.full(ev.n, np.nan)
        target[1:] = columns["open"][1:] + offset[:-1]
        return target

    def first(self, values: Values) -> int:
        return 1

    def label(self, values: Values) -> str:
        return f"Range breakout({_resolve(self.k, values):g})"


# --------------------------------------------------------------------------- conditions


class Condition(ABC):
    """A boolean per bar of a compiled document.

    :func:`compile_document` numbers every distinct condition of a document and records
    the parameters it depends on, so its cache key is that number and those parameters'
    values: cheap to build for each of a sweep's parameter sets.
    """

    _ident: int = -1
    _depends_on: tuple[str, ...] = ()

    def truth(self, ev: Evaluation, values: Values) -> BoolArray:
        """Return the condition on the evaluation's bars (cached by resolved key)."""
        if self._ident < 0:
            key = self.key(values)
        else:
            key = (self._ident, *[values[name] for name in self._depends_on])
        found: BoolArray | None = ev.lookup(key)
        if found is None:
            found = ev.store(key, self.compute(ev, values))
        return found

    def parts(self) -> tuple[Condition, ...]:
        """Return the direct sub-conditions."""
        return ()

    def write(self, ev: Evaluation, values: Values, out: BoolArray) -> None:
        """Write the condition into ``out`` (a sweep's signal row)."""
        np.copyto(out, self.truth(ev, values))

    @abstractmethod
    def key(self, values: Values) -> Key:
        """Return what the condition is, with its arguments resolved."""

    @abstractmethod
    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        """Compute the condition (called once per distinct key)."""

    @abstractmethod
    def first(self, values: Values) -> int:
        """Return the first bar where the condition can be true."""

    @abstractmethod
    def operands(self) -> Iterator[Operand]:
        """Yield the operands of this condition and its sub-conditions."""

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        """Yield constant levels compared with a lower-pane series (RSI 30 ...)."""
        return iter(())


def _as_array(ev: Evaluation, value: FloatArray | Scalar) -> FloatArray:
    return value if isinstance(value, np.ndarray) else ev.full(value)


def _as_truth(ev: Evaluation, value: BoolArray | np.bool_ | bool) -> BoolArray:
    if isinstance(value, np.ndarray):
        return value
    return np.full(ev.n, bool(value))


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    """``left op right``; false where either side is NaN."""

    operator: str
    left: Operand
    right: Operand

    def key(self, values: Values) -> Key:
        return ("compare", self.operator, self.left.key(values), self.right.key(values))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        compare = _COMPARISONS[self.operator]
        return _as_truth(ev, compare(self.left.value(ev, values), self.right.value(ev, values)))

    def first(self, values: Values) -> int:
        return max(self.left.first(values), self.right.first(values))

    def operands(self) -> Iterator[Operand]:
        yield self.left
        yield self.right

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        for series, number in ((self.left, self.right), (self.right, self.left)):
            lower = isinstance(series, Series) and series.pane == Pane.LOWER
            if lower and isinstance(series, Series) and isinstance(number, Number):
                value = float(_resolve(number.number, values))
                yield IndicatorLevel(f"{series.label(values)} {number.label(values)}", value)


@dataclass(frozen=True, slots=True)
class Cross(Condition):
    """``first`` crosses above (or below) ``second``: the built-ins' cross rule."""

    above: bool
    first_operand: Operand
    second_operand: Operand

    def key(self, values: Values) -> Key:
        name = "crosses_above" if self.above else "crosses_below"
        return (name, self.first_operand.key(values), self.second_operand.key(values))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        a = _as_array(ev, self.first_operand.value(ev, values))
        b = _as_array(ev, self.second_operand.value(ev, values))
        return crossed_above_nb(a, b) if self.above else crossed_below_nb(a, b)

    def first(self, values: Values) -> int:
        return max(self.first_operand.first(values), self.second_operand.first(values)) + 1

    def operands(self) -> Iterator[Operand]:
        yield self.first_operand
        yield self.second_operand


@dataclass(frozen=True, slots=True)
class Between(Condition):
    """``low <= subject <= high``."""

    subject: Operand
    low: Operand
    high: Operand

    def key(self, values: Values) -> Key:
        parts = (self.subject.key(values), self.low.key(values), self.high.key(values))
        return ("between", *parts)

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        subject = self.subject.value(ev, values)
        above = np.greater_equal(subject, self.low.value(ev, values))
        below = np.less_equal(subject, self.high.value(ev, values))
        return _as_truth(ev, np.logical_and(above, below))

    def first(self, values: Values) -> int:
        return max(self.subject.first(values), self.low.first(values), self.high.first(values))

    def operands(self) -> Iterator[Operand]:
        yield self.subject
        yield self.low
        yield self.high


@dataclass(frozen=True, slots=True)
class Combination(Condition):
    """Every (``every=True``) or any of the sub-conditions."""

    every: bool
    members: tuple[Condition, ...]

    def parts(self) -> tuple[Condition, ...]:
        return self.members

    def key(self, values: Values) -> Key:
        return ("all" if self.every else "any", *(part.key(values) for part in self.members))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        truths = [part.truth(ev, values) for part in self.members]
        if len(truths) == 1:
            return truths[0]
        combine = np.logical_and if self.every else np.logical_or
        result: BoolArray = combine(truths[0], truths[1])
        for truth in truths[2:]:
            combine(result, truth, out=result)
        return result

    def write(self, ev: Evaluation, values: Values, out: BoolArray) -> None:
        """Combine the sub-conditions straight into ``out`` (no array of its own, not cached)."""
        truths = [part.truth(ev, values) for part in self.members]
        if len(truths) == 1:
            np.copyto(out, truths[0])
            return
        combine = np.logical_and if self.every else np.logical_or
        combine(truths[0], truths[1], out=out)
        for truth in truths[2:]:
            combine(out, truth, out=out)

    def first(self, values: Values) -> int:
        firsts = [part.first(values) for part in self.members]
        return max(firsts) if self.every else min(firsts)

    def operands(self) -> Iterator[Operand]:
        for part in self.members:
            yield from part.operands()

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        for part in self.members:
            yield from part.levels(values)


@dataclass(frozen=True, slots=True)
class Negation(Condition):
    """The sub-condition does not hold (true where it is false, warm-up included)."""

    part: Condition

    def parts(self) -> tuple[Condition, ...]:
        return (self.part,)

    def key(self, values: Values) -> Key:
        return ("not", self.part.key(values))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        result: BoolArray = np.logical_not(self.part.truth(ev, values))
        return result

    def first(self, values: Values) -> int:
        return 0

    def operands(self) -> Iterator[Operand]:
        yield from self.part.operands()

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        yield from self.part.levels(values)


@dataclass(frozen=True, slots=True)
class Held(Condition):
    """The sub-condition held on each (``every``) or any of the last ``bars`` bars."""

    every: bool
    bars: int | float | ParamRef
    part: Condition

    def parts(self) -> tuple[Condition, ...]:
        return (self.part,)

    def key(self, values: Values) -> Key:
        name = "for_bars" if self.every else "within_bars"
        return (name, _whole(self.bars, values), self.part.key(values))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        truth = self.part.truth(ev, values)
        bars = _whole(self.bars, values)
        return held_for_nb(truth, bars) if self.every else held_within_nb(truth, bars)

    def first(self, values: Values) -> int:
        extra = _whole(self.bars, values) - 1 if self.every else 0
        return self.part.first(values) + extra

    def operands(self) -> Iterator[Operand]:
        yield from self.part.operands()

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        yield from self.part.levels(values)


# --------------------------------------------------------------------------- compiling


def _operand(node: Any) -> Operand:
    if isinstance(node, int | float | ParamRef):
        return Number(node)
    return _series(node)


def _series(node: Any) -> Series:
    compile_series = _SERIES_COMPILERS.get(type(node))
    if compile_series is None:  # unreachable for a validated document
        raise TypeError(f"not a series node: {type(node).__name__}")
    return compile_series(node)


_SERIES_COMPILERS: dict[type[Any], Callable[[Any], Series]] = {
    m.PriceSeries: lambda node: Price(node.price),
    m.AverageSeries: lambda node: Average(node.indicator, _series(node.source), node.period),
    m.MacdSeries: lambda node: Macd(
        _series(node.source), node.fast, node.slow, node.signal, node.output
    ),
    m.BollingerSeries: lambda node: Bollinger(_series(node.source), node.period, node.k, node.band),
    m.AtrSeries: lambda node: Atr(node.period),
    m.DonchianSeries: lambda node: Donchian(node.period, node.band),
    m.VolumeAverageSeries: lambda node: Average("sma", Price("volume"), node.period),
    m.PreviousSeries: lambda node: Previous(_series(node.source), node.bars),
    m.RangeBreakoutSeries: lambda node: RangeBreakout(node.k),
}


def _condition(node: Any) -> Condition:
    compile_condition = _CONDITION_COMPILERS.get(type(node))
    if compile_condition is None:  # unreachable for a validated document
        raise TypeError(f"not a condition node: {type(node).__name__}")
    return compile_condition(node)


_CONDITION_COMPILERS: dict[type[Any], Callable[[Any], Condition]] = {
    m.Compare: lambda node: Compare(node.compare, _operand(node.left), _operand(node.right)),
    m.CrossesAbove: lambda node: Cross(True, *map(_operand, node.crosses_above)),
    m.CrossesBelow: lambda node: Cross(False, *map(_operand, node.crosses_below)),
    m.Between: lambda node: Between(
        _operand(node.between), _operand(node.low), _operand(node.high)
    ),
    m.AllOf: lambda node: Combination(True, tuple(map(_condition, node.all_))),
    m.AnyOf: lambda node: Combination(False, tuple(map(_condition, node.any_))),
    m.Not: lambda node: Negation(_condition(node.not_)),
    m.ForBars: lambda node: Held(True, node.for_bars, _condition(node.condition)),
    m.WithinBars: lambda node: Held(False, node.within_bars, _condition(node.condition)),
}


@dataclass(frozen=True)
class Program:
    """A compiled document: the four signal conditions (absent ones None).

    Attributes:
        entries: Long entry condition.
        exits: Long exit condition.
        short_entries: Short entry condition (None without a short section).
        short_exits: Short exit condition.
    """

    entries: Condition
    exits: Condition | None
    short_entries: Condition | None
    short_exits: Condition | None
    _conditions: tuple[Condition, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        conditions = (self.entries, self.exits, self.short_entries, self.short_exits)
        object.__setattr__(self, "_conditions", tuple(c for c in conditions if c is not None))

    def conditions(self) -> tuple[Condition, ...]:
        """Return the signal conditions present (entries first)."""
        return self._conditions

    def signals(self, ev: Evaluation, values: Values) -> Signals:
        """Return the signals on the evaluation's bars."""
        entries = self.entries.truth(ev, values)
        exits = self._truth_or_never(self.exits, ev, values)
        if self.short_entries is None:
            return Signals(entries, exits)
        short_entries = self.short_entries.truth(ev, values)
        short_exits = self._truth_or_never(self.short_exits, ev, values)
        return Signals(entries, exits, short_entries, short_exits)

    def write_signals(self, ev: Evaluation, values: Values, rows: tuple[BoolArray, ...]) -> None:
        """Write the signals into ``rows`` (entries, exits[, short entries, short exits])."""
        conditions = (self.entries, self.exits, self.short_entries, self.short_exits)
        for condition, row in zip(conditions, rows, strict=False):
            if condition is None:
                row[:] = False
            else:
                condition.write(ev, values, row)

    @staticmethod
    def _truth_or_never(condition: Condition | None, ev: Evaluation, values: Values) -> BoolArray:
        if condition is None:
            never: BoolArray = ev.cached(("never",), lambda: np.zeros(ev.n, dtype=np.bool_))
            return never
        return condition.truth(ev, values)

    def warmup(self, values: Values) -> int:
        """Return the bars needed before the first possible entry or exit."""
        return max(condition.first(values) for condition in self._conditions)

    def indicators(self, ev: Evaluation, values: Values) -> Indicators:
        """Return one line per distinct indicator series and the levels they are held to."""
        lines: dict[Key, IndicatorLine] = {}
        for condition in self._conditions:
            for operand in condition.operands():
                for series in operand.series():
                    key = series.key(values)
                    if key not in lines:
                        values_ = series.value(ev, values)
                        lines[key] = IndicatorLine(series.label(values), values_, series.pane)
        levels: dict[tuple[str, float], IndicatorLevel] = {}
        for condition in self._conditions:
            for level in condition.levels(values):
                levels.setdefault((level.name, level.value), level)
        return Indicators(tuple(lines.values()), tuple(levels.values()))


def compile_document(doc: m.RuleDocument) -> Program:
    """Compile a validated document into a :class:`Program`."""
    short = doc.short
    program = Program(
        _condition(doc.long.entry),
        None if doc.long.exit is None else _condition(doc.long.exit),
        None if short is None else _condition(short.entry),
        None if short is None or short.exit is None else _condition(short.exit),
    )
    numbers: dict[str, int] = {}
    for condition in program.conditions():
        _number_conditions(condition, numbers)
    return program


def _number_conditions(condition: Condition, numbers: dict[str, int]) -> frozenset[str]:
    """Give each condition its number (equal conditions share one) and its parameters."""
    names = set(_parameter_names(condition))
    for part in condition.parts():
        names |= _number_conditions(part, numbers)
    ident = numbers.setdefault(repr(condition), len(numbers))
    object.__setattr__(condition, "_ident", ident)
    object.__setattr__(condition, "_depends_on", tuple(sorted(names)))
    return frozenset(names)


def _parameter_names(node: object) -> Iterator[str]:
    """Yield the parameter names of a node's numbers and operands (not of sub-conditions)."""
    if isinstance(node, ParamRef):
        yield node.name
    elif isinstance(node, Operand | Condition):
        for item in dataclasses.fields(node):  # type: ignore[arg-type]
            value = getattr(node, item.name)
            if isinstance(value, Condition) or (
                isinstance(value, tuple) and value and isinstance(value[0], Condition)
            ):
                continue
            yield from _parameter_names(value)
