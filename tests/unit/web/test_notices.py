"""The server's English sentences that pages translate: every one has a template.

Result warnings and scan rows' reasons are stored as English sentences. A page finds the
``notice.*`` template a sentence matches and shows the catalog's message in its language
(``format.js``, ``t.notice``; the server's ``i18n.tell`` is the same, and the browser test
checks they agree). These tests make every producer of such a sentence say something,
tell each one and check the Korean that comes out holds no English, so a changed sentence
fails here instead of showing English on a Korean page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from korean_text import latin_words
from portfolio_builders import book
from privatetrade.data.imports import preview_import
from privatetrade.data.market_data import empty_range_message
from privatetrade.data.symbols import Market
from privatetrade.engine.metrics import metric_warnings
from privatetrade.plans.data_checks import data_warnings, raw_fallback_warning
from privatetrade.plans.portfolio_history import history_warning
from privatetrade.web.ui.i18n import Colors, Language, Preferences, notices, tell

PLACEHOLDER = re.compile(r"(\{\w+\})")


def _compiled(parts: bool) -> list[tuple[str, re.Pattern[str]]]:
    templates = []
    for key, english in notices().items():
        if key.startswith("notice.part.") != parts:
            continue
        pieces = PLACEHOLDER.split(english)
        source = "".join(
            "(.+?)" if PLACEHOLDER.fullmatch(piece) else re.escape(piece) for piece in pieces
        )
        templates.append((key, re.compile(f"^{source}$")))
    return templates


def told(text: str, language: Language) -> str | None:
    return tell(language, text)


def daily_bars(close: list[float], tz: str, saturdays: int = 1) -> pd.DataFrame:
    """Business days from 2024-03-04 and ``saturdays`` Saturday bars among them."""
    days = list(pd.bdate_range("2024-03-04", periods=len(close) - saturdays))
    for week in range(saturdays):
        days.insert(5 * week + 5 + week, pd.Timestamp("2024-03-09") + pd.Timedelta(weeks=week))
    index = pd.DatetimeIndex(days).tz_localize(tz)
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1000.0},
        index=index,
    )


def data_check_warnings() -> list[str]:
    """Splits (one, two), jumps beyond the KRX limit and 50 % a day, closed-day bars."""
    one_split = daily_bars([10_000.0] * 15 + [5_000.0] * 10 + [7_300.0] * 6, "Asia/Seoul", 2)
    two_prices = [100.0] * 11 + [50.0] * 10 + [25.0] * 4 + [40.0] * 6
    two_splits = daily_bars(two_prices, "America/New_York")
    return [
        *data_warnings(one_split, Market.KOSPI, adjusted=False),
        *data_warnings(one_split, Market.KOSPI, adjusted=None),
        *data_warnings(two_splits, Market.NYSE, adjusted=False),
        *data_warnings(two_splits, Market.NYSE, adjusted=None),
        *data_warnings(daily_bars([10_000.0] * 6, "Asia/Seoul"), Market.KOSPI, adjusted=True),
    ]


def backtest_warnings() -> list[str]:
    close = np.array([100.0, 101.0, 99.0, 102.0, 104.0, 103.0, 105.0, 101.0, 100.0, 98.0])
    bars = {"open": close, "high": close + 1, "low": close - 1, "close": close}
    times = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC")
    frame = pd.DataFrame(bars, index=times)
    bench = pd.Series(close, index=times).where(np.arange(len(close)) >= 3)
    result = pt.run_backtest(frame, "sma_cross", {"fast": 2, "slow": 4}, benchmark=bench)
    one_bar = pt.run_backtest(frame.iloc[:1], "sma_cross", {"fast": 2, "slow": 4})
    three_bars = pt.run_backtest(frame.iloc[:3], "sma_cross", {"fast": 2, "slow": 4})
    ruined = dataclasses.replace(result.metrics, max_drawdown=-1.0, trade_count=1)
    no_trades = dataclasses.replace(result.metrics, trade_count=0)
    return [
        *result.warnings,
        *one_bar.warnings,
        *three_bars.warnings,
        *metric_warnings(ruined, 1),
        *metric_warnings(no_trades, 500),
    ]


def portfolio_warnings() -> list[str]:
    dates = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]
    many = {f"S{i:02d}": {"close": [10, 10, 10, 10, 10, 10]} for i in range(12)}
    bars = book(
        dates,
        {
            "A": {"close": [10, 10, 10, 10, 10, 10]},
            "B": {"close": [10, 10, 10, None, None, None]},
            "C": {"close": [10, 11, 12, 13, 14, 15]},
            **many,
        },
    )
    rule = {"rule": "fixed_weights", "weights": {"A": 0.5, "B": 0.5}, "rebalance": "daily"}
    held = pt.run_portfolio(bars, {**rule, "delisted": "hold"}, tz="Asia/Seoul")
    sold = pt.run_portfolio(bars, rule, tz="Asia/Seoul")
    short = pt.run_portfolio(bars, {"rule": "top_n_momentum", "top": 1, "lookback": 10}, tz="UTC")
    signals = pt.run_portfolio(
        bars,
        {"rule": "signals", "strategy": "sma_cross", "params": {"fast": 5, "slow": 30}},
        tz="UTC",
    )
    late = book(dates[:3], {"A": {"close": [10, 10.5, 10]}, "B": {"close": [10, 11, 12]}})
    unfilled = pt.run_portfolio(late, {"rule": "inverse_volatility", "lookback": 2}, tz="UTC")
    return [*held.warnings, *sold.warnings, *short.warnings, *signals.warnings, *unfilled.warnings]


FILE_ROWS = {
    # one problem of each kind a row can have once the file is read
    "bars.csv": [
        "date,open,high,low,close,volume",
        "2024-01-02,100,110,90,105,1000",
        "2024-01-03,100,99,90,105,1000",
        "2024-01-04,100,110,101,105,1000",
        "2024-01-05,-5,110,90,105,1000",
        "2024-01-08,100,110,90,105,-3",
        "2024-01-08,100,110,90,105,1000",
        "2024-01-05,100,110,90,105,1000",
        "2024-01-12,100,110,90,,1000",
    ],
    # text that is not a number or not a date, a missing date
    "cells.csv": [
        "date,open,high,low,close,volume",
        "2024-01-02,100,110,90,105,1000",
        "2024-01-05,abc,110,90,105,1000",
        "notadate,100,110,90,105,1000",
        ",100,110,90,105,1000",
    ],
    "empty.csv": ["date,open,high,low,close,volume"],
    "bars.parquet": [],  # written by file_problems: a row whose high is below its open
    "no_close.csv": ["date,open,high,low,volume", "2024-01-02,1,2,1,5"],
}


def file_problems(folder: Path) -> list[str]:
    """The problems an import preview lists for files with every kind of problem."""
    found = []
    for name, lines in FILE_ROWS.items():
        if name.endswith(".parquet"):
            rows = {"open": [10.0, 10.0], "high": [11.0, 9.0], "low": [9.0, 9.0], "close": 10.0}
            days = pd.date_range("2024-01-02", periods=2, name="date")
            pd.DataFrame({**rows, "volume": 100.0}, index=days).to_parquet(folder / name)
        else:
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        found += [str(p) for p in preview_import(folder / name, symbol="TEST").errors]
    choices: list[dict[str, Any]] = [{"mapping": {"close": "Close"}}, {"date_format": "%d/%m/%Y"}]
    source = {"mapping": "no_close.csv", "date_format": "cells.csv"}
    for extra in choices:
        path = folder / source[next(iter(extra))]
        found += [str(p) for p in preview_import(path, symbol="TEST", **extra).errors]
    return found


def every_sentence() -> list[str]:
    day = dt.date(2024, 1, 2)
    return [
        *backtest_warnings(),
        *portfolio_warnings(),
        *data_check_warnings(),
        raw_fallback_warning("DEMO01"),
        raw_fallback_warning("KOSPI", benchmark=True),
        history_warning(20, 61, day),
        empty_range_message("DEMO01", None, day, None),
        empty_range_message("DEMO01", day, None, (day, day)),
        "only one bar in the period; a backtest needs at least two",
        "no adjusted prices stored",
        "no raw prices stored",
        *file_problems(Path(tempfile.mkdtemp(prefix="notices-"))),
    ]


SENTENCES = every_sentence()


def test_the_producers_say_every_kind_of_sentence() -> None:
    keys = {
        key
        for sentence in SENTENCES
        for key, pattern in _compiled(False)
        if pattern.match(sentence)
    }
    unused = sorted({key for key, _ in _compiled(False)} - keys)
    assert unused == [], "templates no producer says: update them with the producers"


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_sentence_is_told_in_korean_without_english(sentence: str) -> None:
    korean = told(sentence, Language.KO)
    assert korean is not None, f"no notice.* template matches: {sentence!r}"
    # data: symbol codes, and what the files hold (a cell, a column name, a date form)
    codes = {"DEMO01", "A", "B", "C", *(f"S{i:02d}" for i in range(12))}
    codes |= {"abc", "notadate", "Close", "YYYY-MM-DD", "DD", "MM", "YYYY"}
    assert latin_words(korean, codes) == [], korean
    assert told(sentence, Language.EN) == sentence  # the English template is the sentence


def test_the_old_plural_of_one_trade_is_still_translated() -> None:
    stored = "Only 1 closed trades (fewer than 10): trade metrics are not statistically meaningful."
    assert told(stored, Language.KO) == (
        "청산된 거래가 1건뿐이라(10건 미만) 거래 지표는 통계적으로 의미가 없습니다."
    )


def test_lists_are_told_item_by_item() -> None:
    sentence = (
        "held at their last close after their data ended (delisted: hold): "
        "A (last bar 2024-01-31), B (last bar 2024-02-01) and 3 more"
    )
    assert told(sentence, Language.KO) == (
        "데이터가 끝난 뒤에도 마지막 종가로 보유한 종목(상장폐지 시 보유): "
        "A(마지막 봉 2024-01-31), B(마지막 봉 2024-02-01) 외 3개"
    )


def test_a_page_tells_a_known_sentence_and_leaves_others_as_they_are() -> None:
    korean = Preferences(Language.KO, Colors.RED_UP)
    assert korean.notice("no raw prices stored") == "수정 전 주가가 저장되어 있지 않습니다."
    assert korean.notice("internal error (KeyError); see the server log") == (
        "internal error (KeyError); see the server log"
    )
