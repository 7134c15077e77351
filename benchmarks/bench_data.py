"""Market-data benchmarks: catalog search, bar loading, file import.

Targets (issue 3): search <= 20 ms on 5,000 symbols; loading 10 years of daily bars of one
symbol by date range <= 5 ms warm. Also reported: loading 500 symbols, import rows/s.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from privatetrade.data.catalog import SymbolCatalog
from privatetrade.data.market_data import MarketData
from privatetrade.data.store import BarStore
from privatetrade.data.symbols import Market, SymbolInfo

sys.path.insert(0, str(Path(__file__).parent))
from _synthetic import DAY_NS, MINUTE_NS, random_walk_bars


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def _daily_frame(n: int, seed: int = 7, step_ns: int = DAY_NS) -> pd.DataFrame:
    arrays = random_walk_bars(n, seed=seed, step_ns=step_ns)
    index = pd.DatetimeIndex(pd.to_datetime(arrays.pop("time"), utc=True), name="time")
    return pd.DataFrame(arrays, index=index.tz_convert("Asia/Seoul"))


def bench_search(root: Path) -> None:
    catalog = SymbolCatalog(root / "search")
    syllables = "가나다라마바사아자차카타파하삼성현대전자화학바이오금융건설제약"
    catalog.upsert(
        SymbolInfo(
            code=f"{i:06d}",
            name="".join(syllables[(i * k + k) % len(syllables)] for k in (1, 3, 7, 11)),
            name_en=f"Company {i}",
            market=Market.KOSPI if i % 2 else Market.KOSDAQ,
        )
        for i in range(5_000)
    )
    for query in ("삼성", "0059", "company 42", "바이오"):
        ms = _median_ms(lambda q=query: catalog.search(q), 50)
        print(f"catalog search {query!r:<14} on 5,000 symbols   median {ms:7.3f} ms  target 20 ms")


def bench_load(root: Path) -> None:
    store = BarStore(root / "store")
    frame = _daily_frame(2_520)
    store.write("BENCH", frame, source="bench")
    start, end = frame.index[0].date(), frame.index[-1].date()
    ms = _median_ms(lambda: store.read("BENCH", start, end), 100)
    print(f"load 10y daily (2,520 bars) by date range  median {ms:7.3f} ms  target 5 ms")
    for i in range(500):
        store.write(f"S{i:04d}", frame, source="bench")
    load_all = _median_ms(lambda: [store.read(f"S{i:04d}") for i in range(500)], 3)
    print(f"load 10y daily of 500 symbols               median {load_all:7.1f} ms")


def bench_import(root: Path) -> None:
    frame = _daily_frame(200_000, seed=3, step_ns=MINUTE_NS)
    frame.index = frame.index.tz_localize(None)
    path = root / "import.csv"
    frame.rename_axis("date").to_csv(path)
    data = MarketData(root / "import-data")
    start = time.perf_counter()
    data.import_file(path, "IMPORT", market=Market.KOSPI)
    seconds = time.perf_counter() - start
    rate = 200_000 / seconds
    print(f"import CSV 200,000 rows (minute bars)        {seconds:7.2f} s  {rate:,.0f} rows/s")


def main() -> None:
    print(f"data benchmarks, day {dt.date.today()}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bench_search(root)
        bench_load(root)
        bench_import(root)


if __name__ == "__main__":
    main()
