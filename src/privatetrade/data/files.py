"""Read OHLCV bars from the user's CSV and Parquet files.

Columns are found by name (English or Korean, any case) or mapped explicitly; the
time column is parsed (with an optional ``strptime`` format) and placed in the
exchange's time zone. Nothing is validated here beyond parsing: the engine's bar
validation runs when the bars are stored or backtested.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from privatetrade.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMN_ALIASES", "read_bars_file"]

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
        date_format: ``strptime`` format of the time column (default: inferred).

    Returns:
        Columns open, high, low, close, volume (volume 0 when absent), index ``time``.

    Raises:
        DataError: Unreadable file, missing column, unparsable time or number.
    """
    import pandas as pd

    path = Path(path)
    raw = _read_table(path)
    found = _find_columns(raw, columns or {}, path)
    try:
        stamps = pd.to_datetime(raw[found["time"]], format=date_format or "mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot parse the time column {found['time']!r}: {exc}") from exc
    index = pd.DatetimeIndex(stamps, name="time")
    try:
        index = index.tz_localize(tz) if index.tz is None else index.tz_convert(tz)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot place the timestamps in {tz}: {exc}") from exc
    frame = pd.DataFrame(index=index)
    for field in ("open", "high", "low", "close", "volume"):
        if field not in found:
            frame[field] = 0.0
            continue
        frame[field] = _numbers(raw[found[field]], field, path).to_numpy()
    return frame


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}: not a readable Parquet file: {exc}") from exc
    last_error: Exception | None = None
    for encoding in _ENCODINGS:
        try:
            return pd.read_csv(path, encoding=encoding, thousands=",")
        except UnicodeDecodeError as exc:
            last_error = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"{path}: not a readable CSV file: {exc}") from exc
    raise DataError(f"{path}: unknown text encoding (tried UTF-8 and CP949): {last_error}")


def _key(name: object) -> str:
    return "".join(str(name).split()).casefold()


def _find_columns(raw: pd.DataFrame, mapping: Mapping[str, str], path: Path) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(COLUMN_ALIASES))
    if unknown:
        raise DataError(f"unknown field {unknown[0]!r} in the column mapping")
    by_key = {_key(column): column for column in raw.columns}
    if raw.index.name is not None and "time" not in mapping:
        raw.reset_index(inplace=True)
        by_key = {_key(column): column for column in raw.columns}
    found: dict[str, str] = {}
    for field, aliases in COLUMN_ALIASES.items():
        if field in mapping:
            if mapping[field] not in raw.columns:
                raise DataError(f"{path}: mapped column {mapping[field]!r} is not in the file")
            found[field] = mapping[field]
            continue
        match = next((by_key[a] for a in aliases if a in by_key), None)
        if match is not None:
            found[field] = match
        elif field != "volume":
            raise DataError(
                f"{path}: no {field} column (looked for {', '.join(aliases)}; "
                f"map it with --column {field}=NAME)"
            )
    return found


def _numbers(values: pd.Series, field: str, path: Path) -> pd.Series:
    import pandas as pd

    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"{path}: row {row}: {field} {values.iloc[row]!r} is not a number")
    return converted.astype("float64")
