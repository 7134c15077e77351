"""The rule document: frozen pydantic models, validation and the published JSON Schema.

The grammar is in docs/rules.md. :func:`parse_rules` is the one way in: it checks the
document's size and nesting before pydantic sees it, validates the structure
(discriminated unions, so an error names the exact part), then checks every
``"${name}"`` against the declared parameters. Every problem becomes a
:class:`~privatetrade.errors.RuleError` whose ``path`` is a JSON path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.engine.rules.limits import (
    MAX_ABS_NUMBER,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    MAX_PARAMETERS,
    MAX_TITLE_LENGTH,
    RULES_SCHEMA_ID,
)
from privatetrade.engine.rules.numbers import (
    PARAMETER_NAME,
    BandWidth,
    BarsHeld,
    Count,
    Level,
    ParamRef,
    RangeFraction,
    StopFraction,
    TakeProfit,
)
from privatetrade.errors import RuleError

__all__ = [
    "AllOf",
    "AnyOf",
    "AtrSeries",
    "AverageSeries",
    "Between",
    "BollingerSeries",
    "Compare",
    "Condition",
    "CrossesAbove",
    "CrossesBelow",
    "DonchianSeries",
    "Exits",
    "FloatParameter",
    "ForBars",
    "IntParameter",
    "MacdSeries",
    "Not",
    "Operand",
    "Parameter",
    "PreviousSeries",
    "PriceSeries",
    "RangeBreakoutSeries",
    "RuleDocument",
    "Section",
    "Series",
    "VolumeAverageSeries",
    "WithinBars",
    "iter_references",
    "json_path",
    "parse_rules",
    "rules_json_schema",
]

_RAW_DEPTH = 4 * MAX_DEPTH + 8
"""Deepest JSON nesting (objects and arrays) looked at before the grammar is applied."""
_TAG = "~"
"""Prefix of the union tags pydantic puts into error locations (dropped from paths)."""


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- series

PriceName = Literal["open", "high", "low", "close", "volume"]


class PriceSeries(_Node):
    """A price column of the bars."""

    price: PriceName


class AverageSeries(_Node):
    """SMA, EMA, WMA, RSI or rate of change of a series over ``period`` bars."""

    indicator: Literal["sma", "ema", "wma", "rsi", "roc"]
    source: Series
    period: Count


class MacdSeries(_Node):
    """A part of the MACD of a series."""

    indicator: Literal["macd"]
    source: Series
    fast: Count
    slow: Count
    signal: Count
    output: Literal["line", "signal", "histogram"]


class BollingerSeries(_Node):
    """A Bollinger band of a series."""

    indicator: Literal["bollinger"]
    source: Series
    period: Count
    k: BandWidth
    band: Literal["upper", "middle", "lower"]


class AtrSeries(_Node):
    """Wilder's average true range."""

    indicator: Literal["atr"]
    period: Count


class DonchianSeries(_Node):
    """Highest high or lowest low of the ``period`` bars ending at each bar."""

    indicator: Literal["donchian"]
    period: Count
    band: Literal["upper", "lower"]


class VolumeAverageSeries(_Node):
    """Simple average of the volume."""

    indicator: Literal["volume_average"]
    period: Count


class PreviousSeries(_Node):
    """A series' value ``bars`` bars ago."""

    indicator: Literal["previous"]
    source: Series
    bars: Count


class RangeBreakoutSeries(_Node):
    """Today's open plus ``k`` times the previous bar's range."""

    indicator: Literal["range_breakout"]
    k: RangeFraction


def _unknown_indicator(value: object) -> object:
    raise PydanticCustomError(
        "unknown_indicator",
        "unknown indicator {indicator}; known: {known}",
        {"indicator": repr(value), "known": ", ".join(_SERIES_BY_INDICATOR)},
    )


class _UnknownSeries(BaseModel):
    """Catches an unknown ``indicator`` so the error names that field (not in the schema)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    indicator: Annotated[Any, BeforeValidator(_unknown_indicator)]


_SERIES_BY_INDICATOR: dict[str, str] = {
    "sma": "~average",
    "ema": "~average",
    "wma": "~average",
    "rsi": "~average",
    "roc": "~average",
    "macd": "~macd",
    "bollinger": "~bollinger",
    "atr": "~atr",
    "donchian": "~donchian",
    "volume_average": "~volume_average",
    "previous": "~previous",
    "range_breakout": "~range_breakout",
}


def _series_tag(value: object) -> str | None:
    if isinstance(value, dict):
        if "indicator" in value:
            indicator = value["indicator"]
            known = isinstance(indicator, str) and indicator in _SERIES_BY_INDICATOR
            return _SERIES_BY_INDICATOR[indicator] if known else "~unknown"
        return "~price" if "price" in value else None
    if isinstance(value, _Node):
        return _SERIES_TAG_OF.get(type(value))
    return None


Series = Annotated[
    Annotated[PriceSeries, Tag("~price")]
    | Annotated[AverageSeries, Tag("~average")]
    | Annotated[MacdSeries, Tag("~macd")]
    | Annotated[BollingerSeries, Tag("~bollinger")]
    | Annotated[AtrSeries, Tag("~atr")]
    | Annotated[DonchianSeries, Tag("~donchian")]
    | Annotated[VolumeAverageSeries, Tag("~volume_average")]
    | Annotated[PreviousSeries, Tag("~previous")]
    | Annotated[RangeBreakoutSeries, Tag("~range_breakout")]
    | Annotated[_UnknownSeries, Tag("~unknown")],
    Discriminator(
        _series_tag,
        custom_error_type="unknown_series",
        custom_error_message=(
            'a series must be an object with "price" (open, high, low, close, volume) '
            'or "indicator"'
        ),
    ),
]
"""A series: a price column or an indicator."""

_SERIES_TAG_OF: dict[type[BaseModel], str] = {
    PriceSeries: "~price",
    AverageSeries: "~average",
    MacdSeries: "~macd",
    BollingerSeries: "~bollinger",
    AtrSeries: "~atr",
    DonchianSeries: "~donchian",
    VolumeAverageSeries: "~volume_average",
    PreviousSeries: "~previous",
    RangeBreakoutSeries: "~range_breakout",
}


def _operand_tag(value: object) -> str:
    return "~series" if isinstance(value, dict | BaseModel) else "~number"


Operand = Annotated[
    Annotated[Level, Tag("~number")] | Annotated[Series, Tag("~series")],
    Discriminator(_operand_tag),
]
"""A number (a constant series), a parameter reference or a series."""


# --------------------------------------------------------------------------- conditions


class Compare(_Node):
    """``left op right``."""

    compare: Literal[">", "<", ">=", "<="]
    left: Operand
    right: Operand


class CrossesAbove(_Node):
    """The first operand crosses above the second."""

    crosses_above: tuple[Operand, Operand]


class CrossesBelow(_Node):
    """The first operand crosses below the second."""

    crosses_below: tuple[Operand, Operand]


class Between(_Node):
    """``low <= between <= high``."""

    between: Operand
    low: Operand
    high: Operand


class AllOf(_Node):
    """Every sub-condition holds."""

    all_: tuple[Condition, ...] = Field(alias="all", min_length=1)


class AnyOf(_Node):
    """At least one sub-condition holds."""

    any_: tuple[Condition, ...] = Field(alias="any", min_length=1)


class Not(_Node):
    """The sub-condition does not hold."""

    not_: Condition = Field(alias="not")


class ForBars(_Node):
    """The sub-condition held on each of the last ``for_bars`` bars."""

    for_bars: Count
    condition: Condition


class WithinBars(_Node):
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
    if isinstance(value, _Node):
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

_CONDITION_TAG_OF: dict[type[BaseModel], str] = {
    Compare: "~compare",
    CrossesAbove: "~crosses_above",
    CrossesBelow: "~crosses_below",
    Between: "~between",
    AllOf: "~all",
    AnyOf: "~any",
    Not: "~not",
    ForBars: "~for_bars",
    WithinBars: "~within_bars",
}


# --------------------------------------------------------------------------- sections


class Section(_Node):
    """Entry and exit conditions of one side (long or short)."""

    entry: Condition
    exit: Condition | None = None


class Exits(_Node):
    """Protective and time exits, as fractions of the entry price and bars held."""

    stop_loss: StopFraction | None = None
    take_profit: TakeProfit | None = None
    trailing_stop: StopFraction | None = None
    max_bars_held: BarsHeld | None = None


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


class _ParameterBase(_Node):
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


class RuleDocument(_Node):
    """A validated rule document (``schema`` ``privatetrade.rules/1``).

    Build it with :func:`parse_rules`; ``model_validate`` works too and raises pydantic's
    ``ValidationError`` (whose first error :func:`parse_rules` turns into a RuleError).
    """

    schema_: Literal["privatetrade.rules/1"] = Field(alias="schema")
    parameters: dict[ParameterName, Parameter] = Field(
        default_factory=dict, max_length=MAX_PARAMETERS
    )
    long: Section
    short: Section | None = None
    exits: Exits | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_shape(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _check_raw(data)
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        for path, reference in iter_references(self):
            _check_reference(path, reference, self.parameters)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the document as canonical JSON-ready data (nulls left out).

        ``parse_rules(doc.to_dict()) == doc``.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> str:
        """Return :meth:`to_dict` as compact JSON text with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


for _model in (
    AverageSeries,
    MacdSeries,
    BollingerSeries,
    PreviousSeries,
    Compare,
    CrossesAbove,
    CrossesBelow,
    Between,
    AllOf,
    AnyOf,
    Not,
    ForBars,
    WithinBars,
    Section,
    RuleDocument,
):
    _model.model_rebuild()


# --------------------------------------------------------------------------- checks


def _error(code: str, path: str, message: str, **params: str | int | float) -> Exception:
    """Return a pydantic error carrying the JSON path it is about."""
    return PydanticCustomError(code, message, {"rule_path": path, **params})


def _check_raw(data: dict[str, Any]) -> None:
    """Check nesting, node count and size of raw document data."""
    _check_nesting(data)
    for side in ("long", "short"):
        section = data.get(side)
        if isinstance(section, dict):
            _check_section_nodes(side, section, data)
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as exc:
        reason = str(exc)
        raise _error(
            "not_json", "$", "the document is not JSON data: {reason}", reason=reason
        ) from None
    size = len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise _error(
            "document_too_large",
            "$",
            "the document takes {size} bytes of JSON; at most {limit} are allowed",
            size=size,
            limit=MAX_DOCUMENT_BYTES,
        )


def _check_nesting(data: object) -> None:
    """Refuse JSON nested deeper than any valid document can be (cycles included)."""
    stack: list[tuple[object, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, location = stack.pop()
        if len(location) > _RAW_DEPTH:
            raise _error(
                "too_deep",
                json_path(location),
                "the document is nested too deeply (at most {limit} levels of conditions "
                "and series)",
                limit=MAX_DEPTH,
            )
        if isinstance(value, dict):
            stack.extend((item, (*location, str(key))) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((item, (*location, i)) for i, item in enumerate(value))


def _check_section_nodes(side: str, section: dict[str, Any], data: dict[str, Any]) -> None:
    """Check depth and node count of one section (nodes of earlier sections count too)."""
    counted = _count_before(side, data)
    roots = [(section[key], (side, key)) for key in ("entry", "exit") if key in section]
    stack: list[tuple[object, tuple[str | int, ...], int]] = [
        (value, location, 0) for value, location in reversed(roots)
    ]
    while stack:
        value, location, depth = stack.pop()
        if isinstance(value, dict):
            depth += 1
            counted += 1
            if depth > MAX_DEPTH:
                raise _error(
                    "too_deep",
                    json_path(location),
                    "conditions and series are nested {depth} levels deep here; at most "
                    "{limit} are allowed",
                    depth=depth,
                    limit=MAX_DEPTH,
                )
            if counted > MAX_NODES:
                raise _error(
                    "too_many_nodes",
                    json_path(location),
                    "the document has more than {limit} conditions and series",
                    limit=MAX_NODES,
                )
            children = [(item, (*location, str(key))) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            children = [(item, (*location, i)) for i, item in enumerate(value)]
        else:
            continue
        stack.extend((item, where, depth) for item, where in reversed(children))


def _count_before(side: str, data: dict[str, Any]) -> int:
    """Return the number of objects in the sections before ``side``."""
    if side == "long":
        return 0
    count = 0
    stack: list[object] = [data.get("long")]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            count += 1
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return max(count - 1, 0)  # the long section object itself is not a node


def iter_references(node: BaseModel, path: str = "$") -> Iterator[tuple[str, ParamRef]]:
    """Yield every parameter reference in a (part of a) document with its JSON path."""
    for name, field in type(node).model_fields.items():
        key = field.alias or name
        yield from _references_in(getattr(node, name), f"{path}.{key}")


def _references_in(value: object, path: str) -> Iterator[tuple[str, ParamRef]]:
    if isinstance(value, ParamRef):
        yield path, value
    elif isinstance(value, BaseModel):
        yield from iter_references(value, path)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from _references_in(item, f"{path}[{i}]")


def _check_reference(
    path: str, reference: ParamRef, parameters: dict[str, IntParameter | FloatParameter]
) -> None:
    declared = parameters.get(reference.name)
    slot = reference.slot
    if declared is None:
        known = ", ".join(parameters) or "none"
        raise _error(
            "undeclared_parameter",
            path,
            "parameter '{name}' is not declared in parameters (declared: {known})",
            name=reference.name,
            known=known,
        )
    if slot.whole and declared.kind != "int":
        raise _error(
            "parameter_type",
            path,
            "{label} must be a whole number, so parameter '{name}' must have type 'int'",
            name=reference.name,
            label=slot.label,
        )
    if not (slot.contains(declared.min) and slot.contains(declared.max)):
        raise _error(
            "parameter_out_of_range",
            path,
            "parameter '{name}' ranges from {min} to {max}, but {label} must be {expected}",
            name=reference.name,
            min=declared.min,
            max=declared.max,
            label=slot.label,
            expected=slot.describe(),
        )


# --------------------------------------------------------------------------- parsing


def json_path(location: tuple[str | int, ...] | list[str | int]) -> str:
    """Return a pydantic error location as a JSON path (``$.long.entry.all[1]``).

    Union tags (``~...``) and pydantic's ``[key]`` markers are left out.
    """
    path = "$"
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(_TAG) or part == "[key]":
            continue
        elif part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def parse_rules(data: Any) -> RuleDocument:
    """Validate a rule document.

    Args:
        data: The document as parsed JSON (a dict), JSON text or bytes, or a
            :class:`RuleDocument` (returned as it is).

    Returns:
        The validated document.

    Raises:
        RuleError: The first problem, with ``path`` the JSON path of the offending part,
            a stable ``code`` and the ``params`` its message mentions.

    Example:
        >>> parse_rules({"schema": "privatetrade.rules/1", "long": {"entry": {"any": [5]}}})
        Traceback (most recent call last):
        ...
        privatetrade.errors.RuleError: $.long.entry.any[0]: a condition must be an object ...
    """
    if isinstance(data, RuleDocument):
        return data
    if isinstance(data, str | bytes | bytearray):
        data = _load_json(data)
    if not isinstance(data, dict):
        raise RuleError(
            f"$: a rule document must be a JSON object, got {type(data).__name__}",
            code="not_an_object",
        )
    try:
        return RuleDocument.model_validate(data)
    except ValidationError as exc:
        raise rule_error(exc) from None
    except RecursionError:
        raise RuleError("$: the document is nested too deeply", code="too_deep") from None


def _load_json(text: str | bytes | bytearray) -> Any:
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > 4 * MAX_DOCUMENT_BYTES:
        raise RuleError(
            f"$: the document takes {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
            code="document_too_large",
            params={"size": size, "limit": MAX_DOCUMENT_BYTES},
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise RuleError("$: the document is nested too deeply", code="too_deep") from None
    except ValueError as exc:
        raise RuleError(
            f"$: the document is not valid JSON: {exc}",
            code="invalid_json",
            params={"reason": str(exc)},
        ) from None


def rule_error(exc: ValidationError) -> RuleError:
    """Return the RuleError of the first problem pydantic found in a rule document."""
    error = exc.errors(include_url=False)[0]
    ctx = error.get("ctx") or {}
    path = str(ctx["rule_path"]) if "rule_path" in ctx else json_path(list(error["loc"]))
    params: dict[str, str | int | float] = {}
    for name, value in ctx.items():
        if name != "rule_path" and isinstance(value, str | int | float):
            params[name] = value
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    return RuleError(f"{path}: {message}", path=path, code=error["type"], params=params)


def rules_json_schema() -> dict[str, Any]:
    """Return the published JSON Schema of a rule document (draft 2020-12)."""
    schema = RuleDocument.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})
    definitions.pop("_UnknownSeries", None)
    _drop_references(schema, "#/$defs/_UnknownSeries")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = RULES_SCHEMA_ID
    schema["title"] = "privatetrade rule strategy"
    return schema


def _drop_references(node: object, target: str) -> None:
    if isinstance(node, dict):
        for key in ("oneOf", "anyOf"):
            options = node.get(key)
            if isinstance(options, list):
                node[key] = [option for option in options if option != {"$ref": target}]
        mapping = node.get("discriminator", {}).get("mapping") if "discriminator" in node else None
        if isinstance(mapping, dict):
            for name in [name for name, ref in mapping.items() if ref == target]:
                del mapping[name]
        for value in node.values():
            _drop_references(value, target)
    elif isinstance(node, list):
        for value in node:
            _drop_references(value, target)
