"""Conditions of a rule document: comparisons, crosses, range tests, combinations, modifiers.

A condition is chosen by its key (``compare``, ``crosses_above``, ``all`` ...); an
object with none of them is refused with an error listing the keys.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag

from privatetrade.engine.rules.nodes import Node, tags_by_type
from privatetrade.engine.rules.numbers import Count
from privatetrade.engine.rules.series import Operand

__all__ = [
    "AllOf",
    "AnyOf",
    "Between",
    "Compare",
    "Condition",
    "CrossesAbove",
    "CrossesBelow",
    "ForBars",
    "Not",
    "WithinBars",
]


class Compare(Node):
    """``left op right``."""

    compare: Literal[">", "<", ">=", "<="]
    left: Operand
    right: Operand


class CrossesAbove(Node):
    """The first operand crosses above the second."""

    crosses_above: tuple[Operand, Operand]


class CrossesBelow(Node):
    """The first operand crosses below the second."""

    crosses_below: tuple[Operand, Operand]


class Between(Node):
    """``low <= between <= high``."""

    between: Operand
    low: Operand
    high: Operand


class AllOf(Node):
    """Every sub-condition holds."""

    all_: tuple[Condition, ...] = Field(alias="all", min_length=1)


class AnyOf(Node):
    """At least one sub-condition holds."""

    any_: tuple[Condition, ...] = Field(alias="any", min_length=1)


class Not(Node):
    """The sub-condition does not hold."""

    not_: Condition = Field(alias="not")


class ForBars(Node):
    """The sub-condition held on each of the last ``for_bars`` bars."""

    for_bars: Count
    condition: Condition


class WithinBars(Node):
    """The sub-condition held on at least one of the last ``within_bars`` bars."""

    within_bars: Count
    condition: Condition


_CONDITION_KEYS: dict[str, str] = {
    "compare": "~compare",
    "crosses_above": "~crosses_above",
    "crosses_below": "~crosses_below",
    "between": "~between",
    "all": "~all",
    "any": "~any",
    "not": "~not",
    "for_bars": "~for_bars",
    "within_bars": "~within_bars",
}


def _condition_tag(value: object) -> str | None:
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and key in _CONDITION_KEYS:
                return _CONDITION_KEYS[key]
        return None
    if isinstance(value, Node):
        return _CONDITION_TAG_OF.get(type(value))
    return None


Condition = Annotated[
    Annotated[Compare, Tag("~compare")]
    | Annotated[CrossesAbove, Tag("~crosses_above")]
    | Annotated[CrossesBelow, Tag("~crosses_below")]
    | Annotated[Between, Tag("~between")]
    | Annotated[AllOf, Tag("~all")]
    | Annotated[AnyOf, Tag("~any")]
    | Annotated[Not, Tag("~not")]
    | Annotated[ForBars, Tag("~for_bars")]
    | Annotated[WithinBars, Tag("~within_bars")],
    Discriminator(
        _condition_tag,
        custom_error_type="unknown_condition",
        custom_error_message=(
            "a condition must be an object with one of the keys compare, crosses_above, "
            "crosses_below, between, all, any, not, for_bars, within_bars"
        ),
    ),
]
"""A condition: a comparison, a cross, a range test, a combination or a modifier."""

_CONDITION_TAG_OF = tags_by_type(Condition)

for _model in (AllOf, AnyOf, Not, ForBars, WithinBars):  # they refer to Condition
    _model.model_rebuild()
