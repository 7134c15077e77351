"""Market indices as benchmarks: KOSPI, KOSDAQ, KOSPI 200 and S&P 500, and a market's default.

An index is stored like a stock (catalog entry, Parquet bars) but marked
``kind = index``: index points, no tick table, a benchmark that is never traded.
Its codes are friendly names (``KOSPI``, ``KOSDAQ``, ``KOSPI200``, ``SPX``); each
provider knows it by its own code:

=========  ===========  ==================  ===========  ===========
code       fdr          yfinance            pykrx        market
=========  ===========  ==================  ===========  ===========
KOSPI      ``KS11``     ``^KS11``           ``1001``     KOSPI
KOSDAQ     ``KQ11``     ``^KQ11``           ``2001``     KOSDAQ
KOSPI200   ``KS200``    ``^KS200``          ``1028``     KOSPI
SPX        ``US500``    ``^GSPC``           —            NYSE
=========  ===========  ==================  ===========  ===========

The providers' codes are accepted as aliases (``privatetrade data fetch KS11`` stores
``KOSPI``). A price index has one series: it is stored as both ``raw`` and
``adjusted``, so a benchmark works whichever prices a backtest uses.

Example:
    >>> find_index("^gspc").code
    'SPX'
    >>> provider_index_code(find_index("KOSPI"), "yfinance")
    '^KS11'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from privatetrade.data.symbols import Market, SymbolInfo, SymbolKind, market_currency
from privatetrade.errors import InputError, ProviderError

if TYPE_CHECKING:
    from privatetrade.data.catalog import SymbolCatalog

__all__ = [
    "BENCHMARK_INDICES",
    "IndexListing",
    "find_index",
    "market_index",
    "provider_index",
    "provider_index_code",
    "require_tradable",
]


@dataclass(frozen=True, slots=True)
class IndexListing:
    """A market index the providers serve.

    Attributes:
        code: The code it is stored as (``KOSPI``).
        name: Name in the market's language (``코스피``).
        name_en: English name.
        market: The market whose calendar and currency it follows.
        provider_codes: (provider, the provider's code) pairs.
        aliases: Other codes that mean this index (the providers' codes).
    """

    code: str
    name: str
    name_en: str
    market: Market
    provider_codes: tuple[tuple[str, str], ...]
    aliases: tuple[str, ...]

    def symbol(self, source: str) -> SymbolInfo:
        """Return its catalog entry, fetched from ``source``."""
        return SymbolInfo(
            code=self.code,
            name=self.name,
            name_en=self.name_en,
            market=self.market,
            currency=market_currency(self.market),
            tick_table="none",
            source=source,
            kind=SymbolKind.INDEX,
        )


BENCHMARK_INDICES: tuple[IndexListing, ...] = (
    IndexListing(
        "KOSPI", "코스피", "KOSPI Composite Index", Market.KOSPI,
        (("fdr", "KS11"), ("yfinance", "^KS11"), ("pykrx", "1001")), ("KS11", "^KS11"),
    ),
    IndexListing(
        "KOSDAQ", "코스닥", "KOSDAQ Composite Index", Market.KOSDAQ,
        (("fdr", "KQ11"), ("yfinance", "^KQ11"), ("pykrx", "2001")), ("KQ11", "^KQ11"),
    ),
    IndexListing(
        "KOSPI200", "코스피 200", "KOSPI 200", Market.KOSPI,
        (("fdr", "KS200"), ("yfinance", "^KS200"), ("pykrx", "1028")),
        ("KS200", "^KS200", "KPI200"),
    ),
    IndexListing(
        "SPX", "S&P 500", "S&P 500 Index", Market.NYSE,
        (("fdr", "US500"), ("yfinance", "^GSPC")), ("US500", "^GSPC", "GSPC", "SP500"),
    ),
)  # fmt: skip
"""The indices ``privatetrade data fetch`` knows, by stored code."""


def find_index(code: str) -> IndexListing | None:
    """Return the index stored as ``code`` or known by it to a provider (any case)."""
    wanted = code.strip().upper()
    for listing in BENCHMARK_INDICES:
        if wanted == listing.code or wanted in listing.aliases:
            return listing
    return None


def provider_index_code(listing: IndexListing, provider: str) -> str:
    """Return the code ``provider`` knows the index by.

    Raises:
        ProviderError: The provider does not serve this index (the message names
            those that do).
    """
    codes = dict(listing.provider_codes)
    if provider in codes:
        return codes[provider]
    serving = ", ".join(sorted(codes))
    raise ProviderError(f"{provider} has no {listing.code} index: use {serving}")


def provider_index(provider: str, code: str) -> IndexListing | None:
    """Return the index ``provider`` knows as ``code`` (``fdr``, ``KS11`` -> KOSPI), if any."""
    wanted = code.strip().upper()
    for listing in BENCHMARK_INDICES:
        if dict(listing.provider_codes).get(provider) == wanted:
            return listing
    return None


_MARKET_INDICES: dict[Market, tuple[str, ...]] = {
    Market.KOSPI: ("KOSPI",),
    Market.KOSDAQ: ("KOSDAQ", "KOSPI"),
    Market.KONEX: ("KOSPI",),
    Market.NYSE: ("SPX",),
    Market.NASDAQ: ("SPX",),
    Market.AMEX: ("SPX",),
}


def market_index(catalog: SymbolCatalog, market: Market) -> str | None:
    """Return the code of the index to compare a stock of ``market`` with, if one is stored.

    KOSPI and KONEX stocks get KOSPI, KOSDAQ stocks KOSDAQ (else KOSPI); without
    fetched KRX indices the synthetic demo index (``DEMOIDX``) stands in. US stocks
    get the S&P 500 (``SPX``). Only indices with stored bars count.

    Args:
        catalog: The symbol catalog.
        market: The stock's market.

    Returns:
        The index's code, or None when none is stored for that market.
    """
    from privatetrade.data.synthetic_index import SYNTHETIC_INDEX_CODE

    candidates = _MARKET_INDICES.get(market, ())
    if market in (Market.KOSPI, Market.KOSDAQ, Market.KONEX):
        candidates = (*candidates, SYNTHETIC_INDEX_CODE)
    for code in candidates:
        if code not in catalog:
            continue
        found = catalog.get(code)
        if found.is_index and found.bar_count > 0:
            return found.code
    return None


def require_tradable(symbol: SymbolInfo) -> None:
    """Refuse to backtest an index: index points are a benchmark, not something to buy.

    Raises:
        InputError: ``symbol`` is an index (``field`` is ``symbol``); the message says
            to use it as the benchmark instead.
    """
    if symbol.is_index:
        raise InputError(
            f"{symbol.code} ({symbol.name}) is a market index, not a tradable stock: "
            f"use it as the benchmark (benchmark={symbol.code}) and backtest a stock, "
            "or an ETF that tracks the index",
            field="symbol",
            code="symbol_is_index",
            params={"symbol": symbol.code},
        )
