"""Compiled conditions: a boolean per bar, from numpy comparisons and numba kernels.

Every condition is causal (its value at bar ``t`` uses bars ``0..t`` only) and cached
in the :class:`~privatetrade.engine.rules.evaluation.Evaluation` it is computed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from privatetrade.engine.kernels.indicators import (
    crossed_above_nb,
    crossed_below_nb,
    held_for_nb,
    held_within_nb,
)
from privatetrade.engine.rules._compiled_series import Number, Operand, Series
from privatetrade.engine.rules.evaluation import Evaluation, Key, Scalar, Values, resolve, whole
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.strategies.base import BoolArray, FloatArray, IndicatorLevel, Pane

__all__ = [
    "Between",
    "Combination",
    "Compare",
    "Condition",
    "Cross",
    "Held",
    "Negation",
]


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
                value = float(resolve(number.number, values))
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
        return (name, whole(self.bars, values), self.part.key(values))

    def compute(self, ev: Evaluation, values: Values) -> BoolArray:
        truth = self.part.truth(ev, values)
        bars = whole(self.bars, values)
        return held_for_nb(truth, bars) if self.every else held_within_nb(truth, bars)

    def first(self, values: Values) -> int:
        extra = whole(self.bars, values) - 1 if self.every else 0
        return self.part.first(values) + extra

    def operands(self) -> Iterator[Operand]:
        yield from self.part.operands()

    def levels(self, values: Values) -> Iterator[IndicatorLevel]:
        yield from self.part.levels(values)
