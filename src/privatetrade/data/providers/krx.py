"""pykrx provider: raw (and adjusted) KRX daily prices and KRX listings.

What pykrx 1.2.9 fetches (``stock/stock_api.py``, ``website/krx/krxio.py``):
``get_market_ohlcv(start, end, code, adjusted=False)`` posts ``MDCSTAT01701`` to
``https://data.krx.co.kr/comm/bldAttendant/getJsonData.cmd`` (raw prices, after looking
up the code's ISIN in KRX's finder lists ``finder_stkisu``/``finder_listdelisu``);
``adjusted=True`` reads Naver's chart feed instead. ``get_market_ticker_list(day,
market)`` posts ``MDCSTAT01501`` and ``get_market_ticker_name`` reads the finder lists.
``get_index_ohlcv_by_date(start, end, ticker)`` posts ``MDCSTAT00301`` (``indIdx`` =
the ticker's first digit, ``indIdx2`` = the rest) for an index's daily points: tickers
``1001`` KOSPI, ``2001`` KOSDAQ, ``1028`` KOSPI 200 (the data.krx.co.kr login applies).
All columns are Korean: 시가 (open), 고가 (high), 저가 (low), 종가 (close), 거래량 (volume).

data.krx.co.kr answers ``HTTP 400 LOGOUT`` without a logged-in session (since the end
of 2025). pykrx logs in at import time (``website/comm/webio.py`` calls
``auth.build_krx_session``, which prints the user ID) and sends every KRX request
through the session in ``auth._auth_session``. This module instead imports pykrx with
``KRX_ID``/``KRX_PW`` hidden and its output discarded, logs in itself with pykrx's
``auth.login_krx`` on a session that records the answers and bounds the waits, and
installs that session with ``auth.set_auth_session``. The credentials are read from
the environment at login and passed only to ``login_krx``: never logged or stored.

pykrx turns most failures into an empty DataFrame and a ``print`` (discarded); the
recorded answers say what happened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib
import io
import os
import re
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Unpack
from zoneinfo import ZoneInfo

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

__all__ = ["PykrxProvider"]

_SEOUL = ZoneInfo("Asia/Seoul")
_EARLIEST = dt.date(1990, 1, 1)
_KRX_MARKETS = (Market.KOSPI, Market.KOSDAQ, Market.KONEX)
_COLUMNS = {"시가": "open", "고가": "high", "저가": "low", "종가": "close", "거래량": "volume"}
_CREDENTIALS = ("KRX_ID", "KRX_PW")
_INDEX_TICKER = re.compile(r"\d{4}")  # KRX index tickers: 1001 KOSPI, 1028 KOSPI 200
_TIMEOUT = 30.0  # seconds per request; pykrx sets none
_LOCK = threading.RLock()  # pykrx's session is process-wide


def _seoul_today() -> dt.date:
    return dt.datetime.now(_SEOUL).date()


class _Recorder:
    """Response hook of the login session: records answers into the current log."""

    def __init__(self) -> None:
        self.log: HttpLog | None = None
        self.login_error = ""

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        if self.log is not None:
            self.log.record(str(response.request.method), response)
        if str(response.url).split("?", 1)[0] == _auth().LOGIN_URL:
            with contextlib.suppress(Exception):
                self.login_error = str(response.json().get("_error_code", ""))[:20]


_RECORDER = _Recorder()


class PykrxProvider(LibraryProvider):
    """KRX data through pykrx >= 1.2.9 (extra ``privatetrade[pykrx]``).

    Raw prices and listings need a data.krx.co.kr account in the environment variables
    ``KRX_ID`` and ``KRX_PW``; adjusted prices (from Naver) do not.

    Args:
        today: Today's date in Seoul (injected by tests).
        **retries: ``attempts``, ``base_delay``, ``sleep`` (see :class:`~.base.LibraryProvider`).
    """

    name = "pykrx"
    columns = _COLUMNS

    def __init__(
        self, *, today: Callable[[], dt.date] = _seoul_today, **retries: Unpack[RetryOptions]
    ) -> None:
        super().__init__(**retries)
        self._today = today

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return the symbols of a KRX market (None: KOSPI, KOSDAQ and KONEX).

        Raises:
            ProviderError: A non-KRX market, no or refused credentials, a failure or
                an empty answer.
        """
        markets = _KRX_MARKETS if market is None else (market,)
        if any(item not in _KRX_MARKETS for item in markets):
            raise ProviderError(
                f"pykrx lists KRX markets only (KOSPI, KOSDAQ, KONEX), not {market}"
            )
        stock = _stock()
        today = self._today().strftime("%Y%m%d")
        day = self._fetch(
            lambda: stock.get_nearest_business_day_in_a_week(today), "the last KRX trading day"
        )
        symbols = []
        for item in markets:
            codes = self._fetch(
                functools.partial(stock.get_market_ticker_list, day, market=item.value),
                f"the {item} listing of {day}",
                "no trading that day",
            )
            for code in codes:
                name = self._fetch(
                    functools.partial(stock.get_market_ticker_name, code), f"the name of {code}"
                )
                if not isinstance(name, str) or not name.strip():
                    raise ProviderError(f"pykrx returned no name for {code} ({item})")
                symbols.append(
                    SymbolInfo(code=str(code), name=name.strip(), market=item, source="pykrx")
                )
        return symbols

    def daily_bars(
        self, code: str, start: dt.date | None, end: dt.date | None, *, adjusted: bool
    ) -> pd.DataFrame:
        """Return daily bars of a KRX code: raw from KRX, or adjusted from Naver.

        Raises:
            ProviderError: Not a KRX code, no or refused credentials (raw prices), a
                failure, or an empty, malformed or invalid answer.
        """
        code = code.strip().upper()
        if _INDEX_TICKER.fullmatch(code):
            return self._index_bars(code, start, end)
        if not is_krx_code(code):
            raise ProviderError(
                "pykrx serves KRX codes (six characters such as 005930) and KRX index "
                f"tickers (four digits such as 1001), not {code!r}"
            )
        stock = _stock()
        first = (start or _EARLIEST).strftime("%Y%m%d")
        last = (end or self._today()).strftime("%Y%m%d")
        frame = self._fetch(
            lambda: stock.get_market_ohlcv(first, last, code, adjusted=adjusted),
            describe_request(code, start, end),
            krx=not adjusted,  # adjusted prices come from Naver
        )
        return self._finished(frame, code, start, end, tz=market_timezone(Market.KOSPI))

    def _index_bars(self, ticker: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        """Return a KRX index's daily points (``1001`` KOSPI ...) from data.krx.co.kr."""
        stock = _stock()
        first = (start or _EARLIEST).strftime("%Y%m%d")
        last = (end or self._today()).strftime("%Y%m%d")
        frame = self._fetch(
            lambda: stock.get_index_ohlcv_by_date(first, last, ticker, name_display=False),
            describe_request(ticker, start, end),
            "unknown index ticker or no trading day",
        )
        return self._finished(frame, ticker, start, end, tz=market_timezone(Market.KOSPI))

    def _fetch(
        self,
        call: Callable[[], Any],
        what: str,
        hint: str = "unknown code or no trading day",
        *,
        krx: bool = True,
    ) -> Any:
        def attempt() -> Any:
            with _LOCK:
                if krx:
                    _login()
                _heal_ticker_cache()
                log = HttpLog()
                try:
                    with _observed(log), contextlib.redirect_stdout(io.StringIO()):
                        return call_library(
                            call,
                            provider=self.name,
                            what=what,
                            log=log,
                            explain=_explain_refusal,
                            empty_hint=f" ({hint})",
                        )
                except ProviderError as exc:
                    if "LOGOUT" in str(exc) and not exc.transient:
                        _auth().set_auth_session(None)  # log in again on the next try
                        raise ProviderError(str(exc), transient=True) from exc
                    raise

        return self._retried(attempt)


def _stock() -> Any:
    """Import ``pykrx.stock`` without pykrx's import-time login and its printing."""
    if "pykrx.website.comm.webio" not in sys.modules:
        quiet = contextlib.redirect_stdout(io.StringIO())
        with _LOCK, _hidden_credentials(), quiet, warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)  # its font lookup
            import_library("pykrx", "pykrx")
    return importlib.import_module("pykrx.stock")


@contextlib.contextmanager
def _hidden_credentials() -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in _CREDENTIALS if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _new_session() -> Any:
    """A requests session that records answers and bounds waits (pykrx sets none)."""
    session = importlib.import_module("requests").Session()
    session.request = functools.partial(session.request, timeout=_TIMEOUT)
    session.hooks["response"].append(_RECORDER)
    return session


@contextlib.contextmanager
def _observed(log: HttpLog) -> Iterator[None]:
    """Record pykrx's answers in ``log``; keep pykrx from logging in by itself.

    pykrx's ``webio.get_session`` logs in (printing the user ID) when it finds no
    valid session; here it returns the session of :func:`_login`, or None.
    """
    webio: Any = importlib.import_module("pykrx.website.comm.webio")
    auth = _auth()

    def valid_session() -> Any:
        current = getattr(auth, "_auth_session", None)
        return current if current is not None and current.is_valid() else None

    saved = (webio.get_session, webio.requests)
    anonymous = types.SimpleNamespace(**vars(saved[1]))  # webio's `requests.Session()`
    anonymous.Session = _new_session
    webio.get_session, webio.requests = valid_session, anonymous
    _RECORDER.log = log
    try:
        yield
    finally:
        webio.get_session, webio.requests = saved
        _RECORDER.log = None


def _auth() -> Any:
    return importlib.import_module("pykrx.website.comm.auth")


def _login() -> None:
    """Make sure pykrx holds a valid data.krx.co.kr session; log in if not.

    Raises:
        ProviderError: KRX_ID/KRX_PW unset or refused (permanent), or the login
            failed on the way (transient for 5xx and connection errors).
    """
    auth = _auth()
    current: Any = getattr(auth, "_auth_session", None)
    ours = current is not None and _RECORDER in current.session.hooks["response"]
    if ours and current.is_valid(buffer_seconds=600):  # not one pykrx made by itself
        return
    auth.set_auth_session(None)
    login_id, login_pw = (os.environ.get(name, "") for name in _CREDENTIALS)
    if not (login_id.strip() and login_pw):
        raise ProviderError(
            "pykrx: data.krx.co.kr needs a login for raw prices and listings: set the "
            "environment variables KRX_ID and KRX_PW to your data.krx.co.kr account "
            "(the fdr provider has adjusted KRX prices without a login)"
        )
    session = _new_session()
    log = HttpLog()
    _RECORDER.login_error = ""
    with _observed(log), contextlib.redirect_stdout(io.StringIO()):
        accepted = call_library(
            lambda: auth.login_krx(login_id, login_pw, session),
            provider="pykrx",
            what="the data.krx.co.kr login",
            log=log,
        )
    if accepted is not True:
        raise ProviderError(_refusal(_RECORDER.login_error))
    krxs = auth.KRXSession(session=session, is_authenticated=True)
    krxs.cookies = {cookie.name: {"value": cookie.value} for cookie in session.cookies}
    auth.set_auth_session(krxs)


def _refusal(code: str) -> str:
    said = f" (answer code {code})" if code else ""
    if code == "CD010":  # pykrx: the password must be changed
        return f"pykrx: data.krx.co.kr refused the login{said}: change the password, then KRX_PW"
    return f"pykrx: data.krx.co.kr refused the login{said}: check KRX_ID and KRX_PW"


def _heal_ticker_cache() -> None:
    """Forget pykrx's process-wide list of codes if a failed download left it empty.

    pykrx keeps the finder lists (code -> ISIN and name) in a singleton that, once a
    download failed, stays empty for the life of the process.
    """
    try:
        ticker = importlib.import_module("pykrx.website.krx.market.ticker")
    except ImportError:
        return
    holder = getattr(ticker, "StockTicker", None)
    instance = getattr(holder, "_instance", None)
    if instance is not None and len(getattr(instance, "listed", ())) == 0:
        holder._instance = None  # type: ignore[union-attr]


def _explain_refusal(answer: HttpAnswer) -> str:
    if "LOGOUT" in answer.excerpt.upper():
        return "KRX ended the login session (pykrx logs in again with KRX_ID/KRX_PW)"
    return ""
