"""Optimization runs: rows equal full backtests, chunking and resuming change nothing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.synthetic import synthetic_bars
from privatetrade.engine.api import make_settings
from privatetrade.errors import CancelledError
from privatetrade.research.chunks import DirectoryStore, Problem
from privatetrade.research.optimize import METRICS, run_optimization
from privatetrade.research.space import build_space

SMA = pt.default_registry().get("sma_cross")
BOLLINGER = pt.default_registry().get("bollinger_reversion")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars("DEMO01").iloc[:800]


def problem(bars: pd.DataFrame, space: dict[str, list[int]], strategy: type = SMA) -> Problem:
    settings = make_settings(None, costs="krx", market="KOSPI")
    return Problem(bars, build_space(strategy, space), settings, blocks=8)


SPACE = {"fast": list(range(5, 41, 5)), "slow": list(range(20, 121, 10))}


def test_every_row_equals_the_full_backtest_of_its_combination(bars: pd.DataFrame) -> None:
    found = run_optimization(problem(bars, SPACE))
    settings = make_settings(None, costs="krx", market="KOSPI")
    for index in (0, len(found) // 2, len(found) - 1, found.best_index):
        assert index is not None
        row = found.row(index)
        full = pt.run_backtest(bars, "sma_cross", row["all_params"], settings=settings).metrics
        for name in ("total_return", "sharpe", "cagr", "max_drawdown", "sortino", "profit_factor"):
            expected = getattr(full, name)
            got = row["metrics"][name]
            if expected is None:
                assert got is None
            else:
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), name
        assert row["metrics"]["trade_count"] == full.trade_count


def test_the_best_is_the_highest_objective_among_eligible_rows(bars: pd.DataFrame) -> None:
    found = run_optimization(problem(bars, SPACE), objective="calmar", min_trades=3)
    frame = found.to_frame()
    eligible = frame[(frame["trade_count"] >= 3) & frame["calmar"].notna()]
    assert found.best is not None
    assert found.best["metrics"]["calmar"] == pytest.approx(eligible["calmar"].max())
    assert found.best["metrics"]["trade_count"] >= 3
    assert (frame.loc[frame["rank"] == 1, "calmar"].to_numpy() == eligible["calmar"].max()).all()


def test_too_few_trades_everywhere_means_no_best(bars: pd.DataFrame) -> None:
    found = run_optimization(problem(bars, SPACE), min_trades=10_000)
    assert found.best is None
    assert not found.eligible.any()
    assert found.top(5) == []


def test_max_drawdown_prefers_the_shallowest(bars: pd.DataFrame) -> None:
    found = run_optimization(problem(bars, SPACE), objective="max_drawdown")
    assert found.best is not None
    drawdowns = found.column("max_drawdown")[found.column("trade_count") >= 1]
    assert found.best["metrics"]["max_drawdown"] == pytest.approx(drawdowns.max())


@pytest.mark.parametrize("method", ["grid", "random"])
def test_chunk_size_changes_nothing(bars: pd.DataFrame, method: str) -> None:
    setup = problem(bars, SPACE)
    one = run_optimization(setup, method=method, samples=40, seed=3, chunk_size=4096)
    many = run_optimization(setup, method=method, samples=40, seed=3, chunk_size=7)
    assert np.array_equal(one.codes, many.codes)
    assert np.array_equal(one.values, many.values, equal_nan=True)
    assert np.array_equal(one.block_stats, many.block_stats, equal_nan=True)


def test_a_cancelled_run_resumes_from_its_finished_chunks(
    bars: pd.DataFrame, tmp_path: Path
) -> None:
    setup = problem(bars, SPACE)
    store = DirectoryStore(tmp_path / "chunks")
    seen: list[int] = []

    def stop_after_three_chunks() -> bool:
        return len(seen) >= 3

    with pytest.raises(CancelledError):
        run_optimization(
            setup,
            chunk_size=5,
            store=store,
            progress=lambda done, total, best: seen.append(done),
            cancelled=stop_after_three_chunks,
        )
    assert len(list((tmp_path / "chunks").glob("*.npz"))) == 3
    progress: list[tuple[int, int]] = []
    resumed = run_optimization(
        setup, chunk_size=5, store=store, progress=lambda d, t, b: progress.append((d, t))
    )
    fresh = run_optimization(setup, chunk_size=5)
    assert resumed.resumed == 3
    assert np.array_equal(resumed.codes, fresh.codes)
    assert np.array_equal(resumed.values, fresh.values, equal_nan=True)
    assert progress[-1] == (len(fresh), len(fresh))  # nothing counted twice
    assert len({tuple(row) for row in resumed.codes.tolist()}) == len(resumed)


def test_a_stored_chunk_of_another_search_is_not_reused(bars: pd.DataFrame, tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "chunks")
    run_optimization(problem(bars, SPACE), chunk_size=5, store=store)
    other = run_optimization(
        problem(bars, {"fast": [3, 4], "slow": [50, 60]}), chunk_size=5, store=store
    )
    assert other.resumed == 0
    assert len(other) == 4


def test_tpe_trials_are_distinct_valid_and_repeatable(bars: pd.DataFrame) -> None:
    space = {"fast": list(range(2, 60)), "slow": list(range(10, 150, 2))}
    setup = problem(bars, space)
    first = run_optimization(setup, method="tpe", samples=48, seed=11)
    again = run_optimization(setup, method="tpe", samples=48, seed=11)
    assert len(first) == 48
    assert len({tuple(row) for row in first.codes.tolist()}) == 48
    assert setup.space.valid(first.codes).all()
    assert np.array_equal(first.codes, again.codes)
    assert np.array_equal(first.values, again.values, equal_nan=True)


def test_tpe_stops_when_every_valid_combination_was_tried(bars: pd.DataFrame) -> None:
    setup = problem(bars, {"fast": [5, 10, 15], "slow": [10, 20]})
    found = run_optimization(setup, method="tpe", samples=50, seed=0)
    assert sorted(map(tuple, found.codes.tolist())) == sorted(
        map(tuple, setup.space.grid().tolist())
    )


def test_generic_strategies_run_through_the_same_path(bars: pd.DataFrame) -> None:
    found = run_optimization(
        problem(bars, {"period": [10, 20, 30], "k": [1.5, 2.0, 2.5]}, BOLLINGER)
    )
    assert len(found) == 9
    row = found.row(4)
    full = pt.run_backtest(
        bars,
        "bollinger_reversion",
        row["all_params"],
        settings=make_settings(None, costs="krx", market="KOSPI"),
    )
    assert row["metrics"]["final_equity"] == pytest.approx(full.final_equity, rel=1e-12)


def test_the_library_result_documents_and_frames(bars: pd.DataFrame) -> None:
    found = pt.optimize(bars, "sma_cross", {"fast": range(5, 30, 5), "slow": range(20, 80, 10)})
    document = found.to_dict()
    frame = found.to_frame()
    assert document["combinations"] == len(frame) == found.result.eligible.size
    assert list(frame.columns[:2]) == ["fast", "slow"]
    assert set(METRICS) <= set(frame.columns)
    assert document["best"] == found.best
    report = document["report"]
    assert report["trials"] == len(frame)
    if report["deflated_sharpe"] is not None:
        assert 0.0 <= report["deflated_sharpe"] <= 1.0
    for finding in report["findings"]:
        assert finding["message_ko"]
        assert finding["message_en"]
    heat = found.heatmap("fast", "slow", mode="mean")
    assert len(heat["z"]) == len(heat["y_values"]) == 6
    assert all(len(row) == 5 for row in heat["z"])
    assert all(v is None or math.isfinite(v) for row in heat["z"] for v in row)
