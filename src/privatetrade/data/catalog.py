"""The symbol catalog: codes, Korean and English names, markets, stored coverage.

Kept as one JSON file (``catalog.json``) in the data directory, written atomically,
and searched in memory: by code prefix and by name substring, Hangul included
(``삼성`` finds 삼성전자), case- and width-insensitive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privatetrade.data.symbols import Market, SymbolInfo, SymbolKind
from privatetrade.errors import DataError, InputError
from privatetrade.files import write_text_atomic

__all__ = ["CATALOG_VERSION", "SearchHit", "SymbolCatalog", "normalize"]

CATALOG_VERSION = 1


def normalize(text: str) -> str:
    """Return ``text`` folded for matching: NFKC (full-width -> ASCII), casefold, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search result: the symbol and how well it matched (higher is better)."""

    symbol: SymbolInfo
    score: float


@dataclass(frozen=True, slots=True)
class _Entry:
    symbol: SymbolInfo
    code: str
    names: tuple[str, ...]


def _score(entry: _Entry, query: str) -> float:
    """Rank one symbol for a normalized query; 0 means no match."""
    code = entry.code
    if code == query:
        return 100.0
    if code.startswith(query):
        return 90.0 - (len(code) - len(query)) * 0.1
    best = 0.0
    for name in entry.names:
        if name == query:
            best = max(best, 85.0)
        elif name.startswith(query):
            best = max(best, 70.0 + 10.0 * len(query) / len(name))
        else:
            position = name.find(query)
            if position >= 0:
                best = max(best, 50.0 + 10.0 * len(query) / len(name) - 0.1 * position)
    return best


class SymbolCatalog:
    """All known symbols, persisted in ``<data_dir>/catalog.json``.

    Reads see other processes' changes: the file is re-read when it was replaced (a
    running server sees a symbol the CLI imported a moment ago).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "catalog.json"
        self._entries: dict[str, _Entry] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._reload()

    def __len__(self) -> int:
        self._refresh()
        return len(self._entries)

    def __contains__(self, code: object) -> bool:
        self._refresh()
        return isinstance(code, str) and code.upper() in self._entries

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        if self._file_stamp() != self._stamp:
            self._reload()

    def get(self, code: str) -> SymbolInfo:
        """Return the symbol ``code`` (case-insensitive).

        Raises:
            InputError: Unknown code (``field`` = ``symbol``).
        """
        self._refresh()
        entry = self._entries.get(code.upper())
        if entry is None:
            raise InputError(
                f"unknown symbol {code!r}; search with `privatetrade data search`",
                field="symbol",
                code="unknown_symbol",
                params={"symbol": code},
            )
        return entry.symbol

    def all(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return every symbol (of ``market``), sorted by market then code."""
        self._refresh()
        symbols = [e.symbol for e in self._entries.values()]
        if market is not None:
            symbols = [s for s in symbols if s.market == market]
        return sorted(symbols, key=lambda s: (s.market.value, s.code))

    def upsert(self, symbols: Iterable[SymbolInfo]) -> None:
        """Add or replace symbols and save the catalog (merging other processes' changes)."""
        with self._locked():
            self._reload()
            self._upsert(symbols)
            self.save()

    def _upsert(self, symbols: Iterable[SymbolInfo]) -> None:
        for symbol in symbols:
            if not symbol.code or not symbol.name:
                raise InputError("a symbol needs a code and a name", field="symbol")
            code = symbol.code.upper()
            symbol = dataclasses.replace(symbol, code=code)
            names = tuple(normalize(n) for n in (symbol.name, symbol.name_en) if n)
            self._entries[code] = _Entry(symbol, normalize(code), names)

    def remove(self, code: str) -> bool:
        """Remove ``code``; return whether it was there."""
        with self._locked():
            self._reload()
            removed = self._entries.pop(code.upper(), None) is not None
            if removed:
                self.save()
        return removed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the catalog across processes (read-modify-write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _reload(self) -> None:
        self._entries = {}
        self._stamp = self._file_stamp()
        if self._stamp is not None:
            self._load()

    def search(
        self, query: str, *, market: Market | None = None, limit: int = 20
    ) -> list[SearchHit]:
        """Return symbols matching ``query`` by code prefix or name substring, best first.

        Ranking: exact code, code prefix, exact name, name prefix, then name substring
        (shorter names and earlier matches first); listed before delisted, symbols with
        stored bars before those without, then by code.
        """
        folded = normalize(query)
        if not folded:
            return []
        self._refresh()
        hits = []
        for entry in self._entries.values():
            if market is not None and entry.symbol.market != market:
                continue
            score = _score(entry, folded)
            if score > 0:
                symbol = entry.symbol
                bonus = (symbol.status == "listed") * 0.5 + (symbol.bar_count > 0) * 0.25
                hits.append(SearchHit(symbol, score + bonus))
        hits.sort(key=lambda hit: (-hit.score, hit.symbol.code))
        return hits[:limit]

    def save(self) -> None:
        """Write the catalog file atomically."""
        document = {
            "version": CATALOG_VERSION,
            "symbols": [_to_json(e.symbol) for e in self._entries.values()],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(document, ensure_ascii=False, indent=1))
        self._stamp = self._file_stamp()

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            symbols = [_from_json(item) for item in document["symbols"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"the symbol catalog {self.path} is unreadable: {exc}") from exc
        for symbol in symbols:
            names = tuple(normalize(n) for n in (symbol.name, symbol.name_en) if n)
            self._entries[symbol.code] = _Entry(symbol, normalize(symbol.code), names)


def _to_json(symbol: SymbolInfo) -> dict[str, Any]:
    data = dataclasses.asdict(symbol)
    data["market"] = symbol.market.value
    for key in ("first_bar", "last_bar"):
        data[key] = None if data[key] is None else data[key].isoformat()
    data["adjusted"] = list(symbol.adjusted)
    data["kind"] = symbol.kind.value
    return data


def _from_json(data: dict[str, Any]) -> SymbolInfo:
    values = dict(data)
    values["market"] = Market(values["market"])
    for key in ("first_bar", "last_bar"):
        values[key] = None if values.get(key) is None else dt.date.fromisoformat(values[key])
    values["adjusted"] = tuple(values.get("adjusted", ()))
    values["kind"] = SymbolKind(values.get("kind", SymbolKind.STOCK))  # absent before indices
    return SymbolInfo(**values)
