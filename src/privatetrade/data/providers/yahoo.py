"""yfinance provider: US tickers, and KRX codes with Yahoo's ``.KS``/``.KQ`` suffixes.

What yfinance 1.x fetches (``data.py``, ``base.py``, ``scrapers/history.py``): a cookie
from fc.yahoo.com and a crumb from ``/v1/test/getcrumb``, then
``/v8/finance/chart/{symbol}?period1=..&period2=..&interval=1d`` (exchange midnights,
``period2`` exclusive). The JSON's ``indicators.quote`` and ``indicators.adjclose``
become the frame, ``meta.exchangeTimezoneName`` its time zone. ``auto_adjust`` (our
``adjusted``) scales open, high and low by ``adjclose / close`` and closes at
``adjclose``; without it prices are Yahoo's, adjusted for splits only.

yfinance logs and swallows HTTP errors (returning an empty frame) and memoizes answers
for past dates, failed ones included. So the provider records the chart answers on its
own HTTP session, and clears yfinance's memo after a failed attempt, so that a retry
asks Yahoo again.

Example:
    >>> bars = YahooProvider().daily_bars("AAPL", None, None, adjusted=True)  # doctest: +SKIP
    >>> str(bars.index.tz)  # doctest: +SKIP
    'America/New_York'
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sys
from typing import TYPE_CHECKING, Any, Unpack

from privatetrade.data.providers.base import (
    LibraryProvider,
    RetryOptions,
    import_library,
    is_krx_code,
)
from privatetrade.data.providers.calls import HttpAnswer, HttpLog, call_library, describe_request
from privatetrade.data.symbols import Market, SymbolInfo, market_timezone
from privatetrade.errors import ProviderError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["YahooProvider", "yahoo_symbol"]

_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
_KRX_SUFFIXES = {Market.KOSPI: ".KS", Market.KOSDAQ: ".KQ"}
_DESCRIPTION = re.compile(r'"description"\s*:\s*"([^"]*)"')


def yahoo_symbol(code: str, market: Market) -> str:
    """Return Yahoo's symbol for a listed code: ``005930.KS``, ``091990.KQ``, ``AAPL``.

    Raises:
        ProviderError: Yahoo has no symbols for the market (KONEX).
    """
    if market == Market.KONEX:
        raise ProviderError(f"Yahoo has no KONEX symbols ({code})")
    return code.upper() + _KRX_SUFFIXES.get(market, "")


def _exchange_zone(symbol: str) -> str:
    krx = symbol.endswith((".KS", ".KQ")) or symbol.startswith(("^KS", "^KQ"))
    return market_timezone(Market.KOSPI if krx else Market.NYSE)


class _ChartAnswers:
    """Wraps a session's ``request`` so each Yahoo chart answer lands in ``log``."""

    def __init__(self, session: Any) -> None:
        self.log = HttpLog()
        self._send = session.request
        session.request = self._request

    def _request(self, *args: Any, **kwargs: Any) -> Any:
        method = str(kwargs.get("method", args[0] if args else "GET"))
        url = str(kwargs.get("url", args[1] if len(args) > 1 else ""))
        if "/finance/chart/" not in url:
            return self._send(*args, **kwargs)
        try:
            response = self._send(*args, **kwargs)
        except Exception as exc:
            self.log.record_exception(method, url, exc)
            raise
        return self.log.record(method, response)


class YahooProvider(LibraryProvider):
    """US and KRX daily bars through yfinance (extra ``privatetrade[yfinance]``).

    Args:
        session: HTTP session for yfinance (a ``curl_cffi`` or ``requests`` Session);
            default: the one yfinance would make. Its ``request`` method gets wrapped.
        timeout: Seconds to wait for Yahoo.
        **retries: ``attempts``, ``base_delay``, ``sleep`` (see :class:`~.base.LibraryProvider`).
    """

    name = "yfinance"
    columns = _COLUMNS

    def __init__(
        self, *, session: Any = None, timeout: float = 30.0, **retries: Unpack[RetryOptions]
    ) -> None:
        super().__init__(**retries)
        self._session = session
        self._answers: _ChartAnswers | None = None
        self._timeout = timeout

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Refuse: Yahoo has no listing API.

        Raises:
            ProviderError: Always; the fdr provider lists KRX and US markets.
        """
        raise ProviderError(
            "yfinance has no symbol listing: use the fdr provider (KRX and US) or pykrx (KRX)"
        )

    def daily_bars(
        self, code: str, start: dt.date | None, end: dt.date | None, *, adjusted: bool
    ) -> pd.DataFrame:
        """Return daily bars of a US ticker or a ``.KS``/``.KQ`` symbol, in the exchange's zone.

        Raises:
            ProviderError: A KRX code without suffix, a failure, or an empty, malformed
                or invalid answer.
        """
        symbol = code.strip().upper()
        if is_krx_code(symbol):
            raise ProviderError(
                f"yfinance needs the exchange suffix of a KRX code: {symbol}.KS (KOSPI) "
                f"or {symbol}.KQ (KOSDAQ)"
            )
        yf = import_library("yfinance", "yfinance")
        answers = self._chart_answers()
        what = describe_request(symbol, start, end)

        def attempt() -> Any:
            answers.log = HttpLog()
            try:
                return call_library(
                    lambda: self._history(yf, symbol, start, end, adjusted),
                    provider=self.name,
                    what=what,
                    log=answers.log,
                    explain=_yahoo_reason,
                    empty_hint=" (unknown or delisted symbol, or no trading day in the range)",
                )
            except ProviderError:
                _forget_memoized_answers()
                raise

        return self._finished(self._retried(attempt), symbol, start, end, tz=None)

    def _chart_answers(self) -> _ChartAnswers:
        if self._answers is None:
            if self._session is None:
                self._session = _new_session()
            self._answers = _ChartAnswers(self._session)
        return self._answers

    def _history(
        self, yf: Any, symbol: str, start: dt.date | None, end: dt.date | None, adjusted: bool
    ) -> Any:
        ticker = yf.Ticker(symbol, session=self._session)
        # The zone only turns our dates into request times; presetting it skips
        # yfinance's extra time-zone request (and its quote-summary fallback).
        ticker._tz = _exchange_zone(symbol)
        options: dict[str, object] = {"interval": "1d", "auto_adjust": adjusted}
        options.update(actions=False, timeout=self._timeout)
        if start is None:
            options["period"] = "max"
        else:
            options["start"] = start.isoformat()
        if end is not None:  # yfinance's end is exclusive
            options["end"] = (end + dt.timedelta(days=1)).isoformat()
        return ticker.history(**options)


def _new_session() -> Any:
    """Return the session yfinance makes itself: curl_cffi impersonating Chrome, or requests."""
    try:
        return importlib.import_module("curl_cffi.requests").Session(impersonate="chrome")
    except ImportError:
        return importlib.import_module("requests").Session()


def _forget_memoized_answers() -> None:
    """Clear yfinance's memo of chart answers (``YfData.cache_get``, an lru_cache)."""
    data = sys.modules.get("yfinance.data")
    clear = getattr(getattr(getattr(data, "YfData", None), "cache_get", None), "cache_clear", None)
    if callable(clear):
        clear()


def _yahoo_reason(answer: HttpAnswer) -> str:
    found = _DESCRIPTION.search(answer.excerpt)
    return f"Yahoo says: {found.group(1)}" if found else ""
