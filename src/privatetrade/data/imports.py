"""Import the user's files of bars: preview what would be stored, then store it.

:func:`preview_import` reads and checks a file without writing anything and says
what an import would store: the columns found, the first rows, the dates covered,
the data-quality report, whether the symbol's series is stored already, and the
file's problems with their line numbers. :func:`import_bars_file` (behind
:meth:`MarketData.import_file`) stores the file, all rows or none, and answers with
the quality report of what is now stored.

A series that is stored already is never overwritten by surprise: the import must
say :attr:`ImportMode.REPLACE` (the file becomes the stored series) or
:attr:`ImportMode.MERGE` (the file's bars are added, overwriting stored bars of the
same dates); without one it raises :class:`ImportModeError` and changes nothing.

Example:
    >>> preview = preview_import(path, symbol="MINE", market=Market.KOSDAQ, data=data)
    ... # doctest: +SKIP
    >>> preview.ok, preview.bar_count, preview.needs_mode  # doctest: +SKIP
    (True, 120, False)
    >>> result = data.import_file(path, "MINE", market=Market.KOSDAQ)  # doctest: +SKIP
    >>> [(f.name, f.count) for f in result.findings]  # doctest: +SKIP
    [('non_session_bars', 8), ('off_grid', 5), ('jumps', 0), ...]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from privatetrade.data.files import BarsFile, FileProblem, parse_bars_file
from privatetrade.data.import_quality import QUALITY_CHECKS, QualityFinding, summarize_quality
from privatetrade.data.quality import QualityReport, quality_report
from privatetrade.data.store import Coverage, PriceKind
from privatetrade.data.symbols import Market, SymbolInfo, market_currency, market_timezone
from privatetrade.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.data.market_data import MarketData

__all__ = [
    "PREVIEW_ROWS",
    "QUALITY_CHECKS",
    "ImportMode",
    "ImportModeError",
    "ImportPreview",
    "ImportResult",
    "PreviewRow",
    "QualityFinding",
    "import_bars_file",
    "parse_import_mode",
    "preview_import",
    "summarize_quality",
]

PREVIEW_ROWS = 10
"""How many parsed rows a preview shows."""


class ImportMode(StrEnum):
    """What an import does to a series that is stored already."""

    REPLACE = "replace"
    """The file becomes the stored series (stored bars of other dates are dropped)."""
    MERGE = "merge"
    """The file's bars are added; on a date stored already the file's bar wins."""


class ImportModeError(InputError):
    """The symbol's series is stored already and the import did not say replace or merge.

    ``field`` is ``mode``; ``code``, ``kind`` and ``stored`` describe what is stored.
    """

    def __init__(self, code: str, kind: PriceKind, stored: Coverage) -> None:
        super().__init__(
            f"{code} already has {stored.bar_count:,} {kind.value} bars "
            f"({stored.first_bar} to {stored.last_bar}); choose replace (the file becomes "
            "the stored series) or merge (add the file's bars, overwriting equal dates)",
            field="mode",
        )
        self.code = code
        self.kind = kind
        self.stored = stored


def parse_import_mode(value: ImportMode | str | None) -> ImportMode | None:
    """Return the import mode named ``value`` (``replace``, ``merge``) or None.

    Raises:
        InputError: Another value (field ``mode``).
    """
    if value is None or isinstance(value, ImportMode):
        return value
    try:
        return ImportMode(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in ImportMode)
        raise InputError(f"unknown import mode {value!r}; use {choices}", field="mode") from None


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One parsed bar of a previewed file.

    Attributes:
        line: Where it is in the file: CSV line (header = 1) or Parquet row (first = 1).
        time: Its time in the exchange's zone.
        open: Open price.
        high: High price.
        low: Low price.
        close: Close price.
        volume: Volume (0 when the file has no volume column).
    """

    line: int | None
    time: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (ISO time with its UTC offset)."""
        return {
            "line": self.line,
            "time": self.time.isoformat(),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """What importing a file would store; nothing was written.

    Attributes:
        symbol: The code it would be stored as (upper case).
        market: The market whose calendar and rules were applied.
        timezone: The zone naive times were read in.
        kind: The series it would write (raw or adjusted).
        columns: The file's column names, in order.
        mapping: Field (time, open, high, low, close, volume) to the file's column.
        missing_fields: Fields without a column (a missing volume is read as 0).
        date_format: The ``strptime`` format the dates were read with, when text.
        head: The file's first rows as read (text cells, in ``columns`` order).
        rows: The first parsed bars, in date order (empty when the file has errors).
        bar_count: Number of bars in the file (0 when it has errors).
        first_bar: Day of the first bar.
        last_bar: Day of the last bar.
        quality: The quality report of the file's bars (None when it has errors).
        findings: The import summary of that report (see :func:`summarize_quality`).
        symbol_exists: Whether the catalog has the symbol (None: not checked, no data
            directory given).
        stored: What is stored already in that series (None: nothing).
        errors: The first problems of the file, with their line numbers, in file order.
        error_count: How many problems the file has in all.
    """

    symbol: str
    market: Market
    timezone: str
    kind: PriceKind
    columns: tuple[str, ...]
    mapping: dict[str, str]
    missing_fields: tuple[str, ...]
    date_format: str | None
    head: tuple[tuple[str, ...], ...]
    rows: tuple[PreviewRow, ...]
    bar_count: int
    first_bar: dt.date | None
    last_bar: dt.date | None
    quality: QualityReport | None
    findings: tuple[QualityFinding, ...]
    symbol_exists: bool | None
    stored: Coverage | None
    errors: tuple[FileProblem, ...]
    error_count: int

    @property
    def ok(self) -> bool:
        """True when the file can be imported."""
        return not self.errors

    @property
    def needs_mode(self) -> bool:
        """True when the series is stored already: the import must replace or merge."""
        return self.stored is not None

    def to_dict(self) -> dict[str, object]:
        """Return the preview as a JSON-ready dict."""
        return {
            "ok": self.ok,
            "symbol": self.symbol,
            "market": self.market.value,
            "timezone": self.timezone,
            "kind": self.kind.value,
            "columns": list(self.columns),
            "mapping": dict(self.mapping),
            "missing_fields": list(self.missing_fields),
            "date_format": self.date_format,
            "head": [list(row) for row in self.head],
            "rows": [row.to_dict() for row in self.rows],
            "bar_count": self.bar_count,
            "first_bar": _iso(self.first_bar),
            "last_bar": _iso(self.last_bar),
            "quality": None if self.quality is None else self.quality.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
            "symbol_exists": self.symbol_exists,
            "stored": _coverage_dict(self.stored),
            "needs_mode": self.needs_mode,
            "errors": [error.to_dict() for error in self.errors],
            "error_count": self.error_count,
        }


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored.

    Attributes:
        symbol: The symbol's catalog entry after the import (coverage updated).
        kind: The series written (raw or adjusted).
        mode: How a stored series was changed; None when the series was new.
        file_bars: Number of bars in the file.
        first_bar: Day of the file's first bar.
        last_bar: Day of the file's last bar.
        stored_before: Bars stored in that series before the import.
        overwritten: Bars of the file whose dates were stored already.
        quality: The quality report of the series as stored now.
        findings: The import summary of that report (see :func:`summarize_quality`).
    """

    symbol: SymbolInfo
    kind: PriceKind
    mode: ImportMode | None
    file_bars: int
    first_bar: dt.date
    last_bar: dt.date
    stored_before: int
    overwritten: int
    quality: QualityReport
    findings: tuple[QualityFinding, ...]

    @property
    def new_dates(self) -> int:
        """Bars of the file on dates that were not stored before."""
        return self.file_bars - self.overwritten

    def to_dict(self) -> dict[str, object]:
        """Return the result as a JSON-ready dict."""
        symbol = self.symbol
        return {
            "symbol": symbol.code,
            "market": symbol.market.value,
            "kind": self.kind.value,
            "mode": None if self.mode is None else self.mode.value,
            "file_bars": self.file_bars,
            "first_bar": self.first_bar.isoformat(),
            "last_bar": self.last_bar.isoformat(),
            "stored_before": self.stored_before,
            "overwritten": self.overwritten,
            "new_dates": self.new_dates,
            "stored": {
                "bar_count": symbol.bar_count,
                "first_bar": _iso(symbol.first_bar),
                "last_bar": _iso(symbol.last_bar),
            },
            "quality": self.quality.to_dict(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


def preview_import(
    path: Path,
    *,
    symbol: str,
    mapping: Mapping[str, str] | None = None,
    date_format: str | None = None,
    tz: str | None = None,
    market: Market | None = None,
    adjusted: bool = False,
    data: MarketData | None = None,
) -> ImportPreview:
    """Read and check a file as an import would, without writing anything.

    Problems of the file (unreadable, a missing column, a bad date or number, an
    invalid bar) are returned in ``errors`` with their line numbers, not raised.

    Args:
        path: A CSV (UTF-8 or CP949) or Parquet file.
        symbol: The code to store it as.
        mapping: Field (time, open, high, low, close, volume) to the file's column
            name, for the fields not found by name.
        date_format: ``strptime`` format of text dates (default: ISO 8601 or a
            year-first form, see :data:`privatetrade.data.files.DEFAULT_DATE_FORMATS`).
        tz: Zone of naive times (default: the market's).
        market: The symbol's market (default: the stored symbol's, else ``OTHER``).
        adjusted: The file holds adjusted prices (the adjusted series is the target).
        data: The data directory to compare with: tells whether the symbol and its
            series are stored, and the stored symbol's market. Without it,
            ``symbol_exists`` is None and ``stored`` is None.

    Returns:
        The preview; ``preview.ok`` is False when the file cannot be imported.

    Raises:
        InputError: A bad argument: symbol code, mapping field, date format, time
            zone, or a market other than the stored symbol's.
    """
    target = _Target.of(data, symbol, market=market, tz=tz, adjusted=adjusted)
    parsed = parse_bars_file(path, tz=target.zone, columns=mapping, date_format=date_format)
    frame = parsed.frame
    report = None if frame is None else quality_report(frame, target.market, symbol=target.code)
    findings = () if report is None else _findings(report, target, parsed)
    return ImportPreview(
        symbol=target.code,
        market=target.market,
        timezone=target.zone,
        kind=target.kind,
        columns=parsed.columns,
        mapping=dict(parsed.mapping),
        missing_fields=_missing_fields(parsed),
        date_format=parsed.date_format,
        head=parsed.head,
        rows=() if frame is None else _preview_rows(frame, parsed),
        bar_count=0 if frame is None else len(frame),
        first_bar=None if report is None else report.first_bar,
        last_bar=None if report is None else report.last_bar,
        quality=report,
        findings=findings,
        symbol_exists=None if data is None else target.existing is not None,
        stored=target.stored,
        errors=parsed.problems,
        error_count=parsed.problem_count,
    )


def import_bars_file(
    data: MarketData,
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
    """Import a CSV or Parquet file as a symbol's bars: all rows or none.

    See :meth:`privatetrade.data.market_data.MarketData.import_file`, which calls this.

    Raises:
        ImportModeError: The series is stored and ``mode`` is None (nothing changes).
        InputError: A bad argument (symbol, mode, mapping, date format, zone, market).
        BarsFileError: The file cannot be imported; names the first bad line.
    """
    chosen = parse_import_mode(mode)
    target = _Target.of(data, code, market=market, tz=tz, adjusted=adjusted)
    if target.stored is not None and chosen is None:
        raise ImportModeError(target.code, target.kind, target.stored)
    parsed = parse_bars_file(path, tz=target.zone, columns=columns, date_format=date_format)
    frame = parsed.frame
    if frame is None:
        raise parsed.error()
    merging = target.stored is not None and chosen is ImportMode.MERGE
    overwritten = _stored_dates_in(data, target, frame) if target.stored is not None else 0
    entry = target.entry(name, replacing=target.stored is not None and not merging)
    saved = data.save_bars(entry, frame, kind=target.kind, merge=merging)
    stored = data.store.read(target.code, kind=target.kind) if merging else frame
    report = quality_report(stored, target.market, symbol=target.code)
    first, last = frame.index[0], frame.index[-1]
    return ImportResult(
        symbol=saved,
        kind=target.kind,
        mode=None if target.stored is None else chosen,
        file_bars=len(frame),
        first_bar=first.date(),
        last_bar=last.date(),
        stored_before=0 if target.stored is None else target.stored.bar_count,
        overwritten=overwritten,
        quality=report,
        findings=_findings(report, target, parsed),
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """The symbol and series an import writes, resolved against the data directory."""

    code: str
    market: Market
    zone: str
    kind: PriceKind
    existing: SymbolInfo | None
    stored: Coverage | None

    @classmethod
    def of(
        cls,
        data: MarketData | None,
        code: str,
        *,
        market: Market | None,
        tz: str | None,
        adjusted: bool,
    ) -> _Target:
        code = code.strip().upper()
        kind = PriceKind.ADJUSTED if adjusted else PriceKind.RAW
        existing = stored = None
        if data is not None:
            data.store.path(code, kind)  # checks the code
            existing = data.catalog.get(code) if code in data.catalog else None
            stored = data.store.coverage(code, kind)
        if existing is not None and market is not None and market is not existing.market:
            raise InputError(
                f"{code} is stored as a {existing.market.value} symbol, not "
                f"{market.value}; leave the market out (or delete the symbol first)",
                field="market",
            )
        chosen = market or (existing.market if existing is not None else Market.OTHER)
        return cls(code, chosen, tz or market_timezone(chosen), kind, existing, stored)

    def entry(self, name: str | None, *, replacing: bool) -> SymbolInfo:
        """Return the catalog entry to store the bars under."""
        if self.existing is None:
            return SymbolInfo(
                code=self.code,
                name=name or self.code,
                market=self.market,
                currency=market_currency(self.market),
                tick_table="krx" if self.zone == "Asia/Seoul" else "us",
                source="import",
            )
        changes: dict[str, object] = {"name": name} if name else {}
        if replacing:  # the user's file is now the series: say where it came from
            changes |= {"source": "import", "synthetic": False}
        return dataclasses.replace(self.existing, **changes)  # type: ignore[arg-type]


def _stored_dates_in(data: MarketData, target: _Target, frame: pd.DataFrame) -> int:
    """Count the file's bars whose times are stored already."""
    stored = data.store.read(target.code, kind=target.kind)
    return int(frame.index.isin(stored.index).sum())


def _findings(
    report: QualityReport, target: _Target, parsed: BarsFile
) -> tuple[QualityFinding, ...]:
    return summarize_quality(
        report, adjusted=target.kind is PriceKind.ADJUSTED, has_volume="volume" in parsed.mapping
    )


def _missing_fields(parsed: BarsFile) -> tuple[str, ...]:
    absent = [field for field in ("time", "open", "high", "low", "close", "volume")
              if field not in parsed.mapping]  # fmt: skip
    return tuple(absent)


def _preview_rows(frame: pd.DataFrame, parsed: BarsFile) -> tuple[PreviewRow, ...]:
    shown = frame.iloc[:PREVIEW_ROWS]
    lines = parsed.lines(len(shown))
    values = shown[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64").tolist()
    return tuple(
        PreviewRow(line, stamp.to_pydatetime(), *row)
        for line, stamp, row in zip(lines, shown.index, values, strict=True)
    )


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _coverage_dict(coverage: Coverage | None) -> dict[str, object] | None:
    if coverage is None:
        return None
    return {
        "bar_count": coverage.bar_count,
        "first_bar": coverage.first_bar.isoformat(),
        "last_bar": coverage.last_bar.isoformat(),
        "source": coverage.source,
    }
