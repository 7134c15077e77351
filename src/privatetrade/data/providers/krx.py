"""pykrx provider: raw (and adjusted) KRX daily prices and KRX listings.

What pykrx fetches (read from pykrx 1.0.51 and 1.2.x, ``stock/stock_api.py`` and
``website/``): ``get_market_ohlcv(start, end, code, adjusted=False)`` posts
``MDCSTAT01701`` to data.krx.co.kr (raw prices, after looking up the code's ISIN in
KRX's finder lists ``finder_stkisu``/``finder_listdelisu``); ``adjusted=True`` reads
Naver's chart feed instead. ``get_market_ticker_list(day, market)`` posts
``MDCSTAT01501`` (all quotes of one day) and ``get_market_ticker_name`` reads the finder
lists. All columns are Korean: 시가 (open), 고가 (high), 저가 (low), 종가 (close),
거래량 (volume).

Two things the provider works around:

* pykrx turns most failures (HTTP 500, an HTML error page, KRX's ``LOGOUT`` answer)
  into an empty DataFrame; the answers are observed with
  :func:`~.base.observe_library` so the error says what happened.
* data.krx.co.kr needs a logged-in session since the end of 2025 and answers
  ``HTTP 400 LOGOUT`` otherwise. pykrx >= 1.2 logs in by itself with ``KRX_ID`` and
  ``KRX_PW`` from the environment; pykrx 1.0 cannot log in. This module only checks
  whether the two are set (for the message); it never logs, stores or passes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import importlib.metadata
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from privatetrade.data.providers.base import (
    HttpAnswer,
    call_library,
    describe_request,
    finish_bars,
    import_library,
    is_krx_code,
    with_retries,
)
from privatetrade.data.symbols import Market, SymbolInfo, market_timezone
from privatetrade.errors import ProviderError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PykrxProvider"]

_SEOUL = ZoneInfo("Asia/Seoul")
_EARLIEST = dt.date(1990, 1, 1)
_KRX_MARKETS = (Market.KOSPI, Market.KOSDAQ, Market.KONEX)
_COLUMNS = {"시가": "open", "고가": "high", "저가": "low", "종가": "close", "거래량": "volume"}


def _seoul_today() -> dt.date:
    return dt.datetime.now(_SEOUL).date()


class PykrxProvider:
    """KRX data through pykrx (extra ``privatetrade[pykrx]``).

    Args:
        today: Today's date in Seoul (injected by tests).
        attempts: Tries per request, see :func:`~.base.with_retries`.
        base_delay: Seconds before the first retry.
        sleep: Waits between retries (injected by tests).
    """

    name = "pykrx"

    def __init__(
        self,
        *,
        today: Callable[[], dt.date] = _seoul_today,
        attempts: int = 3,
        base_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._today = today
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return the symbols of a KRX market (None: KOSPI, KOSDAQ and KONEX).

        Raises:
            ProviderError: A non-KRX market, a failure or an empty answer.
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
            ProviderError: Not a KRX code, a failure (KRX's login refusal explained),
                or an empty, malformed or invalid answer.
        """
        code = code.strip().upper()
        if not is_krx_code(code):
            raise ProviderError(
                f"pykrx serves KRX codes (six characters such as 005930), not {code!r}"
            )
        stock = _stock()
        first = (start or _EARLIEST).strftime("%Y%m%d")
        last = (end or self._today()).strftime("%Y%m%d")
        frame = self._fetch(
            lambda: stock.get_market_ohlcv(first, last, code, adjusted=adjusted),
            describe_request(code, start, end),
            krx=not adjusted,  # adjusted prices come from Naver
        )
        return finish_bars(
            frame,
            provider=self.name,
            code=code,
            tz=market_timezone(Market.KOSPI),
            columns=_COLUMNS,
            start=start,
            end=end,
        )

    def _fetch(
        self,
        call: Callable[[], Any],
        what: str,
        hint: str = "unknown code or no trading day",
        *,
        krx: bool = True,
    ) -> Any:
        webio = importlib.import_module("pykrx.website.comm.webio")

        def attempt() -> Any:
            _heal_ticker_cache()
            return call_library(
                call,
                provider=self.name,
                what=what,
                modules=(webio,),
                explain=_explain_refusal,
                empty_hint=f" ({hint}, or {_login_advice()})" if krx else f" ({hint})",
            )

        return with_retries(
            attempt, attempts=self._attempts, base_delay=self._base_delay, sleep=self._sleep
        )


def _stock() -> Any:
    import_library("pykrx", "pykrx")
    return importlib.import_module("pykrx.stock")


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


def _login_advice() -> str:
    credentials = "KRX_ID and KRX_PW are set" if _has_credentials() else "set KRX_ID and KRX_PW"
    version = _pykrx_version()
    if _release(version) >= (1, 2):
        return f"KRX refused the session: {credentials} (pykrx logs in with them)"
    return (
        f"KRX refused an anonymous request: data.krx.co.kr needs a login since the end of 2025 "
        f"and pykrx {version} cannot log in (pykrx >= 1.2 can, with KRX_ID/KRX_PW, but "
        f"requires pandas < 3); the fdr provider has adjusted KRX prices without a login"
    )


@functools.cache
def _pykrx_version() -> str:
    return importlib.metadata.version("pykrx")


def _release(version: str) -> tuple[int, ...]:
    parts = (part for part in version.split(".")[:2])
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in parts)


def _has_credentials() -> bool:
    return bool(os.environ.get("KRX_ID")) and bool(os.environ.get("KRX_PW"))


def _explain_refusal(answer: HttpAnswer) -> str:
    return _login_advice() if "LOGOUT" in answer.excerpt.upper() else ""
