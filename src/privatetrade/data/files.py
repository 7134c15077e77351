"""Read OHLCV bars from the user's CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from privatetrade.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_bars_file"]

_TIME_COLUMNS = ("time", "date", "datetime", "timestamp", "날짜", "일자")
_ENCODINGS = ("utf-8-sig", "cp949")


def read_bars_file(path: Path, *, tz: str) -> pd.DataFrame:
    """Read a CSV file of bars into a DataFrame with a timezone-aware index.

    The time column is the first column named time, date, datetime, timestamp,
    날짜 or 일자 (any case); naive timestamps are taken as wall-clock time in ``tz``.
    UTF-8 and CP949 (Korean Windows) encodings are recognized.

    Raises:
        DataError: The file cannot be parsed or has no time column.
    """
    import pandas as pd

    frame = _read_csv(Path(path))
    columns = {str(c).strip().lower(): c for c in frame.columns}
    time_column = next((columns[name] for name in _TIME_COLUMNS if name in columns), None)
    if time_column is None:
        raise DataError(f"{path}: no time column (expected one of {', '.join(_TIME_COLUMNS)})")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame.pop(time_column), format="mixed"))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot parse the time column: {exc}") from exc
    try:
        index = index.tz_localize(tz) if index.tz is None else index.tz_convert(tz)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot place the timestamps in {tz}: {exc}") from exc
    frame.index = index
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    last_error: Exception | None = None
    for encoding in _ENCODINGS:
        try:
            return pd.read_csv(path, encoding=encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: not a readable CSV file: {exc}") from exc
    raise DataError(f"{path}: unknown text encoding (tried UTF-8 and CP949): {last_error}")
