"""Entry sizing takes constant work per fill, whatever the magnitudes.

The affordable quantity of a buy used to be searched one lot at a time
(``quantity -= lot``): linear in the share count, and endless once the count is a
float above 2^53 (subtracting a lot no longer changes it). It is computed now; these
tests pin its result -- the largest whole-lot quantity that fits -- over magnitudes
up to 10^300, and run the kernel with share counts at and far beyond the limit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_bars, signals_at
from privatetrade.engine.costs import CostModel, cost_arrays
from privatetrade.engine.kernels.fills import affordable_quantity_nb
from privatetrade.engine.kernels.simulate import simulate_window_nb
from privatetrade.engine.limits import MAX_CASH, MAX_SHARES
from privatetrade.engine.records import FILL_DTYPE, TRADE_DTYPE, Side, new_state
from privatetrade.engine.settings import SimulationSettings, Sizing
from privatetrade.engine.simulation import build_config, signal_arrays, simulate

EXACT = 2.0**50  # below this share count a float counts every share exactly


def config(
    commission_rate: float = 0.0, min_commission: float = 0.0, lot_size: int = 1
) -> npt.NDArray[np.void]:
    costs = CostModel(
        commission_rate=commission_rate, min_commission=min_commission, lot_size=lot_size
    )
    return build_config(SimulationSettings(costs=costs))


def buy_fits(quantity: float, price: float, cash: float, rate: float, minimum: float) -> bool:
    value = quantity * price
    return value + max(value * rate, minimum) <= cash + 1e-9


@settings(max_examples=400, deadline=None)
@given(
    wanted=st.one_of(
        st.integers(1, 10**12).map(float),
        st.sampled_from([1e15, 2.0**53, 2.0**53 + 2.0, 1e20, 1e300, float("inf")]),
    ),
    price=st.floats(1e-4, 1e6),
    cash=st.floats(0.0, MAX_CASH),
    rate=st.sampled_from([0.0, 0.00015, 0.001, 0.05]),
    minimum=st.sampled_from([0.0, 0.01, 1.0, 1_000.0, 1e7]),
    lot=st.sampled_from([1, 10, 100, 1_000, 100_000]),
)
def test_affordable_quantity_is_the_largest_whole_lot_that_fits(
    wanted: float, price: float, cash: float, rate: float, minimum: float, lot: int
) -> None:
    cfg = config(rate, minimum, lot)[0]
    wanted = wanted if np.isinf(wanted) else np.floor(wanted / lot) * lot
    quantity = float(affordable_quantity_nb(wanted, price, cash, cfg))
    assert 0.0 <= quantity <= wanted
    assert quantity == 0.0 or buy_fits(quantity, price, cash, rate, minimum)
    if quantity < EXACT:
        assert quantity % lot == 0.0
        more = quantity + lot
        assert more > wanted or not buy_fits(more, price, cash, rate, minimum)


def test_absurd_inputs_buy_nothing() -> None:
    cfg = config(0.001, 1.0)[0]
    for wanted, price, cash in [
        (float("nan"), 10.0, 1e6),
        (100.0, float("nan"), 1e6),
        (100.0, 10.0, float("nan")),
        (100.0, 0.0, 1e6),
        (-5.0, 10.0, 1e6),
        (100.0, 10.0, -1e6),
    ]:
        assert affordable_quantity_nb(wanted, price, cash, cfg) == 0.0


def run_shares(shares: float, price: float, cash: float) -> float:
    """Buy ``shares`` at the second bar's open; return the quantity filled."""
    bars = make_bars([price] * 4)
    settings_ = SimulationSettings(
        initial_cash=cash, sizing=Sizing(mode="shares", value=shares), costs=CostModel.krx()
    )
    output = simulate(bars, signals_at(4, entries=[0]), settings_)
    assert int(output.fills[0]["side"]) == int(Side.BUY)
    return float(output.fills[0]["quantity"])


def test_the_share_limit_buys_in_one_step() -> None:
    rate = CostModel.krx().commission_rate
    # Cash for 10^13 shares at 100: the full 10^12 are bought.
    assert run_shares(MAX_SHARES, 100.0, MAX_CASH) == MAX_SHARES
    # Cash for fewer: exactly what the cash affords, commission included.
    expected = np.floor(MAX_CASH / (10_000.0 * (1.0 + rate)))
    assert run_shares(MAX_SHARES, 10_000.0, MAX_CASH) == expected


def test_the_kernel_guards_itself_beyond_the_settings_limits() -> None:
    """A config written past validation (10^300 shares) still runs in one step per bar."""
    bars = make_bars([50.0] * 6)
    cfg = build_config(SimulationSettings(initial_cash=1e6, costs=CostModel.us()))
    cfg[0]["sizing_mode"] = build_config(
        SimulationSettings(sizing=Sizing(mode="shares", value=1.0))
    )[0]["sizing_mode"]
    cfg[0]["sizing_value"] = 1e300
    data = bars.bars
    n = len(bars)
    state = new_state(1e6)
    fills = np.empty(8, dtype=FILL_DTYPE)
    trades = np.empty(8, dtype=TRADE_DTYPE)
    equity = np.empty(n)
    simulate_window_nb(
        0,
        n,
        (data.open, data.high, data.low, data.close),
        signal_arrays(signals_at(n, entries=[0], exits=[3]), n),
        cost_arrays(CostModel.us(), bars.local_time_ns, data.high, data.low, data.close).as_tuple(),
        cfg,
        state,
        fills,
        trades,
        np.empty(n),
        np.empty(n),
        equity,
    )
    assert int(state[0]["n_fills"]) == 2
    assert float(fills[0]["quantity"]) == 20_000.0  # 1,000,000 / 50
    assert float(fills[1]["quantity"]) == 20_000.0
    assert equity[-1] == 1e6
