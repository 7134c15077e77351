"""The synthetic demo bars come from a plausible day of trading (privatetrade.data.synthetic).

High and low are the extremes of a Brownian bridge from the open to the close, so a
breakout above the open gains nothing on average by the close, and volatility
breakout ends in a band set by the model, not in a drain built into the data (the
old bars, whose highs ignored the closes, took it to −99.99%). The shape of the
ranges is compared with the real US sample stocks shipped with privatetrade.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.sample import SAMPLE_SYMBOLS, load_sample_bars
from privatetrade.data.synthetic import (
    INTRADAY_SHARE,
    SYNTHETIC_CODES,
    bridge_extremes,
    exponential,
    market_factor,
    synthetic_bars,
    synthetic_profiles,
    synthetic_sessions,
    uniforms,
)
from privatetrade.engine.costs import krx_tick_size

K = 0.5  # volatility breakout's default range fraction


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {code: synthetic_bars(code) for code in SYNTHETIC_CODES}


def columns(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(frame[name].to_numpy() for name in ("open", "high", "low", "close", "volume"))


def regular_days(frame: pd.DataFrame) -> np.ndarray:
    """Sessions that traded freely: not planted (halt, locked) and not at a daily limit."""
    o, h, low, c, v = columns(frame)
    prev = np.r_[np.nan, c[:-1]]
    planted = (v == 0) | ((o == h) & (h == low) & (low == c))
    at_limit = (h >= prev * 1.295) | (low <= prev * 0.705)
    regular = ~planted & ~at_limit
    regular[0] = False
    return regular


# ---------------------------------------------------------------- the building blocks


@pytest.mark.parametrize("k", [0, 1, 2**13, 2**40, 2**50, 3 * 2**51, 2**53 - 2**40, 2**53 - 1])
def test_exponential_draw_is_minus_log_of_one_minus_u(k: int) -> None:
    u = k * 2.0**-53  # the uniforms are multiples of 2**-53, so 1 - u is exact
    assert exponential(u) == pytest.approx(-math.log1p(-u), rel=1e-14, abs=1e-300)


def test_bridge_extremes_follow_the_law_of_a_brownian_bridge() -> None:
    # Independent check: Brownian bridges from 0 to b simulated on a fine grid.
    rng = np.random.default_rng(7)
    steps, paths, move = 2_000, 4_000, 0.4
    walk = np.cumsum(rng.normal(0.0, math.sqrt(1.0 / steps), (paths, steps)), axis=1)
    time = np.arange(1, steps + 1) / steps
    bridges = walk - time * (walk[:, -1:] - move)
    grid_max = np.maximum(bridges.max(axis=1), 0.0)
    grid_min = np.minimum(bridges.min(axis=1), 0.0)
    draws = uniforms(np.random.default_rng(8).bit_generator.random_raw(2 * paths).tolist())
    exact = np.array(
        [bridge_extremes(0.0, move, 1.0, draws[2 * i], draws[2 * i + 1]) for i in range(paths)]
    )
    # A grid misses the extremes between its points by about 0.58 / sqrt(steps).
    shortfall = 0.5826 / math.sqrt(steps)
    for level in (0.5, 0.8, 1.2):
        law = math.exp(-2.0 * level * (level - move))
        assert np.mean(exact[:, 0] >= level) == pytest.approx(law, abs=0.025)
        assert np.mean(grid_max + shortfall >= level) == pytest.approx(law, abs=0.025)
    for level in (-0.3, -0.6):
        law = math.exp(-2.0 * level * (level - move))
        assert np.mean(exact[:, 1] <= level) == pytest.approx(law, abs=0.025)
        assert np.mean(grid_min - shortfall <= level) == pytest.approx(law, abs=0.025)
    assert (exact[:, 0] >= max(0.0, move)).all()
    assert (exact[:, 1] <= min(0.0, move)).all()


# ---------------------------------------------------------------- the stored bars


def test_highs_and_lows_bracket_the_day_with_a_range_on_nearly_every_day(
    frames: dict[str, pd.DataFrame],
) -> None:
    for code, frame in frames.items():
        o, h, low, c, _ = columns(frame)
        regular = regular_days(frame)
        assert (h >= np.maximum(o, c)).all(), code
        assert (low <= np.minimum(o, c)).all(), code
        assert np.mean(h[regular] > low[regular]) > 0.99, code
        # the open is near the previous close: small overnight gaps
        gaps = np.abs(o[1:] / c[:-1] - 1.0)[regular[1:]]
        assert np.median(gaps) < 0.5 * np.median(np.abs(c[1:] / o[1:] - 1.0)[regular[1:]]), code


def _bridge_probabilities(frame: pd.DataFrame, sigma: float, market: str) -> Iterable[np.ndarray]:
    """P(a bridge's max >= the day's high) and the same for the low, on finely ticked days."""
    o, h, low, c, _ = columns(frame)
    scale = np.array(market_factor(len(frame)).scale)
    spread = o * sigma * INTRADAY_SHARE * scale
    days = pd.DatetimeIndex(frame.index).date
    tick = np.array([krx_tick_size(p, d, market) for p, d in zip(o, days, strict=True)])  # type: ignore[arg-type]
    fine = regular_days(frame) & (spread >= 20 * tick)  # rounding to ticks is negligible
    move, up, down = c - o, h - o, o - low
    yield np.exp(-2.0 * up * (up - move) / spread**2)[fine]
    yield np.exp(-2.0 * down * (down + move) / spread**2)[fine]


def test_highs_and_lows_have_the_exact_law_of_the_bridge(frames: dict[str, pd.DataFrame]) -> None:
    # Given open and close, P(max >= high) is uniform on [0, 1] if the highs follow the
    # bridge's law (a probability integral transform); the same for the lows.
    highs, lows = [], []
    for profile in synthetic_profiles():
        high, low = _bridge_probabilities(frames[profile.code], profile.sigma, profile.market.value)
        highs.append(high)
        lows.append(low)
    for values in (np.concatenate(highs), np.concatenate(lows)):
        assert len(values) > 2_000
        ordered = np.sort(values)
        ecdf = np.arange(1, len(ordered) + 1) / len(ordered)
        distance = np.max(np.abs(ecdf - ordered))
        assert distance < 1.95 / math.sqrt(len(ordered))  # Kolmogorov-Smirnov at 0.1%


def _range_shape(frame: pd.DataFrame) -> tuple[float, float, float]:
    """(median range / robust daily sd, robust gap sd / robust daily sd, range autocorrelation)."""
    prev = frame["close"].shift()
    day_range = ((frame["high"] - frame["low"]) / prev).dropna()
    daily = np.log(frame["close"] / prev).dropna()
    gaps = np.log(frame["open"] / prev).dropna()

    def robust_sd(values: pd.Series) -> float:
        return float(1.4826 * np.median(np.abs(values - np.median(values))))

    return (
        float(day_range.median()) / robust_sd(daily),
        robust_sd(gaps) / robust_sd(daily),
        float(day_range.autocorr()),
    )


def test_ranges_gaps_and_volatility_clustering_look_like_real_stocks(
    frames: dict[str, pd.DataFrame],
) -> None:
    real = np.array([_range_shape(load_sample_bars(code)) for code in SAMPLE_SYMBOLS])
    low, high = real.min(axis=0), real.max(axis=0)
    for code, frame in frames.items():
        ratio, gap_share, clustering = _range_shape(frame)
        # the real stocks span 1.20-1.43 and 0.30-0.46 (US, 2000-2013)
        assert low[0] - 0.1 < ratio < high[0] + 0.1, code
        assert low[1] - 0.1 < gap_share < high[1] + 0.1, code
        assert clustering > 0.15, code  # busy days follow busy days (real: 0.27-0.65)


# ---------------------------------------------------------------- volatility breakout


def _breakout_trades(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each breakout's return from its stop to the close, and from the close to the next open."""
    o, h, low, c, _ = columns(frame)
    stop = o[1:-1] + K * (h[:-2] - low[:-2])
    hit = (h[1:-1] >= stop) & (stop > o[1:-1])
    intraday = c[1:-1][hit] / stop[hit] - 1.0
    overnight = o[2:][hit] / c[1:-1][hit] - 1.0
    return intraday, overnight


def test_a_breakout_gains_nothing_by_the_close_on_average(frames: dict[str, pd.DataFrame]) -> None:
    pooled = []
    for code, frame in frames.items():
        intraday, _ = _breakout_trades(frame)
        assert 0.3 < len(intraday) / len(frame) < 0.6, code  # a stop hit on 30-60% of days
        t_stat = intraday.mean() / intraday.std() * math.sqrt(len(intraday))
        assert abs(t_stat) < 4.0, (code, t_stat)
        pooled.append(intraday)
    everything = np.concatenate(pooled)
    assert abs(everything.mean() / everything.std() * math.sqrt(len(everything))) < 4.0


def test_volatility_breakout_ends_in_the_band_the_model_allows(
    frames: dict[str, pd.DataFrame],
) -> None:
    # Without costs, log growth = sum of log(1 + trade return). By the bridge law the
    # intraday part has mean zero; the overnight part earns the drift while held. So the
    # mean over the six stocks lies within the held drift minus the variance drag,
    # plus or minus four standard deviations of the trades' noise.
    growth, drift, drag, noise = [], [], [], []
    for frame in frames.values():
        result = pt.run_backtest(frame, "volatility_breakout", {"k": K}, costs="zero")
        growth.append(math.log(result.final_equity / result.settings.initial_cash))
        intraday, overnight = _breakout_trades(frame)
        trade = (1.0 + intraday) * (1.0 + overnight) - 1.0
        drift.append(float(np.sum(overnight)))
        drag.append(0.5 * float(np.sum(trade**2)))
        noise.append(float(np.sum(trade**2)))
    expected = np.mean(drift) - np.mean(drag)
    spread = 4.0 * math.sqrt(sum(noise)) / len(noise)
    assert expected - spread < np.mean(growth) < expected + spread
    assert expected - spread > -2.0  # the band excludes a drain: -99.99% is a log of -9.2


# ---------------------------------------------------------------- determinism


def _digest(frames: Iterable[pd.DataFrame]) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(np.ascontiguousarray(frame.to_numpy(dtype="<f8")).tobytes())
    return digest.hexdigest()


def test_another_process_generates_the_same_bytes(frames: dict[str, pd.DataFrame]) -> None:
    from privatetrade.data.synthetic_index import synthetic_index_bars

    here = _digest([*frames.values(), synthetic_index_bars(frames)])
    code = (
        "import hashlib, numpy as np\n"
        "from privatetrade.data.synthetic import SYNTHETIC_CODES, synthetic_bars\n"
        "from privatetrade.data.synthetic_index import synthetic_index_bars\n"
        "frames = [synthetic_bars(c) for c in SYNTHETIC_CODES] + [synthetic_index_bars()]\n"
        "digest = hashlib.sha256()\n"
        "for f in frames: digest.update(np.ascontiguousarray(f.to_numpy(dtype='<f8')).tobytes())\n"
        "print(digest.hexdigest())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == here
    assert len(synthetic_sessions()) == len(frames["DEMO01"])
