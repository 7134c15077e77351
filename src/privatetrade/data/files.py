"""Read OHLCV bars from the user's CSV and Parquet files, citing the file's lines.

Columns are found by name (English or Korean, any case) or mapped explicitly; the
cells are read into checked bars by :mod:`privatetrade.data.file_rows` (strict
dates, numbers, the engine's bar rules). Every bad row is reported with where it is
in the file: the physical line of a CSV file (the header is line 1; blank lines and
cells spanning lines counted) or the row number of a Parquet file (the first row is
row 1).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from privatetrade.data.file_rows import DEFAULT_DATE_FORMATS, FILE_ROW, RowReader
from privatetrade.errors import DataError, InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "COLUMN_ALIASES",
    "DEFAULT_DATE_FORMATS",
    "BarsFile",
    "BarsFileError",
    "FileProblem",
    "parse_bars_file",
    "read_bars_file",
]

# Recognized column names per field (compared case-insensitively, spaces ignored).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "date", "datetime", "timestamp", "날짜", "일자", "일시"),
    "open": ("open", "시가"),
    "high": ("high", "고가"),
    "low": ("low", "저가"),
    "close": ("close", "종가", "현재가"),
    "volume": ("volume", "vol", "거래량"),
}
_ENCODINGS = ("utf-8-sig", "cp949")
_EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One reason a file cannot be imported, located in the file.

    Attributes:
        message: What is wrong, e.g. ``high is below the open: high 9, open 10``.
        line: The CSV line (header = 1) or the Parquet row (first row = 1); None for
            the whole file (a missing column, an unreadable file).
        unit: ``line`` (CSV) or ``row`` (Parquet).
        column: The file's column concerned, when one is.
    """

    message: str
    line: int | None = None
    unit: str = "line"
    column: str | None = None

    def __str__(self) -> str:
        return self.message if self.line is None else f"{self.unit} {self.line}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (``text`` is the message with its location)."""
        return {
            "line": self.line,
            "unit": self.unit,
            "column": self.column,
            "message": self.message,
            "text": str(self),
        }


class BarsFileError(DataError):
    """A file of bars cannot be imported; ``problems`` lists the first few reasons."""

    def __init__(self, path: Path, problems: tuple[FileProblem, ...], total: int) -> None:
        more = total - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(f"{path}: {problems[0]}{suffix}")
        self.problems = problems
        self.total = total


@dataclass(frozen=True, slots=True)
class BarsFile:
    """What :func:`parse_bars_file` read from a file.

    Attributes:
        path: The file.
        columns: The file's column names, in order.
        mapping: Field (time, open, high, low, close, volume) to the file's column.
        missing: Fields without a column (volume may be missing: it is then 0).
        date_format: The ``strptime`` format the dates were read with (None when the
            column holds typed dates, or when they could not be read).
        frame: The bars (tz-aware index ``time``, float64 OHLCV) in date order, or
            None when the file has problems.
        problems: The first few problems, in file order; empty when the file is good.
        problem_count: How many problems there are in all.
        head: The first rows as the file has them (text cells in ``columns`` order).
    """

    path: Path
    columns: tuple[str, ...]
    mapping: dict[str, str]
    missing: tuple[str, ...]
    date_format: str | None
    frame: pd.DataFrame | None
    problems: tuple[FileProblem, ...]
    problem_count: int
    head: tuple[tuple[str, ...], ...]
    _locator: _Locator
    _positions: npt.NDArray[np.int64] | None

    @property
    def ok(self) -> bool:
        """True when the file can be imported."""
        return not self.problems

    @property
    def unit(self) -> str:
        """``line`` for a CSV file, ``row`` for a Parquet file."""
        return self._locator.unit

    def lines(self, rows: int) -> list[int | None]:
        """Return where the first ``rows`` bars of :attr:`frame` are in the file."""
        if self._positions is None:
            return []
        return self._locator.lines(self._positions[:rows].tolist())

    def error(self) -> BarsFileError:
        """Return the error that says why this file cannot be imported."""
        return BarsFileError(self.path, self.problems, self.problem_count)


def read_bars_file(
    path: Path,
    *,
    tz: str,
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read a CSV or Parquet file of bars into a DataFrame with a tz-aware index.

    Args:
        path: A ``.csv`` (UTF-8 or CP949, Korean Windows) or ``.parquet`` file.
        tz: Exchange time zone; naive timestamps are wall-clock time there.
        columns: Explicit mapping from our field names (time, open, high, low, close,
            volume) to the file's column names; unmapped fields are found by alias.
        date_format: ``strptime`` format of the time column (default: one of
            :data:`DEFAULT_DATE_FORMATS`).

    Returns:
        Columns open, high, low, close, volume (volume 0 when absent), index ``time``,
        in date order.

    Raises:
        BarsFileError: Unreadable file, missing column, or a bad row (with its line).
        InputError: Unknown field in ``columns``, bad ``date_format`` or ``tz``.
    """
    parsed = parse_bars_file(path, tz=tz, columns=columns, date_format=date_format)
    if parsed.frame is None:
        raise parsed.error()
    return parsed.frame


def parse_bars_file(
    path: Path,
    *,
    tz: str,
    columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
    max_problems: int = _EXAMPLES,
) -> BarsFile:
    """Read and check a file of bars; problems are returned, not raised.

    Args:
        path: A ``.csv`` or ``.parquet`` file.
        tz: Exchange time zone; naive timestamps are wall-clock time there.
        columns: Explicit mapping from our field names to the file's column names.
        date_format: ``strptime`` format of the time column (default: recognized).
        max_problems: How many problems to describe (all are counted).

    Returns:
        The parsed file; ``frame`` is None when ``problems`` is not empty.

    Raises:
        InputError: Unknown field in ``columns``, bad ``date_format`` or ``tz``.
    """
    path = Path(path)
    mapping = _checked_mapping(columns or {})
    _check_arguments(date_format, tz)
    try:
        raw, locator = _read_table(path)
    except _UnreadableFileError as exc:
        return _failed(path, (), {}, (), (FileProblem(str(exc)),), 1, _Locator.none())
    names = tuple(str(column) for column in raw.columns)
    head = tuple(tuple(_cell(v) for v in row) for row in raw.head(_EXAMPLES).itertuples(False))
    found, missing = _find_columns(raw, mapping)
    if missing:
        problems = tuple(FileProblem(_missing_message(field, mapping)) for field in missing)
        return _failed(path, names, found, missing, problems, len(problems), locator, head)
    reader = RowReader(raw, found, limit=max_problems, where=locator.names)
    result = reader.read(tz, date_format)
    if result is None:
        lines = locator.lines([problem.position for problem in reader.problems])
        problems = tuple(
            FileProblem(problem.message, line, locator.unit, problem.column)
            for problem, line in zip(reader.problems, lines, strict=True)
        )
        return _failed(
            path, names, found, missing, problems, reader.count, locator, head,
            reader.date_format,
        )  # fmt: skip
    frame, positions = result
    return BarsFile(
        path, names, found, (), reader.date_format, frame, (), 0, head, locator, positions
    )


def _failed(
    path: Path,
    names: tuple[str, ...],
    found: dict[str, str],
    missing: tuple[str, ...],
    problems: tuple[FileProblem, ...],
    count: int,
    locator: _Locator,
    head: tuple[tuple[str, ...], ...] = (),
    date_format: str | None = None,
) -> BarsFile:
    return BarsFile(
        path, names, found, missing, date_format, None, problems, count, head, locator, None
    )


def _cell(value: object) -> str:
    text = str(value)
    return "" if text in {"nan", "NaT", "None", "<NA>"} else text


def _checked_mapping(mapping: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(COLUMN_ALIASES))
    if unknown:
        fields = ", ".join(COLUMN_ALIASES)
        raise InputError(
            f"unknown field {unknown[0]!r} in the column mapping; use {fields}", field="mapping"
        )
    return dict(mapping)


def _check_arguments(date_format: str | None, tz: str) -> None:
    if date_format is not None and "%" not in date_format:
        raise InputError(
            f"a date format is a strptime pattern such as %m/%d/%Y, got {date_format!r}",
            field="date_format",
            code="date_format_pattern",
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown time zone {tz!r}", field="tz", code="unknown_time_zone", params={"tz": tz}
        ) from exc


def _missing_message(field: str, mapping: Mapping[str, str]) -> str:
    if field in mapping:
        return f"the mapped {field} column {mapping[field]!r} is not in the file"
    aliases = ", ".join(COLUMN_ALIASES[field])
    return f"no {field} column (looked for {aliases}; map it with --column {field}=NAME)"


# ---------------------------------------------------------------------- reading


class _UnreadableFileError(Exception):
    """The file cannot be read as a table at all."""


def _read_table(path: Path) -> tuple[pd.DataFrame, _Locator]:
    import pandas as pd

    if not path.is_file():
        raise _UnreadableFileError("no such file")
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise _UnreadableFileError(f"not a readable Parquet file: {exc}") from exc
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        return frame, _Locator.parquet()
    last_error: Exception | None = None
    for encoding in _ENCODINGS:
        try:
            frame = pd.read_csv(path, encoding=encoding, thousands=",")
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _UnreadableFileError(f"not a readable CSV file: {exc}") from exc
        if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()  # a header one field short: the dates became the index
        return frame, _Locator.csv(path, encoding)
    raise _UnreadableFileError(f"unknown text encoding (tried UTF-8 and CP949): {last_error}")


def _key(name: object) -> str:
    return "".join(str(name).split()).casefold()


def _find_columns(
    raw: pd.DataFrame, mapping: Mapping[str, str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Return (field -> column found, fields missing); volume may be missing."""
    by_key: dict[str, str] = {}
    for column in raw.columns:
        by_key.setdefault(_key(column), column)
    found: dict[str, str] = {}
    missing: list[str] = []
    for field, aliases in COLUMN_ALIASES.items():
        if field in mapping:
            if mapping[field] in raw.columns:
                found[field] = mapping[field]
            else:
                missing.append(field)
            continue
        match = next((by_key[a] for a in aliases if a in by_key), None)
        if match is not None:
            found[field] = match
        elif field != "volume":
            missing.append(field)
    return found, tuple(missing)


class _Locator:
    """Where the n-th data row of a file is: CSV lines are found when first asked."""

    def __init__(self, unit: str, path: Path | None = None, encoding: str = "") -> None:
        self.unit = unit
        self._path = path
        self._encoding = encoding
        self._starts: list[int] = []
        self._complete = False

    @classmethod
    def csv(cls, path: Path, encoding: str) -> _Locator:
        return cls("line", path, encoding)

    @classmethod
    def parquet(cls) -> _Locator:
        return cls("row")

    @classmethod
    def none(cls) -> _Locator:
        return cls("line")

    def names(self, positions: list[int]) -> list[str]:
        """Return where each data-row position is: ``line 7``, ``row 7``."""
        lines = self.lines(positions)
        return [f"{self.unit} {line}" if line else "the previous row" for line in lines]

    def lines(self, positions: list[int]) -> list[int | None]:
        """Return the line (CSV) or row number (Parquet) of each data-row position.

        :data:`FILE_ROW` (the whole file) and a position past the end have no line.
        """
        if self._path is None:
            return [position + 1 if position != FILE_ROW else None for position in positions]
        if positions:
            self._scan_to(self._path, max(positions))
        known = len(self._starts)
        return [self._starts[p] if 0 <= p < known else None for p in positions]

    def _scan_to(self, path: Path, position: int) -> None:
        """Record where each data record starts, up to ``position``, as pandas counts rows.

        Blank and whitespace-only lines are skipped (pandas skips them too); a quoted
        cell may span lines, so a record's line is the one it starts on. Only called
        to describe problems and preview rows, so the pure-Python scan costs nothing
        on a good file.
        """
        if self._complete or position < len(self._starts):
            return
        starts: list[int] = []
        with open(path, encoding=self._encoding, newline="") as handle:
            reader = csv.reader(handle)
            previous = 0
            header_seen = False
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if header_seen:
                    starts.append(start)
                    if len(starts) > position:
                        break
                header_seen = True
            else:
                self._complete = True
        self._starts = starts
