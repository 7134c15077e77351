"""Declared parameters of a rule document: named, typed and bounded numbers."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    StrictInt,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.engine.rules.limits import MAX_ABS_NUMBER, MAX_TITLE_LENGTH
from privatetrade.engine.rules.nodes import Node
from privatetrade.engine.rules.numbers import PARAMETER_NAME

__all__ = ["FloatParameter", "IntParameter", "Parameter", "ParameterName"]


def _reject_bool(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "must be a number, not true/false")
    return value


Bound = Annotated[float, BeforeValidator(_reject_bool)]
WholeBound = Annotated[StrictInt, Field(ge=-int(MAX_ABS_NUMBER), le=int(MAX_ABS_NUMBER))]
RealBound = Annotated[
    Bound, Field(ge=-MAX_ABS_NUMBER, le=MAX_ABS_NUMBER, allow_inf_nan=False, strict=False)
]
Title = Annotated[str, StringConstraints(max_length=MAX_TITLE_LENGTH)]


class _ParameterBase(Node):
    title: Title | None = None

    kind: ClassVar[str]

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        low, default, high = self.min, self.default, self.max  # type: ignore[attr-defined]
        if low > high:
            raise PydanticCustomError(
                "min_above_max",
                "min ({min}) must not exceed max ({max})",
                {"min": low, "max": high},
            )
        if not low <= default <= high:
            raise PydanticCustomError(
                "default_out_of_bounds",
                "default ({default}) must lie from min ({min}) to max ({max})",
                {"default": default, "min": low, "max": high},
            )
        return self


class IntParameter(_ParameterBase):
    """A whole-number parameter with bounds."""

    type: Literal["int"]
    default: WholeBound
    min: WholeBound
    max: WholeBound

    kind = "int"


class FloatParameter(_ParameterBase):
    """A real parameter with bounds."""

    type: Literal["float"]
    default: RealBound
    min: RealBound
    max: RealBound

    kind = "float"


def _parameter_tag(value: object) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        return {"int": "~int", "float": "~float"}.get(kind) if isinstance(kind, str) else None
    if isinstance(value, _ParameterBase):
        return "~" + value.kind
    return None


Parameter = Annotated[
    Annotated[IntParameter, Tag("~int")] | Annotated[FloatParameter, Tag("~float")],
    Discriminator(
        _parameter_tag,
        custom_error_type="unknown_parameter_type",
        custom_error_message='a parameter must be an object with "type": "int" or "float"',
    ),
]
"""A declared parameter."""

ParameterName = Annotated[str, StringConstraints(pattern=PARAMETER_NAME)]
