"""Fetch bars from providers into the store: first fetches and incremental updates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, market_currency
from privatetrade.errors import InputError, ProviderError

if TYPE_CHECKING:
    from privatetrade.data.providers.base import Provider

__all__ = ["fetch_symbols", "update_symbols"]

Echo = Callable[[str], None]
Progress = Callable[[int, int], None]  # (symbols done, symbols in total)
_KRX_CODE = re.compile(r"^\d{6}$")


def _guess_market(code: str) -> Market:
    return Market.KOSPI if _KRX_CODE.match(code) else Market.NASDAQ


def _new_symbol(code: str, market: Market | None, source: str) -> SymbolInfo:
    chosen = market or _guess_market(code)
    krx = chosen in (Market.KOSPI, Market.KOSDAQ, Market.KONEX)
    return SymbolInfo(
        code=code.upper(),
        name=code.upper(),
        market=chosen,
        currency=market_currency(chosen),
        tick_table="krx" if krx else "us",
        source=source,
    )


def _named(symbol: SymbolInfo, listing: dict[str, SymbolInfo]) -> SymbolInfo:
    listed = listing.get(symbol.code)
    if listed is None:
        return symbol
    return dataclasses.replace(listed, source=symbol.source)


def _provider_code(source: Provider, symbol: SymbolInfo) -> str:
    """Return the code the provider knows ``symbol`` by (Yahoo: ``005930.KS``)."""
    if source.name == "yfinance":
        from privatetrade.data.providers.yahoo import yahoo_symbol

        return yahoo_symbol(symbol.code, symbol.market)
    return symbol.code


def fetch_symbols(
    data: MarketData,
    codes: Iterable[str],
    *,
    provider: str,
    start: dt.date | None,
    end: dt.date | None,
    adjusted: bool,
    market: Market | None,
    echo: Echo,
    progress: Progress | None = None,
) -> list[SymbolInfo]:
    """Fetch ``codes`` from ``provider`` and merge them into the store.

    New symbols are named from the provider's listing when it has one. Providers
    retry transient failures themselves.

    Raises:
        ProviderError: The provider failed (after its retries) or answered empty.
    """
    from privatetrade.data.providers.base import provider_for

    source = provider_for(provider)
    kind = PriceKind.ADJUSTED if adjusted else PriceKind.RAW
    wanted = [code.upper() for code in codes]
    if not wanted:
        raise InputError("name at least one symbol to fetch", field="codes")
    listing: dict[str, SymbolInfo] = {}
    if any(code not in data.catalog for code in wanted):
        try:
            listing = {s.code: s for s in source.listing(market)}
        except ProviderError as exc:
            echo(f"note: no listing from {source.name} ({exc}); new symbols are named by code")
    fetched = []
    for code in wanted:
        known = data.catalog.get(code) if code in data.catalog else None
        symbol = known or _named(_new_symbol(code, market, source.name), listing)
        frame = source.daily_bars(_provider_code(source, symbol), start, end, adjusted=adjusted)
        saved = data.save_bars(symbol, frame, kind=kind, merge=True)
        echo(f"{code}: {len(frame):,} bars fetched; stored {saved.first_bar} → {saved.last_bar}")
        fetched.append(saved)
        if progress is not None:
            progress(len(fetched), len(wanted))
    return fetched


def update_symbols(
    data: MarketData,
    codes: list[str],
    *,
    provider: str,
    echo: Echo,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> None:
    """Fetch only the bars after each symbol's last stored bar."""
    from privatetrade.data.providers.base import provider_for

    source = provider_for(provider)
    symbols = (
        [data.catalog.get(code) for code in codes]
        if codes
        else [s for s in data.catalog.all() if s.source == source.name]
    )
    if not symbols:
        echo(f"nothing to update: no symbols fetched from {source.name}")
        return
    last_day = today or dt.date.today()
    for done, symbol in enumerate(symbols, start=1):
        if progress is not None:
            progress(done - 1, len(symbols))
        start = (symbol.last_bar or dt.date(1990, 1, 1)) + dt.timedelta(days=1)
        if start > last_day:
            echo(f"{symbol.code}: up to date ({symbol.last_bar})")
            continue
        for kind in [PriceKind(k) for k in symbol.adjusted] or [PriceKind.RAW]:
            code = _provider_code(source, symbol)
            try:
                frame = source.daily_bars(
                    code, start, last_day, adjusted=kind is PriceKind.ADJUSTED
                )
            except ProviderError as exc:
                if exc.transient:
                    raise
                echo(f"{symbol.code}: no new {kind.value} bars since {symbol.last_bar} ({exc})")
                continue
            saved = data.save_bars(symbol, frame, kind=kind, merge=True)
            echo(f"{symbol.code}: +{len(frame):,} {kind.value} bars, now to {saved.last_bar}")
