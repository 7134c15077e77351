"""Turn the cells of a bars file into checked bars, noting where each bad row is.

Dates are read strictly: by default ISO 8601 (``2024-01-02``, ``2024-01-02 09:00:00``,
``2024-01-02T09:00:00+09:00``) or the year-first ``20240102``, ``2024.01.02`` and
``2024/01/02``, recognized from the first row and required of every row; anything
else (``01/02/2024`` could be either day) needs an explicit ``strptime`` format.
Naive times are wall-clock time of the exchange's zone. A file sorted newest first
is read in reverse. The rows are then checked with the engine's bar rules (finite,
positive prices, low <= open, close <= high, non-negative volume, increasing dates),
so bars read here are accepted by the bar store.

Problems are noted by the row's position among the file's data rows;
:mod:`privatetrade.data.files` turns positions into line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_DATE_FORMATS", "FILE_ROW", "RowProblem", "RowReader"]

DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "YYYY-MM-DD",
    "YYYY-MM-DD HH:MM[:SS[.fff]][+HH:MM|Z] (T or space)",
    "YYYYMMDD",
    "YYYY.MM.DD",
    "YYYY/MM/DD",
)
"""The date forms read without a date format (year first: never ambiguous)."""
FILE_ROW = -1
"""The position of a problem of the whole file (no rows, a column of non-dates)."""

_PRICES = ("open", "high", "low", "close")
_FIELDS = (*_PRICES, "volume")
_YEAR_FIRST = (
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d"),
    (re.compile(r"\d{8}"), "%Y%m%d"),
    (re.compile(r"\d{4}\.\d{2}\.\d{2}"), "%Y.%m.%d"),
    (re.compile(r"\d{4}/\d{2}/\d{2}"), "%Y/%m/%d"),
)
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?P<sep>[T ])\d{2}:\d{2}"
    r"(?P<seconds>:\d{2}(?P<fraction>\.\d{1,9})?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)
_COMPACT = re.compile(r"(?:%[YymdHMS])+")
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A bad row: its position among the data rows, what is wrong, the column.

    Attributes:
        position: 0 for the file's first data row; :data:`FILE_ROW` for the file.
        message: What is wrong.
        column: The file's column concerned, when one is.
    """

    position: int
    message: str
    column: str | None = None


class RowReader:
    """Reads the cells of a raw table into checked bars, noting the bad rows.

    Args:
        raw: The file's table as pandas read it (one row per data row).
        found: Field (time, open, high, low, close, volume) to column; volume optional.
        limit: How many problems to describe (all are counted in :attr:`count`).
        where: Names the place of data-row positions in the file (``line 7``); used
            in messages that point at another row.
    """

    def __init__(
        self,
        raw: pd.DataFrame,
        found: dict[str, str],
        *,
        limit: int,
        where: Callable[[list[int]], list[str]],
    ) -> None:
        self.raw = raw
        self.found = found
        self.limit = max(1, limit)
        self.where = where
        self.count = 0
        """How many problems were found in all."""
        self.date_format: str | None = None
        """The ``strptime`` format text dates were read with."""
        self._found: list[RowProblem] = []

    @property
    def problems(self) -> tuple[RowProblem, ...]:
        """The first problems, in file order."""
        return tuple(sorted(self._found, key=lambda item: item.position)[: self.limit])

    def _add(self, positions: Ints, describe: Callable[[int], str], column: str | None) -> None:
        """Count ``positions`` as problems and describe the first few."""
        self.count += int(positions.shape[0])
        for position in positions[: self.limit].tolist():
            self._found.append(RowProblem(position, describe(position), column))

    def read(self, tz: str, date_format: str | None) -> tuple[pd.DataFrame, Ints] | None:
        """Return (bars in date order, their row positions in the file), or None."""
        import pandas as pd

        n = len(self.raw)
        if n == 0:
            self.count += 1
            self._found.append(RowProblem(FILE_ROW, "the file has no rows"))
            return None
        times = self._times(tz, date_format)
        values = {field: self._numbers(field) for field in _FIELDS}
        if times is None or self.count:
            return None
        positions = np.arange(n, dtype=np.int64)
        stamps = times.as_unit("ns").asi8
        if n > 1 and bool(np.all(stamps[1:] < stamps[:-1])):  # newest first
            positions = positions[::-1].copy()
            times, stamps = times[::-1], stamps[::-1]
            values = {field: column[::-1] for field, column in values.items()}
        self._check_rows(stamps, values, positions, times)
        if self.count:
            return None
        frame = pd.DataFrame(values, index=pd.DatetimeIndex(times, name="time"))
        return frame, positions

    # -------------------------------------------------------------- dates

    def _times(self, tz: str, date_format: str | None) -> pd.DatetimeIndex | None:
        import pandas as pd

        column = self.found["time"]
        values = self.raw[column]
        first = _first_present(values)
        typed = isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M"
        parsed: pd.DatetimeIndex | None
        if typed or (values.dtype.kind == "O" and first is not None and not isinstance(first, str)):
            parsed = pd.DatetimeIndex(pd.to_datetime(values, errors="coerce"))
            self._flag_unparsed(
                parsed, values, column, lambda p: f"{values.iloc[p]!r} is not a date"
            )
        else:
            parsed = self._text_times(values, column, date_format, first)
        return None if parsed is None or self.count else self._in_zone(parsed, tz, column)

    def _text_times(
        self, values: pd.Series, column: str, date_format: str | None, first: object
    ) -> pd.DatetimeIndex | None:
        import pandas as pd

        if values.dtype.kind in "iuf":
            as_text = self._integer_dates(values, column)
            if as_text is None:
                return None
            values, first = as_text, _first_present(as_text)
        if values.dtype.kind != "O":
            self._add(
                np.array([FILE_ROW]),
                lambda _: f"the date column {column!r} holds {values.dtype} values, not dates",
                column,
            )
            return None
        fmt = date_format or self._recognized_format(values, column, first)
        if fmt is None:
            return None
        self.date_format = fmt
        parsed = pd.DatetimeIndex(
            pd.to_datetime(values, format=fmt, errors="coerce", utc="%z" in fmt)
        )
        width = _compact_width(fmt)
        if width is not None:  # 2024012 would pass strptime as 2024-01-02
            parsed = pd.DatetimeIndex(parsed.where(values.str.len().to_numpy() == width))
        origin = "the date format" if date_format else "the format of the first row"
        self._flag_unparsed(
            parsed,
            values,
            column,
            lambda p: f"date {values.iloc[p]!r} does not match {origin} ({_shown(fmt)})",
        )
        return parsed

    def _integer_dates(self, values: pd.Series, column: str) -> pd.Series | None:
        """Return numeric dates (20240102 read as a number) as text, or None."""
        numbers = values.to_numpy(dtype=np.float64)
        missing = np.isnan(numbers)
        whole = ~missing & (numbers == np.floor(numbers))
        self._add(np.flatnonzero(missing), lambda _: "the date is missing", column)
        self._add(
            np.flatnonzero(~missing & ~whole),
            lambda p: f"date {values.iloc[p]!r} is not a date",
            column,
        )
        if self.count:
            return None
        return values.astype(np.int64).astype(str).astype(object)

    def _recognized_format(self, values: pd.Series, column: str, first: object) -> str | None:
        if first is None:
            return None  # every date is missing: flagged as such
        fmt = _format_of(first) if isinstance(first, str) else None
        if fmt is None:
            position = int(np.argmax(values.notna().to_numpy()))
            self._add(
                np.array([position], dtype=np.int64),
                lambda _: (
                    f"date {first!r} is not in a recognized form "
                    f"({', '.join(DEFAULT_DATE_FORMATS[:1] + DEFAULT_DATE_FORMATS[2:])} "
                    "or an ISO 8601 timestamp); give the date format, e.g. %m/%d/%Y "
                    "or %d/%m/%Y (--date-format)"
                ),
                column,
            )
        return fmt

    def _flag_unparsed(
        self,
        parsed: pd.DatetimeIndex,
        values: pd.Series,
        column: str,
        mismatch: Callable[[int], str],
    ) -> None:
        """Flag the rows without a time: a missing date, or one that did not parse."""
        unparsed = np.flatnonzero(np.asarray(parsed.isna()))
        if unparsed.shape[0] == 0:
            return
        missing = values.iloc[unparsed].isna().to_numpy()
        self._add(unparsed[missing], lambda _: "the date is missing", column)
        self._add(unparsed[~missing], mismatch, column)

    def _in_zone(self, parsed: pd.DatetimeIndex, tz: str, column: str) -> pd.DatetimeIndex:
        if parsed.tz is not None:
            return parsed.tz_convert(tz)
        placed = parsed.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        self._add(
            np.flatnonzero(np.asarray(placed.isna())),
            lambda p: (
                f"{parsed[p]} does not exist or is ambiguous in {tz} (a daylight-saving "
                "change); write the time with its UTC offset"
            ),
            column,
        )
        return placed

    # -------------------------------------------------------------- numbers

    def _numbers(self, field: str) -> npt.NDArray[np.float64]:
        import pandas as pd

        column = self.found.get(field)
        if column is None:
            return np.zeros(len(self.raw))
        values = self.raw[column]
        if values.dtype.kind in "iuf":
            return values.to_numpy(dtype=np.float64)
        text = values.astype(str).str.replace(",", "", regex=False).where(values.notna())
        converted = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(converted.isna().to_numpy() & values.notna().to_numpy())
        self._add(bad, lambda p: f"{field} {values.iloc[p]!r} is not a number", column)
        return converted.to_numpy(dtype=np.float64)

    # -------------------------------------------------------------- rows

    def _check_rows(
        self,
        stamps: Ints,
        values: dict[str, npt.NDArray[np.float64]],
        positions: Ints,
        times: pd.DatetimeIndex,
    ) -> None:
        """Flag the rows the engine's bar validation would reject, with the reason.

        The conditions are those of ``first_invalid_bar_nb``; a file passing them is
        accepted by the bar store.
        """
        o, h, lo, c, v = (values[field] for field in _FIELDS)
        good = (lo > 0.0) & (h < np.inf) & (v >= 0.0) & (v < np.inf)
        good &= (h >= o) & (h >= c) & (lo <= o) & (lo <= c)
        good[1:] &= stamps[1:] > stamps[:-1]
        bad = np.flatnonzero(~good)
        if bad.shape[0] == 0:
            return
        self.count += int(bad.shape[0])
        shown = bad[: self.limit].tolist()
        previous = self.where([int(positions[i - 1]) if i > 0 else FILE_ROW for i in shown])
        for i, before in zip(shown, previous, strict=True):
            row = _RowValues(*(float(values[field][i]) for field in _FIELDS))
            field, message = row.reason() or _order_reason(
                bool(stamps[i] == stamps[i - 1]),
                _day_text(times[i]),
                _day_text(times[i - 1]),
                before,
            )
            column = self.found.get(field)
            self._found.append(RowProblem(int(positions[i]), message, column))


@dataclass(frozen=True, slots=True)
class _RowValues:
    open: float
    high: float
    low: float
    close: float
    volume: float

    def reason(self) -> tuple[str, str] | None:
        """Return (field, what is wrong) of the row's values (not its date), or None.

        The order is the engine's: not finite, not positive, high below the body, low
        above it, negative volume.
        """
        for field in _FIELDS:
            if not np.isfinite(getattr(self, field)):
                return field, f"{field} is missing or not a finite number"
        for field in _PRICES:
            if getattr(self, field) <= 0.0:
                return field, f"{field} is not positive: {getattr(self, field):g}"
        body = {"open": self.open, "close": self.close}
        for other, price in body.items():
            if self.high < price:
                return "high", f"high is below the {other}: high {self.high:g}, {other} {price:g}"
        for other, price in body.items():
            if self.low > price:
                return "low", f"low is above the {other}: low {self.low:g}, {other} {price:g}"
        if self.volume < 0.0:
            return "volume", f"volume is negative: {self.volume:g}"
        return None


def _order_reason(duplicate: bool, day: str, before: str, where: str) -> tuple[str, str]:
    if duplicate:
        return "time", f"duplicate date {day} (also on {where})"
    return "time", (
        f"dates are not in order: {day} comes after {before} on {where} "
        "(sort the file by date, oldest or newest first)"
    )


def _day_text(stamp: pd.Timestamp) -> str:
    local = stamp.tz_localize(None)
    return local.date().isoformat() if local == local.normalize() else local.isoformat(sep=" ")


def _first_present(values: pd.Series) -> object:
    """Return the first value that is not missing (None when all are)."""
    import pandas as pd

    if len(values) and not pd.isna(values.iloc[0]):
        return values.iloc[0]
    present = values.dropna()
    return present.iloc[0] if len(present) else None


def _format_of(text: str) -> str | None:
    """Return the strptime format of a default date form, or None."""
    for pattern, fmt in _YEAR_FIRST:
        if pattern.fullmatch(text):
            return fmt
    match = _ISO_TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    fmt = f"%Y-%m-%d{match['sep']}%H:%M"
    if match["seconds"]:
        fmt += ":%S.%f" if match["fraction"] else ":%S"
    return fmt + ("%z" if match["zone"] else "")


def _compact_width(fmt: str) -> int | None:
    """Return the text width of a format without separators (%Y%m%d: 8), else None."""
    if not _COMPACT.fullmatch(fmt):
        return None
    return sum(4 if directive == "Y" else 2 for directive in fmt[1::2])


def _shown(fmt: str) -> str:
    readable = (
        fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
        .replace("%H", "HH").replace("%M", "MM").replace("%S", "SS")
        .replace(".%f", ".fff").replace("%z", "+HH:MM")
    )  # fmt: skip
    return readable if "%" not in readable else fmt
