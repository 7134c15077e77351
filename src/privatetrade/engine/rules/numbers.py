"""Number positions of a rule document: literals and ``"${name}"`` parameter references.

Each place a number may go (a period, a band width, a compared level, a stop) is a
:class:`Slot` with a kind (whole or real) and a range. A literal is checked against it
when the document is parsed; a parameter reference remembers its slot, so the
document's parameter declarations can be checked against the same range.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from privatetrade.engine.rules.limits import MAX_ABS_NUMBER, MAX_BARS, MAX_BARS_HELD

__all__ = [
    "BAND_WIDTH",
    "BARS_HELD",
    "COUNT",
    "LEVEL",
    "PARAMETER_NAME",
    "RANGE_FRACTION",
    "STOP_FRACTION",
    "TAKE_PROFIT",
    "BandWidth",
    "BarsHeld",
    "Count",
    "Level",
    "ParamRef",
    "RangeFraction",
    "Slot",
    "StopFraction",
    "TakeProfit",
]

PARAMETER_NAME = r"^[a-z][a-z0-9_]{0,31}$"
"""Pattern of a parameter name."""
_REFERENCE = re.compile(r"\$\{([a-z][a-z0-9_]{0,31})\}")


@dataclass(frozen=True, slots=True)
class Slot:
    """A number position: whole or real, and its range.

    Attributes:
        label: What the position is, for messages (``"a period"``).
        whole: Whole numbers only.
        low: Lower bound.
        high: Upper bound.
        low_open: The lower bound itself is excluded.
        high_open: The upper bound itself is excluded.
    """

    label: str
    whole: bool
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        """Return whether ``value`` lies in the range."""
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """Return the range in words: ``a whole number from 1 to 1000``."""
        kind = "a whole number" if self.whole else "a number"
        low = _number_text(self.low)
        high = _number_text(self.high)
        if not (self.low_open or self.high_open):
            return f"{kind} from {low} to {high}"
        lower = f"above {low}" if self.low_open else f"at least {low}"
        upper = f"below {high}" if self.high_open else f"at most {high}"
        return f"{kind} {lower} and {upper}"

    def validate(self, value: object) -> int | float | ParamRef:
        """Return a literal or a reference; raise a pydantic error naming the problem."""
        expected = {"label": self.label, "expected": self.describe()}
        if isinstance(value, bool):
            raise PydanticCustomError(
                "bool_not_number", "{label} must be {expected}, not true/false", expected
            )
        if isinstance(value, str):
            match = _REFERENCE.fullmatch(value)
            if match is None:
                raise PydanticCustomError(
                    "number_expected",
                    '{label} must be {expected} or "${name}" naming a declared parameter',
                    expected,
                )
            return ParamRef(match.group(1), self)
        if isinstance(value, numbers.Integral):
            number: int | float = int(value)
        elif isinstance(value, numbers.Real):
            number = float(value)
            if not math.isfinite(number):
                raise PydanticCustomError(
                    "not_finite", "{label} must be a finite number", {"label": self.label}
                )
            if self.whole:
                raise PydanticCustomError(
                    "whole_number_expected",
                    "{label} must be {expected} (write it without a fraction)",
                    expected,
                )
        else:
            raise PydanticCustomError(
                "number_expected",
                '{label} must be {expected} or "${name}" naming a declared parameter',
                expected,
            )
        if not self.contains(number):
            raise PydanticCustomError(
                "out_of_range",
                "{label} must be {expected}",
                {**expected, "low": self.low, "high": self.high},
            )
        return number

    def json_schema(self) -> dict[str, Any]:
        """Return the JSON Schema of the position: a number in range or a reference."""
        number: dict[str, Any] = {"type": "integer" if self.whole else "number"}
        number["exclusiveMinimum" if self.low_open else "minimum"] = _json_number(self.low)
        number["exclusiveMaximum" if self.high_open else "maximum"] = _json_number(self.high)
        reference = {"type": "string", "pattern": r"^\$\{[a-z][a-z0-9_]{0,31}\}$"}
        return {"anyOf": [number, reference]}


def _number_text(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}"
    return f"{value:g}"


def _json_number(value: float) -> int | float:
    return int(value) if value == int(value) and abs(value) < 2**53 else value


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A ``"${name}"`` in a number position; ``slot`` is that position."""

    name: str
    slot: Slot

    def __str__(self) -> str:
        return "${" + self.name + "}"


def _dump(value: int | float | ParamRef) -> int | float | str:
    return str(value) if isinstance(value, ParamRef) else value


def _slot_type(slot: Slot) -> Any:
    """Return the annotated type of a number position."""
    return Annotated[
        int | float | ParamRef,
        PlainValidator(slot.validate),
        PlainSerializer(_dump),
        WithJsonSchema(slot.json_schema()),
    ]


COUNT = Slot("a period or bar count", True, 1, MAX_BARS)
BAND_WIDTH = Slot("a band width", False, 0, 10, low_open=True)
RANGE_FRACTION = Slot("a range fraction", False, 0, 10)
LEVEL = Slot("a compared number", False, -MAX_ABS_NUMBER, MAX_ABS_NUMBER)
STOP_FRACTION = Slot("a stop fraction", False, 0, 1, low_open=True, high_open=True)
TAKE_PROFIT = Slot("a take-profit fraction", False, 0, 100, low_open=True)
BARS_HELD = Slot("max_bars_held", True, 1, MAX_BARS_HELD)

Count = _slot_type(COUNT)
BandWidth = _slot_type(BAND_WIDTH)
RangeFraction = _slot_type(RANGE_FRACTION)
Level = _slot_type(LEVEL)
StopFraction = _slot_type(STOP_FRACTION)
TakeProfit = _slot_type(TAKE_PROFIT)
BarsHeld = _slot_type(BARS_HELD)
