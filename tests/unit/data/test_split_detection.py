"""Splits found in daily prices: hand-made frames, then the bundled sample stocks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from privatetrade.data.quality import (
    SPLIT_TOLERANCE,
    DetectedSplit,
    SplitIssue,
    detect_splits,
    quality_report,
)
from privatetrade.data.sample import load_sample_bars
from privatetrade.data.synthetic import synthetic_bars, synthetic_symbols

D = dt.date
NY = "America/New_York"
# Four NYSE sessions in a row (no holiday between them).
DAYS = ["2024-06-10", "2024-06-11", "2024-06-12", "2024-06-13"]


def bars(closes: Sequence[float], opens: Sequence[float] | None = None) -> pd.DataFrame:
    """Daily bars on DAYS (or fewer); opens default to the closes."""
    close = np.asarray(closes, dtype=float)
    open_ = close if opens is None else np.asarray(opens, dtype=float)
    index = pd.DatetimeIndex(pd.to_datetime(DAYS[: len(close)]), name="time").tz_localize(NY)
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": np.full(len(close), 1_000.0),
        },
        index=index,
    )


def adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """The sample's prices scaled by its adjusted close, as the sample installer does."""
    factor = frame["adj_close"] / frame["close"]
    scaled = frame[["open", "high", "low", "close", "volume"]].copy()
    for column in ("open", "high", "low", "close"):
        scaled[column] = frame[column] * factor
    return scaled


@pytest.mark.parametrize(
    ("ratio", "factor"),
    [
        ("2:1", 1 / 2),
        ("3:1", 1 / 3),
        ("3:2", 2 / 3),
        ("4:1", 1 / 4),
        ("5:1", 1 / 5),
        ("10:1", 1 / 10),
        ("50:1", 1 / 50),
        ("1:2", 2.0),
        ("1:10", 10.0),
    ],
)
def test_each_ratio_is_named(ratio: str, factor: float) -> None:
    after = 120.0 * factor
    frame = bars([120.0, after * 1.01, after * 1.02, after * 1.03])  # a 1% move on the day
    assert detect_splits(frame, tz=NY) == (DetectedSplit(D(2024, 6, 11), ratio),)


def test_the_open_finds_a_split_whose_close_moved_on() -> None:
    """AAPL's 2:1 of 2000-06-21 opened at 0.499 and closed at 0.549 of the previous close."""
    frame = bars([100.0, 55.0, 54.0], opens=[100.0, 49.9, 55.0])
    assert detect_splits(frame, tz=NY) == (DetectedSplit(D(2024, 6, 11), "2:1"),)
    assert detect_splits(bars([100.0, 55.0, 54.0]), tz=NY) == ()  # the close alone: 10% off


@pytest.mark.parametrize(
    ("move", "found"),
    [
        (0.5 * (1 + SPLIT_TOLERANCE * 0.9), True),
        (0.5 / (1 + SPLIT_TOLERANCE * 0.9), True),
        (0.5 * (1 + SPLIT_TOLERANCE * 1.1), False),
        (0.5 / (1 + SPLIT_TOLERANCE * 1.1), False),
    ],
)
def test_the_tolerance_bounds_a_match(move: float, found: bool) -> None:
    frame = bars([100.0, 100.0 * move, 100.0 * move])
    assert bool(detect_splits(frame, tz=NY)) is found


def test_a_one_day_spike_is_not_a_split() -> None:
    spike = bars([100.0, 50.0, 99.0, 100.0])  # halves, then back: bad data
    assert detect_splits(spike, tz=NY) == ()
    assert quality_report(spike, "NYSE").detected_splits.count == 0
    kept = bars([100.0, 50.0, 70.0, 72.0])  # past half way back is still the new level
    assert detect_splits(kept, tz=NY) == (DetectedSplit(D(2024, 6, 11), "2:1"),)


@pytest.mark.parametrize("move", [0.8, 0.75, 1.25, 1.3, 0.7, 0.6])
def test_moves_between_ratios_are_not_splits(move: float) -> None:
    assert detect_splits(bars([100.0, 100.0 * move, 100.0 * move]), tz=NY) == ()


def test_a_split_on_the_last_bar_counts() -> None:
    assert detect_splits(bars([100.0, 33.4]), tz=NY) == (DetectedSplit(D(2024, 6, 11), "3:1"),)


def test_short_and_empty_frames_have_no_splits() -> None:
    assert detect_splits(bars([100.0]), tz=NY) == ()
    assert detect_splits(bars([]), tz=NY) == ()


def test_the_report_lists_splits_with_ratios_and_the_jumps_they_do_not_explain() -> None:
    # 2:1 on 06-11 (a 50.5% drop: a jump too), an unexplained +60% on 06-13.
    report = quality_report(bars([100.0, 49.5, 50.0, 80.0]), "NYSE", symbol="X")
    assert report.jumps.count == 2
    assert report.detected_splits == SplitIssue(1, (D(2024, 6, 11),), ("2:1",))
    assert report.detected_splits.splits == (DetectedSplit(D(2024, 6, 11), "2:1"),)
    assert (report.unexplained_jumps.count, report.unexplained_jumps.examples) == (
        1,
        (D(2024, 6, 13),),
    )
    assert report.problems == ("jumps",)  # splits and unexplained jumps are notes
    document = report.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["detected_splits"] == {
        "count": 1,
        "examples": ["2024-06-11"],
        "ratios": ["2:1"],
    }
    assert document["unexplained_jumps"] == {"count": 1, "examples": ["2024-06-13"]}


def test_the_report_caps_split_examples_but_counts_them_all() -> None:
    frame = bars([100.0, 50.0, 25.0, 12.5])
    issue = quality_report(frame, "NYSE", max_examples=2).detected_splits
    assert (issue.count, issue.examples, issue.ratios) == (
        3,
        (D(2024, 6, 11), D(2024, 6, 12)),
        ("2:1", "2:1"),
    )
    assert len(detect_splits(frame, tz=NY)) == 3  # the function returns every one


def test_days_are_read_in_the_exchange_zone() -> None:
    frame = bars([100.0, 50.0]).tz_convert("Asia/Seoul")  # 13:00 in Seoul, the next day
    assert detect_splits(frame, tz=NY) == (DetectedSplit(D(2024, 6, 11), "2:1"),)
    assert detect_splits(frame, tz="Asia/Seoul") == (DetectedSplit(D(2024, 6, 11), "2:1"),)


# ---------------------------------------------------------------------- sample data


@pytest.mark.parametrize(
    ("code", "splits"),
    [
        ("AAPL", [(D(2000, 6, 21), "2:1"), (D(2005, 2, 28), "2:1")]),
        ("MSFT", [(D(2003, 2, 18), "2:1")]),
        ("GOOG", []),
        ("IBM", []),
        ("FB", []),
    ],
)
def test_the_sample_stocks_raw_splits_are_found_and_adjusted_ones_have_none(
    code: str, splits: list[tuple[dt.date, str]]
) -> None:
    raw = load_sample_bars(code)
    # The source's adjustment factor doubles exactly on the split days.
    factor = (raw["adj_close"] / raw["close"]).to_numpy()
    steps = np.flatnonzero(factor[1:] / factor[:-1] > 1.9) + 1
    assert [raw.index[i].date() for i in steps] == [day for day, _ in splits]
    assert detect_splits(raw, tz=NY) == tuple(DetectedSplit(day, ratio) for day, ratio in splits)
    assert detect_splits(adjusted(raw), tz=NY) == ()


def test_aapls_crash_of_2000_09_29_is_a_jump_no_split_explains() -> None:
    raw = load_sample_bars("AAPL")
    report = quality_report(raw, "NASDAQ", symbol="AAPL")
    assert D(2000, 9, 29) not in report.detected_splits.examples
    assert report.unexplained_jumps.examples == (D(2000, 9, 29),)
    assert quality_report(adjusted(raw), "NASDAQ").unexplained_jumps.examples == (D(2000, 9, 29),)


@pytest.mark.parametrize("code", [symbol.code for symbol in synthetic_symbols()])
def test_synthetic_demo_stocks_have_no_splits(code: str) -> None:
    assert detect_splits(synthetic_bars(code), tz="Asia/Seoul") == ()
