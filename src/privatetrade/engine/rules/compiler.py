"""Compile a rule document into vectorized operations over the bars.

Each part of a document becomes a compiled node (:mod:`._compiled_series`,
:mod:`._compiled_conditions`) with a fixed kernel (a numba indicator or a numpy
comparison) chosen from fixed tables: no name from the document reaches ``getattr``,
``eval`` or an import. Every node is causal (its value at bar ``t`` uses bars
``0..t`` only).

Values are computed through an :class:`~privatetrade.engine.rules.evaluation.Evaluation`,
which caches every series and condition under a key made of what it is and its
resolved arguments; a sweep keeps one cache across parameter sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privatetrade.engine.rules import conditions as condition_nodes
from privatetrade.engine.rules import series as series_nodes
from privatetrade.engine.rules._compiled_conditions import (
    Between,
    Combination,
    Compare,
    Condition,
    Cross,
    Held,
    Negation,
)
from privatetrade.engine.rules._compiled_series import (
    Atr,
    Average,
    Bollinger,
    Donchian,
    Macd,
    Number,
    Operand,
    Previous,
    Price,
    RangeBreakout,
    Series,
)
from privatetrade.engine.rules.document import RuleDocument
from privatetrade.engine.rules.evaluation import Evaluation, Key, Values
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.strategies.base import (
    BoolArray,
    IndicatorLevel,
    IndicatorLine,
    Indicators,
    Signals,
)

__all__ = ["Program", "compile_document"]


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
    series_nodes.PriceSeries: lambda node: Price(node.price),
    series_nodes.AverageSeries: lambda node: Average(
        node.indicator, _series(node.source), node.period
    ),
    series_nodes.MacdSeries: lambda node: Macd(
        _series(node.source), node.fast, node.slow, node.signal, node.output
    ),
    series_nodes.BollingerSeries: lambda node: Bollinger(
        _series(node.source), node.period, node.k, node.band
    ),
    series_nodes.AtrSeries: lambda node: Atr(node.period),
    series_nodes.DonchianSeries: lambda node: Donchian(node.period, node.band),
    series_nodes.VolumeAverageSeries: lambda node: Average("sma", Price("volume"), node.period),
    series_nodes.PreviousSeries: lambda node: Previous(_series(node.source), node.bars),
    series_nodes.RangeBreakoutSeries: lambda node: RangeBreakout(node.k),
}


def _condition(node: Any) -> Condition:
    compile_condition = _CONDITION_COMPILERS.get(type(node))
    if compile_condition is None:  # unreachable for a validated document
        raise TypeError(f"not a condition node: {type(node).__name__}")
    return compile_condition(node)


_CONDITION_COMPILERS: dict[type[Any], Callable[[Any], Condition]] = {
    condition_nodes.Compare: lambda node: Compare(
        node.compare, _operand(node.left), _operand(node.right)
    ),
    condition_nodes.CrossesAbove: lambda node: Cross(True, *map(_operand, node.crosses_above)),
    condition_nodes.CrossesBelow: lambda node: Cross(False, *map(_operand, node.crosses_below)),
    condition_nodes.Between: lambda node: Between(
        _operand(node.between), _operand(node.low), _operand(node.high)
    ),
    condition_nodes.AllOf: lambda node: Combination(True, tuple(map(_condition, node.all_))),
    condition_nodes.AnyOf: lambda node: Combination(False, tuple(map(_condition, node.any_))),
    condition_nodes.Not: lambda node: Negation(_condition(node.not_)),
    condition_nodes.ForBars: lambda node: Held(True, node.for_bars, _condition(node.condition)),
    condition_nodes.WithinBars: lambda node: Held(
        False, node.within_bars, _condition(node.condition)
    ),
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


def compile_document(doc: RuleDocument) -> Program:
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
