"""Hand-computed execution scenarios for the simulation kernel.

Every scenario is small enough to check on paper: the arithmetic is written next to
the numbers it produces. Unless a test says otherwise, costs are zero, sizing is
``all_in`` and orders decided at bar ``t``'s close fill at bar ``t+1``'s open.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import numpy as np
import pytest

from builders import make_bars, signals_at
from privatetrade.engine.bars import PreparedBars
from privatetrade.engine.costs import CostModel, TaxStep, krx_sell_tax_rate, krx_tick_size
from privatetrade.engine.records import ExitReason, Side
from privatetrade.engine.settings import SimulationSettings, Sizing, Stops
from privatetrade.engine.simulation import SimulationOutput, simulate
from privatetrade.engine.strategies.base import Signals
from privatetrade.errors import CancelledError

REL = 1e-12
BUY, SELL = int(Side.BUY), int(Side.SELL)
SIGNAL = int(ExitReason.SIGNAL)
STOP_LOSS = int(ExitReason.STOP_LOSS)
TAKE_PROFIT = int(ExitReason.TAKE_PROFIT)
TRAILING = int(ExitReason.TRAILING_STOP)
END = int(ExitReason.END_OF_DATA)
NONE = int(ExitReason.NONE)


def run(
    bars: PreparedBars,
    signals: Signals,
    *,
    cash: float = 1_000.0,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    stops: Stops | None = None,
    **options: Any,
) -> SimulationOutput:
    settings = SimulationSettings(
        initial_cash=cash,
        costs=CostModel.zero() if costs is None else costs,
        sizing=Sizing() if sizing is None else sizing,
        stops=Stops() if stops is None else stops,
        **options,
    )
    return simulate(bars, signals, settings)


def fills_of(out: SimulationOutput) -> list[tuple[int, int, float, float]]:
    """Return fills as ``(bar, side, quantity, price)`` rows."""
    return [
        (int(f["bar"]), int(f["side"]), float(f["quantity"]), float(f["price"])) for f in out.fills
    ]


def out_positions(out: SimulationOutput) -> list[float]:
    return [float(p) for p in out.position]


# ------------------------------------------------------------------- fill timing


def test_market_order_fills_at_next_open() -> None:
    bars = make_bars([100, 101, 102, 103, 104], opens=[100, 100.5, 101.5, 102.5, 103.5])
    out = run(bars, signals_at(5, entries=[0], exits=[2]))
    # Entry decided at bar 0's close -> bought at bar 1's open 100.5:
    #   shares = floor(1000 / 100.5) = 9, cash = 1000 - 9 * 100.5 = 95.5.
    # Exit decided at bar 2's close -> sold at bar 3's open 102.5: cash = 95.5 + 922.5 = 1018.
    assert fills_of(out) == [(1, BUY, 9.0, 100.5), (3, SELL, 9.0, 102.5)]
    assert out.cash.tolist() == pytest.approx([1000, 95.5, 95.5, 1018, 1018], rel=REL)
    assert out.position.tolist() == [0, 9, 9, 0, 0]
    # equity = cash + 9 * close: 95.5 + 909 = 1004.5, 95.5 + 918 = 1013.5.
    assert out.equity.tolist() == pytest.approx([1000, 1004.5, 1013.5, 1018, 1018], rel=REL)
    (trade,) = out.trades
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (1, 3, SIGNAL)
    assert trade["gross_pnl"] == pytest.approx(18.0, rel=REL)  # 9 * (102.5 - 100.5)
    assert trade["net_pnl"] == pytest.approx(18.0, rel=REL)
    assert trade["return_pct"] == pytest.approx(18.0 / 904.5, rel=REL)  # 904.5 = 9 * 100.5


def test_fill_at_close_fills_on_the_decision_bar() -> None:
    bars = make_bars([100, 101, 102, 103, 104], opens=[100, 100.5, 101.5, 102.5, 103.5])
    out = run(bars, signals_at(5, entries=[0], exits=[2]), fill_at="close")
    # Bought at bar 0's close 100: 10 shares, cash 0; sold at bar 2's close 102: cash 1020.
    assert fills_of(out) == [(0, BUY, 10.0, 100.0), (2, SELL, 10.0, 102.0)]
    assert out.position.tolist() == [10, 10, 0, 0, 0]
    assert out.cash.tolist() == pytest.approx([0, 0, 1020, 1020, 1020], abs=1e-9)
    assert out.equity.tolist() == pytest.approx([1000, 1010, 1020, 1020, 1020], rel=REL)


@pytest.mark.parametrize(
    ("fill_at", "positions"),
    [
        # next open: the entry decided at bar 1 fills at bar 2's open 102: floor(1000/102) = 9.
        ("next_open", [0, 0, 9, 9, 9]),
        # same close: in at bar 1's close 101: floor(1000 / 101) = 9.
        ("close", [0, 9, 9, 9, 9]),
    ],
)
def test_exit_signal_means_nothing_when_flat(fill_at: str, positions: list[float]) -> None:
    # Signals are read against the position: a flat book looks at entries only.
    bars = make_bars([100, 101, 102, 103, 104])
    out = run(bars, signals_at(5, entries=[1], exits=[1]), fill_at=fill_at, close_at_end=False)
    assert out_positions(out) == positions
    assert len(out.fills) == 1


def test_long_and_short_entry_together_cancel_out_when_flat() -> None:
    bars = make_bars([100, 101, 102, 103, 104])
    signals = signals_at(5, entries=[1], short_entries=[1])
    out = run(bars, signals, allow_short=True, close_at_end=False)
    assert len(out.fills) == 0


@pytest.mark.parametrize(
    ("fill_at", "side", "positions"),
    [
        # next open: in at bar 1's open 101, floor(1000 / 101) = 9 shares; the exit
        # decided at bar 2 fills at bar 3's open.
        ("next_open", "long", [0, 9, 9, 0, 0]),
        # same close: in at bar 0's close 100 with 10 shares, out at bar 2's close.
        ("close", "long", [10, 10, 0, 0, 0]),
        ("next_open", "short", [0, -9, -9, 0, 0]),
        ("close", "short", [-10, -10, 0, 0, 0]),
    ],
)
def test_entry_signal_means_nothing_while_in_a_position(
    fill_at: str, side: str, positions: list[float]
) -> None:
    # Bar 2 raises both an entry and an exit of the held side: a position looks at its
    # exit only, so it is closed.
    bars = make_bars([100, 101, 102, 103, 104])
    if side == "long":
        signals = signals_at(5, entries=[0, 2], exits=[2])
    else:
        signals = signals_at(5, short_entries=[0, 2], short_exits=[2])
    out = run(bars, signals, fill_at=fill_at, allow_short=True, close_at_end=False)
    assert out_positions(out) == positions
    assert len(out.fills) == 2


def test_entry_while_long_is_ignored() -> None:
    bars = make_bars([100, 100, 100, 100])
    out = run(bars, signals_at(4, entries=[0, 1, 2]), close_at_end=False)
    assert fills_of(out) == [(1, BUY, 10.0, 100.0)]


def test_reentry_after_an_exit() -> None:
    bars = make_bars([10, 11, 12, 13, 14, 15, 16, 17])
    out = run(bars, signals_at(8, entries=[0, 4], exits=[2, 5]), cash=110.0)
    # bar 1: buy floor(110 / 11) = 10 @ 11 -> cash 0; bar 3: sell 10 @ 13 -> cash 130;
    # bar 5: buy floor(130 / 15) = 8 @ 15 -> cash 10; bar 6: sell 8 @ 16 -> cash 138.
    assert fills_of(out) == [
        (1, BUY, 10.0, 11.0),
        (3, SELL, 10.0, 13.0),
        (5, BUY, 8.0, 15.0),
        (6, SELL, 8.0, 16.0),
    ]
    assert out.cash[-1] == pytest.approx(138.0, rel=REL)
    assert out.trades["gross_pnl"].tolist() == pytest.approx([20.0, 8.0], rel=REL)
    assert out.trades["exit_reason"].tolist() == [SIGNAL, SIGNAL]


# ------------------------------------------------------------------------ sizing


def test_all_in_leaves_room_for_the_commission() -> None:
    bars = make_bars([1000, 1000, 1000])
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=1_000_000.0,
        costs=CostModel(commission_rate=0.001),
        close_at_end=False,
    )
    # shares = floor(1e6 / (1000 * 1.001)) = floor(999.001) = 999; 1,000 shares would
    # need 1,000,000 + 1,000 commission. commission = 999,000 * 0.001 = 999.
    assert fills_of(out) == [(1, BUY, 999.0, 1000.0)]
    assert out.fills["commission"][0] == pytest.approx(999.0, rel=REL)
    assert out.cash[1] == pytest.approx(1.0, abs=1e-6)  # 1e6 - 999,000 - 999


def test_minimum_commission_on_both_sides() -> None:
    bars = make_bars([100, 100, 110, 110])
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[1]),
        cash=1_003.0,
        costs=CostModel(commission_rate=0.001, min_commission=5.0),
    )
    # floor(1003 / 100.1) = 10 shares would cost 1000 + max(1.0, 5) = 1005 > 1003,
    # so 9 shares: 900 + max(0.9, 5) = 905 -> cash 98.
    # Sell 9 @ 110 = 990, commission max(0.99, 5) = 5 -> cash 98 + 990 - 5 = 1083.
    assert fills_of(out) == [(1, BUY, 9.0, 100.0), (2, SELL, 9.0, 110.0)]
    assert out.fills["commission"].tolist() == pytest.approx([5.0, 5.0], rel=REL)
    assert out.cash.tolist() == pytest.approx([1003, 98, 1083, 1083], rel=REL)
    (trade,) = out.trades
    assert trade["commission"] == pytest.approx(10.0, rel=REL)
    assert trade["net_pnl"] == pytest.approx(80.0, rel=REL)  # 90 - 10
    assert trade["return_pct"] == pytest.approx(80.0 / 905.0, rel=REL)


def test_fraction_sizing_uses_current_equity() -> None:
    bars = make_bars([100, 100, 120, 110, 110])
    out = run(
        bars,
        signals_at(5, entries=[0, 2], exits=[1]),
        cash=10_000.0,
        sizing=Sizing(mode="fraction", value=0.5),
        close_at_end=False,
    )
    # bar 1: floor(0.5 * 10,000 / 100) = 50 @ 100 -> cash 5,000
    # bar 2: sell 50 @ 120 -> cash 11,000
    # bar 3: floor(0.5 * 11,000 / 110) = 50 @ 110 (45 if it used the initial cash)
    assert fills_of(out) == [(1, BUY, 50.0, 100.0), (2, SELL, 50.0, 120.0), (3, BUY, 50.0, 110.0)]
    assert out.cash[-1] == pytest.approx(5_500.0, rel=REL)


@pytest.mark.parametrize(
    ("amount", "shares"),
    [
        (2_500.0, 25.0),  # floor(2,500 / 99) = 25
        (50_000.0, 101.0),  # capped by cash: floor(10,000 / 99) = 101
    ],
)
def test_amount_sizing(amount: float, shares: float) -> None:
    bars = make_bars([99, 99, 99])
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=10_000.0,
        sizing=Sizing(mode="amount", value=amount),
        close_at_end=False,
    )
    assert fills_of(out) == [(1, BUY, shares, 99.0)]
    assert out.cash[-1] == pytest.approx(10_000.0 - shares * 99.0, rel=REL)


@pytest.mark.parametrize(
    ("count", "lot", "shares"),
    [
        (7.0, 1, 7.0),
        (25.0, 10, 20.0),  # whole lots: floor(25 / 10) * 10
        (200.0, 1, 101.0),  # as implemented: reduced to what cash affords, floor(10,000 / 99)
    ],
)
def test_fixed_share_sizing(count: float, lot: int, shares: float) -> None:
    bars = make_bars([99, 99, 99])
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=10_000.0,
        costs=CostModel(lot_size=lot),
        sizing=Sizing(mode="shares", value=count),
        close_at_end=False,
    )
    assert fills_of(out) == [(1, BUY, shares, 99.0)]
    assert out.cash[-1] >= 0.0


def test_lot_size_rounds_down_to_whole_lots() -> None:
    bars = make_bars([130, 130, 130])
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=10_000.0,
        costs=CostModel(lot_size=10),
        close_at_end=False,
    )
    # floor(10,000 / 130) = 76 shares -> 70 in lots of 10; cash 10,000 - 9,100 = 900.
    assert fills_of(out) == [(1, BUY, 70.0, 130.0)]
    assert out.cash[-1] == pytest.approx(900.0, rel=REL)


@pytest.mark.parametrize(
    ("cash", "lot"),
    [
        (50.0, 1),  # 50 < 100: not one share
        (1_000.0, 10),  # floor(1000 / 101) = 9 < one lot of 10
    ],
)
def test_unaffordable_entry_is_dropped_not_retried(cash: float, lot: int) -> None:
    # Bar 1 opens at 101 (unaffordable); bar 2 opens at 4 (affordable) but the order
    # was dropped at bar 1, so nothing fills there either.
    bars = make_bars([100, 101, 4, 4], opens=[100, 101, 4, 4])
    out = run(bars, signals_at(4, entries=[0]), cash=cash, costs=CostModel(lot_size=lot))
    assert len(out.fills) == 0
    assert out.position.tolist() == [0, 0, 0, 0]
    assert out.cash.tolist() == [cash] * 4


def test_min_commission_larger_than_the_sale_keeps_cash_non_negative() -> None:
    # All-in with a 5.00 minimum commission spends the cash exactly:
    #   floor(905 / 100) = 9 shares, 9 * 100 = 900 + max(0, 5) = 905 -> cash 0.
    # The stock collapses to 0.10; selling 9 shares brings 0.90 but the minimum
    # commission is 5.00. The documented rule is that cash is never negative for
    # long trades (no margin), so the account may not end at 0 + 0.90 - 5 = -4.10.
    bars = make_bars([100, 100, 0.1, 0.1], opens=[100, 100, 0.1, 0.1])
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[1]),
        cash=905.0,
        costs=CostModel(min_commission=5.0),
    )
    assert fills_of(out)[0] == (1, BUY, 9.0, 100.0)
    assert out.cash[1] == pytest.approx(0.0, abs=1e-9)
    assert out.cash.min() >= 0.0


# ------------------------------------------------------------------------- taxes


@pytest.mark.parametrize(
    ("start", "market", "rate"),
    [
        ("2019-05-27", "KOSPI", 0.0030),  # sold 2019-05-29
        ("2019-05-28", "KOSPI", 0.0025),  # sold 2019-05-30, the first day of 0.25%
        ("2022-06-02", "KOSPI", 0.0023),
        ("2023-06-01", "KOSPI", 0.0020),
        ("2024-03-04", "KOSPI", 0.0018),
        ("2025-03-04", "KOSPI", 0.0015),
        ("2026-03-03", "KOSPI", 0.0020),
        ("2024-03-04", "KOSDAQ", 0.0018),
        ("2024-03-04", "KONEX", 0.0010),
    ],
)
def test_krx_sell_tax_by_trade_date(start: str, market: str, rate: float) -> None:
    bars = make_bars([10_000, 10_000, 11_000], start=start)
    out = run(
        bars,
        signals_at(3, entries=[0], exits=[1]),
        cash=1_000_000.0,
        costs=CostModel.krx(market),  # type: ignore[arg-type]
    )
    # Buy: floor(1e6 / (10,000 * 1.00015)) = floor(99.985) = 99 @ 10,000 = 990,000,
    #   commission 990,000 * 0.00015 = 148.5, no tax -> cash 9,851.5.
    # Sell: 99 @ 11,000 = 1,089,000, commission 163.35, tax 1,089,000 * rate.
    tax = 1_089_000 * rate
    assert fills_of(out) == [(1, BUY, 99.0, 10_000.0), (2, SELL, 99.0, 11_000.0)]
    assert out.fills["commission"].tolist() == pytest.approx([148.5, 163.35], rel=1e-9)
    assert out.fills["tax"].tolist() == pytest.approx([0.0, tax], rel=1e-9)
    assert out.cash[-1] == pytest.approx(9_851.5 + 1_089_000 - 163.35 - tax, rel=1e-12)
    (trade,) = out.trades
    assert trade["tax"] == pytest.approx(tax, rel=1e-9)
    assert trade["commission"] == pytest.approx(148.5 + 163.35, rel=1e-9)
    assert trade["net_pnl"] == pytest.approx(99_000 - 311.85 - tax, rel=1e-9)


def test_sell_tax_steps_up_on_2026_01_01() -> None:
    bars = make_bars(
        [10_000, 10_000, 11_000, 10_000, 11_000],
        dates=["2025-12-29", "2025-12-30", "2025-12-31", "2026-01-02", "2026-01-05"],
    )
    out = run(
        bars,
        signals_at(5, entries=[0, 2], exits=[1, 3]),
        cash=1_000_000.0,
        costs=CostModel.krx(),
    )
    # Trade 1, sold 2025-12-31 at 0.15%:
    #   buy 99 @ 10,000 (commission 148.5) -> cash 9,851.5
    #   sell 99 @ 11,000 = 1,089,000, commission 163.35, tax 1,633.5 -> cash 1,097,054.65
    # Trade 2, sold 2026-01-05 at 0.20%:
    #   buy floor(1,097,054.65 / 10,001.5) = 109 @ 10,000 = 1,090,000, commission 163.5
    #     -> cash 1,097,054.65 - 1,090,000 - 163.5 = 6,891.15
    #   sell 109 @ 11,000 = 1,199,000, commission 179.85, tax 2,398 -> cash 1,203,313.3
    assert out.fills["quantity"].tolist() == [99, 99, 109, 109]
    assert out.trades["tax"].tolist() == pytest.approx([1_633.5, 2_398.0], rel=1e-9)
    assert out.cash[2] == pytest.approx(1_097_054.65, rel=1e-12)
    assert out.cash[-1] == pytest.approx(1_203_313.3, rel=1e-12)


@pytest.mark.parametrize(
    ("day", "market", "rate"),
    [
        (dt.date(2019, 5, 29), "KOSPI", 0.0030),
        (dt.date(2019, 5, 30), "KOSPI", 0.0025),
        (dt.date(2020, 12, 31), "KOSDAQ", 0.0025),
        (dt.date(2021, 1, 1), "KOSDAQ", 0.0023),
        (dt.date(2022, 12, 31), "KOSPI", 0.0023),
        (dt.date(2023, 1, 1), "KOSPI", 0.0020),
        (dt.date(2024, 1, 1), "KOSPI", 0.0018),
        (dt.date(2024, 12, 31), "KOSDAQ", 0.0018),
        (dt.date(2025, 1, 1), "KOSDAQ", 0.0015),
        (dt.date(2025, 12, 31), "KOSPI", 0.0015),
        (dt.date(2026, 1, 1), "KOSPI", 0.0020),
        (dt.date(2026, 1, 1), "KOSDAQ", 0.0020),
        (dt.date(2018, 1, 2), "KONEX", 0.0030),
        (dt.date(2019, 5, 30), "KONEX", 0.0010),
        (dt.date(2026, 1, 1), "KONEX", 0.0010),
    ],
)
def test_krx_sell_tax_schedule(day: dt.date, market: str, rate: float) -> None:
    assert krx_sell_tax_rate(day, market) == pytest.approx(rate, rel=REL)  # type: ignore[arg-type]


def test_custom_tax_steps_apply_by_date() -> None:
    costs = CostModel(
        sell_tax=(
            TaxStep(since=dt.date(2024, 1, 3), rate=0.01),
            TaxStep(since=dt.date(2024, 1, 5), rate=0.02),
        )
    )
    bars = make_bars([100] * 7, start="2023-12-31")
    out = run(bars, signals_at(7, entries=[0, 2, 4], exits=[1, 3, 5]), costs=costs)
    # Round trips of 10 @ 100 bought at bars 1, 3, 5 and sold at bars 2, 4, 6:
    #   sold 01-02 (before the first step): 10 * 100 * 0    = 0   -> cash 1,000
    #   sold 01-04 (1% since 01-03):        10 * 100 * 0.01 = 10  -> cash 990
    #   bought floor(990 / 100) = 9, sold 01-06 (2% since 01-05): 900 * 0.02 = 18 -> cash 972
    sells = out.fills[out.fills["side"] == SELL]
    assert sells["bar"].tolist() == [2, 4, 6]
    assert sells["tax"].tolist() == pytest.approx([0.0, 10.0, 18.0], rel=REL)
    assert out.cash[-1] == pytest.approx(972.0, rel=REL)


# ----------------------------------------------------------------- US regulatory fees


@pytest.mark.parametrize(
    ("cash", "buy", "sell", "shares", "fee"),
    [
        # 2,000 sold @ 55 = 110,000: SEC 110,000 * 27.8e-6 = 3.058, TAF 2,000 * 0.000166
        # = 0.332 -> 3.39.
        (100_000.0, 50.0, 55.0, 2_000.0, 3.39),
        # 200,000 sold @ 6 = 1,200,000: SEC 33.36, TAF 200,000 * 0.000166 = 33.2 capped
        # at 8.30 -> 41.66.
        (1_000_000.0, 5.0, 6.0, 200_000.0, 41.66),
    ],
)
def test_us_regulatory_fees_on_sells(
    cash: float, buy: float, sell: float, shares: float, fee: float
) -> None:
    bars = make_bars([buy, buy, sell], tz="America/New_York")
    out = run(
        bars,
        signals_at(3, entries=[0], exits=[1]),
        cash=cash,
        costs=CostModel.us(regulatory_fees=True),
    )
    assert fills_of(out) == [(1, BUY, shares, buy), (2, SELL, shares, sell)]
    assert out.fills["commission"].tolist() == pytest.approx([0.0, fee], rel=1e-9)
    assert out.fills["tax"].tolist() == [0.0, 0.0]
    assert out.cash[-1] == pytest.approx(shares * sell - fee, rel=1e-12)


def test_us_preset_has_no_fees_by_default() -> None:
    bars = make_bars([50.0, 50.0, 55.0], tz="America/New_York")
    out = run(bars, signals_at(3, entries=[0], exits=[1]), cash=100_000.0, costs=CostModel.us())
    assert out.fills["commission"].tolist() == [0.0, 0.0]
    assert out.cash[-1] == pytest.approx(110_000.0, rel=REL)


# ---------------------------------------------------------------------- slippage


def test_slippage_in_bps_moves_both_sides_against_the_trader() -> None:
    bars = make_bars(
        [100, 100, 105, 110, 110],
        opens=[100, 100, 105, 110, 110],
        highs=[100, 101, 106, 111, 111],
        lows=[100, 99, 104, 109, 109],
    )
    out = run(
        bars, signals_at(5, entries=[0], exits=[2]), cash=10_000.0, costs=CostModel(slippage=50)
    )
    # Buy @ 100 * 1.005 = 100.5: floor(10,000 / 100.5) = 99 shares, cash 50.5.
    # Sell @ 110 * 0.995 = 109.45: cash 50.5 + 99 * 109.45 = 10,886.05.
    assert [f[:3] for f in fills_of(out)] == [(1, BUY, 99.0), (3, SELL, 99.0)]
    assert out.fills["price"].tolist() == pytest.approx([100.5, 109.45], rel=REL)
    # Recorded slippage = |price - base| * quantity: 0.5 * 99 and 0.55 * 99.
    assert out.fills["slippage"].tolist() == pytest.approx([49.5, 54.45], rel=1e-9)
    assert out.cash[-1] == pytest.approx(10_886.05, rel=REL)


def test_slippage_in_ticks_then_rounded_onto_the_grid() -> None:
    bars = make_bars(
        [19_990, 19_990, 20_000, 20_000],
        opens=[19_990, 19_990, 20_000, 20_000],
        highs=[19_990, 20_100, 20_000, 20_100],
        lows=[19_990, 19_900, 20_000, 19_800],
    )
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[2]),
        cash=1_000_000.0,
        costs=CostModel.krx(slippage=2, slippage_unit="ticks"),
    )
    # Buy: 19,990 + 2 ticks of 10 = 20,010; at 20,010 the tick is 50 -> up to 20,050.
    # Sell: 20,000 - 2 ticks of 50 = 19,900 (on the 10-won grid).
    assert out.fills["price"].tolist() == [20_050.0, 19_900.0]
    assert out.fills["bar"].tolist() == [1, 3]


# ------------------------------------------------------------------- tick rounding


@pytest.mark.parametrize(
    ("dates", "buy_price", "sell_price"),
    [
        # Both fills before 2023-01-25: old KOSPI ticks (10,000-50,000: 50).
        (["2023-01-19", "2023-01-20", "2023-01-24", "2023-01-25"], 15_050.0, 14_950.0),
        # Bought on the old table, sold on the first day of the new one (<20,000: 10).
        (["2023-01-20", "2023-01-24", "2023-01-25", "2023-01-26"], 15_050.0, 14_970.0),
        # Both on the new table.
        (["2023-01-24", "2023-01-25", "2023-01-26", "2023-01-27"], 15_030.0, 14_970.0),
    ],
)
def test_krx_tick_table_changes_on_2023_01_25(
    dates: list[str], buy_price: float, sell_price: float
) -> None:
    bars = make_bars(
        [15_000] * 4,
        highs=[15_000, 15_100, 15_100, 15_000],
        lows=[15_000, 14_900, 14_900, 15_000],
        dates=dates,
    )
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[1]),
        cash=1_000_000.0,
        costs=CostModel.krx(slippage=15),
    )
    # Buy 15,000 * 1.0015 = 15,022.5 -> up to 15,050 (tick 50) or 15,030 (tick 10).
    # Sell 15,000 * 0.9985 = 14,977.5 -> down to 14,950 (tick 50) or 14,970 (tick 10).
    assert out.fills["price"].tolist() == [buy_price, sell_price]


@pytest.mark.parametrize(
    ("start", "market", "buy_price", "sell_price"),
    [
        # Old tables: KOSPI 100,000-500,000: 500, KOSDAQ above 50,000: 100; both 5 in
        # 1,000-5,000. New table: 100 in 50,000-200,000 and 1 below 2,000.
        ("2022-06-02", "KOSPI", 150_500.0, 1_495.0),
        ("2022-06-02", "KOSDAQ", 150_300.0, 1_495.0),
        ("2024-06-03", "KOSPI", 150_300.0, 1_497.0),
        ("2024-06-03", "KOSDAQ", 150_300.0, 1_497.0),
    ],
)
def test_krx_tick_rounding_by_market(
    start: str, market: str, buy_price: float, sell_price: float
) -> None:
    # One run buys at 150,000 (+15 bps = 150,225, rounded up) ...
    up = make_bars([150_000] * 3, highs=[150_000, 151_000, 150_000], start=start)
    bought = run(
        up,
        signals_at(3, entries=[0]),
        cash=10_000_000.0,
        costs=CostModel.krx(market, slippage=15),  # type: ignore[arg-type]
        close_at_end=False,
    )
    assert bought.fills["price"].tolist() == [buy_price]
    # ... another sells at 1,500 (-15 bps = 1,497.75, rounded down). The buy happens at
    # bar 1's open 1,500 (on every grid), the sell at bar 2's open.
    down = make_bars(
        [1_500] * 3,
        highs=[1_500, 1_500, 1_500],
        lows=[1_500, 1_490, 1_480],
        start=start,
    )
    sold = run(
        down,
        signals_at(3, entries=[0], exits=[1]),
        cash=1_000_000.0,
        costs=CostModel.krx(market, slippage=15),  # type: ignore[arg-type]
    )
    # Buy 1,500 * 1.0015 = 1,502.25 rounds up to 1,505 or 1,503 and is clamped to the
    # bar's high 1,500.
    assert sold.fills["price"].tolist() == [1_500.0, sell_price]


def test_us_ticks_above_and_below_one_dollar() -> None:
    bars = make_bars(
        [10.0, 10.0, 0.5, 0.5],
        opens=[10.0, 10.0, 0.5, 0.5],
        highs=[10.0, 10.1, 0.5, 0.6],
        lows=[10.0, 9.9, 0.5, 0.4],
        tz="America/New_York",
    )
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[2]),
        cash=10_000.0,
        costs=CostModel.us(slippage=15),
    )
    # Buy 10 * 1.0015 = 10.015 -> up to $0.01: 10.02.
    # Sell 0.5 * 0.9985 = 0.49925 -> below $1 the tick is $0.0001: down to 0.4992.
    assert out.fills["price"].tolist() == pytest.approx([10.02, 0.4992], rel=REL)


@pytest.mark.parametrize(
    ("price", "day", "market", "tick"),
    [
        (1_999, dt.date(2024, 1, 2), "KOSPI", 1),
        (2_000, dt.date(2024, 1, 2), "KOSPI", 5),
        (19_990, dt.date(2024, 1, 2), "KOSPI", 10),
        (20_000, dt.date(2024, 1, 2), "KOSPI", 50),
        (199_900, dt.date(2024, 1, 2), "KOSDAQ", 100),
        (200_000, dt.date(2024, 1, 2), "KOSDAQ", 500),
        (500_000, dt.date(2024, 1, 2), "KOSPI", 1_000),
        (999, dt.date(2023, 1, 24), "KOSPI", 1),
        (1_000, dt.date(2023, 1, 24), "KOSPI", 5),
        (9_990, dt.date(2023, 1, 24), "KOSPI", 10),
        (10_000, dt.date(2023, 1, 24), "KOSPI", 50),
        (99_900, dt.date(2023, 1, 24), "KOSPI", 100),
        (100_000, dt.date(2023, 1, 24), "KOSPI", 500),
        (500_000, dt.date(2023, 1, 24), "KOSPI", 1_000),
        (100_000, dt.date(2023, 1, 24), "KOSDAQ", 100),
        (900_000, dt.date(2023, 1, 24), "KOSDAQ", 100),
        (100_000, dt.date(2023, 1, 25), "KOSDAQ", 100),
        (10_000, dt.date(2023, 1, 25), "KOSPI", 10),
    ],
)
def test_krx_tick_size_table(price: float, day: dt.date, market: str, tick: float) -> None:
    assert krx_tick_size(price, day, market) == tick  # type: ignore[arg-type]


def test_fill_price_is_clamped_into_the_bar() -> None:
    bars = make_bars(
        [100, 100, 100, 100],
        highs=[100, 100.6, 100, 100.2],
        lows=[100, 99.5, 100, 99.7],
    )
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[2]),
        cash=10_000.0,
        costs=CostModel(slippage=100),
    )
    # Buy 100 * 1.01 = 101 > high 100.6 -> 100.6; sell 100 * 0.99 = 99 < low 99.7 -> 99.7.
    assert out.fills["price"].tolist() == pytest.approx([100.6, 99.7], rel=REL)


def test_tick_rounding_is_clamped_into_the_bar() -> None:
    bars = make_bars([10_000] * 3, highs=[10_000, 10_010, 10_000], start="2024-06-03")
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=1_000_000.0,
        costs=CostModel.krx(slippage=15),
        close_at_end=False,
    )
    # 10,000 * 1.0015 = 10,015 -> up to 10,020 on the 10-won grid -> clamped to high 10,010.
    assert out.fills["price"].tolist() == [10_010.0]


# -------------------------------------------------------------------- daily limits


@pytest.mark.parametrize(
    ("flat_price", "fill_bar", "fill_price"),
    [
        # 10,010 * 1.3 = 13,013 -> the limit on the 10-won grid is 13,010: locked.
        (13_010.0, 2, 13_500.0),
        # 13,000 is a tick below the limit: an ordinary one-price bar, the buy fills.
        (13_000.0, 1, 13_000.0),
    ],
)
def test_bar_locked_at_the_upper_limit_blocks_a_buy(
    flat_price: float, fill_bar: int, fill_price: float
) -> None:
    bars = make_bars(
        [10_010, flat_price, 13_600, 13_600],
        opens=[10_010, flat_price, 13_500, 13_600],
        highs=[10_010, flat_price, 13_800, 13_600],
        lows=[10_010, flat_price, 13_400, 13_600],
    )
    out = run(
        bars,
        signals_at(4, entries=[0]),
        cash=1_000_000.0,
        costs=CostModel.krx(),
        close_at_end=False,
    )
    (fill,) = out.fills
    assert (int(fill["bar"]), float(fill["price"])) == (fill_bar, fill_price)
    if fill_bar == 2:
        # floor(1e6 / (13,500 * 1.00015)) = 74; 74 * 13,500 = 999,000, commission 149.85.
        assert fill["quantity"] == 74
        assert out.position.tolist() == [0, 0, 74, 74]
        assert out.cash[-1] == pytest.approx(850.15, rel=1e-9)


def test_exit_signal_on_a_locked_bar_drops_the_waiting_entry() -> None:
    bars = make_bars([10_010, 13_010, 13_600, 13_600], opens=[10_010, 13_010, 13_500, 13_600])
    out = run(bars, signals_at(4, entries=[0], exits=[1]), cash=1e6, costs=CostModel.krx())
    assert len(out.fills) == 0


@pytest.mark.parametrize("exit_by", ["signal", "stop"])
def test_bar_locked_at_the_lower_limit_blocks_a_sell(exit_by: str) -> None:
    bars = make_bars(
        [10_000, 10_000, 7_000, 6_900],
        opens=[10_000, 10_000, 7_000, 6_800],
        highs=[10_000, 10_100, 7_000, 7_100],
        lows=[10_000, 9_900, 7_000, 6_500],
    )
    out = run(
        bars,
        signals_at(4, entries=[0], exits=[1] if exit_by == "signal" else []),
        cash=1_000_000.0,
        costs=CostModel.krx(),
        stops=Stops(stop_loss=0.1) if exit_by == "stop" else Stops(),
    )
    # Bought 99 @ 10,000 at bar 1 (cash 9,851.5). Bar 2 trades only at 7,000 = 10,000 * 0.7,
    # the lower limit: no sell (neither the exit nor the stop at 9,000). Bar 3 opens at
    # 6,800: the exit (or the stop, by the gap rule) sells there:
    #   99 * 6,800 = 673,200, commission 100.98, tax 0.18% = 1,211.76
    #   cash = 9,851.5 + 673,200 - 100.98 - 1,211.76 = 681,738.76
    assert fills_of(out) == [(1, BUY, 99.0, 10_000.0), (3, SELL, 99.0, 6_800.0)]
    assert out.position.tolist() == [0, 99, 99, 0]
    assert out.equity[2] == pytest.approx(9_851.5 + 99 * 7_000, rel=1e-12)
    assert out.cash[-1] == pytest.approx(681_738.76, rel=1e-12)
    assert out.trades["exit_reason"].tolist() == [SIGNAL if exit_by == "signal" else STOP_LOSS]


@pytest.mark.parametrize(
    ("dates", "locked"),
    [
        (["2015-06-11", "2015-06-12", "2015-06-15"], True),  # +15% was the limit
        (["2015-06-12", "2015-06-15", "2015-06-16"], False),  # +30% from 2015-06-15
    ],
)
def test_krx_limit_was_15_percent_before_2015_06_15(dates: list[str], locked: bool) -> None:
    bars = make_bars(
        [10_000, 11_500, 11_600],
        opens=[10_000, 11_500, 11_550],
        highs=[10_000, 11_500, 11_700],
        lows=[10_000, 11_500, 11_500],
        dates=dates,
    )
    out = run(
        bars,
        signals_at(3, entries=[0]),
        cash=1_000_000.0,
        costs=CostModel.krx(),
        close_at_end=False,
    )
    assert out.fills["bar"].tolist() == ([2] if locked else [1])


# ------------------------------------------------------------------------- stops


def stop_bars(bar2: tuple[float, float, float, float]) -> PreparedBars:
    """Entry at bar 1's open 100 (range 99..101); bar 2 = (open, high, low, close)."""
    o, h, lo, c = bar2
    return make_bars(
        [100, 100, c, c], opens=[100, 100, o, c], highs=[100, 101, h, c], lows=[100, 99, lo, c]
    )


@pytest.mark.parametrize(
    ("bar2", "stops", "price", "reason"),
    [
        # stop 100 * 0.95 = 95: open 99 above, low 94 touches -> fills at 95.
        ((99, 100, 94, 96), Stops(stop_loss=0.05), 95.0, STOP_LOSS),
        # gap: open 90 is already below 95 -> fills at the open.
        ((90, 92, 88, 91), Stops(stop_loss=0.05), 90.0, STOP_LOSS),
        # target 100 * 1.1 = 110: high 112 touches -> fills at 110.
        ((105, 112, 104, 111), Stops(take_profit=0.1), 110.0, TAKE_PROFIT),
        # gap above the target: fills at the open 115.
        ((115, 118, 114, 116), Stops(take_profit=0.1), 115.0, TAKE_PROFIT),
        # stop 95 and target 105 both touched: the stop wins.
        ((100, 106, 94, 100), Stops(stop_loss=0.05, take_profit=0.05), 95.0, STOP_LOSS),
        # neither touched: 95 < low 96, high 104 < 105.
        ((100, 104, 96, 100), Stops(stop_loss=0.05, take_profit=0.05), None, None),
    ],
)
def test_long_stop_and_target(
    bar2: tuple[float, float, float, float],
    stops: Stops,
    price: float | None,
    reason: int | None,
) -> None:
    out = run(stop_bars(bar2), signals_at(4, entries=[0]), cash=1_000.0, stops=stops)
    fills = fills_of(out)
    assert fills[0] == (1, BUY, 10.0, 100.0)
    if price is None:
        assert out.trades["exit_reason"].tolist() == [END]
        return
    # 100 * 1.1 is 110.00000000000001 in binary: compare prices with a tight tolerance.
    assert fills[1][:3] == (2, SELL, 10.0)
    assert fills[1][3] == pytest.approx(price, rel=REL)
    (trade,) = out.trades
    assert trade["exit_reason"] == reason
    assert trade["gross_pnl"] == pytest.approx(10 * (price - 100), rel=REL)
    assert out.cash[2] == pytest.approx(10 * price, rel=REL)


def test_stop_and_target_on_the_krx_grid() -> None:
    # Entry 10,050. Stop 10,050 * 0.95 = 9,547.5 -> a sell rounds down: 9,540.
    # Target 10,050 * 1.1 = 11,055 -> a long's limit rounds up (never worse): 11,060.
    def bars_with(bar2: tuple[float, float, float, float]) -> PreparedBars:
        o, h, lo, c = bar2
        return make_bars(
            [10_050, 10_050, c],
            opens=[10_050, 10_050, o],
            highs=[10_050, 10_100, h],
            lows=[10_050, 10_000, lo],
            start="2024-06-03",
        )

    settings: dict[str, Any] = {"cash": 1_000_000.0, "costs": CostModel.krx()}
    stopped = run(
        bars_with((10_000, 10_100, 9_500, 9_600)),
        signals_at(3, entries=[0]),
        stops=Stops(stop_loss=0.05),
        **settings,
    )
    assert stopped.fills["price"].tolist() == [10_050.0, 9_540.0]
    assert stopped.trades["exit_reason"].tolist() == [STOP_LOSS]
    took = run(
        bars_with((10_100, 11_100, 10_000, 11_000)),
        signals_at(3, entries=[0]),
        stops=Stops(take_profit=0.1),
        **settings,
    )
    assert took.fills["price"].tolist() == [10_050.0, 11_060.0]
    assert took.trades["exit_reason"].tolist() == [TAKE_PROFIT]


def test_trailing_stop_follows_the_highest_high() -> None:
    bars = make_bars(
        [100, 103, 108, 100, 100],
        opens=[100, 100, 103, 107, 100],
        highs=[100, 104, 110, 108, 100],
        lows=[100, 99, 102, 98, 100],
    )
    out = run(bars, signals_at(5, entries=[0]), stops=Stops(stop_loss=0.05, trailing_stop=0.1))
    # Bought 10 @ 100 at bar 1. Highest high: 104 after bar 1, 110 after bar 2.
    # bar 2: trail 104 * 0.9 = 93.6 is below the 95 stop-loss; low 102 touches neither.
    # bar 3: trail 110 * 0.9 = 99 > stop 95 -> active; low 98 <= 99 -> sold @ 99.
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (3, SELL, 10.0, 99.0)]
    (trade,) = out.trades
    assert trade["exit_reason"] == TRAILING
    assert trade["mfe"] == pytest.approx(0.10, rel=REL)  # 110 / 100 - 1


def test_trailing_anchor_includes_the_entry_bar_high() -> None:
    # Bought @ 100 at bar 1's open; bar 1 trades up to 110 after the fill, so the trail
    # is 110 * 0.9 = 99 on bar 2, whose low 98.5 hits it (from 100 it would be 90).
    bars = make_bars(
        [100, 105, 100, 100],
        opens=[100, 100, 101, 100],
        highs=[100, 110, 102, 100],
        lows=[100, 99.5, 98.5, 100],
    )
    out = run(bars, signals_at(4, entries=[0]), stops=Stops(trailing_stop=0.1))
    assert fills_of(out) == [(1, BUY, 10.0, 100.0), (2, SELL, 10.0, 99.0)]
    assert out.trades["exit_reason"].tolist() == [TRAILING]


def test_fixed_stop_above_the_trail_keeps_the_stop_loss_reason() -> None:
    # Stop 100 * 0.98 = 98 is above the trail 104 * 0.9 = 93.6: bar 2's low 97 hits 98.
    bars = make_bars(
        [100, 103, 99, 99],
        opens=[100, 100, 103, 99],
        highs=[100, 104, 103, 99],
        lows=[100, 99, 97, 99],
    )
    out = run(bars, signals_at(4, entries=[0]), stops=Stops(stop_loss=0.02, trailing_stop=0.1))
    assert fills_of(out)[1] == (2, SELL, 10.0, 98.0)
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS]


def test_reentry_after_a_stop_exit() -> None:
    bars = make_bars(
        [100, 100, 96, 96, 97],
        opens=[100, 100, 99, 96, 96],
        highs=[100, 101, 100, 96, 97],
        lows=[100, 99, 94, 96, 96],
    )
    out = run(bars, signals_at(5, entries=[0, 3]), stops=Stops(stop_loss=0.05))
    # Stopped out @ 95 at bar 2 (cash 950); the entry decided at bar 3 buys
    # floor(950 / 96) = 9 @ 96 at bar 4, closed at the end @ 97.
    assert fills_of(out) == [
        (1, BUY, 10.0, 100.0),
        (2, SELL, 10.0, 95.0),
        (4, BUY, 9.0, 96.0),
        (4, SELL, 9.0, 97.0),
    ]
    assert out.trades["exit_reason"].tolist() == [STOP_LOSS, END]


# ------------------------------------------------------------------------ shorts


def test_short_trade_pnl_with_commission() -> None:
    bars = make_bars(
        [100, 96, 95, 90],
        opens=[100, 100, 96, 90],
        highs=[100, 102, 97, 91],
        lows=[100, 95, 93, 89],
    )
    out = run(
        bars,
        signals_at(4, short_entries=[0], short_exits=[2]),
        costs=CostModel(commission_rate=0.001),
        allow_short=True,
    )
    # Short floor(1000 / (100 * 1.001)) = 9 @ 100 = 900, commission 0.9:
    #   cash = 1000 + 900 - 0.9 = 1,899.1
    # Cover 9 @ 90 = 810, commission 0.81: cash = 1,899.1 - 810 - 0.81 = 1,088.29.
    assert fills_of(out) == [(1, SELL, 9.0, 100.0), (3, BUY, 9.0, 90.0)]
    assert out.position.tolist() == [0, -9, -9, 0]
    assert out.cash.tolist() == pytest.approx([1000, 1899.1, 1899.1, 1088.29], rel=1e-12)
    # equity = cash - 9 * close: 1,899.1 - 864 = 1,035.1; 1,899.1 - 855 = 1,044.1.
    assert out.equity.tolist() == pytest.approx([1000, 1035.1, 1044.1, 1088.29], rel=1e-12)
    (trade,) = out.trades
    assert trade["direction"] == -1
    assert trade["gross_pnl"] == pytest.approx(90.0, rel=REL)  # -(90 - 100) * 9
    assert trade["commission"] == pytest.approx(1.71, rel=1e-9)
    assert trade["net_pnl"] == pytest.approx(88.29, rel=1e-9)
    assert trade["return_pct"] == pytest.approx(88.29 / 900.9, rel=1e-9)
    # Adverse = highest high 102: 1 - 102/100; favourable = the exit price 90: 1 - 90/100.
    assert trade["mae"] == pytest.approx(-0.02, rel=1e-9)
    assert trade["mfe"] == pytest.approx(0.10, rel=1e-9)


def test_short_signals_are_ignored_unless_allowed() -> None:
    bars = make_bars([100, 100, 90, 90])
    out = run(bars, signals_at(4, short_entries=[0], short_exits=[2]))
    assert len(out.fills) == 0
    assert out.position.tolist() == [0, 0, 0, 0]


def test_reversal_exits_first_then_enters_short_at_the_same_open() -> None:
    bars = make_bars([100, 100, 110, 110, 100, 100])
    out = run(
        bars,
        signals_at(6, entries=[0], short_entries=[2], short_exits=[4]),
        allow_short=True,
    )
    # bar 1: buy 10 @ 100 (cash 0). bar 3: sell 10 @ 110 (cash 1,100), then short
    # floor(1,100 / 110) = 10 @ 110 (cash 2,200). bar 5: cover 10 @ 100 (cash 1,200).
    assert fills_of(out) == [
        (1, BUY, 10.0, 100.0),
        (3, SELL, 10.0, 110.0),
        (3, SELL, 10.0, 110.0),
        (5, BUY, 10.0, 100.0),
    ]
    assert out.fills["reason"].tolist() == [NONE, SIGNAL, NONE, SIGNAL]
    assert out.position.tolist() == [0, 10, 10, -10, -10, 0]
    assert out.cash.tolist() == pytest.approx([1000, 0, 0, 2200, 2200, 1200], abs=1e-9)
    assert out.equity.tolist() == pytest.approx([1000, 1000, 1100, 1100, 1200, 1200], rel=REL)
    assert out.trades["direction"].tolist() == [1, -1]
    assert out.trades["gross_pnl"].tolist() == pytest.approx([100.0, 100.0], rel=REL)


@pytest.mark.parametrize(
    ("bar2", "stops", "price", "reason"),
    [
        # short @ 100: stop 105, high 106 -> bought back @ 105.
        ((101, 106, 100, 104), Stops(stop_loss=0.05), 105.0, STOP_LOSS),
        # gap above the stop: open 108.
        ((108, 109, 107, 108), Stops(stop_loss=0.05), 108.0, STOP_LOSS),
        # target 95, low 94 -> bought back @ 95.
        ((99, 100, 94, 96), Stops(take_profit=0.05), 95.0, TAKE_PROFIT),
        # both touched: the stop wins.
        ((100, 106, 94, 100), Stops(stop_loss=0.05, take_profit=0.05), 105.0, STOP_LOSS),
    ],
)
def test_short_stops_mirror_the_long_ones(
    bar2: tuple[float, float, float, float], stops: Stops, price: float, reason: int
) -> None:
    out = run(stop_bars(bar2), signals_at(4, short_entries=[0]), stops=stops, allow_short=True)
    assert fills_of(out)[:2] == [(1, SELL, 10.0, 100.0), (2, BUY, 10.0, price)]
    (trade,) = out.trades
    assert trade["exit_reason"] == reason
    assert trade["gross_pnl"] == pytest.approx(-10 * (price - 100), rel=REL)


def test_short_trailing_stop_follows_the_lowest_low() -> None:
    # Short 10 @ 100 at bar 1's open; bar 1 trades down to 90 after the fill, so the
    # trail on bar 2 is 90 * 1.1 = 99 (the 105 stop-loss is further away); bar 2's high
    # 99.5 reaches it -> bought back @ 99, gross -(99 - 100) * 10 = 10.
    bars = make_bars(
        [100, 92, 97, 97],
        opens=[100, 100, 93, 97],
        highs=[100, 100.5, 99.5, 97],
        lows=[100, 90, 92, 97],
    )
    out = run(
        bars,
        signals_at(4, short_entries=[0]),
        stops=Stops(stop_loss=0.05, trailing_stop=0.1),
        allow_short=True,
    )
    assert fills_of(out)[0] == (1, SELL, 10.0, 100.0)
    assert fills_of(out)[1][:3] == (2, BUY, 10.0)
    assert fills_of(out)[1][3] == pytest.approx(99.0, rel=REL)  # 90 * 1.1 in binary
    (trade,) = out.trades
    assert trade["exit_reason"] == TRAILING
    assert trade["gross_pnl"] == pytest.approx(10.0, rel=REL)
    assert trade["mfe"] == pytest.approx(0.10, rel=REL)  # 1 - 90 / 100


# -------------------------------------------------------------- stop-entry orders


def test_stop_entry_fills_at_its_level() -> None:
    bars = make_bars(
        [100, 101, 101], opens=[100, 100, 101], highs=[100, 103, 101], lows=[100, 99, 101]
    )
    out = run(
        bars,
        signals_at(3, entries=[0], offsets={0: 2.0}),
        cash=1_020.0,
        close_at_end=False,
    )
    # Level = bar 1's open 100 + 2 = 102 <= high 103 -> filled @ max(100, 102) = 102:
    # floor(1,020 / 102) = 10 shares.
    assert fills_of(out) == [(1, BUY, 10.0, 102.0)]
    assert out.cash[1] == pytest.approx(0.0, abs=1e-9)


def test_stop_entry_gapping_above_its_level_fills_at_the_open() -> None:
    # A negative offset puts the level below the open: fills at the open.
    bars = make_bars([100, 101, 101], opens=[100, 100, 101], highs=[100, 103, 101])
    out = run(bars, signals_at(3, entries=[0], offsets={0: -1.0}), close_at_end=False)
    assert fills_of(out) == [(1, BUY, 10.0, 100.0)]


def test_stop_entry_expires_after_one_bar() -> None:
    # Level 102 > bar 1's high 101.5: no fill, and the order does not carry over to
    # bar 2 although bar 2 trades at 110.
    bars = make_bars(
        [100, 101, 110, 110],
        opens=[100, 100, 105, 110],
        highs=[100, 101.5, 111, 110],
        lows=[100, 99, 104, 110],
    )
    out = run(bars, signals_at(4, entries=[0], offsets={0: 2.0}))
    assert len(out.fills) == 0
    assert out.position.tolist() == [0, 0, 0, 0]


# ---------------------------------------------------------------- end of the data


def test_open_position_is_closed_at_the_last_close_with_costs() -> None:
    bars = make_bars([100, 100, 105, 110])
    out = run(bars, signals_at(4, entries=[0]), costs=CostModel(commission_rate=0.001))
    # Buy floor(1000 / 100.1) = 9 @ 100, commission 0.9 -> cash 99.1.
    # End: sell 9 @ 110 = 990, commission 0.99 -> cash 99.1 + 990 - 0.99 = 1,088.11.
    assert fills_of(out) == [(1, BUY, 9.0, 100.0), (3, SELL, 9.0, 110.0)]
    assert out.position.tolist() == [0, 9, 9, 0]
    assert out.cash[-1] == pytest.approx(1_088.11, rel=1e-12)
    assert out.equity[-1] == pytest.approx(1_088.11, rel=1e-12)
    (trade,) = out.trades
    assert (trade["exit_bar"], trade["exit_reason"]) == (3, END)
    assert trade["net_pnl"] == pytest.approx(90 - 0.9 - 0.99, rel=1e-12)


def test_open_position_stays_open_without_close_at_end() -> None:
    bars = make_bars([100, 100, 105, 110])
    out = run(
        bars,
        signals_at(4, entries=[0]),
        costs=CostModel(commission_rate=0.001),
        close_at_end=False,
    )
    assert fills_of(out) == [(1, BUY, 9.0, 100.0)]
    assert len(out.trades) == 0
    assert out.position[-1] == 9
    assert out.cash[-1] == pytest.approx(99.1, rel=1e-12)
    assert out.equity[-1] == pytest.approx(99.1 + 990, rel=1e-12)  # no exit costs paid


def test_pending_order_on_the_last_bar_never_fills() -> None:
    bars = make_bars([100, 100, 100])
    out = run(bars, signals_at(3, entries=[2]))
    assert len(out.fills) == 0


# ----------------------------------------------------------------------- MAE/MFE


@pytest.mark.parametrize(
    ("exit_open", "mae", "mfe"),
    [
        # Held over bar 1 (97..103, entered at its open) and bar 2 (95..108), sold at
        # bar 3's open 104: lowest 95, highest 108. Bar 3's range after the sale
        # (90..120) does not count.
        (104.0, 95 / 100 - 1, 108 / 100 - 1),
        # Sold at a gap up to 112 (bar 3 high 120, low 90): the exit price is the best.
        (112.0, 95 / 100 - 1, 112 / 100 - 1),
    ],
)
def test_mae_mfe_of_a_long_trade(exit_open: float, mae: float, mfe: float) -> None:
    bars = make_bars(
        [100, 101, 104, 110],
        opens=[100, 100, 101, exit_open],
        highs=[100, 103, 108, 120],
        lows=[100, 97, 95, 90],
    )
    out = run(bars, signals_at(4, entries=[0], exits=[2]))
    (trade,) = out.trades
    assert trade["exit_price"] == exit_open
    assert trade["mae"] == pytest.approx(mae, rel=1e-12)
    assert trade["mfe"] == pytest.approx(mfe, rel=1e-12)


def test_mae_mfe_exclude_the_entry_bar_when_entered_at_its_close() -> None:
    # Bought at bar 0's close 100 (its range 90..110 happened before), sold at bar 1's
    # close 102 after trading 98..105.
    bars = make_bars(
        [100, 102, 102], opens=[100, 100, 102], highs=[110, 105, 102], lows=[90, 98, 102]
    )
    out = run(bars, signals_at(3, entries=[0], exits=[1]), fill_at="close")
    (trade,) = out.trades
    assert (trade["entry_bar"], trade["exit_bar"]) == (0, 1)
    assert trade["mae"] == pytest.approx(-0.02, rel=1e-12)
    assert trade["mfe"] == pytest.approx(0.05, rel=1e-12)


# --------------------------------------------------------- progress and cancelling


def scenario() -> tuple[PreparedBars, Signals]:
    bars = make_bars(
        [100, 101, 99, 104, 103, 98, 97, 102, 105, 101],
        highs=[101, 102, 101, 106, 104, 103, 99, 103, 106, 104],
        lows=[99, 99, 97, 99, 101, 97, 95, 96, 101, 100],
    )
    return bars, signals_at(10, entries=[0, 4, 7], exits=[2, 8])


def test_progress_reports_increasing_fractions_ending_at_one() -> None:
    bars, signals = scenario()
    seen: list[float] = []
    settings = SimulationSettings(initial_cash=1_000.0, stops=Stops(stop_loss=0.03))
    out = simulate(bars, signals, settings, progress=seen.append, window=4)
    assert seen == pytest.approx([0.4, 0.8, 1.0], rel=REL)
    whole = simulate(bars, signals, settings)
    np.testing.assert_array_equal(out.equity, whole.equity)
    np.testing.assert_array_equal(out.fills, whole.fills)
    np.testing.assert_array_equal(out.trades, whole.trades)


def test_cancel_token_set_during_the_run_raises() -> None:
    bars, signals = scenario()
    token = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        token.set()

    with pytest.raises(CancelledError, match="cancelled"):
        simulate(bars, signals, SimulationSettings(), progress=progress, cancel=token, window=3)
    assert seen == [pytest.approx(0.3)]


def test_volatility_breakout_buys_the_breakout_and_rearms_after_each_exit() -> None:
    from privatetrade.engine.strategies.builtin import VolatilityBreakout, VolatilityBreakoutParams

    bars = make_bars(
        [11, 11, 12, 12, 12.5],
        opens=[10, 10, 11, 12, 12],
        highs=[12, 11.5, 12.5, 12.5, 12.6],
        lows=[9, 9.5, 10.5, 11.5, 12],
    )
    signals = VolatilityBreakout(VolatilityBreakoutParams(k=0.5)).signals(bars.bars)
    out = run(bars, signals)
    # offsets 0.5 * (high - low) = [1.5, 1.0, 1.0, 0.5, 0.3]
    # bar 1: stop 10 + 1.5 = 11.5 <= high 11.5 -> buy floor(1000 / 11.5) = 86 @ 11.5, cash 11
    # bar 2: exit at the open 11 -> cash 11 + 946 = 957; re-armed stop 11 + 1.0 = 12 <= 12.5
    #        -> buy floor(957 / 12) = 79 @ 12, cash 9
    # bar 3: exit at the open 12 -> cash 957; stop 12 + 1.0 = 13 > high 12.5: expires
    # bar 4: stop 12 + 0.5 = 12.5 <= 12.6 -> buy floor(957 / 12.5) = 76 @ 12.5, cash 7;
    #        closed at the last close 12.5 -> cash 957
    assert fills_of(out) == [
        (1, BUY, 86.0, 11.5),
        (2, SELL, 86.0, 11.0),
        (2, BUY, 79.0, 12.0),
        (3, SELL, 79.0, 12.0),
        (4, BUY, 76.0, 12.5),
        (4, SELL, 76.0, 12.5),
    ]
    assert out.cash[-1] == pytest.approx(957.0, rel=REL)


@pytest.mark.parametrize(
    ("previous", "day", "market", "upper", "lower"),
    [
        # 2022 KOSPI (old table): tick of 15,750 is 50; width floor(4,725 / 50) * 50 = 4,700;
        # upper 20,450 (band tick 50 -> stays), lower 11,050 (band tick 50 -> stays).
        (15_750, "2022-06-02", "KOSPI", 20_450, 11_050),
        # 2021 KOSDAQ: tick of 4,535 is 5; width floor(1,360.5 / 5) * 5 = 1,360;
        # upper 5,895 -> band tick 10 -> 5,890; lower 3,175 (band tick 5).
        (4_535, "2021-03-02", "KOSDAQ", 5_890, 3_175),
        # 2024 (unified table): tick of 50,000 is 50; width 15,000; upper 65,000, lower 35,000.
        (50_000, "2024-03-04", "KOSPI", 65_000, 35_000),
        # Before 2015-06-15 the limit was 15%: tick of 10,000 is 50 (old KOSPI table);
        # width 1,500; upper 11,500, lower 8,500.
        (10_000, "2014-03-03", "KOSPI", 11_500, 8_500),
    ],
)
def test_krx_limit_prices_follow_the_exchange_rounding(
    previous: float, day: str, market: str, upper: float, lower: float
) -> None:
    from privatetrade.engine.costs import limit_prices

    model = CostModel.krx(market)  # type: ignore[arg-type]
    assert limit_prices(model, previous, dt.date.fromisoformat(day)) == (upper, lower)
