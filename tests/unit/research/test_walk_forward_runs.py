"""Walk-forward: windows on dates or bars, choices blind to out-of-sample bars, stitching."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.synthetic import synthetic_bars
from privatetrade.domain.research import WindowLength
from privatetrade.errors import InputError
from privatetrade.research.walkforward import plan_windows

SPACE = {"fast": [5, 10, 20], "slow": [30, 60, 90]}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_bars("DEMO01")


def months(count: int) -> WindowLength:
    return WindowLength(count=count, unit="months")


def test_month_windows_start_on_the_first_bar_on_or_after_each_boundary(bars: pd.DataFrame) -> None:
    index = pd.DatetimeIndex(bars.index)
    windows = plan_windows(index, months(24), months(6))
    first_day = index[0].date()
    for window in windows:
        boundary = (pd.Timestamp(first_day) + pd.DateOffset(months=24 + 6 * window.index)).date()
        assert index[window.oos_start].date() >= boundary
        assert index[window.oos_start - 1].date() < boundary
        assert window.is_end == window.oos_start
        assert window.oos_end - window.oos_start >= 1
    for previous, current in itertools.pairwise(windows):
        assert previous.oos_end == current.oos_start  # the pieces tile the period
    assert windows[-1].oos_end == len(index)


def test_anchored_windows_grow_from_the_first_bar(bars: pd.DataFrame) -> None:
    windows = plan_windows(pd.DatetimeIndex(bars.index), months(24), months(12), anchored=True)
    assert all(window.is_start == 0 for window in windows)
    lengths = [window.is_end for window in windows]
    assert lengths == sorted(lengths)


def test_bar_windows_count_bars(bars: pd.DataFrame) -> None:
    bars_of = WindowLength(count=500, unit="bars")
    windows = plan_windows(
        pd.DatetimeIndex(bars.index), bars_of, WindowLength(count=250, unit="bars")
    )
    assert [(w.is_start, w.is_end, w.oos_end) for w in windows[:2]] == [
        (0, 500, 750),
        (250, 750, 1000),
    ]
    assert windows[-1].partial == (windows[-1].oos_end - windows[-1].oos_start < 250)


def test_data_too_short_for_one_window_names_in_sample(bars: pd.DataFrame) -> None:
    with pytest.raises(InputError) as raised:
        plan_windows(pd.DatetimeIndex(bars.index), months(240), months(6))
    assert raised.value.field == "in_sample"


def test_no_out_of_sample_bar_influences_a_choice(bars: pd.DataFrame) -> None:
    kwargs = {"in_sample": "24m", "out_of_sample": "6m", "costs": "krx", "market": "KOSPI"}
    original = pt.walk_forward(bars, "sma_cross", SPACE, **kwargs)
    target = original.result.windows[3].window
    changed = bars.copy()
    # Rewrite every bar from window 4's out-of-sample part on: a wild, different future.
    rng = np.random.default_rng(5)
    future = slice(target.oos_start, None)
    noise = np.exp(np.cumsum(rng.normal(0, 0.05, len(changed) - target.oos_start)))
    for column in ("open", "high", "low", "close"):
        changed.iloc[future, changed.columns.get_loc(column)] = (
            changed[column].to_numpy()[future] * noise
        )
    changed.iloc[future, changed.columns.get_loc("high")] = (
        changed[["open", "high", "low", "close"]].to_numpy()[future].max(axis=1)
    )
    changed.iloc[future, changed.columns.get_loc("low")] = (
        changed[["open", "high", "low", "close"]].to_numpy()[future].min(axis=1)
    )
    rerun = pt.walk_forward(changed, "sma_cross", SPACE, **kwargs)
    for before, after in zip(original.result.windows[:4], rerun.result.windows[:4], strict=True):
        assert before.chosen == after.chosen
        assert np.array_equal(before.optimization.values, after.optimization.values, equal_nan=True)
    # The future did change: the later windows chose or earned differently.
    assert not np.array_equal(original.result.equity, rerun.result.equity)


def test_stitched_equity_chains_the_windows(bars: pd.DataFrame) -> None:
    found = pt.walk_forward(bars, "sma_cross", SPACE, in_sample="24m", out_of_sample="12m")
    result = found.result
    pieces = [outcome.oos_equity for outcome in result.windows]
    assert len(result.equity) == sum(len(piece) for piece in pieces)
    for outcome, start in zip(result.windows, result.boundaries, strict=True):
        assert np.array_equal(
            result.equity[start : start + len(outcome.oos_equity)], outcome.oos_equity
        )
    for previous, current in zip(result.windows, result.windows[1:], strict=False):
        if current.oos is not None:
            assert current.oos.settings.initial_cash == pytest.approx(previous.oos_equity[-1])
    first = result.windows[0]
    assert result.times[0] == str(bars.index[first.window.oos_start].date())
    assert result.metrics is not None
    expected_return = result.equity[-1] / result.initial_cash - 1
    assert result.metrics.total_return == pytest.approx(expected_return)


def test_an_out_of_sample_piece_is_the_backtest_of_the_chosen_parameters(
    bars: pd.DataFrame,
) -> None:
    found = pt.walk_forward(bars, "sma_cross", SPACE, in_sample="36m", out_of_sample="12m")
    outcome = found.result.windows[1]
    window = outcome.window
    assert outcome.chosen is not None
    history = bars.iloc[window.is_start : window.oos_end]
    direct = pt.run_backtest(
        history,
        "sma_cross",
        outcome.chosen["all_params"],
        cash=outcome.oos.settings.initial_cash if outcome.oos else None,
        start=window.oos_start - window.is_start,
    )
    assert np.allclose(direct.output.equity, outcome.oos_equity)
    assert len(outcome.oos_equity) == window.oos_end - window.oos_start
    document = found.to_dict()
    assert document["windows"][1]["params"] == outcome.chosen["params"]
    assert document["windows"][1]["out_of_sample"]["start"] == str(
        bars.index[window.oos_start].date()
    )
    assert dt.date.fromisoformat(
        document["windows"][1]["in_sample"]["end"]
    ) < dt.date.fromisoformat(document["windows"][1]["out_of_sample"]["start"])
