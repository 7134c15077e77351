"""What may stay in Latin letters on a Korean page, and finding what else does.

Shared by the browser test that reads every page in Korean and the unit tests of the
translated messages, so both hold pages to one rule: every word is Korean except

* names that are the same in Korean writing: markets and exchanges (KOSPI, KRX, NYSE),
  currencies and units (KRW, USD, MiB, ms, bp), file formats and encodings (CSV, JSON,
  UTF-8), products and libraries (privatetrade, Plotly, Optuna, SQLite, Dask), time zones
  (UTC), trading calendars (XKRX);
* standard abbreviations of indicators and statistics, shown beside or in the tooltip of
  a Korean name (RSI, MACD, MAE, MFE, DSR, PBO, WFE, TPE), and API;
* data: symbol codes and names, user and token names, run ids, the version (the
  browser test adds these from the server it reads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ALLOWED_WORDS", "latin_words"]

ALLOWED_WORDS = frozenset(
    {
        # markets, exchanges, trading calendars, indices
        "KRX", "KOSPI", "KOSDAQ", "KONEX", "NASDAQ", "NYSE", "AMEX", "S&P", "XKRX", "XNYS",
        # currencies and units
        "KRW", "USD", "MiB", "GiB", "KiB", "ms", "bp",
        # file formats and text encodings
        "CSV", "JSON", "HTML", "PNG", "Parquet", "UTF-8", "CP949",
        # products and libraries
        "privatetrade", "Plotly", "Plotly.js", "Optuna", "SQLite", "PostgreSQL", "Dask",
        "FinanceDataReader", "Apprise",
        # standard abbreviations (indicators, statistics, methods), time zone, API
        "RSI", "MACD", "MAE", "MFE", "DSR", "PBO", "WFE", "TPE", "UTC", "API",
    }
)  # fmt: skip
"""Words a Korean page may show in Latin letters."""

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'._+-]*")
_LATIN = re.compile(r"[A-Za-z]")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([.+-][0-9A-Za-z.+-]*)?$")
_RUN_ID = re.compile(r"^[0-9a-f]{8,32}$")
_PERCENT_POINT = re.compile(r"%p\b")


def latin_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The words of ``text`` with Latin letters that are not allowed, in order.

    A word is a run of letters, digits and ``&'._+-`` (so ``S&P``, ``UTF-8`` and
    ``DEMO01`` are one word each); trailing punctuation is ignored. Allowed: the
    :data:`ALLOWED_WORDS`, ``allowed`` (data such as symbol codes), version numbers,
    run ids (8 to 32 hex digits) and ``%p`` (percentage points).
    """
    extra = set(allowed)
    found = []
    for match in _WORD.finditer(_PERCENT_POINT.sub(" ", text)):
        word = match.group().rstrip(".'_+-")
        if not _LATIN.search(word) or _VERSION.match(word) or _RUN_ID.match(word):
            continue
        if word in ALLOWED_WORDS or word in extra:
            continue
        found.append(word)
    return found
