"""Rebalancing on the sample stocks against a plain-Python reading of docs/portfolio.md.

The reference below re-implements "Allocation rules: rebalance execution" and the KRX
cost rules (engine.md §4-§5) line by line in Python -- its own tick rounding, its own
search for the largest affordable lot -- and replays the engine's target weights of a
top-2 momentum rotation over the five sample stocks (FB starts in 2012: a late symbol),
priced like KRW stocks (x100) with KOSPI costs, 10 bps slippage, lots of 10 and a band.
Every fill (bar, symbol, side, quantity, price, commission, tax) and every bar's cash
and equity must equal the engine's exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from privatetrade.data.sample import SAMPLE_SYMBOLS, load_sample_bars
from privatetrade.engine.costs import CostModel, krx_tick_size
from privatetrade.engine.portfolio.align import AlignedBars

LOT = 10
COSTS = CostModel.krx("KOSPI", slippage=10.0, lot_size=LOT)
RULES = (
    {"rule": "top_n_momentum", "top": 2, "lookback": 60, "band": 0.02},
    {"rule": "top_n_momentum", "top": 3, "lookback": 20, "rebalance": "weekly"},
)


@dataclass
class Book:
    cash: float
    held: list[float]
    last_close: list[float]
    fills: list[tuple[int, int, int, float, float, float, float]] = field(default_factory=list)


def fill_price(reference: float, side: int, day: dt.date, low: float, high: float) -> float:
    """Slippage against the trader, onto KOSPI's tick grid (buys up, sells down), in the bar."""
    price = reference * (1.0 + side * COSTS.slippage * 1e-4)
    tick = krx_tick_size(price, day, "KOSPI")
    steps = price / tick
    if abs(steps - round(steps)) < 1e-9:
        steps = round(steps)
    else:
        steps = math.ceil(steps) if side == 1 else math.floor(steps)
    return min(max(steps * tick, low), high)


def commission(value: float) -> float:
    return max(value * COSTS.commission_rate, COSTS.min_commission)


def largest_lot(budget: float, price: float, cap: float = math.inf) -> float:
    """The most lots whose value and commission fit in ``budget`` (searched downwards)."""
    quantity = min(cap, math.floor(budget / price / LOT) * LOT)
    while quantity > 0 and quantity * price + commission(quantity * price) > budget + 1e-9:
        quantity -= LOT
    return float(max(quantity, 0))


def reference_run(  # type: ignore[no-untyped-def]
    aligned: AlignedBars, fill_bars: list[int], weights: np.ndarray, band: float, cash: float
):
    n_bars, n_symbols = aligned.close.shape
    days = [
        dt.date.fromisoformat(str(d))
        for d in aligned.local_time_ns.astype("datetime64[ns]").astype("datetime64[D]")
    ]
    book = Book(cash, [0.0] * n_symbols, [math.nan] * n_symbols)
    cash_out, equity_out = [], []
    at = dict(zip(fill_bars, range(len(fill_bars)), strict=True))
    for t in range(n_bars):
        present = aligned.present[t]
        if t in at:
            rebalance(aligned, book, t, days[t], weights[at[t]], band)
        for j in range(n_symbols):
            if present[j]:
                book.last_close[j] = float(aligned.close[t, j])
        for j in range(n_symbols):
            last = t == n_bars - 1 or t == int(aligned.last_bar[j])
            if present[j] and book.held[j] and last:  # close at end / delisted
                low, high = aligned.low[t, j], aligned.high[t, j]
                price = fill_price(aligned.close[t, j], -1, days[t], low, high)
                sell(book, t, j, book.held[j], price, days[t])
        value = 0.0
        for j in range(n_symbols):
            if book.held[j]:
                value += book.held[j] * book.last_close[j]
        cash_out.append(book.cash)
        equity_out.append(book.cash + value)
    return book, np.array(cash_out), np.array(equity_out)


def rebalance(
    aligned: AlignedBars, book: Book, t: int, day: dt.date, weights: np.ndarray, band: float
) -> None:
    opens = aligned.open[t]
    present = aligned.present[t]
    equity = book.cash
    for j, held in enumerate(book.held):
        if held:
            equity += held * (opens[j] if present[j] else book.last_close[j])
    targets = list(book.held)
    for j, held in enumerate(book.held):
        if not present[j]:
            continue
        if weights[j] <= 0.0:
            targets[j] = 0.0
            continue
        if band > 0.0 and abs(held * opens[j] / equity - weights[j]) <= band:
            continue
        buy = fill_price(opens[j], 1, day, aligned.low[t, j], aligned.high[t, j])
        targets[j] = largest_lot(weights[j] * equity, buy)
    for j in range(len(targets)):
        if targets[j] < book.held[j]:
            price = fill_price(opens[j], -1, day, aligned.low[t, j], aligned.high[t, j])
            sell(book, t, j, book.held[j] - targets[j], price, day)
    for j in range(len(targets)):
        if targets[j] > book.held[j]:
            price = fill_price(opens[j], 1, day, aligned.low[t, j], aligned.high[t, j])
            quantity = largest_lot(book.cash, price, cap=targets[j] - book.held[j])
            if quantity > 0:
                value = quantity * price
                fee = commission(value)
                book.cash -= value + fee
                book.held[j] += quantity
                book.fills.append((t, j, 1, quantity, price, fee, 0.0))


def sell(book: Book, t: int, j: int, quantity: float, price: float, day: dt.date) -> None:
    value = quantity * price
    tax = value * COSTS.tax_rate_on(day)
    fee = min(commission(value), value - tax)
    book.cash += value - fee - tax
    book.held[j] -= quantity
    book.fills.append((t, j, -1, quantity, price, fee, tax))


@pytest.fixture(scope="module")
def samples() -> dict[str, pd.DataFrame]:
    frames = {}
    for symbol in SAMPLE_SYMBOLS:
        frame = load_sample_bars(symbol).loc["2010-01-01":]
        prices = frame[["open", "high", "low", "close"]].round(2) * 100.0  # KRW-like levels
        prices["volume"] = frame["volume"]
        prices.index = frame.index.tz_localize(None).tz_localize("Asia/Seoul")
        frames[symbol] = prices
    return frames


@pytest.mark.parametrize("rule", RULES, ids=["monthly_band", "weekly"])
def test_rotation_equals_the_reference_fill_by_fill(
    samples: dict[str, pd.DataFrame], rule: dict[str, object]
) -> None:
    result = pt.run_portfolio(samples, rule, costs=COSTS, cash=100_000_000.0)
    rebalances = result.rebalances
    assert rebalances.fill_bars.shape[0] > 30
    book, cash, equity = reference_run(
        result.aligned,
        rebalances.fill_bars.tolist(),
        rebalances.weights,
        float(rule.get("band", 0.0)),  # type: ignore[arg-type]
        100_000_000.0,
    )
    out = result.output
    engine_fills = [
        (int(f["bar"]), int(j), int(f["side"]), float(f["quantity"]), float(f["price"]),
         float(f["commission"]), float(f["tax"]))
        for f, j in zip(out.fills, out.fill_symbol, strict=True)
    ]  # fmt: skip
    assert len(engine_fills) > 40
    assert engine_fills == book.fills
    assert np.array_equal(out.cash, cash)
    assert np.array_equal(out.equity, equity)
    assert {j for _, j, *_ in book.fills} == set(range(5))  # FB joined once it had history
