"""Series of a rule document: price columns and indicators, and the operands they make.

A series is chosen by its ``indicator`` key (or ``price``); an unknown indicator is
refused with an error naming that field and the known ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Tag
from pydantic_core import PydanticCustomError

from privatetrade.engine.rules.nodes import Node, tags_by_type
from privatetrade.engine.rules.numbers import BandWidth, Count, Level, RangeFraction

__all__ = [
    "AtrSeries",
    "AverageSeries",
    "BollingerSeries",
    "DonchianSeries",
    "MacdSeries",
    "Operand",
    "PreviousSeries",
    "PriceSeries",
    "RangeBreakoutSeries",
    "Series",
    "VolumeAverageSeries",
]

PriceName = Literal["open", "high", "low", "close", "volume"]


class PriceSeries(Node):
    """A price column of the bars."""

    price: PriceName


class AverageSeries(Node):
    """SMA, EMA, WMA, RSI or rate of change of a series over ``period`` bars."""

    indicator: Literal["sma", "ema", "wma", "rsi", "roc"]
    source: Series
    period: Count


class MacdSeries(Node):
    """A part of the MACD of a series."""

    indicator: Literal["macd"]
    source: Series
    fast: Count
    slow: Count
    signal: Count
    output: Literal["line", "signal", "histogram"]


class BollingerSeries(Node):
    """A Bollinger band of a series."""

    indicator: Literal["bollinger"]
    source: Series
    period: Count
    k: BandWidth
    band: Literal["upper", "middle", "lower"]


class AtrSeries(Node):
    """Wilder's average true range."""

    indicator: Literal["atr"]
    period: Count


class DonchianSeries(Node):
    """Highest high or lowest low of the ``period`` bars ending at each bar."""

    indicator: Literal["donchian"]
    period: Count
    band: Literal["upper", "lower"]


class VolumeAverageSeries(Node):
    """Simple average of the volume."""

    indicator: Literal["volume_average"]
    period: Count


class PreviousSeries(Node):
    """A series' value ``bars`` bars ago."""

    indicator: Literal["previous"]
    source: Series
    bars: Count


class RangeBreakoutSeries(Node):
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
    if isinstance(value, Node):
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

_SERIES_TAG_OF = tags_by_type(Series)


def _operand_tag(value: object) -> str:
    return "~series" if isinstance(value, dict | BaseModel) else "~number"


Operand = Annotated[
    Annotated[Level, Tag("~number")] | Annotated[Series, Tag("~series")],
    Discriminator(_operand_tag),
]
"""A number (a constant series), a parameter reference or a series."""

for _model in (AverageSeries, MacdSeries, BollingerSeries, PreviousSeries):
    _model.model_rebuild()
