"""Turn user bars (a pandas DataFrame or arrays) into validated engine arrays.

pandas is imported only when the caller hands in pandas objects, so a backtest
on plain arrays starts without paying for the pandas import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from privatetrade.engine.kernels.validate import (
    DUPLICATE_TIME,
    HIGH_BELOW_BODY,
    LOW_ABOVE_BODY,
    NEGATIVE_VOLUME,
    NOT_FINITE,
    NOT_POSITIVE,
    UNSORTED_TIME,
    first_invalid_bar_nb,
)
from privatetrade.engine.strategies.base import Bars
from privatetrade.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BarsInput", "PreparedBars", "bars_sha256", "format_times", "prepare_bars"]

_COLUMNS = ("open", "high", "low", "close", "volume")
_NS_PER_S = 1_000_000_000

BarsInput = Any  # a pandas DataFrame, a Mapping of arrays, or PreparedBars


@dataclass(frozen=True, slots=True)
class PreparedBars:
    """Validated bars with their time zone.

    Attributes:
        bars: The OHLCV arrays (times as UTC nanoseconds).
        local_time_ns: The same times as exchange wall-clock nanoseconds.
        tz: IANA time zone name of the exchange (e.g. ``Asia/Seoul``).
    """

    bars: Bars
    local_time_ns: npt.NDArray[np.int64]
    tz: str

    def __len__(self) -> int:
        return len(self.bars)


def prepare_bars(data: BarsInput, *, tz: str | None = None) -> PreparedBars:
    """Validate bars and return them as engine arrays.

    Args:
        data: A pandas DataFrame with a timezone-aware DatetimeIndex and columns
            open, high, low, close and (optionally) volume in any letter case; or a
            mapping with ``time`` (datetime64 or int64 UTC nanoseconds) and those
            columns as arrays; or :class:`PreparedBars`.
        tz: Time zone of array input (required there; ignored for DataFrames).

    Returns:
        The validated bars.

    Raises:
        DataError: Naming the first bad row and the reason.
    """
    if isinstance(data, PreparedBars):
        return data
    if isinstance(data, Mapping):
        prepared = _from_mapping(data, tz)
    elif type(data).__module__.startswith("pandas"):
        prepared = _from_frame(data)
    else:
        raise DataError(
            f"bars must be a pandas DataFrame or a mapping of arrays, not {type(data).__name__}"
        )
    validate(prepared)
    return prepared


def _column(data: Mapping[str, Any], name: str, length: int | None) -> npt.NDArray[np.float64]:
    lowered = {str(key).lower(): key for key in data}
    if name not in lowered:
        if name == "volume" and length is not None:
            return np.zeros(length)
        raise DataError(f"bars have no '{name}' column")
    try:
        values = np.asarray(data[lowered[name]], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column '{name}' is not numeric: {exc}") from exc
    if values.ndim != 1:
        raise DataError(f"column '{name}' must be one-dimensional")
    return np.ascontiguousarray(values)


def _from_mapping(data: Mapping[str, Any], tz: str | None) -> PreparedBars:
    if tz is None:
        raise DataError("array bars need a time zone: pass tz='Asia/Seoul' (or another name)")
    zone = _zone(tz)
    if "time" not in data:
        raise DataError("bars have no 'time' array")
    raw_time = np.asarray(data["time"])
    if np.issubdtype(raw_time.dtype, np.datetime64):
        time = raw_time.astype("datetime64[ns]").astype(np.int64)
    elif np.issubdtype(raw_time.dtype, np.integer):
        time = raw_time.astype(np.int64)
    else:
        raise DataError("'time' must be datetime64 or int64 nanoseconds since the epoch (UTC)")
    close = _column(data, "close", None)
    columns = [_column(data, name, close.shape[0]) for name in _COLUMNS]
    if any(column.shape[0] != time.shape[0] for column in columns):
        raise DataError("all bar arrays must have the same length")
    bars = Bars(np.ascontiguousarray(time), *columns)
    return PreparedBars(bars, _local_times(time, zone), tz)


def _from_frame(frame: pd.DataFrame) -> PreparedBars:
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"bars must be a DataFrame, not {type(frame).__name__}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex (set the date column as the index)")
    if index.tz is None:
        raise DataError(
            "bar timestamps must be timezone-aware: use frame.tz_localize('Asia/Seoul') "
            "(or the exchange's zone)"
        )
    mapping = {str(name): frame[name].to_numpy() for name in frame.columns}
    columns = [_column(mapping, name, len(frame)) for name in _COLUMNS]
    time = np.ascontiguousarray(index.as_unit("ns").asi8)
    local = np.ascontiguousarray(index.tz_localize(None).as_unit("ns").asi8)
    return PreparedBars(Bars(time, *columns), local, str(index.tz))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DataError(f"unknown time zone {tz!r}") from exc


def _local_times(time: npt.NDArray[np.int64], zone: ZoneInfo) -> npt.NDArray[np.int64]:
    if time.shape[0] == 0:
        return time.copy()
    constant = _constant_offset_ns(time, zone)
    if constant is not None:
        return time + constant
    hours = time // (3600 * _NS_PER_S)
    unique_hours, inverse = np.unique(hours, return_inverse=True)
    table = np.array([_offset_at(int(h) * 3600 * _NS_PER_S, zone) for h in unique_hours])
    return time + table[inverse].astype(np.int64)


def _constant_offset_ns(time: npt.NDArray[np.int64], zone: ZoneInfo) -> int | None:
    """Return the zone's UTC offset if it is the same at every bar, else None.

    Probes the first and last bar and the 1st of January and of July of every year
    in between: a zone with daylight saving time differs between the two in each
    year it observes it, and a fixed-offset zone (Asia/Seoul since 1988, UTC)
    passes with a few dozen look-ups.
    """
    first, last = int(time[0]), int(time[-1])
    first_year = dt.datetime.fromtimestamp(first / _NS_PER_S, tz=dt.UTC).year
    last_year = dt.datetime.fromtimestamp(last / _NS_PER_S, tz=dt.UTC).year
    offsets = {_offset_at(first, zone), _offset_at(last, zone)}
    offsets |= _half_year_offsets(zone, first_year, last_year)
    return offsets.pop() if len(offsets) == 1 else None


@lru_cache(maxsize=256)
def _half_year_offsets(zone: ZoneInfo, first_year: int, last_year: int) -> frozenset[int]:
    probes = (
        int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()) * _NS_PER_S
        for year in range(first_year, last_year + 1)
        for month in (1, 7)
    )
    return frozenset(_offset_at(probe, zone) for probe in probes)


def _offset_at(time_ns: int, zone: ZoneInfo) -> int:
    moment = dt.datetime.fromtimestamp(time_ns / _NS_PER_S, tz=dt.UTC).astimezone(zone)
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds()) * _NS_PER_S


_REASONS = {
    NOT_FINITE: "a price or the volume is missing or not finite (NaN/inf)",
    NOT_POSITIVE: "prices must be positive",
    HIGH_BELOW_BODY: "high is below max(open, close)",
    LOW_ABOVE_BODY: "low is above min(open, close)",
    DUPLICATE_TIME: "duplicate timestamp (same as the previous row)",
    UNSORTED_TIME: "timestamps are not increasing (earlier than the previous row)",
    NEGATIVE_VOLUME: "volume is negative",
}


def validate(prepared: PreparedBars) -> None:
    """Raise :class:`DataError` naming the first invalid bar, if any."""
    bars = prepared.bars
    if len(bars) == 0:
        raise DataError("no bars: the data is empty")
    row, code = first_invalid_bar_nb(
        bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    if row < 0:
        return
    when = format_times(bars.time[row : row + 1], prepared.local_time_ns[row : row + 1])[0]
    values = (
        f"open={bars.open[row]:g} high={bars.high[row]:g} low={bars.low[row]:g} "
        f"close={bars.close[row]:g} volume={bars.volume[row]:g}"
    )
    raise DataError(
        f"bad bar at row {row} ({when}): {_REASONS[int(code)]} [{values}]", row=int(row)
    )


def bars_sha256(bars: Bars) -> str:
    """Return the data fingerprint of bars: SHA-256 of times, open, high, low, close, volume.

    Each array as contiguous little-endian bytes, in that order (docs/result-schema.md,
    ``data.sha256``).
    """
    digest = hashlib.sha256()
    for array in (bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume):
        digest.update(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).data)
    return digest.hexdigest()


def format_times(time_ns: npt.NDArray[np.int64], local_time_ns: npt.NDArray[np.int64]) -> list[str]:
    """Return ISO 8601 strings with UTC offset, from UTC and wall-clock nanoseconds."""
    wall = np.datetime_as_string(local_time_ns.astype("datetime64[ns]"), unit="s")
    offsets = (local_time_ns - time_ns) // _NS_PER_S
    suffix = {int(o): _offset_suffix(int(o)) for o in np.unique(offsets)}
    return [f"{w}{suffix[int(o)]}" for w, o in zip(wall.tolist(), offsets.tolist(), strict=True)]


def _offset_suffix(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
