"""A deterministic synthetic KRX demo set, so Korean costs and ticks work offline.

**These prices are made up.** No real Korean prices ship with privatetrade; these six
symbols let a user try the KRX cost model (commission, sell tax, tick grid, ±30% daily
limits) without a network. Their codes (``DEMO01`` … ``DEMO06``) can never be real
KRX codes, which start with digits, and their names say they are synthetic
(합성 = synthetic) and name no real company.

The bars cover the KRX sessions (our calendar, overrides included) from 2016-01-04 to
2025-12-30, about ten years. Each session comes from a plausible day of trading:

- **Returns.** A common market factor (daily volatility 1.1%, with GARCH(1,1)
  volatility clustering) times the symbol's beta, plus the symbol's own noise, so the
  day's total volatility is the profile's ``sigma``.
- **Open.** The previous close plus an overnight gap that carries 35% of the day's
  standard deviation, plus the day's drift: a pull of 3% of the distance towards a
  path through the profile's anchor prices (which decides the long-run shape). Rare
  news days add a 6-18% jump overnight.
- **Close.** The open plus the rest of the day's noise, without drift: the path from
  the open to the close is a random walk.
- **High and low.** The extremes of a Brownian bridge from the open to the close with
  the intraday volatility, drawn from the exact distribution of a bridge's maximum
  and minimum: ``high = open + (b + sqrt(b² + 2s²E)) / 2`` with ``b = close − open``,
  ``s`` the intraday standard deviation in won and ``E`` an exponential draw (``low``
  the same way downwards, with its own draw). Given the close, a level above the open
  is reached exactly as often as on a random-walk path, so a breakout bought during
  the day gains nothing on average by the close (and loses nothing either); holding
  overnight earns the drift, as any holder does.

Every price is on the KRX tick grid in force that day (the table changed on
2023-01-25), open/high/low/close are consistent, and each price lies within ±30% of
the previous close. Each symbol also has a few planted days:

- three days locked at the upper limit and three at the lower limit (a bar that
  traded at the limit price only: open = high = low = close), which the engine's
  limit rules recognize: a buy cannot fill on an up-locked bar, a sell not on a
  down-locked one;
- three trading halts: zero volume, every price at the previous close.

Generation is byte-for-byte deterministic across runs and machines: each symbol has
a fixed seed, only the raw output of numpy's PCG64 bit generator (whose stream numpy
keeps stable) is used, and all arithmetic is plain Python float and integer
operations plus ``math.sqrt`` and ``math.frexp`` (both exact or correctly rounded by
IEEE 754); normal draws are sums of four uniforms, and the logarithm of the
exponential draws is our own series. The bars follow the calendar and the tick
tables, so a correction of the 2016-2025 sessions or of a tick table changes them
(and the sha256 pinned in the tests). Example::

    >>> frame = synthetic_bars("DEMO01")
    >>> frame.index[0].isoformat(), float(frame["close"].iloc[0]) % 100 == 0
    ('2016-01-04T00:00:00+09:00', True)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from privatetrade.data.calendar import krx_sessions
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.engine.costs import krx_tick_size
from privatetrade.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GAP_SHARE",
    "INTRADAY_SHARE",
    "MARKET_SIGMA",
    "SYNTHETIC_CODES",
    "SYNTHETIC_END",
    "SYNTHETIC_SOURCE",
    "SYNTHETIC_START",
    "SYNTHETIC_TIMEZONE",
    "SYNTHETIC_VERSION",
    "MarketFactor",
    "SyntheticProfile",
    "bridge_extremes",
    "exponential",
    "market_factor",
    "synthetic_bars",
    "synthetic_frame",
    "synthetic_profiles",
    "synthetic_sessions",
    "synthetic_symbols",
    "uniforms",
]

SYNTHETIC_SOURCE = "synthetic"
SYNTHETIC_START = dt.date(2016, 1, 4)
SYNTHETIC_END = dt.date(2025, 12, 30)
SYNTHETIC_TIMEZONE = "Asia/Seoul"
SYNTHETIC_VERSION = 2
"""Version of the generated bars: 1 had highs and lows unrelated to the day's path,
2 has Brownian-bridge extremes, a market factor and the synthetic index. Bumped on
every change of the bars, so that installed sample data gets replaced."""

MARKET_SIGMA = 0.011
"""Long-run daily standard deviation of the market factor (a KOSPI-like 1.1%)."""
GAP_SHARE = 0.35
"""Share of a day's standard deviation that happens overnight (open vs previous close)."""
INTRADAY_SHARE = 0.9367496997597597
"""Share of a day's standard deviation from the open to the close: sqrt(1 - 0.35²)."""

_LIMIT_PERCENT = 30  # the ±30% daily limit, in force since 2015-06-15
_DRAWS_PER_DAY = 15
_MARKET_DRAWS_PER_DAY = 8
_MARKET_SEED = 160_100
_GARCH_ALPHA = 0.08  # weight of yesterday's squared market shock
_GARCH_BETA = 0.90  # persistence of the market variance
_VARIANCE_BOUNDS = (0.3, 5.0)  # the market variance multiplier stays in this range
_NEWS_CHANCE = 0.004  # share of days with an overnight news jump
_MAX_GAP = 0.20
_EVENTS = ("up", "up", "up", "down", "down", "down", "halt", "halt", "halt")
_EDGE = 30  # no planted event within this many sessions of either end
_REVERSION = 0.03  # daily pull of the price towards its target path
_SQRT3 = 1.7320508075688772
_UNIT = 1.0 / 9_007_199_254_740_992.0  # 2**-53
_LN2 = 0.6931471805599453
_SQRT_HALF = 0.7071067811865476
_ATANH_TERMS = tuple(1.0 / (2 * k + 1) for k in range(12))  # 1, 1/3, 1/5, ...


@dataclass(frozen=True, slots=True)
class SyntheticProfile:
    """How one synthetic symbol behaves.

    Attributes:
        code: Symbol code (``DEMO01`` ...).
        name: Korean name (합성데모…).
        name_en: English name (Synthetic Demo …).
        market: KOSPI or KOSDAQ (tick table before 2023, sell tax).
        seed: Seed of the symbol's own random stream.
        anchors: Target prices spaced evenly over the ten years; the price wanders
            around the straight lines between them, so the anchors decide which tick
            bands the series crosses.
        sigma: Daily standard deviation of the return (market part included).
        beta: Exposure to the market factor.
        volume: Typical daily volume in shares.
        shares: Shares outstanding (fixed: no corporate actions), the index weight.
    """

    code: str
    name: str
    name_en: str
    market: Market
    seed: int
    anchors: tuple[int, ...]
    sigma: float
    beta: float
    volume: int
    shares: int


_PROFILES = (
    SyntheticProfile(
        "DEMO01", "합성데모전자", "Synthetic Demo Electronics", Market.KOSPI, 160_101,
        (62_000, 48_000, 95_000, 180_000, 120_000, 205_000, 150_000, 88_000, 132_000, 170_000),
        0.018, 1.0, 1_500_000, 400_000_000,
    ),
    SyntheticProfile(
        "DEMO02", "합성데모바이오", "Synthetic Demo Bio", Market.KOSDAQ, 160_102,
        (1_450, 920, 2_600, 4_800, 1_700, 3_900, 5_300, 2_200, 1_150, 2_900),
        0.032, 1.2, 2_500_000, 900_000_000,
    ),
    SyntheticProfile(
        "DEMO03", "합성데모화학", "Synthetic Demo Chemicals", Market.KOSPI, 160_103,
        (430_000, 520_000, 760_000, 610_000, 940_000, 480_000, 700_000, 880_000, 560_000,
         820_000),
        0.016, 0.9, 60_000, 40_000_000,
    ),
    SyntheticProfile(
        "DEMO04", "합성데모게임즈", "Synthetic Demo Games", Market.KOSDAQ, 160_104,
        (12_500, 8_800, 19_000, 46_000, 58_000, 31_000, 17_500, 24_000, 52_000, 38_000),
        0.028, 1.1, 700_000, 150_000_000,
    ),
    SyntheticProfile(
        "DEMO05", "합성데모금융지주", "Synthetic Demo Financial Holdings", Market.KOSPI, 160_105,
        (6_200, 4_300, 5_600, 9_400, 12_800, 8_100, 16_500, 21_000, 14_000, 19_500),
        0.013, 0.8, 1_200_000, 1_200_000_000,
    ),
    SyntheticProfile(
        "DEMO06", "합성데모로보틱스", "Synthetic Demo Robotics", Market.KOSDAQ, 160_106,
        (18_500, 41_000, 68_000, 115_000, 74_000, 36_000, 52_000, 96_000, 61_000, 87_000),
        0.030, 1.3, 400_000, 100_000_000,
    ),
)  # fmt: skip

SYNTHETIC_CODES = tuple(profile.code for profile in _PROFILES)
"""Codes of the synthetic symbols, ``DEMO01`` to ``DEMO06``."""


def synthetic_profiles() -> tuple[SyntheticProfile, ...]:
    """Return the profiles of the synthetic stocks, in code order."""
    return _PROFILES


def synthetic_symbols() -> list[SymbolInfo]:
    """Return the catalog entries of the synthetic KRX demo symbols.

    They are marked ``synthetic=True`` with source ``synthetic``; the bar range fields
    stay empty until the bars are stored.
    """
    return [
        SymbolInfo(
            code=profile.code,
            name=profile.name,
            name_en=profile.name_en,
            market=profile.market,
            currency="KRW",
            lot_size=1,
            tick_table="krx",
            status="listed",
            source=SYNTHETIC_SOURCE,
            synthetic=True,
        )
        for profile in _PROFILES
    ]


def synthetic_sessions() -> list[dt.date]:
    """Return the KRX sessions the synthetic bars cover."""
    return krx_sessions(SYNTHETIC_START, SYNTHETIC_END)


def synthetic_bars(code: str) -> pd.DataFrame:
    """Return the synthetic daily bars of one demo symbol.

    Args:
        code: One of :data:`SYNTHETIC_CODES` (case-insensitive).

    Returns:
        Float columns open, high, low, close, volume, indexed by session date at
        midnight Asia/Seoul (a DatetimeIndex named ``time``). Equal, byte for byte,
        on every call and every machine.

    Raises:
        InputError: When the code is not a synthetic symbol.
    """
    profile = _profile(code)
    days = synthetic_sessions()
    return synthetic_frame(days, _generate(profile, days, market_factor(len(days))))


def synthetic_frame(days: list[dt.date], columns: dict[str, list[float]]) -> pd.DataFrame:
    """Return generated columns as float64 bars indexed by midnight Asia/Seoul."""
    import pandas as pd

    stamps = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    index = pd.DatetimeIndex(stamps, name="time").tz_localize(SYNTHETIC_TIMEZONE)
    data = {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
    return pd.DataFrame(data, index=index)


def _profile(code: str) -> SyntheticProfile:
    wanted = code.strip().upper()
    for profile in _PROFILES:
        if profile.code == wanted:
            return profile
    raise InputError(
        f"no synthetic symbol {code!r}; synthetic symbols: {', '.join(SYNTHETIC_CODES)}",
        field="symbol",
    )


# ---------------------------------------------------------------- deterministic draws


def uniforms(raw: list[int]) -> list[float]:
    """Map raw 64-bit outputs to floats in [0, 1) with 53 random bits (exact)."""
    return [(value >> 11) * _UNIT for value in raw]


def _normal(draws: Sequence[float]) -> float:
    """Return a standard normal draw (mean 0, variance 1) from four uniforms."""
    return (draws[0] + draws[1] + draws[2] + draws[3] - 2.0) * _SQRT3


def exponential(u: float) -> float:
    """Return ``-ln(1 - u)`` for ``u`` in [0, 1): an Exp(1) draw from a uniform.

    Uses only exact and correctly rounded operations (``frexp``, +, ×, ÷): ``1 - u``
    is split into ``m × 2**e`` with ``m`` in [√½, √2), and ``ln m = 2 atanh(s)`` with
    ``s = (m - 1) / (m + 1)`` is summed as a series (|s| < 0.172, 12 terms). The
    result agrees with ``math.log`` to about 1e-15 and is the same on every machine.
    """
    mantissa, exponent = math.frexp(1.0 - u)
    if mantissa < _SQRT_HALF:
        mantissa, exponent = mantissa * 2.0, exponent - 1
    s = (mantissa - 1.0) / (mantissa + 1.0)
    square = s * s
    series = 0.0
    for coefficient in reversed(_ATANH_TERMS):
        series = series * square + coefficient
    return -(exponent * _LN2 + 2.0 * s * series)


def bridge_extremes(
    open_: float, close: float, spread: float, up_draw: float, down_draw: float
) -> tuple[float, float]:
    """Return the (high, low) of a Brownian bridge from ``open_`` to ``close``.

    The maximum ``M`` of a Brownian bridge from 0 to ``b`` with variance ``s²`` over
    the day has ``P(M >= y) = exp(-2y(y - b) / s²)`` for ``y >= max(0, b)``; inverting
    it at an exponential draw ``E`` gives ``M = (b + sqrt(b² + 2s²E)) / 2``, and the
    minimum is the mirror image. Each extreme has its exact distribution given the
    open and the close; the two are drawn independently.

    Args:
        open_: Price at the start of the path.
        close: Price at its end.
        spread: Standard deviation of the path's end seen from its start, in price.
        up_draw: Uniform draw in [0, 1) for the maximum.
        down_draw: Uniform draw in [0, 1) for the minimum.
    """
    move = close - open_
    variance = spread * spread
    reach_up = math.sqrt(move * move + 2.0 * variance * exponential(up_draw))
    reach_down = math.sqrt(move * move + 2.0 * variance * exponential(down_draw))
    return open_ + (move + reach_up) / 2.0, open_ + (move - reach_down) / 2.0


@dataclass(frozen=True, slots=True)
class MarketFactor:
    """The market's part of every synthetic symbol's returns, one value per session.

    Attributes:
        gap: The market's overnight return.
        intraday: The market's return from the open to the close.
        scale: Volatility multiplier of the day (1 = normal), from a GARCH(1,1)
            recursion on the market's shocks; applies to every symbol's noise.
    """

    gap: tuple[float, ...]
    intraday: tuple[float, ...]
    scale: tuple[float, ...]


def market_factor(n: int) -> MarketFactor:
    """Return the market factor of the first ``n`` sessions (a fixed seed)."""
    bit_generator = np.random.default_rng(_MARKET_SEED).bit_generator
    u = uniforms(bit_generator.random_raw(n * _MARKET_DRAWS_PER_DAY).tolist())
    gaps, moves, scales = [], [], []
    variance = 1.0
    low, high = _VARIANCE_BOUNDS
    for i in range(n):
        d = u[i * _MARKET_DRAWS_PER_DAY : (i + 1) * _MARKET_DRAWS_PER_DAY]
        scale = math.sqrt(variance)
        z_gap, z_day = _normal(d[:4]), _normal(d[4:])
        gaps.append(MARKET_SIGMA * GAP_SHARE * scale * z_gap)
        moves.append(MARKET_SIGMA * INTRADAY_SHARE * scale * z_day)
        scales.append(scale)
        shock = GAP_SHARE * z_gap + INTRADAY_SHARE * z_day  # unit variance
        variance = (1.0 - _GARCH_ALPHA - _GARCH_BETA) + (
            _GARCH_ALPHA * shock * shock + _GARCH_BETA
        ) * variance
        variance = min(max(variance, low), high)
    return MarketFactor(tuple(gaps), tuple(moves), tuple(scales))


# ---------------------------------------------------------------- the tick grid


class _Grid:
    """The KRX tick grid of one market, in whole won."""

    def __init__(self, market: Market) -> None:
        self.market = market.value

    def tick(self, price: float, day: dt.date) -> int:
        return int(krx_tick_size(price, day, self.market))  # type: ignore[arg-type]

    def nearest(self, price: float, day: dt.date) -> int:
        tick = self.tick(price, day)
        return math.floor(price / tick + 0.5) * tick

    def limits(self, base: int, day: dt.date) -> tuple[int, int]:
        """Return the (lower, upper) daily limit prices around the base price.

        The width ``base × 30%`` is truncated to the base price's tick; the upper
        limit is then truncated, the lower one raised, onto their own band's grid.
        """
        tick = self.tick(base, day)
        width = base * _LIMIT_PERCENT // 100 // tick * tick
        upper, lower = base + width, base - width
        upper_tick, lower_tick = self.tick(upper, day), self.tick(lower, day)
        return -(-lower // lower_tick) * lower_tick, upper // upper_tick * upper_tick


# ---------------------------------------------------------------- one symbol


def _targets(anchors: tuple[int, ...], n: int) -> list[float]:
    """Return the target price of each session: straight lines between anchors."""
    span = (n - 1) / (len(anchors) - 1)
    targets: list[float] = []
    for i in range(n):
        segment = min(int(i / span), len(anchors) - 2)
        weight = (i - segment * span) / span
        targets.append(anchors[segment] + (anchors[segment + 1] - anchors[segment]) * weight)
    return targets


def _events(draws: list[float], n: int) -> dict[int, str]:
    """Place the planted events, one per equal segment of the series, kinds shuffled."""
    order = sorted(range(len(_EVENTS)), key=lambda k: draws[k])
    segment = (n - 2 * _EDGE) // len(_EVENTS)
    placed: dict[int, str] = {}
    for slot, kind in enumerate(order):
        offset = 5 + math.floor(draws[len(_EVENTS) + slot] * (segment - 10))
        placed[_EDGE + slot * segment + offset] = _EVENTS[kind]
    return placed


@dataclass(frozen=True, slots=True)
class _Day:
    """What one regular session of one symbol starts from."""

    day: dt.date
    prev: int
    lower: int
    upper: int
    target: float
    market_gap: float
    market_move: float
    scale: float


def _clamp(value: int, lower: int, upper: int) -> int:
    return min(max(value, lower), upper)


def _session(
    profile: SyntheticProfile, grid: _Grid, own: float, today: _Day, d: Sequence[float]
) -> tuple[int, int, int, int, int]:
    """Return one regular bar: gap, intraday move, bridge extremes, volume."""
    day, prev = today.day, today.prev
    drift = _REVERSION * (today.target / prev - 1.0)
    gap = drift + profile.beta * today.market_gap + own * GAP_SHARE * today.scale * _normal(d[0:4])
    if d[8] < _NEWS_CHANCE:
        gap += (0.06 + 0.12 * d[10]) * (1.0 if d[9] < 0.5 else -1.0)
    gap = min(max(gap, -_MAX_GAP), _MAX_GAP)
    open_ = _clamp(grid.nearest(prev * (1.0 + gap), day), today.lower, today.upper)
    noise = own * INTRADAY_SHARE * today.scale * _normal(d[4:8])
    move = profile.beta * today.market_move + noise
    close = _clamp(grid.nearest(open_ * (1.0 + move), day), today.lower, today.upper)
    spread = open_ * profile.sigma * INTRADAY_SHARE * today.scale
    top, bottom = bridge_extremes(open_, close, spread, d[11], d[12])
    high = min(max(grid.nearest(top, day), open_, close), today.upper)
    low = max(min(grid.nearest(bottom, day), open_, close), today.lower)
    change = abs(close / prev - 1.0)
    volume = int(profile.volume * (0.35 + d[13] + d[14]) * (1.0 + 6.0 * change))
    return open_, high, low, close, max(1, volume)


def _generate(
    profile: SyntheticProfile, days: list[dt.date], market: MarketFactor
) -> dict[str, list[float]]:
    n = len(days)
    bit_generator = np.random.default_rng(profile.seed).bit_generator
    u = uniforms(bit_generator.random_raw(n * _DRAWS_PER_DAY).tolist())
    events = _events(uniforms(bit_generator.random_raw(2 * len(_EVENTS)).tolist()), n)
    targets = _targets(profile.anchors, n)
    grid = _Grid(profile.market)
    common = profile.beta * MARKET_SIGMA
    own = math.sqrt(profile.sigma * profile.sigma - common * common)
    columns: dict[str, list[float]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
    prev = grid.nearest(float(profile.anchors[0]), days[0])
    for i, day in enumerate(days):
        d = u[i * _DRAWS_PER_DAY : (i + 1) * _DRAWS_PER_DAY]
        lower, upper = grid.limits(prev, day)
        event = events.get(i)
        if event == "halt":
            bar = (prev, prev, prev, prev, 0)
        elif event in ("up", "down"):
            price = upper if event == "up" else lower
            bar = (price, price, price, price, max(1, int(profile.volume * (0.03 + 0.05 * d[13]))))
        else:
            today = _Day(day, prev, lower, upper, targets[i], market.gap[i], market.intraday[i],
                         market.scale[i])  # fmt: skip
            bar = _session(profile, grid, own, today, d)
        for name, value in zip(columns, bar, strict=True):
            columns[name].append(value)
        prev = bar[3]
    return columns
