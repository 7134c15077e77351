"""target_weights and long_state on small calendars computed by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from allocation_builders import aligned_from_closes
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.targets import long_state, target_weights
from privatetrade.errors import InputError

DAYS = [
    "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
    "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12",
]  # fmt: skip
CLOSES: dict[str, list[float | None]] = {
    "A": [100, 102, 104, 103, 105, 110, 108, 112, 115],
    "B": [50, 50, 51, 52, 50, 49, 50, 52, 51],
    "C": [None, None, 20, 21, 22, 23, None, 25, 26],  # starts at 2, no bar at 6
    "D": [10, 11, 12, 13, None, None, None, None, None],  # delisted after 3
}
CALENDAR = aligned_from_closes(DAYS, CLOSES)


def weights(rule: PortfolioRule, at: list[int], long: Any = None) -> np.ndarray:
    result = target_weights(CALENDAR, rule, np.array(at, dtype=np.int64), long)
    assert result.shape == (len(at), 4)
    assert (result >= 0.0).all()
    assert (result.sum(axis=1) <= 1.0 + 1e-12).all()
    return result


def rule(**fields: Any) -> PortfolioRule:
    return PortfolioRule(**fields)


def test_equal_weight_over_the_symbols_with_a_bar_at_the_signal_bar() -> None:
    third = 1 / 3
    np.testing.assert_allclose(
        weights(rule(), [3, 5, 6, 7]),
        [[0.25] * 4, [third, third, third, 0], [0.5, 0.5, 0, 0], [third, third, third, 0]],
        rtol=0,
        atol=1e-15,
    )


def test_fixed_weights_keep_a_missing_symbols_share_in_cash() -> None:
    fixed = rule(rule="fixed_weights", weights={"A": 0.5, "C": 0.3, "Z": 0.2})
    assert weights(fixed, [5, 6]).tolist() == [[0.5, 0.0, 0.3, 0.0], [0.5, 0.0, 0.0, 0.0]]


def test_fixed_weights_summing_a_rounding_above_one_are_scaled_to_one() -> None:
    ten = {f"S{i}": 0.1 for i in range(10)}
    cal = aligned_from_closes(DAYS[:2], {s: [1.0, 1.0] for s in ten})
    row = target_weights(cal, rule(rule="fixed_weights", weights=ten), np.array([1]))[0]
    assert row.sum() <= 1.0 + 1e-15
    assert row.min() > 0.0999999


def test_top_n_momentum_by_lookback_return() -> None:
    # lookback 2: momentum at s is c[s] / c[s-2] - 1 (forward-filled closes).
    top2 = rule(rule="top_n_momentum", top=2, lookback=2)
    assert weights(top2, [3, 5, 6, 7, 8]).tolist() == [
        [0.0, 0.5, 0.0, 0.5],  # s=3: D 13/11 > B 52/50 > A 103/102; C has no bar at 1
        [0.5, 0.0, 0.5, 0.0],  # s=5: C 23/21 > A 110/103 > B 49/52; D delisted
        [0.5, 0.5, 0.0, 0.0],  # s=6: C has no bar at 6; A 108/105, B 50/50
        [0.0, 0.5, 0.5, 0.0],  # s=7: C 25/23 > B 52/49 > A 112/110
        [0.5, 0.0, 0.5, 0.0],  # s=8: C 26/23 (its close of bar 5 carried to 6) > A 115/108
    ]


def test_a_symbol_without_lookback_history_is_not_eligible() -> None:
    top4 = rule(rule="top_n_momentum", top=4, lookback=3)
    # s=4: C's first bar is 2 > 4-3: no history; D has no bar at 4.
    assert weights(top4, [4]).tolist() == [[0.5, 0.5, 0.0, 0.0]]
    assert weights(top4, [2]).tolist() == [[0.0, 0.0, 0.0, 0.0]]  # nobody has 3 bars before 2


def volatility(symbol: str, s: int, lookback: int) -> float:
    """Sample std (ddof=1) of the simple returns of bars s-lookback+1..s, forward-filled."""
    closes = np.array([np.nan if v is None else v for v in CLOSES[symbol]], dtype=float)
    for t in range(1, closes.size):
        if np.isnan(closes[t]):
            closes[t] = closes[t - 1]
    window = closes[s - lookback : s + 1]
    return float(np.std(window[1:] / window[:-1] - 1.0, ddof=1))


def test_inverse_volatility_weights_are_one_over_the_return_std() -> None:
    inverse = np.array([1 / volatility(s, 7, 3) for s in "ABC"])
    expected = np.append(inverse / inverse.sum(), 0.0)
    np.testing.assert_allclose(
        weights(rule(rule="inverse_volatility", lookback=3), [7])[0], expected, rtol=1e-12
    )


def test_top_n_low_volatility_picks_the_calmest() -> None:
    vols = {s: volatility(s, 7, 3) for s in "ABC"}
    calmest = min(vols, key=vols.__getitem__)
    row = weights(rule(rule="top_n_low_volatility", top=1, lookback=3), [7])[0]
    assert row.tolist() == [1.0 if s == calmest else 0.0 for s in "ABCD"]


def test_top_n_weighted_by_inverse_volatility() -> None:
    # lookback 3 at s=7: momentum A 112/105, B 52/50, C 25/22: C and A are chosen.
    chosen = rule(rule="top_n_momentum", top=2, lookback=3, weighting="inverse_volatility")
    inverse = {s: 1 / volatility(s, 7, 3) for s in "AC"}
    total = sum(inverse.values())
    np.testing.assert_allclose(
        weights(chosen, [7])[0], [inverse["A"] / total, 0, inverse["C"] / total, 0], rtol=1e-12
    )


def test_absolute_momentum_leaves_the_losers_share_in_cash() -> None:
    # s=5, lookback 2: A +6.8%, B -5.8%, C +9.5% (D delisted): B's third stays cash.
    third = 1 / 3
    dual = rule(absolute_momentum=True, lookback=2)
    np.testing.assert_allclose(weights(dual, [5]), [[third, 0, third, 0]], atol=1e-15)
    strict = rule(absolute_momentum=True, lookback=2, momentum_threshold=0.08)
    np.testing.assert_allclose(weights(strict, [5]), [[0, 0, third, 0]], atol=1e-15)
    top = rule(rule="top_n_momentum", top=2, lookback=2, absolute_momentum=True,
               momentum_threshold=0.07)  # fmt: skip
    assert weights(top, [5]).tolist() == [[0.0, 0.0, 0.5, 0.0]]  # A +6.8% <= 7%


def test_top_n_signal_ranks_the_long_symbols_by_momentum() -> None:
    long = np.zeros((9, 4), dtype=bool)
    long[7] = [False, True, True, False]
    one = rule(rule="top_n_signal", top=1, lookback=2, strategy="sma_cross")
    assert weights(one, [7], long).tolist() == [[0.0, 0.0, 1.0, 0.0]]
    three = rule(rule="top_n_signal", top=3, lookback=2, strategy="sma_cross")
    assert weights(three, [7], long).tolist() == [[0.0, 0.5, 0.5, 0.0]]
    assert weights(three, [6], long).tolist() == [[0.0, 0.0, 0.0, 0.0]]  # nobody long at 6
    with pytest.raises(InputError) as caught:
        target_weights(CALENDAR, three, np.array([7]))
    assert caught.value.field == "long"


TIES = aligned_from_closes(
    DAYS[:3],
    {
        "X": [10.0, 11.0, 12.0],  # +20%
        "Y": [10.0, 10.5, 11.0],  # +10%
        "Z": [20.0, 21.0, 22.0],  # +10%, tied with Y
        "F": [5.0, 5.0, 5.0],  # flat: zero volatility
    },
)


@pytest.mark.parametrize(
    ("top", "expected"),
    [(1, [1.0, 0.0, 0.0, 0.0]), (2, [0.5, 0.5, 0.0, 0.0]), (3, [1 / 3, 1 / 3, 1 / 3, 0.0])],
)
def test_ties_go_to_the_symbol_earlier_in_the_universe(top: int, expected: list[float]) -> None:
    row = target_weights(TIES, rule(rule="top_n_momentum", top=top, lookback=2), np.array([2]))
    np.testing.assert_allclose(row[0], expected, atol=1e-15)


def test_a_flat_symbol_has_no_volatility_to_rank_or_weight() -> None:
    at = np.array([2])
    low = target_weights(TIES, rule(rule="top_n_low_volatility", top=1, lookback=2), at)
    assert low[0, 3] == 0.0
    assert low[0].sum() == 1.0
    inverse = target_weights(TIES, rule(rule="inverse_volatility", lookback=2), at)
    assert inverse[0, 3] == 0.0
    assert inverse[0].sum() == pytest.approx(1.0, abs=1e-15)
    equal = target_weights(TIES, rule(), at)
    assert equal[0].tolist() == [0.25] * 4  # equal weight reads no window


def test_top_larger_than_the_universe_holds_every_eligible_symbol() -> None:
    wide = rule(rule="top_n_momentum", top=500, lookback=2)
    assert weights(wide, [7]).tolist() == [[1 / 3, 1 / 3, 1 / 3, 0.0]]


def test_no_signal_bars_give_no_rows_and_bad_bars_are_refused() -> None:
    assert target_weights(CALENDAR, rule(), np.array([], dtype=np.int64)).shape == (0, 4)
    for bad in ([9], [-1]):
        with pytest.raises(InputError) as caught:
            target_weights(CALENDAR, rule(), np.array(bad))
        assert caught.value.field == "bars_idx"
    with pytest.raises(InputError) as caught:
        target_weights(CALENDAR, rule(rule="signals", strategy="sma_cross"), np.array([1]))
    assert caught.value.field == "rule"


def test_long_state_follows_entries_and_exits() -> None:
    entries = np.array([[1, 0], [0, 1], [1, 1], [0, 1], [1, 0], [0, 0]], dtype=bool)
    exits = np.array([[0, 1], [0, 0], [1, 1], [1, 1], [1, 0], [1, 1]], dtype=bool)
    state = long_state(entries, exits)
    # Column 0: long, long, both flip to flat, exit keeps flat, both flip to long, exit.
    assert state[:, 0].tolist() == [True, True, False, False, True, False]
    # Column 1: exit while flat, entry, both flip to flat, both flip to long, -, exit.
    assert state[:, 1].tolist() == [False, True, False, True, True, False]
    with pytest.raises(InputError):
        long_state(entries, exits[:3])
