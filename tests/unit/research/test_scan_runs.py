"""Universe scans: rows equal full backtests, chunking and resuming change nothing, ranking."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.synthetic import SYNTHETIC_CODES, synthetic_bars
from privatetrade.engine.api import make_settings
from privatetrade.errors import CancelledError, InputError
from privatetrade.research.scan import (
    DirectoryScanStore,
    ScanProblem,
    ScanSymbol,
    rank_rows,
    run_scan,
    scan,
)

PARAMS = {"fast": 5, "slow": 20}
METRICS = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate")


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    return {code: synthetic_bars(code).iloc[:700] for code in SYNTHETIC_CODES}


@dataclass
class CountingBars:
    """Bars by code that remember which codes were loaded (to see what a resume reruns)."""

    bars: dict[str, pd.DataFrame]
    loaded: list[str] = field(default_factory=list)

    def __call__(self, symbol: ScanSymbol) -> pd.DataFrame:
        self.loaded.append(symbol.code)
        return self.bars[symbol.code]


def problem(bars: dict[str, pd.DataFrame], loader: Any = None) -> ScanProblem:
    settings = make_settings(None, costs="krx", market="KOSPI")
    symbols = tuple(ScanSymbol(code, code, "KOSPI", True, "krx") for code in bars)
    params = dict(pt.default_registry().build("sma_cross", PARAMS).params.__dict__)
    return ScanProblem(
        "sma_cross", params, {"krx": settings}, symbols, loader or CountingBars(bars)
    )


def test_every_row_equals_the_full_backtest_of_its_symbol(bars: dict[str, pd.DataFrame]) -> None:
    found = scan(bars, "sma_cross", PARAMS, costs="krx", market="KOSDAQ")
    assert [row["symbol"] for row in found.rows] == list(bars)
    settings = make_settings(None, costs="krx", market="KOSDAQ")
    for row in found.rows:
        full = pt.run_backtest(bars[row["symbol"]], "sma_cross", PARAMS, settings=settings)
        for name in METRICS:
            expected = getattr(full.metrics, name)
            assert row[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        assert row["trades"] == full.metrics.trade_count
        assert row["final_equity"] == pytest.approx(full.final_equity, rel=1e-12)
        assert row["bars"] == 700
        assert row["first"] == str(bars[row["symbol"]].index[0].date())
        assert row["error"] is None


def test_chunks_and_resuming_change_nothing(bars: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    whole = run_scan(problem(bars), chunk_size=50)
    store = DirectoryScanStore(tmp_path / "chunks")
    first = CountingBars(bars)
    calls = 0

    def stop_after_two_chunks() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2  # the check before the first chunk, then one after each

    with pytest.raises(CancelledError):
        run_scan(problem(bars, first), chunk_size=2, store=store, cancelled=stop_after_two_chunks)
    assert first.loaded == list(bars)[:4]
    second = CountingBars(bars)
    resumed = run_scan(problem(bars, second), chunk_size=2, store=store)
    assert second.loaded == list(bars)[4:]  # only the unfinished chunk ran
    assert resumed.resumed == 2
    assert resumed.rows == whole.rows


def test_a_stored_chunk_of_other_symbols_is_run_again(
    bars: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    store = DirectoryScanStore(tmp_path / "chunks")
    run_scan(problem(bars), chunk_size=3, store=store)
    reordered = dict(reversed(list(bars.items())))
    loader = CountingBars(reordered)
    result = run_scan(problem(reordered, loader), chunk_size=3, store=store)
    assert loader.loaded == list(reordered)
    assert result.resumed == 0
    (tmp_path / "chunks" / "s000000.json").write_text("{not json")
    assert store.load("s000000") is None


def test_progress_counts_symbols_and_names_the_best_so_far(
    bars: dict[str, pd.DataFrame],
) -> None:
    seen: list[tuple[int, int, int, Any]] = []
    found = run_scan(
        problem(bars), chunk_size=2, sort="cagr", progress=lambda *args: seen.append(args)
    )
    assert [(done, total) for done, total, _, _ in seen] == [(0, 6), (2, 6), (4, 6), (6, 6)]
    best = max(found.rows, key=lambda row: row["cagr"])
    assert seen[-1][3] == {"symbol": best["symbol"], "sort": "cagr", "value": best["cagr"]}


def test_a_failing_symbol_is_a_row_with_its_error(bars: dict[str, pd.DataFrame]) -> None:
    broken = dict(bars)
    broken["DEMO03"] = bars["DEMO03"].iloc[:0]
    found = scan(broken, "sma_cross", PARAMS)
    rows = {row["symbol"]: row for row in found.rows}
    assert "no bars" in rows["DEMO03"]["error"]
    assert rows["DEMO03"]["sharpe"] is None
    assert found.failed == 1
    assert found.ranking()[-1]["symbol"] == "DEMO03"
    assert found.summary()["evaluated"] == 5


def test_ranking_orders_values_then_blanks_then_errors() -> None:
    rows = [
        {"symbol": "A", "sharpe": 0.5, "error": None},
        {"symbol": "B", "sharpe": None, "error": None},
        {"symbol": "C", "sharpe": None, "error": "no bars"},
        {"symbol": "D", "sharpe": 1.5, "error": None},
        {"symbol": "E", "sharpe": 0.5, "error": None},
    ]
    down = rank_rows(rows, "sharpe", "desc")
    assert [r["symbol"] for r in down] == ["D", "A", "E", "B", "C"]
    assert [r["rank"] for r in down] == [1, 2, 3, 4, 5]
    up = rank_rows(rows, "sharpe", "asc")
    assert [r["symbol"] for r in up] == ["A", "E", "D", "B", "C"]
    by_name = rank_rows(rows, "symbol", "asc")
    assert [r["symbol"] for r in by_name] == ["A", "B", "D", "E", "C"]
    for sort, order, field_name in (("luck", "desc", "sort"), ("sharpe", "up", "order")):
        with pytest.raises(InputError) as caught:
            rank_rows(rows, sort, order)
        assert caught.value.field == field_name


def test_the_library_scan_checks_its_arguments(bars: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(InputError) as empty:
        scan({}, "sma_cross", PARAMS)
    assert empty.value.field == "bars"
    with pytest.raises(InputError) as sort:
        scan(bars, "sma_cross", PARAMS, sort="luck")
    assert sort.value.field == "sort"
    with pytest.raises(InputError) as params:
        scan(bars, "sma_cross", {"fast": 30, "slow": 10})
    assert params.value.field is not None
    per_symbol = scan(
        {"A": bars["DEMO01"], "B": bars["DEMO02"]},
        "sma_cross",
        PARAMS,
        costs={"A": "krx", "B": "zero"},
        market={"A": "KOSPI", "B": "KOSDAQ"},
    )
    zero = pt.run_backtest(bars["DEMO02"], "sma_cross", PARAMS, costs="zero")
    assert per_symbol.rows[1]["total_return"] == pytest.approx(zero.metrics.total_return)
    assert pt.scan is scan
    frame = per_symbol.to_frame()
    assert list(frame["rank"]) == [1, 2]
    assert frame.columns[0] == "rank"
