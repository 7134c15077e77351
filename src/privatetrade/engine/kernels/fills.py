"""Fill prices, ticks, commissions and affordable quantities of one order (numba).

Helpers of the simulation kernel (``simulate.py``): slippage, the tick grid (buys round
up, sells down), daily price limits, commissions and the largest whole-lot quantity
cash can pay for, computed in constant work whatever the sizes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from privatetrade.engine.records import SizingMode, SlippageMode

__all__ = [
    "affordable_quantity_nb",
    "commission_nb",
    "entry_quantity_nb",
    "fill_price_nb",
    "limit_price_nb",
    "round_to_tick_nb",
    "tick_size_nb",
]

_BUY = 1
_SELL = -1
_FRACTION = int(SizingMode.FRACTION)
_FIXED_AMOUNT = int(SizingMode.FIXED_AMOUNT)
_FIXED_SHARES = int(SizingMode.FIXED_SHARES)
_SLIP_TICKS = int(SlippageMode.TICKS)
_EPS = 1e-9
# Corrections of a computed quantity for rounding; each removes at least one lot.
_CORRECTION_STEPS = 4
_RELATIVE_STEP = 2.0**-40
# Fields of the per-bar tuple (see simulate.py).
_HIGH, _LOW, _ROW = 2, 3, 8


@njit(cache=True, error_model="numpy")
def tick_size_nb(price, cfg, row):  # type: ignore[no-untyped-def]
    """Return the tick size at ``price`` from row ``row`` of the config's tick tables."""
    bounds = cfg.tick_bounds
    sizes = cfg.tick_sizes
    width = bounds.shape[1]
    for i in range(width):
        if price < bounds[row, i]:
            return sizes[row, i]
    return sizes[row, width - 1]


@njit(cache=True, error_model="numpy")
def round_to_tick_nb(price, tick, up):  # type: ignore[no-untyped-def]
    """Round ``price`` onto a grid of ``tick`` (up or down); ``tick <= 0`` leaves it."""
    if tick <= 0.0:
        return price
    steps = price / tick
    nearest = np.round(steps)
    if abs(steps - nearest) < _EPS:
        steps = nearest
    elif up:
        steps = np.ceil(steps)
    else:
        steps = np.floor(steps)
    if tick < 1.0:
        # 18628 / 100 is the double nearest 186.28; 18628 * 0.01 is not.
        return steps / np.round(1.0 / tick)
    return steps * tick


@njit(cache=True, inline="always", error_model="numpy")
def fill_price_nb(base, side, bar, cfg):  # type: ignore[no-untyped-def]
    """Return the fill price of a market order at ``base``: slippage, tick grid, bar range."""
    row = bar[_ROW]
    price = base
    if cfg.slippage > 0.0:
        if cfg.slippage_mode == _SLIP_TICKS:
            price = base + side * cfg.slippage * tick_size_nb(base, cfg, row)
        else:
            price = base * (1.0 + side * cfg.slippage * 1e-4)
    price = round_to_tick_nb(price, tick_size_nb(price, cfg, row), side == _BUY)
    return min(max(price, bar[_LOW]), bar[_HIGH])


@njit(cache=True, error_model="numpy")
def limit_price_nb(base, side, bar, cfg):  # type: ignore[no-untyped-def]
    """Return the fill price of a limit order at ``base``: on the grid, never worse."""
    price = round_to_tick_nb(base, tick_size_nb(base, cfg, bar[_ROW]), side == _SELL)
    return min(max(price, bar[_LOW]), bar[_HIGH])


@njit(cache=True, inline="always", error_model="numpy")
def commission_nb(value, quantity, side, cfg):  # type: ignore[no-untyped-def]
    """Return broker commission plus sell-side regulatory fees for one fill."""
    fee = max(value * cfg.commission_rate, cfg.min_commission)
    if side == _SELL:
        fee += value * cfg.sell_fee_rate
        per_share = quantity * cfg.sell_fee_per_share
        if cfg.sell_fee_per_share_max > 0.0:
            per_share = min(per_share, cfg.sell_fee_per_share_max)
        fee += per_share
    return fee


@njit(cache=True, inline="always", error_model="numpy")
def entry_quantity_nb(price, side, cash, equity, cfg, tax_rate):  # type: ignore[no-untyped-def]
    """Return the whole-lot quantity an entry at ``price`` can afford."""
    lot = cfg.lot_size
    if cfg.sizing_mode == _FIXED_SHARES:
        quantity = np.floor(cfg.sizing_value / lot + _EPS) * lot
        budget = cash if side == _BUY else np.inf
    else:
        if cfg.sizing_mode == _FRACTION:
            budget = equity * cfg.sizing_value
        elif cfg.sizing_mode == _FIXED_AMOUNT:
            budget = cfg.sizing_value
        else:
            budget = equity if side == _SELL else cash
        if side == _BUY:
            budget = min(budget, cash)
        rate = cfg.commission_rate + (tax_rate if side == _SELL else 0.0)
        quantity = np.floor(budget / (price * (1.0 + rate)) / lot) * lot
        if cfg.min_commission > 0.0 and quantity * price * cfg.commission_rate < cfg.min_commission:
            quantity = np.floor((budget - cfg.min_commission) / price / lot) * lot
    if side == _BUY:
        quantity = affordable_quantity_nb(quantity, price, cash, cfg)
    return max(quantity, 0.0)


@njit(cache=True, inline="always", error_model="numpy")
def _fits_nb(quantity, price, cash, cfg):  # type: ignore[no-untyped-def]
    """Return whether buying ``quantity`` at ``price`` (with commission) fits in ``cash``."""
    value = quantity * price
    return value + commission_nb(value, quantity, _BUY, cfg) <= cash + _EPS


@njit(cache=True, error_model="numpy")
def affordable_quantity_nb(quantity, price, cash, cfg):  # type: ignore[no-untyped-def]
    """Return the largest whole-lot quantity up to ``quantity`` that ``cash`` can buy.

    A buy costs ``q * price + max(q * price * rate, min_commission)``, which fits in
    ``cash`` exactly when both ``q * price * (1 + rate)`` and ``q * price + min`` do:
    so the answer is computed, not searched. A few lots of correction absorb the
    rounding of the division; the work is constant, whatever the magnitudes (a loop
    of ``quantity -= lot`` never ends once ``quantity`` is a float above 2^53).
    """
    lot = cfg.lot_size
    if not (quantity > 0.0 and price > 0.0):  # NaN too
        return 0.0
    wanted = quantity
    by_rate = np.floor(cash / (price * (1.0 + cfg.commission_rate)) / lot) * lot
    by_minimum = np.floor((cash - cfg.min_commission) / price / lot) * lot
    quantity = min(wanted, by_rate, by_minimum)
    if quantity + lot <= wanted and _fits_nb(quantity + lot, price, cash, cfg):
        quantity += lot  # the division rounded down across a lot boundary
    for _ in range(_CORRECTION_STEPS):
        if quantity <= 0.0 or _fits_nb(quantity, price, cash, cfg):
            return max(quantity, 0.0)
        # One lot less, or a relative step where one lot is below the float's resolution.
        quantity = np.floor(quantity / lot * (1.0 - _RELATIVE_STEP)) * lot
    return 0.0
