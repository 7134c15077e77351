"""Hand-computed portfolio runs: rebalances with KRX tax and ticks, missing and delisted
bars, the signals rule's positions, priority and sizing (kernel level, explicit orders)."""

from __future__ import annotations

import numpy as np
import pytest

from portfolio_builders import book, market_for
from privatetrade.engine.costs import CostModel
from privatetrade.engine.portfolio.simulation import (
    AllocationOrders,
    SignalOrders,
    simulate_allocation,
    simulate_signals,
)
from privatetrade.engine.records import ExitReason, Side

END = int(ExitReason.END_OF_DATA)
REBALANCE = int(ExitReason.REBALANCE)
SIGNAL = int(ExitReason.SIGNAL)


def allocation(fill_bars, weights, band=0.0, hold=False):  # type: ignore[no-untyped-def]
    return AllocationOrders(
        np.array(fill_bars, dtype=np.int64), np.array(weights, dtype=np.float64), band, hold
    )


# ------------------------------------------------------------------ KRX rebalance


@pytest.fixture
def krx_run():  # type: ignore[no-untyped-def]
    """Two KOSPI symbols, 10 bps slippage, rebalances at bars 0 and 2 (across New Year)."""
    dates = ["2024-12-27", "2024-12-30", "2025-01-02"]
    bars = book(
        dates,
        {
            "A": {
                "open": [10_000, 9_900, 9_900],
                "close": [10_050, 9_800, 9_950],
                "high": [10_100, 9_900, 10_000],
                "low": [9_900, 9_800, 9_850],
            },
            "B": {
                "open": [50_000, 50_500, 52_000],
                "close": [50_200, 51_000, 52_300],
                "high": [50_500, 51_000, 52_500],
                "low": [49_500, 50_500, 51_800],
            },
        },
    )
    costs = CostModel.krx("KOSPI", slippage=10.0)
    _, market = market_for(bars, costs)
    return simulate_allocation(market, allocation([0, 2], [[0.5, 0.5], [0.0, 1.0]]), 10_000_000.0)


def test_krx_rebalance_buys_whole_lots_at_tick_prices_within_the_budget(krx_run) -> None:  # type: ignore[no-untyped-def]
    fills = krx_run.fills
    # Bar 0, E = 10,000,000, target value 5,000,000 each.
    # A: 10,000 * 1.001 = 10,010, on the 10-won grid. q = floor(5e6 / (10,010 * 1.00015))
    #    = 499; 499 * 10,010 = 4,994,990, commission 0.015 % = 749.2485.
    # B: 50,000 * 1.001 = 50,050 -> rounded up to the 100-won grid: 50,100.
    #    q = floor(5e6 / (50,100 * 1.00015)) = 99; 4,959,900, commission 743.985.
    assert krx_run.fill_symbol[:2].tolist() == [0, 1]
    assert fills["side"][:2].tolist() == [Side.BUY, Side.BUY]
    assert fills["quantity"][:2].tolist() == [499.0, 99.0]
    assert fills["price"][:2].tolist() == [10_010.0, 50_100.0]
    assert fills["commission"][:2] == pytest.approx([749.2485, 743.985], abs=1e-9)
    assert fills["slippage"][:2] == pytest.approx([10 * 499, 100 * 99])
    # Cash 10,000,000 - 4,995,739.2485 - 4,960,643.985 = 43,616.7665.
    assert krx_run.cash[0] == pytest.approx(43_616.7665, abs=1e-6)
    # Close of bar 0: 43,616.7665 + 499 * 10,050 + 99 * 50,200.
    assert krx_run.equity[0] == pytest.approx(10_028_366.7665, abs=1e-6)
    # Bar 1 holds: 43,616.7665 + 499 * 9,800 + 99 * 51,000.
    assert krx_run.equity[1] == pytest.approx(9_982_816.7665, abs=1e-6)


def test_krx_rebalance_sells_first_with_the_2025_tax_then_buys_with_the_cash(krx_run) -> None:  # type: ignore[no-untyped-def]
    fills, trades = krx_run.fills, krx_run.trades
    # Bar 2 open: E = 43,616.7665 + 499 * 9,900 + 99 * 52,000 = 10,131,716.7665.
    assert krx_run.rebalance_equity[1] == pytest.approx(10_131_716.7665, abs=1e-6)
    # Sell A (weight 0): 9,900 * 0.999 = 9,890.1 -> down to 9,890; 499 * 9,890 = 4,935,110,
    # commission 740.2665, tax 0.15 % (2025) = 7,402.665.
    sell = fills[2]
    assert (krx_run.fill_symbol[2], sell["side"], sell["quantity"], sell["price"]) == (
        0, Side.SELL, 499.0, 9_890.0,
    )  # fmt: skip
    assert sell["commission"] == pytest.approx(740.2665, abs=1e-9)
    assert sell["tax"] == pytest.approx(7_402.665, abs=1e-9)
    assert sell["reason"] == REBALANCE
    # B target: 52,000 * 1.001 = 52,052 -> 52,100; floor(10,131,716.7665 / (52,100 *
    # 1.00015)) = 194 shares, so buy 194 - 99 = 95 (4,949,500 + 742.425 <= cash 4,970,583.835).
    buy = fills[3]
    assert (krx_run.fill_symbol[3], buy["side"], buy["quantity"], buy["price"]) == (
        1, Side.BUY, 95.0, 52_100.0,
    )  # fmt: skip
    assert buy["commission"] == pytest.approx(742.425, abs=1e-9)
    assert krx_run.rebalance_traded[1] == pytest.approx(4_935_110 + 4_949_500)
    # The exit trade of A: bought at 10,010, sold at 9,890.
    a = trades[0]
    assert (krx_run.trade_symbol[0], a["entry_bar"], a["exit_bar"], a["quantity"]) == (0, 0, 2, 499)
    assert a["gross_pnl"] == pytest.approx(-59_880.0)
    assert a["commission"] == pytest.approx(749.2485 + 740.2665)
    assert a["net_pnl"] == pytest.approx(-59_880.0 - 1_489.515 - 7_402.665)
    assert a["return_pct"] == pytest.approx(a["net_pnl"] / 4_995_739.2485)
    assert a["exit_reason"] == REBALANCE


def test_krx_close_at_end_sells_at_the_average_cost_and_cash_adds_up(krx_run) -> None:  # type: ignore[no-untyped-def]
    fills, trades = krx_run.fills, krx_run.trades
    # End: B 194 at 52,300 * 0.999 = 52,247.7 -> 52,200; 10,126,800, commission 1,519.02,
    # tax 15,190.2. Average cost (99 * 50,100 + 95 * 52,100) / 194 = 9,909,400 / 194.
    end = fills[4]
    assert (end["quantity"], end["price"], end["reason"]) == (194.0, 52_200.0, END)
    assert end["tax"] == pytest.approx(15_190.2, abs=1e-9)
    b = trades[1]
    assert b["entry_price"] == pytest.approx(9_909_400 / 194, rel=1e-14)
    assert b["entry_bar"] == 0  # the holding was opened at bar 0 and topped up at bar 2
    assert b["gross_pnl"] == pytest.approx(217_400.0, abs=1e-6)
    assert b["commission"] == pytest.approx(743.985 + 742.425 + 1_519.02, abs=1e-9)
    assert b["net_pnl"] == pytest.approx(217_400.0 - 3_005.43 - 15_190.2, abs=1e-6)
    # Cash 4,970,583.835 - 4,950,242.425 + 10,126,800 - 1,519.02 - 15,190.2.
    assert krx_run.cash[2] == pytest.approx(10_130_432.19, abs=1e-6)
    assert krx_run.equity[2] == krx_run.cash[2]
    assert krx_run.position[2].tolist() == [0.0, 0.0]
    assert trades["net_pnl"].sum() == pytest.approx(krx_run.equity[2] - 10_000_000.0, abs=1e-6)


# ------------------------------------------------------------- missing and delisted bars

DATES5 = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
MISSING = {
    "A": {"close": [10, 10, 10, 10, 10]},
    "B": {"close": [20, 20, None, 25, 25]},  # no bar on day 2
    "C": {"close": [5, 5, 4, None, None]},  # data ends on day 2
}


def test_no_fill_without_a_bar_and_holdings_valued_at_the_last_close() -> None:
    _, market = market_for(book(DATES5, MISSING))
    weights = [[0.25, 0.25, 0.5], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]
    out = simulate_allocation(market, allocation([1, 2, 3], weights), 3_000.0)
    # Bar 1: A 750 / 10 = 75, B 750 / 20 = 37, C 1,500 / 5 = 300; cash 3,000 - 2,990 = 10.
    assert out.position[1].tolist() == [75.0, 37.0, 300.0]
    # Bar 2: E = 10 + 750 + 37 * 20 (B's last close) + 300 * 4 = 2,700; C sold (1,200),
    # A to 1,350 / 10 = 135 (buys 60); B has no bar: kept, valued at 20.
    assert out.rebalance_equity[1] == 2_700.0
    assert out.position[2].tolist() == [135.0, 37.0, 0.0]
    assert out.cash[2] == 610.0
    assert out.equity[2] == 610.0 + 1_350.0 + 740.0
    # Bar 3: E = 610 + 1,350 + 37 * 25 = 2,885; A 144 (+9), B floor(1,442.5 / 25) = 57 (+20).
    assert out.position[3].tolist() == [144.0, 57.0, 0.0]
    assert out.cash[3] == 20.0
    bars_of = {(int(s), int(b)) for s, b in zip(out.fill_symbol, out.fills["bar"], strict=True)}
    assert (1, 2) not in bars_of  # B had no bar on day 2
    # Trades: C -300 at bar 2; at the end A (average 10) 0 and B (average 1,240 / 57) +185.
    assert out.trade_symbol.tolist() == [2, 0, 1]
    assert out.trades["net_pnl"].tolist() == pytest.approx([-300.0, 0.0, 185.0])
    assert out.equity[4] == 2_885.0


@pytest.mark.parametrize("hold", [False, True])
def test_delisted_holding_is_liquidated_at_its_last_close_or_held(hold: bool) -> None:
    _, market = market_for(book(DATES5, MISSING))
    weights = [[0.25, 0.25, 0.5]]
    out = simulate_allocation(market, allocation([1], weights, hold=hold), 3_000.0)
    c_fills = out.fills[out.fill_symbol == 2]
    if hold:
        # C keeps its 300 shares, valued at its last close (4) to the end; no bar to sell.
        assert out.position[:, 2].tolist() == [0.0, 300.0, 300.0, 300.0, 300.0]
        assert c_fills.shape[0] == 1
        assert out.equity[4] == out.cash[4] + 300 * 4.0
    else:
        # Sold at the close of its last bar (day 2) at 4, reason end of data.
        assert out.position[:, 2].tolist() == [0.0, 300.0, 0.0, 0.0, 0.0]
        sale = c_fills[1]
        assert (sale["bar"], sale["price"], sale["reason"]) == (2, 4.0, END)
        assert out.cash[2] == 10.0 + 1_200.0


def test_band_keeps_holdings_near_their_target_and_zero_weight_always_sells() -> None:
    dates = DATES5[:4]
    bars = book(dates, {"A": {"close": [10, 11, 11, 11]}, "B": {"close": [10, 10, 10, 10]}})
    _, market = market_for(bars)
    weights = [[0.5, 0.5], [0.5, 0.5], [0.0, 1.0]]
    out = simulate_allocation(market, allocation([0, 1, 2], weights, band=0.05), 1_000.0)
    # Bar 1: A is 50 * 11 / 1,050 = 52.4 % of equity, within 5 % of 50 %: no trade.
    assert out.fills["bar"].tolist().count(1) == 0
    # Bar 2: A's weight 0 sells it whatever the band; B at 47.6 % vs 100 % buys.
    at_2 = out.fills[out.fills["bar"] == 2]
    assert at_2["side"].tolist() == [Side.SELL, Side.BUY]
    assert out.position[2].tolist() == [0.0, 105.0]


def test_buys_are_clamped_to_the_cash_left_in_universe_order() -> None:
    bars = book(DATES5[:2], {"A": {"close": [10, 10]}, "B": {"close": [10, 10]}})
    _, market = market_for(bars, CostModel(commission_rate=0.01))
    out = simulate_allocation(market, allocation([0], [[0.6, 0.4]]), 1_000.0)
    # A: floor(600 / 10.1) = 59 -> 590 + 5.9; B: floor(400 / 10.1) = 39 -> 390 + 3.9.
    assert out.position[0].tolist() == [59.0, 39.0]
    assert out.cash[0] == pytest.approx(1_000 - 595.9 - 393.9)
    # All in A, then all in B: E = 0.1 + 99 * 10 = 990.1 gives B a target of
    # floor(990.1 / 10.1) = 98, but selling A leaves 0.1 + 990 - 9.9 = 980.2 of cash:
    # the buy is clamped to floor(980.2 / 10.1) = 97 shares (979.7 with commission).
    out = simulate_allocation(market, allocation([0, 1], [[1.0, 0.0], [0.0, 1.0]]), 1_000.0)
    assert out.position[0].tolist() == [99.0, 0.0]
    assert out.position[1].tolist() == [0.0, 0.0]  # closed at the end ...
    assert out.fills["quantity"].tolist() == [99.0, 99.0, 97.0, 97.0]  # ... after 97 of B
    assert out.cash[1] >= 0.0


# --------------------------------------------------------------------- signals rule


def signal_orders(entries, exits, scores, max_positions=2, size="equal", value=0.0):  # type: ignore[no-untyped-def]
    return SignalOrders(
        np.array(entries, dtype=np.bool_),
        np.array(exits, dtype=np.bool_),
        None,
        None if scores is None else np.array(scores, dtype=np.float64),
        max_positions,
        size,
        value,
        False,
    )


FLAT = {"A": {"close": [10] * 4}, "B": {"close": [20] * 4}, "C": {"close": [40] * 4}}


def test_signals_fill_entries_by_priority_while_positions_are_free() -> None:
    _, market = market_for(book(DATES5[:4], FLAT))
    entries = [[1, 1, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]]
    exits = [[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    scores = [[0.1, 0.3, 0.2]] + [[0.0, 0.0, 0.0]] * 3
    out = simulate_signals(market, signal_orders(entries, exits, scores), 1_000.0)
    # Bar 1: B first (score 0.3): 1,000 / 2 = 500 -> 25 shares; then C: 500 / 40 -> 12;
    # A finds no free position and is dropped.
    fills = out.fills
    symbols, bars, quantities = out.fill_symbol, fills["bar"], fills["quantity"]
    assert list(zip(symbols.tolist(), bars.tolist(), quantities.tolist(), strict=True)) == [
        (1, 1, 25.0), (2, 1, 12.0),  # entries at bar 1's open
        (1, 2, 25.0),  # B's exit at bar 2's open frees a position ...
        (0, 2, 50.0),  # ... for A's new entry: (20 + 500 + 480) / 2 = 500 -> 50 shares
        (0, 3, 50.0), (2, 3, 12.0),  # close at end, universe order
    ]  # fmt: skip
    assert out.cash[1] == 20.0
    assert out.trade_symbol.tolist() == [1, 0, 2]
    assert out.trades["exit_reason"].tolist() == [SIGNAL, END, END]
    assert out.equity.tolist() == [1_000.0] * 4


def test_signals_universe_order_without_scores_and_fixed_sizes() -> None:
    _, market = market_for(book(DATES5[:4], FLAT))
    entries = [[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    none = [[0, 0, 0]] * 4
    amount = simulate_signals(
        market, signal_orders(entries, none, None, 3, "amount", 200.0), 1_000.0
    )
    assert amount.position[1].tolist() == [20.0, 10.0, 5.0]
    fraction = simulate_signals(
        market, signal_orders(entries, none, None, 3, "fraction", 0.5), 1_000.0
    )
    # 500 each, clamped to the cash left: A 50 (500), B 25 (500), C nothing affordable.
    assert fraction.position[1].tolist() == [50.0, 25.0, 0.0]
    all_in = simulate_signals(market, signal_orders(entries, none, None, 3, "all_in"), 1_000.0)
    assert all_in.position[1].tolist() == [100.0, 0.0, 0.0]


def test_signals_wait_for_the_symbols_next_bar() -> None:
    bars = book(DATES5, {"A": {"close": [10, None, None, 12, 12]}, "B": {"close": [5] * 5}})
    _, market = market_for(bars)
    entries = [[1, 0], [0, 0], [0, 0], [0, 0], [0, 0]]
    none = [[0, 0]] * 5
    out = simulate_signals(market, signal_orders(entries, none, None, 1, "all_in"), 120.0)
    # Decided at A's bar 0, filled at A's next bar (calendar bar 3) at its open 12.
    assert out.fills["bar"][0] == 3
    assert out.position[:, 0].tolist() == [0.0, 0.0, 0.0, 10.0, 0.0]
