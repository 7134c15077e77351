"""Bars on disk: one Parquet file per symbol and price kind, written atomically.

Layout under the data directory::

    bars/<CODE>/raw.parquet        unadjusted OHLCV as traded
    bars/<CODE>/adjusted.parquet   split/dividend-adjusted OHLCV

Each file holds ``time`` (UTC timestamps) and float64 ``open high low close volume``;
its schema metadata records the exchange time zone, the source and the price kind.
A write goes to a temporary file in the same directory, is flushed to disk and then
renamed over the old file, so a crash mid-write leaves the previous data intact.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privatetrade.engine.bars import prepare_bars
from privatetrade.errors import DataError, InputError
from privatetrade.files import atomic_writer

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BarStore", "Coverage", "PriceKind"]

_COLUMNS = ("open", "high", "low", "close", "volume")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._^=-]{0,31}$")


class PriceKind(StrEnum):
    """Which price series: as traded, or adjusted for splits and dividends."""

    RAW = "raw"
    ADJUSTED = "adjusted"


@dataclass(frozen=True, slots=True)
class Coverage:
    """What is stored for one symbol and price kind."""

    first_bar: dt.date
    last_bar: dt.date
    bar_count: int
    timezone: str
    source: str


class BarStore:
    """Parquet files of daily (or intraday) bars under ``<data_dir>/bars``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "bars"

    def path(self, code: str, kind: PriceKind = PriceKind.RAW) -> Path:
        """Return the file of ``code``'s ``kind`` bars (which may not exist)."""
        if not _CODE.match(code):
            raise InputError(f"invalid symbol code {code!r}", field="symbol")
        return self.root / code.upper() / f"{PriceKind(kind).value}.parquet"

    def exists(self, code: str, kind: PriceKind = PriceKind.RAW) -> bool:
        """Return whether bars of this kind are stored for ``code``."""
        return self.path(code, kind).exists()

    def write(
        self, code: str, frame: pd.DataFrame, *, kind: PriceKind = PriceKind.RAW, source: str
    ) -> Coverage:
        """Validate ``frame`` and replace the stored bars with it, atomically.

        Args:
            code: Symbol code.
            frame: Bars with a tz-aware DatetimeIndex and OHLCV columns.
            kind: Raw or adjusted prices.
            source: Where the bars came from (recorded in the file).

        Raises:
            DataError: The bars are invalid (nothing is written).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        prepared = prepare_bars(frame)
        bars = prepared.bars
        columns = {
            "time": pa.array(bars.time, type=pa.timestamp("ns", tz="UTC")),
            **{name: pa.array(getattr(bars, name)) for name in _COLUMNS},
        }
        coverage = self._coverage(prepared.local_time_ns, prepared.tz, source)
        metadata = {
            "timezone": prepared.tz,
            "source": source,
            "kind": PriceKind(kind).value,
            "first_bar": coverage.first_bar.isoformat(),
            "last_bar": coverage.last_bar.isoformat(),
            "bar_count": str(coverage.bar_count),
        }
        table = pa.table(columns).replace_schema_metadata(metadata)
        target = self.path(code, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(target) as handle:
            pq.write_table(table, handle, compression="zstd")
        return coverage

    def merge(
        self, code: str, frame: pd.DataFrame, *, kind: PriceKind = PriceKind.RAW, source: str
    ) -> Coverage:
        """Add ``frame``'s bars to the stored ones (new bars win on equal times)."""
        import pandas as pd

        if not self.exists(code, kind):
            return self.write(code, frame, kind=kind, source=source)
        old = self.read(code, kind=kind)
        tz = pd.DatetimeIndex(old.index).tz
        combined: pd.DataFrame = pd.concat([old, frame.tz_convert(tz)[list(_COLUMNS)]])
        combined = combined[~combined.index.duplicated(keep="last")].sort_index()
        return self.write(code, combined, kind=kind, source=source)

    def read(
        self,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        kind: PriceKind = PriceKind.RAW,
    ) -> pd.DataFrame:
        """Return stored bars, optionally limited to local dates ``[start, end]``.

        Raises:
            DataError: Nothing is stored for ``code`` and ``kind``.
        """
        import pandas as pd
        import pyarrow.parquet as pq

        path = self.path(code, kind)
        if not path.exists():
            raise DataError(f"no {PriceKind(kind).value} bars stored for {code}")
        table = pq.read_table(path)
        tz = (table.schema.metadata or {}).get(b"timezone", b"UTC").decode()
        frame = pd.DataFrame(
            {name: table.column(name).to_numpy() for name in _COLUMNS},
            index=pd.DatetimeIndex(table.column("time").to_numpy(), name="time").tz_localize("UTC"),
        )
        frame.index = pd.DatetimeIndex(frame.index).tz_convert(tz)
        if start is not None:
            frame = frame[frame.index >= pd.Timestamp(start).tz_localize(tz)]
        if end is not None:
            frame = frame[frame.index < pd.Timestamp(end).tz_localize(tz) + pd.Timedelta(days=1)]
        return frame

    def read_columns(
        self,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        *,
        kind: PriceKind = PriceKind.RAW,
    ) -> tuple[dict[str, Any], str]:
        """Return stored bars as arrays (no pandas frame) and the exchange's time zone.

        The same bars as :meth:`read`, as ``{"time": int64 UTC nanoseconds, "open", "high",
        "low", "close", "volume": float64}``: what the engine takes with ``tz=``, cheaper
        to build when many symbols are read (a scan, a portfolio). Safe to call from
        several threads at once.

        Raises:
            DataError: Nothing is stored for ``code`` and ``kind``.
        """
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.path(code, kind)
        if not path.exists():
            raise DataError(f"no {PriceKind(kind).value} bars stored for {code}")
        table = pq.read_table(path, use_threads=False)
        tz = (table.schema.metadata or {}).get(b"timezone", b"UTC").decode()
        time = table.column("time").cast(pa.int64()).to_numpy()
        keep = np.ones(time.shape[0], dtype=bool)
        if start is not None:
            keep &= time >= pd.Timestamp(start).tz_localize(tz).value
        if end is not None:
            keep &= time < (pd.Timestamp(end).tz_localize(tz) + pd.Timedelta(days=1)).value
        columns: dict[str, Any] = {"time": time[keep]}
        for name in _COLUMNS:
            columns[name] = table.column(name).to_numpy()[keep]
        return columns, tz

    def coverage(self, code: str, kind: PriceKind = PriceKind.RAW) -> Coverage | None:
        """Return what is stored for ``code`` and ``kind`` (from the file's metadata)."""
        import pyarrow.parquet as pq

        path = self.path(code, kind)
        if not path.exists():
            return None
        metadata = {
            k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()
        }
        try:
            return Coverage(
                first_bar=dt.date.fromisoformat(metadata["first_bar"]),
                last_bar=dt.date.fromisoformat(metadata["last_bar"]),
                bar_count=int(metadata["bar_count"]),
                timezone=metadata["timezone"],
                source=metadata.get("source", "unknown"),
            )
        except (KeyError, ValueError):  # a file written before the metadata existed
            frame = self.read(code, kind=kind)
            local = frame.index.tz_localize(None).as_unit("ns").asi8  # type: ignore[attr-defined]
            return self._coverage(
                local, metadata.get("timezone", "UTC"), metadata.get("source", "unknown")
            )

    def delete(self, code: str) -> bool:
        """Delete every stored series of ``code``; return whether anything existed."""
        folder = self.path(code).parent
        if not folder.exists():
            return False
        shutil.rmtree(folder)
        return True

    def codes(self) -> list[str]:
        """Return the codes with stored bars."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    @staticmethod
    def _coverage(local_time_ns: object, tz: str, source: str) -> Coverage:
        import numpy as np

        local = np.asarray(local_time_ns)
        days = local.astype("datetime64[ns]").astype("datetime64[D]")
        return Coverage(
            first_bar=days[0].item(),
            last_bar=days[-1].item(),
            bar_count=int(local.shape[0]),
            timezone=tz,
            source=source,
        )
