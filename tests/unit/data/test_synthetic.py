"""The synthetic KRX demo set: marked synthetic, deterministic, on the grid, within limits."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.calendar import krx_sessions
from privatetrade.data.quality import quality_report
from privatetrade.data.symbols import Market
from privatetrade.data.synthetic import (
    SYNTHETIC_CODES,
    SYNTHETIC_END,
    SYNTHETIC_START,
    synthetic_bars,
    synthetic_symbols,
)
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.costs import CostModel, cost_arrays, krx_tick_size
from privatetrade.errors import InputError

# sha256 of synthetic_bars("DEMO01") (open, high, low, close, volume, row by row) as
# little-endian float64 bytes: the same on every machine. It changes only if the
# generator (SYNTHETIC_VERSION), the seeds or the calendar's sessions in 2016-2025 change.
DEMO01_OHLCV_SHA256 = "6fbf5354169bc7f996427b6a4cbb75b03dff64523aeed023e3a8fa454bab281c"
PLANTED = 3  # limit-up locks, limit-down locks and halts per symbol
MARKETS = {info.code: info.market for info in synthetic_symbols()}


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {code: synthetic_bars(code) for code in SYNTHETIC_CODES}


def test_symbols_say_they_are_synthetic() -> None:
    symbols = synthetic_symbols()
    assert [s.code for s in symbols] == list(SYNTHETIC_CODES)
    assert 5 <= len(symbols) <= 6
    for info in symbols:
        assert "합성" in info.name
        assert info.name_en is not None
        assert "Synthetic" in info.name_en
        assert info.synthetic
        assert (info.source, info.currency, info.lot_size, info.tick_table) == (
            "synthetic",
            "KRW",
            1,
            "krx",
        )
        assert info.timezone == "Asia/Seoul"
    assert len({s.name for s in symbols}) == len({s.name_en for s in symbols}) == len(symbols)
    assert {Market.KOSPI, Market.KOSDAQ} <= {s.market for s in symbols}


@pytest.mark.parametrize("code", SYNTHETIC_CODES)
def test_codes_can_never_be_real_krx_codes(code: str) -> None:
    assert not re.fullmatch(r"\d{6}", code)
    assert code[0].isalpha()  # KRX codes, numeric or alphanumeric, start with a digit


def test_bars_are_deterministic(frames: dict[str, pd.DataFrame]) -> None:
    again = synthetic_bars("demo01")
    pd.testing.assert_frame_equal(again, frames["DEMO01"])
    assert again.to_numpy().tobytes() == frames["DEMO01"].to_numpy().tobytes()
    ohlcv = again[["open", "high", "low", "close", "volume"]].to_numpy(dtype="<f8")
    assert hashlib.sha256(np.ascontiguousarray(ohlcv).tobytes()).hexdigest() == (
        DEMO01_OHLCV_SHA256
    )


def test_bars_cover_every_krx_session_at_seoul_midnight(frames: dict[str, pd.DataFrame]) -> None:
    sessions = krx_sessions(SYNTHETIC_START, SYNTHETIC_END)
    for frame in frames.values():
        index = frame.index
        assert isinstance(index, pd.DatetimeIndex)
        assert (index.name, str(index.tz)) == ("time", "Asia/Seoul")
        assert list(index.date) == sessions
        assert (index.hour == 0).all()
        assert (index.minute == 0).all()
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
        assert (frame.dtypes == np.float64).all()
    assert sessions[0] == dt.date(2016, 1, 4)
    assert sessions[-1] == dt.date(2025, 12, 30)
    assert len(sessions) > 2_400


@pytest.mark.parametrize("code", SYNTHETIC_CODES)
def test_bars_pass_engine_validation_and_the_quality_report(
    frames: dict[str, pd.DataFrame], code: str
) -> None:
    frame = frames[code]
    assert len(prepare_bars(frame)) == len(frame)
    report = quality_report(frame, MARKETS[code], symbol=code)
    assert report.ok, report.to_dict()
    assert report.missing_sessions.count == report.off_grid.count == report.jumps.count == 0
    assert report.zero_volume.count == PLANTED
    assert report.limit_up_locked.count == PLANTED
    assert report.limit_down_locked.count == PLANTED
    assert report.half_tick.count == 0


@pytest.mark.parametrize("code", SYNTHETIC_CODES)
def test_every_price_is_on_the_tick_grid_of_its_day(
    frames: dict[str, pd.DataFrame], code: str
) -> None:
    # An independent scalar check with the engine's own tick function.
    frame = frames[code]
    market = MARKETS[code].value
    days = pd.DatetimeIndex(frame.index).date
    for day, row in zip(days, frame.itertuples(index=False), strict=True):
        for price in row[:4]:
            tick = krx_tick_size(price, day, market)  # type: ignore[arg-type]
            assert price % tick == 0, (code, day, price, tick)


@pytest.mark.parametrize("code", SYNTHETIC_CODES)
def test_ohlc_consistent_and_moves_within_the_daily_limit(
    frames: dict[str, pd.DataFrame], code: str
) -> None:
    frame = frames[code]
    o, h, low, c, v = (frame[name].to_numpy() for name in frame.columns)
    assert (h >= np.maximum(o, c)).all()
    assert (low <= np.minimum(o, c)).all()
    assert (low > 0).all()
    prev = c[:-1]
    for price in (o[1:], h[1:], low[1:], c[1:]):
        assert (np.abs(price - prev) <= 0.30 * prev).all()
    assert (v >= 0).all()
    assert (v == np.floor(v)).all()


@pytest.mark.parametrize(
    ("code", "below", "above"),
    [
        ("DEMO01", 50_000, 200_000),  # crosses the 50,000/100,000/200,000 tick bands
        ("DEMO02", 1_000, 5_000),  # crosses 1,000/2,000/5,000
        ("DEMO03", 500_000, 900_000),  # above 500,000 (1,000-won ticks)
        ("DEMO04", 10_000, 50_000),
        ("DEMO05", 5_000, 20_000),
        ("DEMO06", 20_000, 100_000),
    ],
)
def test_prices_cross_tick_band_boundaries(
    frames: dict[str, pd.DataFrame], code: str, below: float, above: float
) -> None:
    close = frames[code]["close"]
    assert close.min() < below < above < close.max()


@pytest.mark.parametrize("code", SYNTHETIC_CODES)
def test_planted_days(frames: dict[str, pd.DataFrame], code: str) -> None:
    frame = frames[code]
    o, h, low, c, v = (frame[name].to_numpy() for name in frame.columns)
    flat = (o == h) & (h == low) & (low == c)
    halts = np.flatnonzero(v == 0)
    assert halts.shape[0] == PLANTED
    assert flat[halts].all()
    assert (c[halts] == c[halts - 1]).all()
    moves = c[1:] / c[:-1] - 1.0
    assert int(np.count_nonzero(flat[1:] & (moves > 0.29))) == PLANTED
    assert int(np.count_nonzero(flat[1:] & (moves < -0.29))) == PLANTED
    assert (v[np.flatnonzero(flat[1:] & (np.abs(moves) > 0.29)) + 1] > 0).all()


def _blocked(frame: pd.DataFrame, market: Market) -> tuple[np.ndarray, np.ndarray]:
    prepared = prepare_bars(frame)
    bars = prepared.bars
    arrays = cost_arrays(
        CostModel.krx(market.value),  # type: ignore[arg-type]
        prepared.local_time_ns,
        bars.high,
        bars.low,
        bars.close,
    )
    return arrays.buy_blocked, arrays.sell_blocked


def test_engine_waits_to_buy_on_a_planted_up_locked_day(frames: dict[str, pd.DataFrame]) -> None:
    frame = frames["DEMO01"]
    buy_blocked, sell_blocked = _blocked(frame, Market.KOSPI)
    assert buy_blocked.any()
    assert sell_blocked.any()
    locked = int(np.flatnonzero(buy_blocked)[0])
    window = frame.iloc[locked - 1 : locked + 3]
    # The signal at the first bar fills at the next open, unless that bar is locked up.
    krx = pt.run_backtest(window, "buy_and_hold", costs="krx", market="KOSPI")
    free = pt.run_backtest(window, "buy_and_hold", costs="zero")
    assert int(free.output.fills["bar"][0]) == 1
    assert int(krx.output.fills["bar"][0]) == 2
    assert float(krx.output.fills["price"][0]) == window["open"].iloc[2]


def test_engine_recognizes_every_planted_lock(frames: dict[str, pd.DataFrame]) -> None:
    for code, frame in frames.items():
        buy_blocked, sell_blocked = _blocked(frame, MARKETS[code])
        assert (int(buy_blocked.sum()), int(sell_blocked.sum())) == (PLANTED, PLANTED), code


def test_unknown_code_is_an_input_error() -> None:
    with pytest.raises(InputError, match="DEMO01"):
        synthetic_bars("005930")
