"""Offline sample data shipped by the ``bokeh-sampledata`` package.

Daily OHLCV of AAPL, FB, GOOG, IBM and MSFT from 2000 to 2013-03-01, from the
Quandl WIKI prices (public domain). Open/high/low/close/volume are unadjusted;
``adj_close`` is the source's split- and dividend-adjusted close.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from privatetrade.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SAMPLE_SYMBOLS", "SAMPLE_TIMEZONE", "load_sample_bars"]

SAMPLE_SYMBOLS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
SAMPLE_TIMEZONE = "America/New_York"


@lru_cache(maxsize=1)
def _all_sample_rows() -> pd.DataFrame:
    import pandas as pd

    source = resources.files("bokeh_sampledata").joinpath("_data/stocks.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        frame = pd.read_csv(text)
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    return frame


def load_sample_bars(symbol: str) -> pd.DataFrame:
    """Return the sample bars of ``symbol`` (unadjusted OHLCV plus ``adj_close``).

    Args:
        symbol: One of ``SAMPLE_SYMBOLS`` (case-insensitive).

    Returns:
        A DataFrame indexed by trading date (midnight, America/New_York).

    Raises:
        InputError: When the symbol is not in the sample set.
    """
    import pandas as pd

    code = symbol.upper()
    if code not in SAMPLE_SYMBOLS:
        raise InputError(
            f"no sample data for {symbol!r}; sample symbols: {', '.join(SAMPLE_SYMBOLS)}",
            field="symbol",
        )
    rows = _all_sample_rows()
    frame = rows[rows["ticker"] == code].drop(columns=["ticker"])
    index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="time")
    frame.index = index.tz_localize(SAMPLE_TIMEZONE)
    return frame.sort_index().astype("float64")
