"""Equal-weight monthly rebalancing cross-checked against the ``bt`` library (1.4.1).

``bt`` (pmorissette/bt) runs an algo stack on one price series per security: here
``RunMonthly`` (the first date, then the first date of each month; on the data's
last date only with ``run_on_last_date``, set here when that date opens a month, as
privatetrade's schedule does), ``SelectAll``,
``WeighEqually`` and a rebalance, with whole shares (``integer_positions=True``) and a
commission function ``fee(q, p)``. Everything trades at that date's price, so
privatetrade runs the same portfolio with ``rebalance_on="first"`` and
``fill_at="close"`` on the closes, ``close_at_end=False`` (bt never liquidates).

1. Without costs, bt's stock ``Rebalance`` and privatetrade agree to the cent on every
   date, and hold the same share counts on every date. (bt: new position
   ``floor(w * value / price)``; ours: the largest ``q`` with ``q * price <= w * E``.)
2. With KRX-like costs (0.015% commission both ways, a 0.20% sell tax), bt's stock
   ``Rebalance`` sizes differently **by design** (see the third test), so the exact
   check runs bt's accounting (``transact``, its commission function, cash and
   valuation) with a 20-line algo that re-implements privatetrade's documented sizing
   (docs/portfolio.md, PORTFOLIO contract): ``E`` = cash + holdings at the close;
   target ``q`` = largest whole ``q`` with ``q * p + commission(q * p) <= w * E``;
   sells first, then buys in universe order, each clamped to the cash left. Agreement
   is to the cent on every date, with the same share counts.
3. bt's stock ``Rebalance`` with the same costs is compared too, and its differences
   are bounded by their cause: bt funds each trade from the weight *change*
   ``(w - w_now) * value``: a buy pays commission only on the shares it adds (ours
   sizes the whole position so that position plus its commission fit in ``w * E``),
   and a sell sells extra shares to cover its own commission and tax (ours sells down
   to the target and pays the costs from cash). Each is a fraction of a share per
   rebalance (a few shares of the cheapest symbol after a large sell); the test
   derives the bound on every rebalance date, and the equity stays within 0.1%.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping

import bt  # a test-only dependency (pyproject's dev group)
import numpy as np
import pandas as pd
import pytest

from privatetrade.data.sample import load_sample_bars
from privatetrade.data.synthetic import synthetic_bars
from privatetrade.engine.costs import CostModel, TaxStep
from privatetrade.engine.portfolio.api import run_portfolio

US_SAMPLES = ("AAPL", "GOOG", "IBM", "MSFT")  # all four trade on the same dates from 2005
KRX_DEMOS = ("DEMO01", "DEMO02", "DEMO03", "DEMO04")  # synthetic, on the KRX tick grid
COMMISSION = 0.00015  # KRX brokers: 0.015% of the traded value, buys and sells
SELL_TAX = 0.0020  # KOSPI securities transaction tax of 2023 (one rate: bt's fee has no date)
CENT = 0.005  # half a cent: "to the cent"
RULE = {"rule": "equal_weight", "rebalance": "monthly", "rebalance_on": "first"}

Fee = Callable[[float, float], float]


def krx_like_costs() -> CostModel:
    """The KRX preset's commission and a one-rate sell tax; no limit-lock rule.

    The tick table stays on (every synthetic close is on the grid, so a close fill
    is not moved). The daily price limit is off: privatetrade refuses a buy on a bar
    locked at the upper limit, a rule bt does not have.
    """
    return CostModel.krx(
        "KOSPI",
        sell_tax=(TaxStep(since=dt.date(1990, 1, 1), rate=SELL_TAX),),
        price_limit=None,
    )


def krx_like_fee(quantity: float, price: float) -> float:
    """The same costs as bt's commission function: q > 0 buys, q < 0 sells."""
    value = abs(quantity) * price
    return value * COMMISSION + (value * SELL_TAX if quantity < 0 else 0.0)


def no_fee(quantity: float, price: float) -> float:
    return 0.0


def us_closes() -> dict[str, pd.DataFrame]:
    return {code: load_sample_bars(code).loc["2005":] for code in US_SAMPLES}


def krx_closes() -> dict[str, pd.DataFrame]:
    return {code: synthetic_bars(code) for code in KRX_DEMOS}


def price_table(bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """bt's input: one close column per symbol on naive dates (all symbols share them)."""
    table = pd.DataFrame({code: frame["close"] for code, frame in bars.items()})
    assert not table.isna().any().any()  # the symbols share every date
    table.index = table.index.tz_localize(None)
    return table


class RebalanceWholeShares(bt.Algo):  # type: ignore[misc]
    """privatetrade's documented rebalance, executed through bt's own accounting."""

    def __init__(self, commission_rate: float) -> None:
        super().__init__()
        self.rate = commission_rate

    def fits(self, quantity: float, price: float, budget: float) -> bool:
        value = quantity * price
        return value + value * self.rate <= budget

    def largest(self, price: float, budget: float) -> float:
        quantity = max(math.floor(budget / (price * (1.0 + self.rate))), 0)
        while quantity > 0 and not self.fits(quantity, price, budget):
            quantity -= 1
        while self.fits(quantity + 1, price, budget):
            quantity += 1
        return float(quantity)

    def __call__(self, target: bt.core.StrategyBase) -> bool:
        weights = target.temp["weights"]
        equity = target.value  # cash + holdings at this close
        prices = target.universe.loc[target.now]
        held = {name: target.children[name].position if name in target.children else 0.0
                for name in weights}  # fmt: skip
        wanted = {name: self.largest(prices[name], w * equity) for name, w in weights.items()}
        for name in weights:  # sells first
            if wanted[name] < held[name]:
                target.transact(wanted[name] - held[name], child=name, update=False)
        for name in weights:  # then buys in universe order, within the cash left
            if wanted[name] > held[name]:
                cash = target.capital
                extra = min(wanted[name] - held[name], self.largest(prices[name], cash))
                if extra > 0:
                    target.transact(extra, child=name, update=False)
        target.root.update(target.now)
        return True


def run_bt(table: pd.DataFrame, cash: float, rebalance: bt.Algo, fee: Fee) -> bt.Backtest:
    # bt's RunPeriod never fires on the data's last date unless run_on_last_date is
    # set, and then fires whatever the date; privatetrade's first-session schedule fires
    # there only when that date opens a month (the US sample ends on 2013-03-01).
    dates = table.index
    last_opens_month = (dates[-1].year, dates[-1].month) != (dates[-2].year, dates[-2].month)
    strategy = bt.Strategy(
        "equal_weight_monthly",
        [
            bt.algos.RunMonthly(run_on_last_date=last_opens_month),
            bt.algos.SelectAll(),
            bt.algos.WeighEqually(),
            rebalance,
        ],
    )
    backtest = bt.Backtest(
        strategy,
        table,
        initial_capital=cash,
        commissions=fee,
        integer_positions=True,
        progress_bar=False,
    )
    backtest.run()
    return backtest


def bt_equity(backtest: bt.Backtest) -> np.ndarray:
    """Strategy value at each date's close (bt adds a bootstrap date before the first)."""
    return np.asarray(backtest.strategy.values.iloc[1:], dtype=np.float64)


def bt_positions(backtest: bt.Backtest, symbols: tuple[str, ...]) -> np.ndarray:
    return np.asarray(backtest.positions.iloc[1:][list(symbols)], dtype=np.float64)


def run_ours(
    bars: Mapping[str, pd.DataFrame], cash: float, costs: CostModel
) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Equity and share counts per date of privatetrade's run (from its result document)."""
    result = run_portfolio(
        bars, RULE, cash=cash, costs=costs, fill_at="close", close_at_end=False
    ).to_dict()
    times = [t[:10] for t in result["equity"]["time"]]
    row = {day: i for i, day in enumerate(times)}
    symbols = list(bars)
    change = np.zeros((len(times), len(symbols)))
    for fill in result["fills"]:
        sign = 1.0 if fill["side"] == "buy" else -1.0
        change[row[fill["time"][:10]], symbols.index(fill["symbol"])] += sign * fill["quantity"]
    equity = np.asarray(result["equity"]["equity"], dtype=np.float64)
    return equity, np.cumsum(change, axis=0), result


def test_zero_costs_bt_rebalance_agrees_to_the_cent_on_every_date() -> None:
    bars = us_closes()
    table = price_table(bars)
    theirs = run_bt(table, 100_000.0, bt.algos.Rebalance(), no_fee)
    equity, positions, result = run_ours(bars, 100_000.0, CostModel.zero())
    assert len(result["rebalances"]) == 99  # 2005-01 .. 2013-03: the first date of each month
    assert np.array_equal(positions, bt_positions(theirs, US_SAMPLES))
    assert np.abs(equity - bt_equity(theirs)).max() <= CENT
    assert equity[-1] == pytest.approx(333_026.09, abs=CENT)  # both engines' final equity


def test_krx_costs_bt_accounting_of_the_documented_sizing_agrees_to_the_cent() -> None:
    bars = krx_closes()
    table = price_table(bars)
    theirs = run_bt(table, 10_000_000.0, RebalanceWholeShares(COMMISSION), krx_like_fee)
    equity, positions, result = run_ours(bars, 10_000_000.0, krx_like_costs())
    assert len(result["rebalances"]) == 120  # 2016-01 .. 2025-12
    assert np.array_equal(positions, bt_positions(theirs, KRX_DEMOS))
    assert np.abs(equity - bt_equity(theirs)).max() <= CENT
    # The costs are real: bt's fee total equals ours to the cent.
    paid = sum(fill["commission"] + fill["tax"] for fill in result["fills"])
    assert paid > 10_000.0
    assert float(theirs.strategy.fees.sum()) == pytest.approx(paid, abs=CENT)


def test_krx_costs_bt_stock_rebalance_differs_only_by_its_sizing_rule() -> None:
    """bt's stock Rebalance: every share-count difference within the bound its rule implies.

    At a rebalance with pre-trade values ``E`` (ours) and ``E'`` (bt's), price ``p``,
    weight ``w``, commission ``c`` and sell cost ``r = c + tax``:

    * ours: ``q = floor(w E / (p (1 + c)))`` (a late buy may be cut by the cash left,
      by one share at most, which then leaves less than one share's cost in cash);
    * bt buying (from ``q0'``): the largest ``q'`` with ``(q' - q0') p (1 + c) <= w E' -
      q0' p``, i.e. ``floor((w E' + c q0' p) / (p (1 + c)))``: ``c q0'`` shares more;
    * bt selling ``k'`` shares: the fewest with ``k' p (1 - r) >= q0' p - w E'``, i.e.
      about ``(r k' - c q) / (1 - r)`` shares fewer kept than ours.

    Both are floors, so ``|q - q'| < 1 + [1 if our buy was cut] + (r k' + c max(q, q0')) /
    (1 - r) + w |E - E'| / p``, checked on every rebalance date for every symbol (the
    holdings do not change in between).
    """
    bars = krx_closes()
    table = price_table(bars)
    theirs = run_bt(table, 10_000_000.0, bt.algos.Rebalance(), krx_like_fee)
    equity, positions, result = run_ours(bars, 10_000_000.0, krx_like_costs())
    their_positions = bt_positions(theirs, KRX_DEMOS)
    prices = table.to_numpy()
    cash = np.asarray(result["equity"]["cash"], dtype=np.float64)
    their_cash = np.asarray(theirs.strategy.cash.iloc[1:], dtype=np.float64)
    sell_cost = COMMISSION + SELL_TAX
    weight = 1.0 / len(KRX_DEMOS)
    days = [r["fill_time"][:10] for r in result["rebalances"]]
    rows = [table.index.get_loc(pd.Timestamp(day)) for day in days]
    assert rows[0] == 0
    checked = 0
    for t in rows:
        held = positions[t - 1] if t else np.zeros(len(KRX_DEMOS))
        their_held = their_positions[t - 1] if t else np.zeros(len(KRX_DEMOS))
        before = (cash[t - 1] if t else 10_000_000.0) + held @ prices[t]
        their_before = (their_cash[t - 1] if t else 10_000_000.0) + their_held @ prices[t]
        sold = np.abs(their_positions[t] - their_held)
        larger = np.maximum(positions[t], their_held)
        # A buy cut by the cash left leaves less than one share's cost in cash.
        clamped = cash[t] < prices[t] * (1.0 + COMMISSION)
        bound = (
            1.0
            + clamped
            + (sell_cost * sold + COMMISSION * larger) / (1.0 - sell_cost)
            + weight * abs(before - their_before) / prices[t]
        )
        gap = np.abs(positions[t] - their_positions[t])
        assert (gap <= bound).all(), (table.index[t], gap, bound)
        checked += 1
    assert checked == 120
    share_gap = np.abs(positions - their_positions)
    assert share_gap.max() >= 1.0  # the two sizing rules really differ
    # Equity: a few shares of ~2.5 million won positions, compounding for ten years.
    gap = np.abs(equity - bt_equity(theirs)) / equity
    assert gap.max() < 1e-3
