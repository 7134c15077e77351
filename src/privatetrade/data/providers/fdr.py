"""FinanceDataReader provider: KRX listings with Korean names, adjusted prices, US stocks.

What FinanceDataReader 0.9.x fetches (read from its source):

* ``StockListing('KRX'|'KOSPI'|'KOSDAQ'|'KONEX')`` (``krx/listing.py``,
  ``KrxMarcapListingCache``): the last KRX trading day from data.krx.co.kr's
  resource bundle (JSON), then FinanceData's CSV snapshot of that day's listing on
  GitHub, read with ``pandas.read_csv`` (urllib).
* ``StockListing('NASDAQ'|'NYSE'|'AMEX')`` (``naver/listing.py``): Naver's world-stock
  API, 60 symbols a page, English names.
* ``DataReader('005930', ...)`` (``naver/data.py``): Naver's chart feed, prices
  adjusted for splits and other capital changes (수정주가). There is no raw series,
  so ``adjusted=False`` is refused for KRX codes: the pykrx provider has raw prices.
* ``DataReader('AAPL', ...)`` (``yahoo/data.py``): Yahoo's chart API; ``Close`` is
  split-adjusted only, ``Adj Close`` also for dividends. ``adjusted=True`` scales open,
  high and low by ``Adj Close / Close``; ``adjusted=False`` keeps Yahoo's split-adjusted
  prices (no unadjusted series exists there).
* ``DataReader('KS11'|'KQ11'|'KS200', ...)`` (``krx/data.py``,
  ``KrxIndexReaderCache``): KOSPI, KOSDAQ and KOSPI 200 from FinanceData's yearly CSV
  files on GitHub (``data/index/year_ks11/2024.csv``), read with ``pandas.read_csv``;
  a year whose file fails to load is skipped silently, so a hole of whole years in
  the answer is reported here as a transient error. ``DataReader('US500', ...)``:
  the S&P 500 (``^GSPC``) from Yahoo's chart API. Index points have one series:
  ``adjusted`` changes nothing.

Example:
    >>> provider = FinanceDataReaderProvider()
    >>> provider.listing(Market.KOSPI)[0].name  # doctest: +SKIP
    '삼성전자'
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from privatetrade.data.indices import IndexListing, provider_index
from privatetrade.data.providers.base import LibraryProvider, import_library, is_krx_code
from privatetrade.data.providers.calls import call_library, describe_request
from privatetrade.data.symbols import Market, SymbolInfo, market_currency, market_timezone
from privatetrade.errors import ProviderError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FinanceDataReaderProvider"]

_KRX_MARKETS = {Market.KOSPI: "STK", Market.KOSDAQ: "KSQ", Market.KONEX: "KNX"}
_MARKET_IDS = {market_id: market for market, market_id in _KRX_MARKETS.items()}
_US_MARKETS = (Market.NYSE, Market.NASDAQ, Market.AMEX)
_PRICE_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
}
# The modules that call requests.get/post; pandas.read_csv (urllib) raises by itself.
_HTTP_MODULES = (
    "FinanceDataReader.krx.listing",
    "FinanceDataReader.naver.data",
    "FinanceDataReader.naver.listing",
    "FinanceDataReader.yahoo.data",
)


class FinanceDataReaderProvider(LibraryProvider):
    """KRX and US data through FinanceDataReader (extra ``privatetrade[fdr]``).

    Takes the retry options of :class:`~.base.LibraryProvider`.
    """

    name = "fdr"
    columns = _PRICE_COLUMNS

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return KRX symbols with Korean names (None: all KRX markets) or a US market's.

        US markets are listed one at a time (each takes dozens of requests).

        Raises:
            ProviderError: Unsupported market, failure, or an empty/malformed listing.
        """
        if market is None or market in _KRX_MARKETS:
            key = "KRX" if market is None else market.value
            frame = self._fetch(lambda fdr: fdr.StockListing(key), f"the {key} listing")
            return _krx_symbols(frame, key)
        if market in _US_MARKETS:
            frame = self._fetch(lambda fdr: fdr.StockListing(market.value), f"the {market} listing")
            return _us_symbols(frame, market)
        raise ProviderError(f"fdr has no listing for market {market}: use KRX or US markets")

    def daily_bars(
        self, code: str, start: dt.date | None, end: dt.date | None, *, adjusted: bool
    ) -> pd.DataFrame:
        """Return daily bars of a KRX code (Naver) or a US ticker (Yahoo).

        Raises:
            ProviderError: ``adjusted=False`` for a KRX code, a failure, or an empty,
                malformed or invalid answer.
        """
        code = code.strip().upper()
        first = start.isoformat() if start is not None else None
        what = describe_request(code, start, end)
        index = provider_index(self.name, code)
        if index is not None:
            return self._index_bars(index, code, start, end)
        if is_krx_code(code):
            if not adjusted:
                raise ProviderError(
                    "fdr serves adjusted KRX prices only (Naver's 수정주가): "
                    "use the pykrx provider for raw prices"
                )
            last = end.isoformat() if end is not None else None
            frame = self._fetch(lambda fdr: fdr.DataReader(code, first, last), what)
            tz = market_timezone(Market.KOSPI)
        else:
            # FinanceDataReader asks Yahoo for bars before midnight of ``end``: add a day.
            after = (end + dt.timedelta(days=1)).isoformat() if end is not None else None
            frame = self._fetch(lambda fdr: fdr.DataReader(code, first, after), what)
            if adjusted:
                frame = _dividend_adjusted(frame, what)
            tz = market_timezone(Market.NYSE)
        return self._finished(frame, code, start, end, tz)

    def _index_bars(
        self, index: IndexListing, code: str, start: dt.date | None, end: dt.date | None
    ) -> pd.DataFrame:
        """Return an index's daily points (KRX: FinanceData's cache; US500: Yahoo)."""
        first = start.isoformat() if start is not None else None
        what = describe_request(code, start, end)
        tz = market_timezone(index.market)
        if tz == market_timezone(Market.KOSPI):
            last = end.isoformat() if end is not None else None
            frame = self._fetch(
                lambda fdr: _whole_years(fdr.DataReader(code, first, last), what), what
            )
        else:  # Yahoo, asked for bars before midnight of the day after ``end``
            after = (end + dt.timedelta(days=1)).isoformat() if end is not None else None
            frame = self._fetch(lambda fdr: fdr.DataReader(code, first, after), what)
        return self._finished(frame, code, start, end, tz)

    def _fetch(self, call: Callable[[ModuleType], Any], what: str) -> Any:
        fdr = import_library("FinanceDataReader", "fdr")
        modules = tuple(importlib.import_module(name) for name in _HTTP_MODULES)
        return self._retried(
            lambda: call_library(
                lambda: call(fdr),
                provider=self.name,
                what=what,
                modules=modules,
                empty_hint=" (unknown code, or no trading day in the range)",
            )
        )


def _columns(frame: Any, required: tuple[str, ...], what: str) -> None:
    missing = [name for name in required if name not in getattr(frame, "columns", ())]
    if missing:
        raise ProviderError(
            f"fdr sent a malformed answer for {what}: no column {', '.join(missing)}"
        )


def _text(value: object) -> str:
    return "" if value is None or value != value else str(value).strip()  # NaN != NaN


def _krx_symbols(frame: Any, key: str) -> list[SymbolInfo]:
    what = f"the {key} listing"
    _columns(frame, ("Code", "Name", "MarketId"), what)
    symbols = []
    for code, name, market_id in zip(frame["Code"], frame["Name"], frame["MarketId"], strict=True):
        market = _MARKET_IDS.get(_text(market_id))
        code, name = _text(code).zfill(6), _text(name)
        if market is None or not is_krx_code(code) or not name:
            raise ProviderError(
                f"fdr sent a malformed row in {what}: code={code!r} name={name!r} "
                f"market={market_id!r}"
            )
        symbols.append(_symbol(code, name, None, market))
    return symbols


def _us_symbols(frame: Any, market: Market) -> list[SymbolInfo]:
    what = f"the {market} listing"
    _columns(frame, ("Symbol", "Name"), what)
    symbols = []
    for code, name in zip(frame["Symbol"], frame["Name"], strict=True):
        code, name = _text(code).upper(), _text(name)
        if not code or not name:
            raise ProviderError(f"fdr sent a malformed row in {what}: {code!r} {name!r}")
        symbols.append(_symbol(code, name, name, market))
    return symbols


def _symbol(code: str, name: str, name_en: str | None, market: Market) -> SymbolInfo:
    krx = market in _KRX_MARKETS
    return SymbolInfo(
        code=code,
        name=name,
        name_en=name_en,
        market=market,
        currency=market_currency(market),
        tick_table="krx" if krx else "us",
        source="fdr",
    )


def _whole_years(frame: Any, what: str) -> Any:
    """Return ``frame`` unless it lacks whole calendar years between its first and last bar.

    FinanceDataReader reads a KRX index one yearly file at a time and skips a file it
    could not read (a timeout, an HTTP error) without a word; the transient error
    raised here makes the provider try again.
    """
    import pandas as pd

    try:
        years = set(pd.DatetimeIndex(frame.index).year)
    except (TypeError, ValueError):
        return frame  # malformed: finish_bars names the problem
    if not years:
        return frame  # empty: call_library says so
    missing = [year for year in range(min(years), max(years) + 1) if year not in years]
    if missing:
        raise ProviderError(
            f"fdr returned {what} without the years {', '.join(map(str, missing))} "
            "(their yearly files could not be read); try again",
            transient=True,
        )
    return frame


def _dividend_adjusted(frame: Any, what: str) -> Any:
    _columns(frame, ("Open", "High", "Low", "Close", "Adj Close"), what)
    adjusted = frame.copy()
    ratio = adjusted["Adj Close"] / adjusted["Close"]
    for column in ("Open", "High", "Low"):
        adjusted[column] = adjusted[column] * ratio
    adjusted["Close"] = adjusted["Adj Close"]
    return adjusted
