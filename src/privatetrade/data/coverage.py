"""What is stored per symbol, and how its bars look: the data pages' view of the store.

:class:`CoverageIndex` lists the symbols with stored bars (first/last bar, series,
source, when they were last written) with a summary of their quality report
(:func:`privatetrade.data.quality.quality_report`). A report reads the symbol's bars
and checks them against its market's calendar: measured, 2-6 ms a symbol (ten years
of daily bars; 500 symbols in 8 s on a loaded two-core machine), plus, while the
calendar cache is cold, seconds to build the market's calendar. So summaries
are cached under ``<data_dir>/cache/quality/<CODE>.json``, keyed by the bar file's
size and modification time (a listing of many symbols reads small JSON files; a write
to the bars makes the next listing check them again), and the symbols not cached are
checked in a background thread that a listing waits for only briefly.

The checked series is the raw one when it is stored (the tick grid and the daily limit
apply to prices as traded), else the adjusted one, whose prices are off the tick grid
by construction: there the tick-grid findings are left out of the summary's problems.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import structlog

from privatetrade.data.market_data import MarketData
from privatetrade.data.quality import QualityIssue, QualityReport, quality_report
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError, InputError
from privatetrade.files import write_text_atomic

__all__ = [
    "CoverageIndex",
    "CoverageList",
    "Finding",
    "QualitySummary",
    "SymbolCoverage",
    "findings",
]

log = structlog.get_logger("privatetrade.data")

_CACHE_VERSION = 1
# Findings about the tick grid: meaningless for adjusted prices (scaled by factors).
_GRID_FINDINGS = frozenset({"off_grid", "half_tick", "limit_up_locked", "limit_down_locked"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of finding of a quality report that occurred.

    Attributes:
        name: The report's field (``jumps``, ``zero_volume`` ...).
        problem: A problem (else a note).
        count: Days with the finding.
        examples: The first of those days.
        details: Per example day, what the report adds (a split's ratio), if anything.
    """

    name: str
    problem: bool
    count: int
    examples: tuple[dt.date, ...]
    details: tuple[str, ...] = ()


def findings(report: QualityReport, series: PriceKind) -> list[Finding]:
    """The findings of ``report`` that occurred, problems first, in the report's order.

    Tick-grid findings are left out for adjusted prices (off the grid by construction).
    """
    skipped = _GRID_FINDINGS if series is PriceKind.ADJUSTED else frozenset()
    found = []
    for item in fields(report):
        value = getattr(report, item.name)
        if not isinstance(value, QualityIssue) or value.count == 0 or item.name in skipped:
            continue
        details = tuple(getattr(value, "ratios", ()))
        problem = item.name in report.PROBLEMS
        found.append(Finding(item.name, problem, value.count, value.examples, details))
    return sorted(found, key=lambda finding: not finding.problem)


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """The counts of one quality report, small enough to list for every symbol.

    Attributes:
        series: Which stored series was checked (``raw`` or ``adjusted``).
        problems: The problem kinds found (see ``QualityReport.PROBLEMS``).
        counts: Days per finding kind, problems and notes, only those found.
    """

    series: str
    problems: tuple[str, ...]
    counts: Mapping[str, int]

    @property
    def ok(self) -> bool:
        """True when no problem was found (notes do not count)."""
        return not self.problems

    @classmethod
    def of(cls, report: QualityReport, series: PriceKind) -> QualitySummary:
        """Summarize ``report`` of the ``series`` bars."""
        skipped = _GRID_FINDINGS if series is PriceKind.ADJUSTED else frozenset()
        counts = {
            item.name: value.count
            for item in fields(report)
            if isinstance(value := getattr(report, item.name), QualityIssue)
            and value.count > 0
            and item.name not in skipped
        }
        problems = tuple(name for name in report.problems if name in counts)
        return cls(series=series.value, problems=problems, counts=counts)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "series": self.series,
            "ok": self.ok,
            "problems": list(self.problems),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> QualitySummary:
        """Rebuild a summary written by :meth:`to_dict`."""
        counts = data["counts"]
        problems = data["problems"]
        if not isinstance(counts, dict) or not isinstance(problems, list):
            raise ValueError("not a quality summary")
        return cls(
            series=str(data["series"]),
            problems=tuple(str(name) for name in problems),
            counts={str(name): int(count) for name, count in counts.items()},
        )


@dataclass(frozen=True, slots=True)
class SymbolCoverage:
    """One stored symbol: its catalog entry, stored series and quality summary.

    Attributes:
        symbol: The catalog entry (first/last bar, bar count, source, market).
        series: The stored price series (``raw``, ``adjusted``).
        updated_at: When a series of it was last written (UTC).
        quality: The summary of its quality report; None while not checked yet.
    """

    symbol: SymbolInfo
    series: tuple[str, ...]
    updated_at: dt.datetime | None
    quality: QualitySummary | None


@dataclass(frozen=True, slots=True)
class CoverageList:
    """Stored symbols, and how many of them still wait for their quality check.

    Attributes:
        items: The symbols, by code.
        pending: Items whose quality summary is not cached yet (``quality`` None).
    """

    items: list[SymbolCoverage] = field(default_factory=list)
    pending: int = 0


@dataclass(frozen=True, slots=True)
class _FileStamp:
    """Identifies one version of a bar file (a write changes it)."""

    kind: PriceKind
    size: int
    mtime_ns: int

    def key(self, market: Market) -> dict[str, object]:
        return {
            "version": _CACHE_VERSION,
            "series": self.kind.value,
            "market": market.value,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
        }


class CoverageIndex:
    """Coverage and cached quality summaries of the symbols stored in one data directory.

    One index serves a process: the symbols without a cached summary are checked by
    one background thread at a time (:meth:`check_pending`), so a listing never
    waits longer than it chooses to, even when the first check of a market has to
    build its trading calendar (seconds, while the calendar cache is cold).

    Args:
        data: The market data (catalog and bar store).
    """

    def __init__(self, data: MarketData) -> None:
        self.data = data
        self.cache_dir = data.data_dir / "cache" / "quality"
        self._lock = threading.Lock()
        self._checker: threading.Thread | None = None

    def stored(
        self, *, query: str = "", market: Market | None = None, problems_only: bool = False
    ) -> CoverageList:
        """List the symbols with stored bars, by code, with their cached quality summaries.

        Symbols whose summary is not cached (new or changed bars) come back with
        ``quality`` None and count as pending: :meth:`check_pending` checks them.

        Args:
            query: Keep symbols whose code or name contains this (any case).
            market: Keep only this market.
            problems_only: Keep only symbols whose check found a problem.
        """
        wanted = query.strip().casefold()
        items: list[SymbolCoverage] = []
        pending = 0
        for symbol in self.data.catalog.all(market):
            if wanted and not _matches(symbol, wanted):
                continue
            stamps = self._stamps(symbol.code)
            if not stamps:
                continue
            quality = self._cached(symbol, stamps[0])
            if quality is None:
                pending += 1
            elif problems_only and quality.ok:
                continue
            items.append(_coverage(symbol, stamps, quality))
        return CoverageList(items, pending)

    def check_pending(self, wait_seconds: float) -> bool:
        """Check every stored symbol without a cached summary; wait for it up to a limit.

        The check runs in a background thread (one at a time: a call while it runs
        waits for that one) and goes on after the wait ends; its summaries land in
        the cache, where the next :meth:`stored` finds them.

        Returns:
            True when the check finished within ``wait_seconds``.
        """
        with self._lock:
            if self._checker is None or not self._checker.is_alive():
                self._checker = threading.Thread(
                    target=self._check_all, name="privatetrade-quality-check", daemon=True
                )
                self._checker.start()
            checker = self._checker
        checker.join(max(0.0, wait_seconds))
        return not checker.is_alive()

    def _check_all(self) -> None:
        for symbol in self.data.catalog.all():
            stamps = self._stamps(symbol.code)
            if stamps and self._cached(symbol, stamps[0]) is None:
                self._summarize(symbol, stamps[0])

    def coverage(self, code: str) -> SymbolCoverage:
        """Return one symbol's coverage with its quality summary (computed if needed).

        Raises:
            InputError: Unknown symbol (``field`` is ``symbol``).
            DataError: No bars stored for it.
        """
        symbol = self.data.symbol(code)
        stamps = self._stamps(symbol.code)
        if not stamps:
            raise DataError(f"no bars stored for {symbol.code}")
        quality = self._cached(symbol, stamps[0]) or self._summarize(symbol, stamps[0])
        return _coverage(symbol, stamps, quality)

    def report(self, code: str) -> tuple[PriceKind, QualityReport]:
        """Return the full quality report of ``code``'s checked series (raw if stored).

        Raises:
            InputError: Unknown symbol.
            DataError: No bars stored for it.
        """
        symbol = self.data.symbol(code)
        stamps = self._stamps(symbol.code)
        if not stamps:
            raise DataError(f"no bars stored for {symbol.code}")
        kind = stamps[0].kind
        bars = self.data.store.read(symbol.code, kind=kind)
        report = quality_report(bars, symbol.market, symbol=symbol.code, index=symbol.is_index)
        self._store(symbol, stamps[0], QualitySummary.of(report, kind))
        return kind, report

    def forget(self, code: str) -> None:
        """Drop the cached summary of ``code`` (after its bars were deleted)."""
        path = self._cache_path(code)
        if path is not None:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ internals

    def _stamps(self, code: str) -> list[_FileStamp]:
        """The stored series of ``code``, raw first (the one to check)."""
        stamps = []
        for kind in (PriceKind.RAW, PriceKind.ADJUSTED):
            try:
                stat = self.data.store.path(code, kind).stat()
            except (OSError, InputError):
                continue
            stamps.append(_FileStamp(kind, stat.st_size, stat.st_mtime_ns))
        return stamps

    def _cache_path(self, code: str) -> Path | None:
        try:
            folder = self.data.store.path(code).parent.name  # a checked, upper-case code
        except InputError:
            return None
        return self.cache_dir / f"{folder}.json"

    def _cached(self, symbol: SymbolInfo, stamp: _FileStamp) -> QualitySummary | None:
        path = self._cache_path(symbol.code)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("key") != stamp.key(symbol.market):
                return None
            return QualitySummary.from_dict(entry["summary"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _summarize(self, symbol: SymbolInfo, stamp: _FileStamp) -> QualitySummary | None:
        try:
            bars = self.data.store.read(symbol.code, kind=stamp.kind)
            report = quality_report(bars, symbol.market, symbol=symbol.code, index=symbol.is_index)
        except (DataError, InputError, OSError) as exc:
            log.warning("data.quality_failed", symbol=symbol.code, error=str(exc))
            return None
        summary = QualitySummary.of(report, stamp.kind)
        self._store(symbol, stamp, summary)
        return summary

    def _store(self, symbol: SymbolInfo, stamp: _FileStamp, summary: QualitySummary) -> None:
        path = self._cache_path(symbol.code)
        if path is None:
            return
        entry = {"key": stamp.key(symbol.market), "summary": summary.to_dict()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(entry))
        except OSError as exc:  # a cache: the listing works without it
            log.warning("data.quality_cache_failed", symbol=symbol.code, error=str(exc))


def _matches(symbol: SymbolInfo, wanted: str) -> bool:
    names = (symbol.code, symbol.name, symbol.name_en or "")
    return any(wanted in name.casefold() for name in names)


def _coverage(
    symbol: SymbolInfo, stamps: list[_FileStamp], quality: QualitySummary | None
) -> SymbolCoverage:
    newest = max(stamp.mtime_ns for stamp in stamps)
    return SymbolCoverage(
        symbol=symbol,
        series=tuple(stamp.kind.value for stamp in stamps),
        updated_at=dt.datetime.fromtimestamp(newest / 1e9, tz=dt.UTC),
        quality=quality,
    )
