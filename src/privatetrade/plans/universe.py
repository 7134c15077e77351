"""Which symbols a universe means: the listed codes, or a market's stocks with data.

A scan and a portfolio both resolve their universe here, at submit time and again in
the worker, so both see the same symbols: ``symbols`` are looked up in the catalog
(unknown codes and indices refused), ``market`` is every stock of that market whose
stored prices overlap the period. One quote currency per universe; at most the
caller's limit of symbols.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.universe import MAX_UNIVERSE_SYMBOLS, UniverseSpec
from privatetrade.errors import InputError
from privatetrade.plans.backtest import PriceSeries

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData

__all__ = ["Member", "Universe", "resolve_universe"]


@dataclass(frozen=True, slots=True)
class Member:
    """One symbol of a universe and the prices a run reads for it.

    Attributes:
        symbol: The catalog entry.
        series: Adjusted or raw prices (and whether raw ones stand in for adjusted);
            None when the prices asked for are not stored.
    """

    symbol: SymbolInfo
    series: PriceSeries | None

    @property
    def code(self) -> str:
        """The catalog code."""
        return self.symbol.code


@dataclass(frozen=True, slots=True)
class Universe:
    """The resolved symbols of a universe, in order, and their quote currency."""

    members: tuple[Member, ...]
    currency: str

    @property
    def codes(self) -> list[str]:
        """The symbols' catalog codes, in order."""
        return [member.code for member in self.members]

    def __len__(self) -> int:
        return len(self.members)


def resolve_universe(
    spec: UniverseSpec, data: MarketData, *, max_symbols: int | None = None
) -> Universe:
    """Resolve ``spec.symbols`` or ``spec.market`` on the catalog.

    Explicit symbols keep their order (codes as the catalog spells them); a market's
    stocks are sorted by code. A listed symbol without the prices asked for is kept
    (with ``series`` None): the caller decides whether that is an error.

    Raises:
        InputError: An unknown code, an index, more than one quote currency or more
            symbols than ``max_symbols`` (``field`` is ``symbols``); a market without
            a stock with prices over the period, or with too many (``field`` is
            ``market``).
    """
    limit = min(max_symbols or MAX_UNIVERSE_SYMBOLS, MAX_UNIVERSE_SYMBOLS)
    data.ensure_samples()
    if spec.symbols is not None:
        if len(spec.symbols) > limit:
            raise InputError(
                f"symbols: {len(spec.symbols):,} symbols; the limit is {limit:,}",
                field="symbols",
                code="too_many_symbols",
                params={"count": len(spec.symbols), "limit": limit},
            )
        members = [_listed(data, code, spec.adjusted) for code in spec.symbols]
        field = "symbols"
    else:
        members = _market_members(data, Market(str(spec.market)), spec)
        field = "market"
        if len(members) > limit:
            raise InputError(
                f"market: {len(members):,} {spec.market} stocks have prices over the period; "
                f"the limit is {limit:,} (list the symbols you want instead, or shorten "
                "the period)",
                field="market",
                code="market_too_many_symbols",
                params={"count": len(members), "market": str(spec.market), "limit": limit},
            )
    currency = _one_currency(members, field)
    return Universe(tuple(members), currency)


def _listed(data: MarketData, code: str, adjusted: bool) -> Member:
    try:
        symbol = data.catalog.get(code)  # the samples were ensured once, by the caller
    except InputError as exc:
        raise InputError(f"symbols: {exc}", field="symbols") from exc
    if symbol.is_index:
        raise InputError(
            f"symbols: {symbol.code} ({symbol.name}) is a market index, not a tradable stock; "
            "use it as the benchmark",
            field="symbols",
            code="symbol_is_index",
            params={"symbol": symbol.code},
        )
    return Member(symbol, series_of(data, symbol, adjusted))


def series_of(data: MarketData, symbol: SymbolInfo, adjusted: bool) -> PriceSeries | None:
    """The prices a run reads for ``symbol``, as :func:`~privatetrade.plans.backtest.price_series`.

    Adjusted ones (or raw ones standing in, ``fallback``), or raw ones; None if not stored.
    """
    if data.series_for(symbol, adjusted=adjusted) is not None:
        return PriceSeries(adjusted=adjusted)
    if adjusted and data.series_for(symbol, adjusted=False) is not None:
        return PriceSeries(adjusted=False, fallback=True)
    return None


def _market_members(data: MarketData, market: Market, spec: UniverseSpec) -> list[Member]:
    members = []
    for symbol in data.catalog.all(market):
        if symbol.is_index or not _covers(symbol, spec.start, spec.end):
            continue
        series = series_of(data, symbol, spec.adjusted)
        if series is not None:
            members.append(Member(symbol, series))
    if not members:
        first = "the first bar" if spec.start is None else spec.start.isoformat()
        last = "the last bar" if spec.end is None else spec.end.isoformat()
        raise InputError(
            f"market: no {market.value} stock has stored prices between {first} and {last}",
            field="market",
            code="market_without_prices",
            params={"market": market.value},
        )
    return members


def _covers(symbol: SymbolInfo, start: dt.date | None, end: dt.date | None) -> bool:
    """Whether the symbol's stored bars overlap ``[start, end]`` (from the catalog)."""
    if symbol.bar_count <= 0 or symbol.first_bar is None or symbol.last_bar is None:
        return False
    if end is not None and symbol.first_bar > end:
        return False
    return not (start is not None and symbol.last_bar < start)


def _one_currency(members: list[Member], field: str) -> str:
    currencies: dict[str, str] = {}
    for member in members:
        currencies.setdefault(member.symbol.currency, member.code)
    if len(currencies) > 1:
        listed = ", ".join(f"{code} is {currency}" for currency, code in currencies.items())
        raise InputError(
            f"{field}: one quote currency per universe ({listed}); run them separately",
            field=field,
            code="mixed_currencies",
            params={"currencies": ", ".join(currencies)},
        )
    return next(iter(currencies))
