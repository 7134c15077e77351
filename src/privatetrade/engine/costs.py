"""Trading costs and market microstructure: presets for KRX and US equities.

A :class:`CostModel` describes commission, sell-side taxes and fees, slippage,
the tick grid, the daily price limit and the lot size. :func:`cost_arrays`
turns it into the per-bar arrays the simulation kernel reads. Sources for the
preset numbers are listed in ``docs/engine.md``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from privatetrade.engine.limits import MAX_LOT_SIZE, MAX_TAX_STEPS, Fee, FeePerShare, IsoDate
from privatetrade.engine.records import TICK_TABLE_ROWS, TICK_TABLE_WIDTH
from privatetrade.errors import ConfigurationError

__all__ = [
    "CostModel",
    "CostPreset",
    "KrxMarket",
    "TaxStep",
    "cost_arrays",
    "krx_sell_tax_rate",
    "krx_tick_size",
    "limit_prices",
    "resolve_costs",
    "tick_tables",
]

CostPreset = Literal["krx", "us", "zero", "custom"]
KrxMarket = Literal["KOSPI", "KOSDAQ", "KONEX"]
TickTable = Literal["none", "krx", "us"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_INF = float("inf")


class TaxStep(BaseModel):
    """A sell-side tax rate in force from ``since`` (inclusive) on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: IsoDate
    rate: float = Field(ge=0.0, le=0.05, allow_inf_nan=False)


# Securities transaction tax plus, on KOSPI, the rural special tax (농어촌특별세 0.15%):
# the total a seller pays, by trade date.
_KOSPI_KOSDAQ_TAX = (
    (dt.date(1900, 1, 1), 0.0030),
    (dt.date(2019, 5, 30), 0.0025),
    (dt.date(2021, 1, 1), 0.0023),
    (dt.date(2023, 1, 1), 0.0020),
    (dt.date(2024, 1, 1), 0.0018),
    (dt.date(2025, 1, 1), 0.0015),
    (dt.date(2026, 1, 1), 0.0020),
)
_KRX_TAX: dict[str, tuple[tuple[dt.date, float], ...]] = {
    "KOSPI": _KOSPI_KOSDAQ_TAX,
    "KOSDAQ": _KOSPI_KOSDAQ_TAX,
    "KONEX": ((dt.date(1900, 1, 1), 0.0030), (dt.date(2019, 5, 30), 0.0010)),
}

# Tick tables as (upper bounds, tick sizes); the last bound is infinite.
_KRX_TICKS_2023 = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
    (_INF, 1_000),
)
_KOSPI_TICKS_OLD = (
    (1_000, 1),
    (5_000, 5),
    (10_000, 10),
    (50_000, 50),
    (100_000, 100),
    (500_000, 500),
    (_INF, 1_000),
)
_KOSDAQ_TICKS_OLD = ((1_000, 1), (5_000, 5), (10_000, 10), (50_000, 50), (_INF, 100))
_US_TICKS = ((1.0, 0.0001), (_INF, 0.01))
_NO_TICKS = ((_INF, 0.0),)
_KRX_UNIFIED_TICKS_SINCE = dt.date(2023, 1, 25)
_KRX_LIMIT_30_SINCE = dt.date(2015, 6, 15)


class CostModel(BaseModel):
    """Costs and market rules applied to every fill.

    Attributes:
        preset: Which preset this model came from (``custom`` when hand-made).
        market: KRX market for the tax schedule and tick table (``krx`` only).
        commission_rate: Broker commission as a fraction of traded value, both sides.
        min_commission: Minimum commission per fill, in the quote currency.
        sell_tax: Sell-side tax schedule; the step in force on the trade date applies.
        sell_fee_rate: Regulatory fee on sells as a fraction of value (US SEC fee).
        sell_fee_per_share: Regulatory fee on sells per share (US FINRA TAF).
        sell_fee_per_share_max: Cap of the per-share fee per fill (0 = no cap).
        slippage: Adverse price move per market fill, in ``slippage_unit``.
        slippage_unit: ``bps`` (1/10,000 of price) or ``ticks``.
        tick_table: Price grid fills are rounded onto.
        price_limit: Daily price limit as a fraction of the previous close (KRX: 0.30);
            ``None`` for no limit. Buys cannot fill on a bar locked at the upper
            limit, sells not on one locked at the lower limit.
        lot_size: Quantities are whole multiples of this.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: CostPreset = "custom"
    market: KrxMarket | None = None
    commission_rate: float = Field(0.0, ge=0.0, le=0.05, allow_inf_nan=False)
    min_commission: Fee = 0.0
    sell_tax: tuple[TaxStep, ...] = Field((), max_length=MAX_TAX_STEPS)
    sell_fee_rate: float = Field(0.0, ge=0.0, le=0.01, allow_inf_nan=False)
    sell_fee_per_share: FeePerShare = 0.0
    sell_fee_per_share_max: Fee = 0.0
    slippage: float = Field(0.0, ge=0.0, le=1_000.0, allow_inf_nan=False)
    slippage_unit: Literal["bps", "ticks"] = "bps"
    tick_table: TickTable = "none"
    price_limit: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False)
    lot_size: int = Field(1, ge=1, le=MAX_LOT_SIZE)

    @field_validator("sell_tax")
    @classmethod
    def _sorted_steps(cls, steps: tuple[TaxStep, ...]) -> tuple[TaxStep, ...]:
        dates = [step.since for step in steps]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("sell_tax steps must have strictly increasing 'since' dates")
        return steps

    @classmethod
    def krx(cls, market: KrxMarket = "KOSPI", **overrides: object) -> CostModel:
        """Return the KRX preset: 0.015% commission, sell tax by date, tick table, ±30%."""
        steps = tuple(TaxStep(since=since, rate=rate) for since, rate in _KRX_TAX[market])
        base: dict[str, object] = {
            "preset": "krx",
            "market": market,
            "commission_rate": 0.00015,
            "sell_tax": steps,
            "tick_table": "krx",
            "price_limit": 0.15 if market == "KONEX" else 0.30,
            "lot_size": 1,
        }
        return cls.model_validate(base | overrides)

    @classmethod
    def us(cls, *, regulatory_fees: bool = False, **overrides: object) -> CostModel:
        """Return the US preset: no commission, $0.01 ticks, optional SEC fee and FINRA TAF.

        Args:
            regulatory_fees: Charge the SEC fee ($27.80 per million of sell value) and the
                FINRA TAF ($0.000166 per share sold, at most $8.30 per fill) on sells.
            **overrides: Any other field of the model.
        """
        base: dict[str, object] = {"preset": "us", "tick_table": "us", "lot_size": 1}
        if regulatory_fees:
            base |= {
                "sell_fee_rate": 27.80e-6,
                "sell_fee_per_share": 0.000166,
                "sell_fee_per_share_max": 8.30,
            }
        return cls.model_validate(base | overrides)

    @classmethod
    def zero(cls) -> CostModel:
        """Return a frictionless model: no costs, no tick grid, no limits."""
        return cls(preset="zero")

    def tax_rate_on(self, day: dt.date) -> float:
        """Return the sell-side tax rate in force on ``day``."""
        rate = 0.0
        for step in self.sell_tax:
            if step.since <= day:
                rate = step.rate
        return rate


def resolve_costs(costs: CostModel | CostPreset | None, market: str | None = None) -> CostModel:
    """Return a cost model from a preset name or a model.

    Args:
        costs: A :class:`CostModel`, a preset name, or None for ``zero``.
        market: KRX market (KOSPI, KOSDAQ, KONEX) for the ``krx`` preset.

    Raises:
        ConfigurationError: When the preset or market is unknown.
    """
    if isinstance(costs, CostModel):
        return costs
    if costs is None or costs == "zero":
        return CostModel.zero()
    if costs == "krx":
        krx_market = (market or "KOSPI").upper()
        if krx_market not in _KRX_TAX:
            raise ConfigurationError(
                f"unknown KRX market {market!r}; use KOSPI, KOSDAQ or KONEX", field="market"
            )
        return CostModel.krx(krx_market)  # type: ignore[arg-type]
    if costs == "us":
        return CostModel.us()
    if costs == "custom":
        return CostModel()
    raise ConfigurationError(
        f"unknown cost preset {costs!r}; use krx, us, zero or a CostModel", field="costs"
    )


def _krx_tick_rows(market: str | None) -> tuple[tuple[tuple[float, float], ...], ...]:
    # Before the 2023 reform KONEX quoted on KOSDAQ's table.
    old = _KOSPI_TICKS_OLD if market in (None, "KOSPI") else _KOSDAQ_TICKS_OLD
    return (old, _KRX_TICKS_2023)


def krx_tick_size(price: float, day: dt.date, market: KrxMarket = "KOSPI") -> float:
    """Return the KRX tick size for ``price`` on ``day``."""
    old, new = _krx_tick_rows(market)
    table = new if day >= _KRX_UNIFIED_TICKS_SINCE else old
    for bound, size in table:
        if price < bound:
            return float(size)
    return float(table[-1][1])


def krx_sell_tax_rate(day: dt.date, market: KrxMarket = "KOSPI") -> float:
    """Return the KRX sell-side tax (transaction tax plus rural special tax) on ``day``."""
    return CostModel.krx(market).tax_rate_on(day)


@dataclass(frozen=True, slots=True)
class CostArrays:
    """Per-bar cost inputs of the simulation kernel (see ``simulate_window_nb``).

    All four arrays are empty for a market without taxes, price limits or ticks.
    """

    tax_rate: FloatArray
    buy_blocked: BoolArray
    sell_blocked: BoolArray
    tick_row: IntArray

    def as_tuple(self) -> tuple[FloatArray, BoolArray, BoolArray, IntArray]:
        """Return the arrays in the kernel's argument order."""
        return (self.tax_rate, self.buy_blocked, self.sell_blocked, self.tick_row)


def tick_tables(model: CostModel) -> tuple[FloatArray, FloatArray]:
    """Return the model's tick tables as ``(bounds, sizes)`` arrays of shape (2, 8).

    Row 0 holds the table in force before the market's last tick-size reform (KRX:
    2023-01-25), row 1 the current one; markets without a reform use row 0 only.
    """
    if model.tick_table == "krx":
        rows = _krx_tick_rows(model.market)
    elif model.tick_table == "us":
        rows = (_US_TICKS,)
    else:
        rows = (_NO_TICKS,)
    return _tick_tables(rows)


def _tick_tables(
    rows: tuple[tuple[tuple[float, float], ...], ...],
) -> tuple[FloatArray, FloatArray]:
    bounds = np.full((TICK_TABLE_ROWS, TICK_TABLE_WIDTH), _INF)
    sizes = np.zeros((TICK_TABLE_ROWS, TICK_TABLE_WIDTH))
    for i in range(TICK_TABLE_ROWS):
        row = rows[min(i, len(rows) - 1)]
        for j, (bound, size) in enumerate(row):
            bounds[i, j] = bound
            sizes[i, j] = size
        sizes[i, len(row) :] = row[-1][1]
    return bounds, sizes


_NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH = dt.date(1970, 1, 1)


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def _days(local_time_ns: IntArray) -> IntArray:
    """Return the local calendar day of each bar as days since 1970-01-01."""
    return local_time_ns // _NS_PER_DAY


def _stepwise(days: IntArray, since: list[dt.date], values: list[float]) -> FloatArray:
    if not since:
        return np.zeros(days.shape[0])
    if len(values) == 1 and days[0] >= _day_number(since[0]):
        return np.full(days.shape[0], values[0])
    edges = np.array([_day_number(day) for day in since], dtype=np.int64)
    index = np.searchsorted(edges, days, side="right")
    table = np.concatenate(([0.0], np.asarray(values, dtype=np.float64)))
    return table[index]


def _limit_locks(
    model: CostModel, days: IntArray, high: FloatArray, low: FloatArray, close: FloatArray
) -> tuple[BoolArray, BoolArray]:
    """Flag single-price bars at the upper (buys blocked) or lower (sells blocked) limit."""
    n = close.shape[0]
    buy_blocked, sell_blocked = _never(n)
    if model.price_limit is None or n < 2:
        return buy_blocked, sell_blocked
    # Only a bar that traded at one price can be locked: few, so exact per-bar rules.
    for t in (np.flatnonzero(high[1:] == low[1:]) + 1).tolist():
        day = _EPOCH + dt.timedelta(days=int(days[t]))
        upper, lower = limit_prices(model, float(close[t - 1]), day)
        tolerance = float(close[t - 1]) * 1e-9
        buy_blocked[t] = high[t] >= upper - tolerance
        sell_blocked[t] = low[t] <= lower + tolerance
    return buy_blocked, sell_blocked


def limit_prices(model: CostModel, previous_close: float, day: dt.date) -> tuple[float, float]:
    """Return the day's ``(upper, lower)`` price limits from the previous close.

    KRX (가격제한폭): the width ``previous close x limit`` is cut down to the tick of
    the previous close; the upper limit is then rounded down and the lower one up onto
    the tick grid of their own price band. Other tick tables use the plain percentage.
    """
    limit = float(model.price_limit or 0.0)
    if model.tick_table != "krx":
        return previous_close * (1.0 + limit), previous_close * (1.0 - limit)
    if day < _KRX_LIMIT_30_SINCE and model.market != "KONEX":
        limit = min(limit, 0.15)
    market = model.market or "KOSPI"
    tick = krx_tick_size(previous_close, day, market)
    width = math.floor(previous_close * limit / tick + 1e-9) * tick
    upper = previous_close + width
    upper_tick = krx_tick_size(upper, day, market)
    lower = previous_close - width
    lower_tick = krx_tick_size(lower, day, market)
    return (
        math.floor(upper / upper_tick + 1e-9) * upper_tick,
        math.ceil(lower / lower_tick - 1e-9) * lower_tick,
    )


def _never(n: int) -> tuple[BoolArray, BoolArray]:
    return np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)


def cost_arrays(
    model: CostModel, local_time_ns: IntArray, high: FloatArray, low: FloatArray, close: FloatArray
) -> CostArrays:
    """Expand a cost model into the per-bar arrays the kernel reads.

    Args:
        model: The cost model.
        local_time_ns: Bar times as exchange wall-clock nanoseconds (dates decide taxes).
        high: Highest prices.
        low: Lowest prices.
        close: Closing prices.
    """
    n = local_time_ns.shape[0]
    if model.tick_table == "none" and model.price_limit is None and not model.sell_tax:
        return CostArrays(np.empty(0), *_never(0), np.empty(0, dtype=np.int64))
    days = _days(local_time_ns)
    tax_rate = _stepwise(
        days, [step.since for step in model.sell_tax], [step.rate for step in model.sell_tax]
    )
    buy_blocked, sell_blocked = _limit_locks(model, days, high, low, close)
    if model.tick_table == "krx":
        tick_row = (days >= _day_number(_KRX_UNIFIED_TICKS_SINCE)).astype(np.int64)
    else:
        tick_row = np.zeros(n, dtype=np.int64)
    return CostArrays(tax_rate, buy_blocked, sell_blocked, tick_row)
