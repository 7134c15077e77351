"""What the catalog knows about a symbol (a domain object, no storage)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from privatetrade.errors import InputError

__all__ = [
    "Market",
    "SymbolInfo",
    "SymbolKind",
    "market_currency",
    "market_timezone",
    "parse_market",
]


class Market(StrEnum):
    """Where a symbol is listed."""

    KOSPI = "KOSPI"
    KOSDAQ = "KOSDAQ"
    KONEX = "KONEX"
    NYSE = "NYSE"
    NASDAQ = "NASDAQ"
    AMEX = "AMEX"
    OTHER = "OTHER"


_KRX = {Market.KOSPI, Market.KOSDAQ, Market.KONEX}


class SymbolKind(StrEnum):
    """What a symbol is: a tradable stock (or fund), or a market index (a benchmark only)."""

    STOCK = "stock"
    INDEX = "index"


def parse_market(value: Market | str) -> Market:
    """Return the market named ``value`` (any case).

    Raises:
        InputError: No market has that name; the message lists them.
    """
    try:
        return Market(str(value).upper())
    except ValueError as exc:
        choices = ", ".join(member.value for member in Market)
        message = f"unknown market {value!r}; use one of {choices}"
        raise InputError(message, field="market") from exc


def market_timezone(market: Market) -> str:
    """Return the IANA time zone of the market's exchange."""
    return "Asia/Seoul" if market in _KRX else "America/New_York"


def market_currency(market: Market) -> str:
    """Return the quote currency of the market."""
    return "KRW" if market in _KRX else "USD"


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One listed (or delisted) instrument.

    Attributes:
        code: Exchange code, e.g. ``005930`` or ``AAPL``.
        name: Name in the market's language (Korean for KRX symbols).
        name_en: English name, when known.
        market: Listing market.
        currency: Quote currency (KRW, USD).
        lot_size: Trading unit in shares.
        tick_table: Cost-model tick table: ``krx``, ``us`` or ``none``.
        status: ``listed`` or ``delisted``.
        source: Where the listing came from (``sample``, ``synthetic``, ``fdr``, ``csv``...).
        synthetic: True for generated demo data (never a real company).
        first_bar: First stored bar date, None without stored bars.
        last_bar: Last stored bar date.
        bar_count: Number of stored bars.
        adjusted: Which price series are stored: subset of ``raw``/``adjusted``.
        kind: ``stock`` (tradable) or ``index`` (index points: a benchmark, not traded).
    """

    code: str
    name: str
    market: Market
    name_en: str | None = None
    currency: str = "KRW"
    lot_size: int = 1
    tick_table: str = "krx"
    status: str = "listed"
    source: str = "unknown"
    synthetic: bool = False
    first_bar: dt.date | None = None
    last_bar: dt.date | None = None
    bar_count: int = 0
    adjusted: tuple[str, ...] = field(default_factory=tuple)
    kind: SymbolKind = SymbolKind.STOCK

    @property
    def is_index(self) -> bool:
        """True for a market index (benchmark only, never traded)."""
        return self.kind == SymbolKind.INDEX

    @property
    def timezone(self) -> str:
        """IANA time zone of the exchange."""
        return market_timezone(self.market)
