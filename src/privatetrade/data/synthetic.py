"""A deterministic synthetic KRX demo set, so Korean costs and ticks work offline.

**These prices are made up.** No real Korean prices ship with privatetrade; these six
symbols let a user try the KRX cost model (commission, sell tax, tick grid, ±30% daily
limits) without a network. Their codes (``DEMO01`` … ``DEMO06``) can never be real
KRX codes, which start with digits, and their names say they are synthetic
(합성 = synthetic) and name no real company.

The bars cover the KRX sessions (our calendar, overrides included) from 2016-01-04 to
2025-12-30, about ten years. Every price is on the KRX tick grid in force that day
(the table changed on 2023-01-25), open/high/low/close are consistent, and each close
lies within ±30% of the previous one. Each symbol also has a few planted days:

- three days locked at the upper limit and three at the lower limit (a bar that
  traded at the limit price only: open = high = low = close), which the engine's
  limit rules recognize: a buy cannot fill on an up-locked bar, a sell not on a
  down-locked one;
- three trading halts: zero volume, every price at the previous close.

Generation is byte-for-byte deterministic across runs and machines: each symbol has
a fixed seed, only the raw output of numpy's PCG64 bit generator (whose stream numpy
keeps stable) is used, and all arithmetic is plain Python float and integer
operations (no platform-dependent math functions). The bars follow the calendar and
the tick tables, so a correction of the 2016-2025 sessions or of a tick table changes
them (and the sha256 pinned in the tests). Example::

    >>> frame = synthetic_bars("DEMO01")
    >>> frame.index[0].isoformat(), float(frame["close"].iloc[0]) % 100 == 0
    ('2016-01-04T00:00:00+09:00', True)
"""

from __future__ import annotations

import datetime as dt
import math
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
    "SYNTHETIC_CODES",
    "SYNTHETIC_END",
    "SYNTHETIC_SOURCE",
    "SYNTHETIC_START",
    "SYNTHETIC_TIMEZONE",
    "synthetic_bars",
    "synthetic_symbols",
]

SYNTHETIC_SOURCE = "synthetic"
SYNTHETIC_START = dt.date(2016, 1, 4)
SYNTHETIC_END = dt.date(2025, 12, 30)
SYNTHETIC_TIMEZONE = "Asia/Seoul"

_LIMIT_PERCENT = 30  # the ±30% daily limit, in force since 2015-06-15
_DRAWS_PER_DAY = 13
_EVENTS = ("up", "up", "up", "down", "down", "down", "halt", "halt", "halt")
_EDGE = 30  # no planted event within this many sessions of either end
_REVERSION = 0.03  # daily pull of the price towards its target path
_SQRT3 = 1.7320508075688772
_UNIT = 1.0 / 9_007_199_254_740_992.0  # 2**-53


@dataclass(frozen=True, slots=True)
class _Profile:
    """How one synthetic symbol behaves.

    ``anchors`` are target prices spaced evenly over the ten years; the price
    wanders around the straight lines between them, so the anchors decide which
    tick bands the series crosses.
    """

    code: str
    name: str
    name_en: str
    market: Market
    seed: int
    anchors: tuple[int, ...]
    sigma: float
    volume: int


_PROFILES = (
    _Profile(
        "DEMO01", "합성데모전자", "Synthetic Demo Electronics", Market.KOSPI, 160_101,
        (62_000, 48_000, 95_000, 180_000, 120_000, 205_000, 150_000, 88_000, 132_000, 170_000),
        0.018, 1_500_000,
    ),
    _Profile(
        "DEMO02", "합성데모바이오", "Synthetic Demo Bio", Market.KOSDAQ, 160_102,
        (1_450, 920, 2_600, 4_800, 1_700, 3_900, 5_300, 2_200, 1_150, 2_900),
        0.032, 2_500_000,
    ),
    _Profile(
        "DEMO03", "합성데모화학", "Synthetic Demo Chemicals", Market.KOSPI, 160_103,
        (430_000, 520_000, 760_000, 610_000, 940_000, 480_000, 700_000, 880_000, 560_000,
         820_000),
        0.016, 60_000,
    ),
    _Profile(
        "DEMO04", "합성데모게임즈", "Synthetic Demo Games", Market.KOSDAQ, 160_104,
        (12_500, 8_800, 19_000, 46_000, 58_000, 31_000, 17_500, 24_000, 52_000, 38_000),
        0.028, 700_000,
    ),
    _Profile(
        "DEMO05", "합성데모금융지주", "Synthetic Demo Financial Holdings", Market.KOSPI, 160_105,
        (6_200, 4_300, 5_600, 9_400, 12_800, 8_100, 16_500, 21_000, 14_000, 19_500),
        0.013, 1_200_000,
    ),
    _Profile(
        "DEMO06", "합성데모로보틱스", "Synthetic Demo Robotics", Market.KOSDAQ, 160_106,
        (23_000, 41_000, 68_000, 115_000, 74_000, 36_000, 52_000, 96_000, 61_000, 87_000),
        0.030, 400_000,
    ),
)  # fmt: skip

SYNTHETIC_CODES = tuple(profile.code for profile in _PROFILES)
"""Codes of the synthetic symbols, ``DEMO01`` to ``DEMO06``."""


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
    import pandas as pd

    profile = _profile(code)
    days = krx_sessions(SYNTHETIC_START, SYNTHETIC_END)
    columns = _generate(profile, days)
    stamps = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    index = pd.DatetimeIndex(stamps, name="time").tz_localize(SYNTHETIC_TIMEZONE)
    data = {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
    return pd.DataFrame(data, index=index)


def _profile(code: str) -> _Profile:
    wanted = code.strip().upper()
    for profile in _PROFILES:
        if profile.code == wanted:
            return profile
    raise InputError(
        f"no synthetic symbol {code!r}; synthetic symbols: {', '.join(SYNTHETIC_CODES)}",
        field="symbol",
    )


class _Grid:
    """The KRX tick grid of one market, in whole won."""

    def __init__(self, market: Market) -> None:
        self.market = market.value

    def tick(self, price: float, day: dt.date) -> int:
        return int(krx_tick_size(price, day, self.market))  # type: ignore[arg-type]

    def nearest(self, price: float, day: dt.date) -> int:
        tick = self.tick(price, day)
        return math.floor(price / tick + 0.5) * tick

    def down(self, price: float, day: dt.date) -> int:
        tick = self.tick(price, day)
        return math.floor(price / tick) * tick

    def up(self, price: float, day: dt.date) -> int:
        tick = self.tick(price, day)
        return math.ceil(price / tick) * tick

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


def _uniforms(raw: list[int]) -> list[float]:
    """Map raw 64-bit outputs to floats in [0, 1) with 53 random bits (exact)."""
    return [(value >> 11) * _UNIT for value in raw]


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


def _generate(profile: _Profile, days: list[dt.date]) -> dict[str, list[int]]:
    n = len(days)
    bit_generator = np.random.default_rng(profile.seed).bit_generator
    u = _uniforms(bit_generator.random_raw(n * _DRAWS_PER_DAY).tolist())
    events = _events(_uniforms(bit_generator.random_raw(2 * len(_EVENTS)).tolist()), n)
    targets = _targets(profile.anchors, n)
    grid = _Grid(profile.market)
    sigma = profile.sigma
    columns: dict[str, list[int]] = {k: [] for k in ("open", "high", "low", "close", "volume")}
    prev = grid.nearest(float(profile.anchors[0]), days[0])
    for i, day in enumerate(days):
        d = u[i * _DRAWS_PER_DAY : (i + 1) * _DRAWS_PER_DAY]
        lower, upper = grid.limits(prev, day)
        event = events.get(i)
        if event == "halt":
            bar = (prev, prev, prev, prev, 0)
        elif event in ("up", "down"):
            price = upper if event == "up" else lower
            bar = (price, price, price, price, max(1, int(profile.volume * (0.03 + 0.05 * d[11]))))
        else:
            z = (d[0] + d[1] + d[2] + d[3] - 2.0) * _SQRT3
            r = _REVERSION * (targets[i] / prev - 1.0) + sigma * z
            if d[4] < 0.004:  # a news day
                r += (0.06 + 0.12 * d[6]) * (1.0 if d[5] < 0.5 else -1.0)
            r = min(max(r, -0.25), 0.25)
            close = min(max(grid.nearest(prev * (1.0 + r), day), lower), upper)
            gap = r * 0.6 * d[7] + sigma * 0.25 * (d[8] - 0.5)
            open_ = min(max(grid.nearest(prev * (1.0 + gap), day), lower), upper)
            high = min(grid.up(max(open_, close) * (1.0 + sigma * 0.8 * d[9]), day), upper)
            low = max(grid.down(min(open_, close) * (1.0 - sigma * 0.8 * d[10]), day), lower)
            volume = int(profile.volume * (0.35 + d[11] + d[12]) * (1.0 + 6.0 * abs(r)))
            bar = (open_, high, low, close, max(1, volume))
        for name, value in zip(columns, bar, strict=True):
            columns[name].append(value)
        prev = bar[3]
    return columns
