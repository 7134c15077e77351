"""Fetch bars from providers into the store: first fetches and incremental updates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, market_currency
from privatetrade.errors import InputError, ProviderError

__all__ = ["fetch_symbols", "update_symbols"]

Echo = Callable[[str], None]
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
) -> list[SymbolInfo]:
    """Fetch ``codes`` from ``provider`` and merge them into the store.

    New symbols are named from the provider's listing when it has one.

    Raises:
        ProviderError: The provider failed (after retries) or answered empty.
    """
    from privatetrade.data.providers.base import provider_for, with_retries

    source = provider_for(provider)
    kind = PriceKind.ADJUSTED if adjusted else PriceKind.RAW
    wanted = [code.upper() for code in codes]
    if not wanted:
        raise InputError("name at least one symbol to fetch", field="codes")
    listing: dict[str, SymbolInfo] = {}
    if any(code not in data.catalog for code in wanted):
        try:
            listing = {s.code: s for s in with_retries(lambda: source.listing(market))}
        except ProviderError as exc:
            echo(f"note: no listing from {provider} ({exc}); new symbols are named by code")
    fetched = []
    for code in wanted:
        symbol = data.catalog.get(code) if code in data.catalog else None
        symbol = symbol or _named(_new_symbol(code, market, provider), listing)
        frame = with_retries(
            functools.partial(source.daily_bars, code, start, end, adjusted=adjusted)
        )
        saved = data.save_bars(symbol, frame, kind=kind, merge=True)
        echo(f"{code}: {len(frame):,} bars fetched; stored {saved.first_bar} → {saved.last_bar}")
        fetched.append(saved)
    return fetched


def update_symbols(
    data: MarketData,
    codes: list[str],
    *,
    provider: str,
    echo: Echo,
    today: dt.date | None = None,
) -> None:
    """Fetch only the bars after each symbol's last stored bar."""
    from privatetrade.data.providers.base import provider_for, with_retries

    source = provider_for(provider)
    symbols = (
        [data.catalog.get(code) for code in codes]
        if codes
        else [s for s in data.catalog.all() if s.source == provider]
    )
    if not symbols:
        echo(f"nothing to update: no symbols fetched from {provider}")
        return
    last_day = today or dt.date.today()
    for symbol in symbols:
        start = (symbol.last_bar or dt.date(1990, 1, 1)) + dt.timedelta(days=1)
        if start > last_day:
            echo(f"{symbol.code}: up to date ({symbol.last_bar})")
            continue
        for kind in [PriceKind(k) for k in symbol.adjusted] or [PriceKind.RAW]:
            adjusted = kind is PriceKind.ADJUSTED
            request = functools.partial(
                source.daily_bars, symbol.code, start, last_day, adjusted=adjusted
            )
            try:
                frame = with_retries(request)
            except ProviderError as exc:
                if exc.transient:
                    raise
                echo(f"{symbol.code}: no new {kind.value} bars since {symbol.last_bar} ({exc})")
                continue
            saved = data.save_bars(symbol, frame, kind=kind, merge=True)
            echo(f"{symbol.code}: +{len(frame):,} {kind.value} bars, now to {saved.last_bar}")
