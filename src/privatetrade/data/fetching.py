"""Fetch bars from providers into the store: first fetches and incremental updates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, market_currency, market_timezone
from privatetrade.errors import DataError, InputError, ProviderError

if TYPE_CHECKING:
    from privatetrade.data.providers.base import Provider

__all__ = [
    "SeriesUpdate",
    "SymbolUpdate",
    "check_fetchable",
    "fetch_symbols",
    "update_symbol",
    "update_symbols",
]

Echo = Callable[[str], None]
Progress = Callable[[int, int], None]  # (symbols done, symbols in total)
_KRX_CODE = re.compile(r"^\d{6}$")


def _guess_market(code: str) -> Market:
    return Market.KOSPI if _KRX_CODE.match(code) else Market.NASDAQ


def _new_symbol(code: str, market: Market | None, source: str) -> SymbolInfo:
    from privatetrade.data.indices import find_index

    index = find_index(code)
    if index is not None:  # KOSPI, KS11, ^GSPC ...: the index under its stored code
        return index.symbol(source)
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
    if listed is None or symbol.is_index:
        return symbol
    return dataclasses.replace(listed, source=symbol.source)


def _provider_code(source: Provider, symbol: SymbolInfo) -> str:
    """Return the code the provider knows ``symbol`` by (Yahoo: ``005930.KS``, ``^KS11``)."""
    if symbol.is_index:
        from privatetrade.data.indices import find_index, provider_index_code

        index = find_index(symbol.code)
        if index is None:
            raise ProviderError(f"{symbol.code} is an index no provider serves")
        return provider_index_code(index, source.name)
    if source.name == "yfinance":
        from privatetrade.data.providers.yahoo import yahoo_symbol

        return yahoo_symbol(symbol.code, symbol.market)
    return symbol.code


def _is_index_code(code: str) -> bool:
    from privatetrade.data.indices import find_index

    return find_index(code) is not None


def _stored_code(code: str) -> str:
    """Return the code ``code`` is stored as: an index's own (``KS11`` -> ``KOSPI``)."""
    from privatetrade.data.indices import find_index

    index = find_index(code)
    return index.code if index is not None else code.strip().upper()


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
    wanted = [_stored_code(code) for code in codes]
    if not wanted:
        raise InputError("name at least one symbol to fetch", field="codes")
    listing: dict[str, SymbolInfo] = {}
    if any(code not in data.catalog and not _is_index_code(code) for code in wanted):
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


# ---------------------------------------------------------------- one symbol at a time

_US_TICKER = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
_KRX_ONLY_PROVIDERS = frozenset({"pykrx"})
_OFFLINE_SOURCES = frozenset({"sample", "synthetic"})
_KRX_MARKETS = frozenset({Market.KOSPI, Market.KOSDAQ, Market.KONEX})


@dataclass(frozen=True, slots=True)
class SeriesUpdate:
    """What an update did to one series (adjusted or raw) of one symbol.

    Attributes:
        series: Which series.
        new_bars: Bars added (0 when up to date or failed).
        last_bar: The series' last stored bar afterwards (None: nothing stored).
        error: Why it failed, or None.
    """

    series: PriceKind
    new_bars: int = 0
    last_bar: dt.date | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SymbolUpdate:
    """What an update did to one symbol: one entry per series it touched."""

    code: str
    series: tuple[SeriesUpdate, ...]

    @property
    def new_bars(self) -> int:
        """Bars added over all series."""
        return sum(item.new_bars for item in self.series)

    @property
    def errors(self) -> list[str]:
        """The failures, each prefixed by its series."""
        return [f"{item.series.value}: {item.error}" for item in self.series if item.error]


def check_fetchable(data: MarketData, provider: str, code: str) -> None:
    """Check that ``provider`` can bring bars of ``code`` (stored or not).

    A stored symbol must not be generated demo data; a code that is not stored must
    look like a KRX code (``005930``) or, for a provider with US data, a US ticker, or
    name a benchmark index (``KOSPI``, ``KS11``; see :mod:`privatetrade.data.indices`).

    Raises:
        InputError: ``field`` is ``symbols``.
    """
    from privatetrade.data.providers.base import is_krx_code

    if code in data.catalog:
        symbol = data.catalog.get(code)
        if symbol.synthetic or symbol.source in _OFFLINE_SOURCES:
            raise InputError(
                f"{symbol.code} holds offline {symbol.source} data, not fetched from a "
                "provider: delete it first to fetch real prices under that code",
                field="symbols",
            )
        if provider in _KRX_ONLY_PROVIDERS and symbol.market not in _KRX_MARKETS:
            raise InputError(
                f"{symbol.code} is listed on {symbol.market}: {provider} has KRX data only",
                field="symbols",
            )
        return
    if is_krx_code(code) or _is_index_code(code):
        return
    if _US_TICKER.fullmatch(code) and provider not in _KRX_ONLY_PROVIDERS:
        return
    where = "a KRX code" if provider in _KRX_ONLY_PROVIDERS else "a KRX code or a US ticker"
    raise InputError(
        f"{code!r} is not stored and is not {where} that {provider} can fetch "
        "(KRX codes have six characters, e.g. 005930; US tickers look like AAPL)",
        field="symbols",
    )


def update_symbol(
    data: MarketData,
    source: Provider,
    code: str,
    *,
    now: dt.datetime,
    series: Sequence[PriceKind] | None = None,
    start: dt.date | None = None,
    listing: Mapping[str, SymbolInfo] | None = None,
) -> SymbolUpdate:
    """Bring one symbol's series up to the last session that had closed by ``now``.

    Each series is fetched from ``start``, or from the day after its last stored bar
    (a series not stored yet: as far back as the provider goes), and merged into the
    store. A series whose last bar is already the last closed session is not asked
    for. A failure of one series is recorded in its entry, never raised, so that the
    caller goes on with the next symbol.

    Args:
        data: The market data to update.
        source: The provider.
        code: A stored symbol, or a new code (named from ``listing`` if it is there).
        now: The current time (aware); bars of sessions still trading are never fetched.
        series: Which series; None: the ones the symbol stores (a new one: adjusted).
        start: First day to fetch, or None.
        listing: The provider's listing by code, to name new symbols.
    """
    known = data.catalog.get(code) if code in data.catalog else None
    symbol = known or _named(_new_symbol(code, None, source.name), dict(listing or {}))
    kinds = list(series or ()) or [PriceKind(k) for k in symbol.adjusted] or [PriceKind.ADJUSTED]
    last = _last_closed_day(symbol.market, now)
    done = []
    for kind in kinds:
        done.append(_update_series(data, source, symbol, kind, start, last))
        if symbol.code in data.catalog:
            symbol = data.catalog.get(symbol.code)
    return SymbolUpdate(symbol.code, tuple(done))


def _last_closed_day(market: Market, now: dt.datetime) -> dt.date:
    from privatetrade.data.calendar import calendar_for_market
    from privatetrade.data.schedule import last_closed_session

    calendar = calendar_for_market(market)
    closed = None if calendar is None else last_closed_session(calendar, now)
    if closed is not None:
        return closed
    return now.astimezone(ZoneInfo(market_timezone(market))).date() - dt.timedelta(days=1)


def _update_series(
    data: MarketData,
    source: Provider,
    symbol: SymbolInfo,
    kind: PriceKind,
    start: dt.date | None,
    last: dt.date,
) -> SeriesUpdate:
    before = data.store.coverage(symbol.code, kind)
    first = start
    if first is None and before is not None:
        first = before.last_bar + dt.timedelta(days=1)
    if first is not None and first > last:
        return SeriesUpdate(kind, 0, before.last_bar if before else None)
    try:
        frame = source.daily_bars(
            _provider_code(source, symbol), first, last, adjusted=kind is PriceKind.ADJUSTED
        )
        data.save_bars(symbol, frame, kind=kind, merge=True)
    except (DataError, InputError) as exc:
        return SeriesUpdate(kind, 0, before.last_bar if before else None, str(exc))
    after = data.store.coverage(symbol.code, kind)
    added = (after.bar_count if after else 0) - (before.bar_count if before else 0)
    return SeriesUpdate(kind, max(added, 0), after.last_bar if after else None)
