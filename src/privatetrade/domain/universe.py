"""A universe of symbols: an explicit list of codes, or every symbol of a market with data.

The fields shared by the specs that run over several symbols (a universe scan, a
portfolio): ``symbols`` or ``market`` (exactly one), and the period. Which symbols a
market means is decided when the spec is planned, from the catalog
(:mod:`privatetrade.plans.universe`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from privatetrade.domain.specs import SymbolCode, canonical_spec_json
from privatetrade.engine.limits import IsoDate
from privatetrade.engine.portfolio.rules import MAX_PORTFOLIO_SYMBOLS

__all__ = ["MARKETS", "MAX_UNIVERSE_SYMBOLS", "MarketName", "UniverseSpec"]

MAX_UNIVERSE_SYMBOLS = MAX_PORTFOLIO_SYMBOLS
"""Most symbols a universe can list (the server's setting may allow fewer)."""

MarketName = Literal["KOSPI", "KOSDAQ", "KONEX", "NYSE", "NASDAQ", "AMEX", "OTHER"]
MARKETS: tuple[str, ...] = get_args(MarketName)


class UniverseSpec(BaseModel):
    """The universe and period of a run over several symbols.

    Attributes:
        market: Every stock of this market (``KOSPI``, ``KOSDAQ``, ``NASDAQ``, ...)
            with stored prices over the period; or None with ``symbols``.
        symbols: Catalog codes, in the order results list them (1 to 2,000, no
            repeats); or None with ``market``.
        start: First local trading date; each symbol's first stored bar if None.
        end: Last local trading date; each symbol's last stored bar if None.
        adjusted: Adjusted prices (the default; raw ones, flagged, for a symbol
            without them) or raw prices, as traded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: MarketName | None = None
    symbols: (
        Annotated[list[SymbolCode], Field(min_length=1, max_length=MAX_UNIVERSE_SYMBOLS)] | None
    ) = Field(None, validate_default=True)
    start: IsoDate | None = None
    end: IsoDate | None = None
    adjusted: bool = True

    @field_validator("market", mode="before")
    @classmethod
    def _market_in_capitals(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("symbols")
    @classmethod
    def _symbols_once(cls, symbols: list[str] | None, info: ValidationInfo) -> list[str] | None:
        market = info.data.get("market")
        if (symbols is None) == (market is None) and "market" in info.data:
            if symbols is not None:
                raise PydanticCustomError(
                    "symbols_and_market", "give either symbols or a market (not both)"
                )
            raise PydanticCustomError(
                "symbols_or_market", "give either symbols or a market (one of them)"
            )
        if symbols is None:
            return None
        seen: set[str] = set()
        for code in symbols:
            if code.upper() in seen:
                raise PydanticCustomError(
                    "listed_twice", "{symbol} is listed twice", {"symbol": code}
                )
            seen.add(code.upper())
        return symbols

    @field_validator("end")
    @classmethod
    def _dates_in_order(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if start is not None and end is not None and start > end:
            raise PydanticCustomError("start_after_end", "start must not be after end")
        return end

    def canonical_json(self) -> str:
        """Return the spec as canonical JSON (sorted keys, no spaces; ``rules`` only when set)."""
        return canonical_spec_json(self)

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of the canonical JSON: equal specs, equal ids."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def label(self) -> str:
        """What listings show as the symbol: the market, or the first code (+ how many more).

        At most 32 characters (the listing column's width).
        """
        if self.symbols is None:
            return str(self.market)
        more = len(self.symbols) - 1
        return self.symbols[0] if more == 0 else f"{self.symbols[0][:24]} +{more}"
