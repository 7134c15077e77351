"""Market data for backtests: the catalog and the bar store behind one object.

``MarketData(data_dir)`` finds symbols, loads their bars, installs the offline
sample data on first use, imports the user's files and fetches from providers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privatetrade.data.catalog import SearchHit, SymbolCatalog
from privatetrade.data.store import BarStore, PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError
from privatetrade.files import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.data.imports import ImportMode, ImportResult

__all__ = ["SAMPLE_LISTINGS", "MarketData", "empty_range_code", "empty_range_message"]

# The bokeh-sampledata stocks (Quandl WIKI, public domain), as listed in 2013.
SAMPLE_LISTINGS: tuple[tuple[str, str, Market], ...] = (
    ("AAPL", "Apple Inc.", Market.NASDAQ),
    ("FB", "Facebook, Inc. (now Meta Platforms)", Market.NASDAQ),
    ("GOOG", "Google Inc. (now Alphabet)", Market.NASDAQ),
    ("IBM", "International Business Machines", Market.NYSE),
    ("MSFT", "Microsoft Corporation", Market.NASDAQ),
)
_OHLCV = ["open", "high", "low", "close", "volume"]
_SAMPLE_VERSION_FILE = ".samples.version"


class MarketData:
    """Symbols and their bars in one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.store = BarStore(self.data_dir)
        self.catalog = SymbolCatalog(self.data_dir)
        self._sample_version_seen = False

    # ------------------------------------------------------------------ lookup

    def search(
        self, query: str, *, market: Market | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Search the catalog (installing the sample data first if needed)."""
        self.ensure_samples()
        return self.catalog.search(query, market=market, limit=limit)

    def symbol(self, code: str) -> SymbolInfo:
        """Return the catalog entry of ``code``."""
        self.ensure_samples()
        return self.catalog.get(code)

    def bars(
        self,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        adjusted: bool = True,
    ) -> pd.DataFrame:
        """Return the stored bars of ``code`` in ``[start, end]`` (local dates).

        Args:
            code: The symbol's code.
            start: First local date; the first stored bar if None.
            end: Last local date; the last stored bar if None.
            adjusted: Split- and dividend-adjusted prices (the default), or raw ones
                as traded (False). See :meth:`series_for` for which file is read.

        Raises:
            InputError: Unknown symbol.
            DataError: No bars of that kind stored (the message names the stored
                ones), or none in the range.
        """
        symbol = self.symbol(code)
        kind = self.series_for(symbol, adjusted=adjusted)
        if kind is None:
            wanted, other = ("adjusted", "False") if adjusted else ("raw", "True")
            stored = ", ".join(symbol.adjusted) or "none"
            raise DataError(
                f"no {wanted} bars stored for {symbol.code} (stored: {stored}); "
                f"read the stored ones with adjusted={other}",
                code=f"no_{wanted}_prices",
                params={"symbol": symbol.code},
            )
        frame = self.store.read(symbol.code, start, end, kind=kind)
        if frame.empty:
            coverage = self.store.coverage(symbol.code, kind)
            held = (coverage.first_bar, coverage.last_bar) if coverage else None
            raise DataError(
                empty_range_message(symbol.code, start, end, held),
                **empty_range_code(symbol.code, held),
            )
        return frame

    def series_for(self, symbol: SymbolInfo, *, adjusted: bool) -> PriceKind | None:
        """Return the stored series that holds ``symbol``'s adjusted (or raw) prices.

        A synthetic symbol has no corporate actions, so its raw series is also its
        adjusted one. None when neither holds the prices asked for.
        """
        kind = PriceKind.ADJUSTED if adjusted else PriceKind.RAW
        if self.store.exists(symbol.code, kind):
            return kind
        if adjusted and symbol.synthetic and self.store.exists(symbol.code, PriceKind.RAW):
            return PriceKind.RAW
        return None

    # ------------------------------------------------------------------ writing

    def save_bars(
        self,
        symbol: SymbolInfo,
        frame: pd.DataFrame,
        *,
        kind: PriceKind = PriceKind.RAW,
        merge: bool = False,
    ) -> SymbolInfo:
        """Store bars (validated, atomically) and record the symbol and its coverage.

        An index has one series (index points know no splits or dividends): it is
        stored as both the raw and the adjusted series, whichever ``kind`` says.
        """
        write = self.store.merge if merge else self.store.write
        for series in tuple(PriceKind) if symbol.is_index else (kind,):
            write(symbol.code, frame[_OHLCV], kind=series, source=symbol.source)
        return self.refresh(symbol)

    def market_index(self, market: Market) -> str | None:
        """Return the stored index to compare a stock of ``market`` with, or None.

        See :func:`privatetrade.data.indices.market_index`: KOSPI (KOSDAQ for KOSDAQ
        stocks) when fetched, else the synthetic demo index; S&P 500 for US stocks.
        """
        from privatetrade.data.indices import market_index

        self.ensure_samples()
        return market_index(self.catalog, market)

    def refresh(self, symbol: SymbolInfo) -> SymbolInfo:
        """Update ``symbol``'s stored coverage in the catalog and return the new entry."""
        kinds = tuple(k.value for k in PriceKind if self.store.exists(symbol.code, k))
        coverage = self.store.coverage(symbol.code, PriceKind.RAW) or (
            self.store.coverage(symbol.code, PriceKind.ADJUSTED)
        )
        updated = dataclasses.replace(
            symbol,
            adjusted=kinds,
            first_bar=coverage.first_bar if coverage else None,
            last_bar=coverage.last_bar if coverage else None,
            bar_count=coverage.bar_count if coverage else 0,
        )
        self.catalog.upsert([updated])
        return updated

    def delete(self, code: str) -> bool:
        """Delete a symbol's bars and its catalog entry; return whether it existed."""
        had_bars = self.store.delete(code)
        had_entry = self.catalog.remove(code)
        return had_bars or had_entry

    def import_file(
        self,
        path: Path,
        code: str,
        *,
        name: str | None = None,
        market: Market | None = None,
        adjusted: bool = False,
        columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
        tz: str | None = None,
        mode: ImportMode | str | None = None,
    ) -> ImportResult:
        """Import a CSV or Parquet file as ``code``'s bars: all rows or none.

        Args:
            path: A CSV (UTF-8 or CP949, thousands separators allowed) or Parquet file.
            code: The symbol to store the bars as.
            name: Display name (a new symbol's, or a new one for a stored symbol).
            market: The symbol's market (default: the stored symbol's, else ``OTHER``).
            adjusted: The file holds adjusted prices (written to the adjusted series).
            columns: Field (time, open, high, low, close, volume) to the file's column.
            date_format: ``strptime`` format of text dates (default: ISO 8601 or
                ``YYYYMMDD``, ``YYYY.MM.DD``, ``YYYY/MM/DD``; nothing else is guessed).
            tz: Zone of naive times (default: the market's).
            mode: Needed when the series is stored already: ``replace`` (the file
                becomes the series) or ``merge`` (add the file's bars; equal dates
                take the file's).

        Returns:
            What was stored, with the quality report of the stored series.

        Raises:
            ImportModeError: The series is stored and ``mode`` is None (field ``mode``;
                nothing changes).
            InputError: Another bad argument (symbol, mapping, date format, zone, or a
                market other than the stored symbol's).
            DataError: The file cannot be read or a row is invalid; the message cites
                the CSV line or Parquet row (nothing is stored).
        """
        from privatetrade.data.imports import import_bars_file

        return import_bars_file(
            self, path, code, name=name, market=market, adjusted=adjusted, columns=columns,
            date_format=date_format, tz=tz, mode=mode,
        )  # fmt: skip

    # ------------------------------------------------------------------ samples

    def ensure_samples(self, progress: Callable[[str], None] | None = None) -> None:
        """Install the offline sample data once: US stocks, synthetic KRX stocks and index.

        A data directory whose generated demo data is older than
        :data:`~privatetrade.data.synthetic.SYNTHETIC_VERSION` (recorded in
        ``.samples.version``) gets the current bars: every symbol whose catalog source
        is ``synthetic`` is rewritten. A sample code that holds the user's own data
        (another source) is never touched, nor is any other symbol.
        """
        from privatetrade.data.synthetic import SYNTHETIC_VERSION

        wanted = self._sample_symbols()
        if self._samples_current(wanted, SYNTHETIC_VERSION):
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".samples.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process installs, the others wait
            self.catalog = SymbolCatalog(self.data_dir)
            outdated = self._sample_version() != SYNTHETIC_VERSION
            due = [s for s in wanted if self._sample_due(s, outdated=outdated)]
            self._install_us_samples([s for s in due if s.source == "sample"], progress)
            self._install_synthetic([s for s in due if s.source != "sample"], progress)
            write_text_atomic(self.data_dir / _SAMPLE_VERSION_FILE, f"{SYNTHETIC_VERSION}\n")

    def _sample_symbols(self) -> list[SymbolInfo]:
        from privatetrade.data.synthetic import synthetic_symbols
        from privatetrade.data.synthetic_index import synthetic_index_symbol

        us = [_us_sample(code, name, market) for code, name, market in SAMPLE_LISTINGS]
        return [*us, *synthetic_symbols(), synthetic_index_symbol()]

    def _samples_current(self, wanted: list[SymbolInfo], version: int) -> bool:
        if not all(self._sample_present(symbol) for symbol in wanted):
            return False
        if not self._sample_version_seen:
            self._sample_version_seen = self._sample_version() == version
        return self._sample_version_seen

    def _sample_version(self) -> int:
        """Return the version of the generated demo data installed here (0: none or older)."""
        try:
            return int((self.data_dir / _SAMPLE_VERSION_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _sample_present(self, symbol: SymbolInfo) -> bool:
        """True when ``symbol``'s code holds data: the sample's bars, or the user's symbol."""
        if symbol.code not in self.catalog:
            return False
        stored = self.catalog.get(symbol.code)
        return stored.source != symbol.source or self.store.exists(symbol.code)

    def _sample_due(self, symbol: SymbolInfo, *, outdated: bool) -> bool:
        """True when ``symbol`` must be (re)installed: missing, or generated by an older version."""
        if not self._sample_present(symbol):
            return True
        stored = self.catalog.get(symbol.code)
        return outdated and stored.source == symbol.source == "synthetic"

    def _install_us_samples(
        self, symbols: list[SymbolInfo], progress: Callable[[str], None] | None
    ) -> None:
        from privatetrade.data.sample import load_sample_bars

        for symbol in symbols:
            if progress:
                progress(symbol.code)
            frame = load_sample_bars(symbol.code)
            self.store.write(symbol.code, frame[_OHLCV], kind=PriceKind.RAW, source="sample")
            adjusted = _adjusted(frame)
            self.store.write(symbol.code, adjusted, kind=PriceKind.ADJUSTED, source="sample")
            self.refresh(symbol)

    def _install_synthetic(
        self, symbols: list[SymbolInfo], progress: Callable[[str], None] | None
    ) -> None:
        """Write synthetic bars; no corporate actions, so the adjusted series is the raw one."""
        from privatetrade.data.synthetic import synthetic_bars
        from privatetrade.data.synthetic_index import synthetic_index_bars

        stocks: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            if progress:
                progress(symbol.code)
            if symbol.is_index:
                frame = synthetic_index_bars(stocks)
            else:
                frame = stocks[symbol.code] = synthetic_bars(symbol.code)
            for kind in PriceKind:
                self.store.write(symbol.code, frame, kind=kind, source="synthetic")
            self.refresh(symbol)


def empty_range_message(
    label: str,
    start: dt.date | None,
    end: dt.date | None,
    stored: tuple[dt.date, dt.date] | None,
) -> str:
    """Say that ``label`` has no bars in ``[start, end]`` and which dates it does have.

    Example: ``no bars of GOOG between 2020-01-01 and the last bar; stored: 2004-08-19
    to 2013-03-01``.
    """
    first = "the first bar" if start is None else start.isoformat()
    last = "the last bar" if end is None else end.isoformat()
    held = "nothing" if stored is None else f"{stored[0]} to {stored[1]}"
    return f"no bars of {label} between {first} and {last}; stored: {held}"


def empty_range_code(label: str, stored: tuple[dt.date, dt.date] | None) -> dict[str, Any]:
    """The ``code`` and ``params`` of :func:`empty_range_message`'s error (keywords)."""
    if stored is None:
        return {"code": "no_bars", "params": {"symbol": label}}
    first, last = (day.isoformat() for day in stored)
    return {"code": "no_bars_in_range", "params": {"symbol": label, "first": first, "last": last}}


def _us_sample(code: str, name: str, market: Market) -> SymbolInfo:
    return SymbolInfo(
        code=code, name=name, name_en=name, market=market, currency="USD", tick_table="us",
        source="sample",
    )  # fmt: skip


def _adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """Scale open/high/low/close by ``adj_close / close`` (volume unchanged)."""
    factor = frame["adj_close"] / frame["close"]
    adjusted = frame[_OHLCV].copy()
    for column in ("open", "high", "low", "close"):
        adjusted[column] = frame[column] * factor
    if adjusted.isna().any().any():
        raise DataError("sample data has bars without an adjusted close")
    return adjusted
