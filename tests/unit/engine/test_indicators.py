"""Indicator kernels against plain-Python and pandas computations."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privatetrade.engine.kernels.indicators import (
    crossed_above_nb,
    crossed_below_nb,
    ema_nb,
    rolling_max_nb,
    rolling_min_nb,
    rolling_std_nb,
    rsi_nb,
    sma_nb,
)

FloatArray = npt.NDArray[np.float64]
NAN = math.nan

prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
price_lists = st.lists(prices, min_size=0, max_size=120)
windows = st.integers(min_value=1, max_value=30)


def arr(values: Sequence[float]) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def assert_same(actual: FloatArray, expected: FloatArray, rtol: float = 1e-9) -> None:
    """NaN where expected is NaN, close elsewhere."""
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    mask = ~np.isnan(expected)
    np.testing.assert_allclose(actual[mask], expected[mask], rtol=rtol, atol=0.0)


# ----------------------------------------------------------------------- references


def sma_ref(values: Sequence[float], n: int) -> FloatArray:
    out = [NAN] * len(values)
    for t in range(n - 1, len(values)):
        out[t] = sum(values[t - n + 1 : t + 1]) / n
    return arr(out)


def ema_ref(values: Sequence[float], n: int) -> FloatArray:
    out = [NAN] * len(values)
    if len(values) < n:
        return arr(out)
    alpha = 2.0 / (n + 1)
    out[n - 1] = sum(values[:n]) / n
    for t in range(n, len(values)):
        out[t] = alpha * values[t] + (1 - alpha) * out[t - 1]
    return arr(out)


def rsi_ref(values: Sequence[float], n: int) -> FloatArray:
    out = [NAN] * len(values)
    if len(values) <= n:
        return arr(out)
    changes = [values[t] - values[t - 1] for t in range(1, len(values))]
    gain = sum(max(c, 0.0) for c in changes[:n]) / n
    loss = sum(max(-c, 0.0) for c in changes[:n]) / n

    def rsi(g: float, lo: float) -> float:
        return 50.0 if g + lo == 0 else 100.0 - 100.0 / (1.0 + g / lo) if lo else 100.0

    out[n] = rsi(gain, loss)
    for t in range(n + 1, len(values)):
        c = changes[t - 1]
        gain = (gain * (n - 1) + max(c, 0.0)) / n
        loss = (loss * (n - 1) + max(-c, 0.0)) / n
        out[t] = rsi(gain, loss)
    return arr(out)


def std_ref(values: Sequence[float], n: int, ddof: int) -> FloatArray:
    out = np.full(len(values), NAN)
    for t in range(n - 1, len(values)):
        out[t] = np.std(np.asarray(values[t - n + 1 : t + 1]), ddof=ddof)
    return out


def extreme_ref(values: Sequence[float], n: int, exclude: bool, pick: Callable) -> FloatArray:
    out = np.full(len(values), NAN)
    for t in range(len(values)):
        stop = t if exclude else t + 1
        start = stop - n
        if start >= 0:
            out[t] = pick(np.asarray(values[start:stop]))  # np.max/np.min propagate NaN
    return out


def cross_ref(a: Sequence[float], b: Sequence[float], above: bool) -> npt.NDArray[np.bool_]:
    out = np.zeros(len(a), dtype=bool)
    for t in range(1, len(a)):
        if any(math.isnan(x) for x in (a[t], b[t], a[t - 1], b[t - 1])):
            continue
        if above:
            out[t] = a[t] > b[t] and a[t - 1] <= b[t - 1]
        else:
            out[t] = a[t] < b[t] and a[t - 1] >= b[t - 1]
    return out


# ----------------------------------------------------------------------- SMA


def test_sma_hand_case_and_warmup() -> None:
    assert_same(sma_nb(arr([1, 2, 3, 4, 5]), 3), arr([NAN, NAN, 2, 3, 4]))


def test_sma_window_one_is_identity_and_long_window_all_nan() -> None:
    values = arr([3.5, 1.25, 7.0])
    np.testing.assert_array_equal(sma_nb(values, 1), values)
    assert np.isnan(sma_nb(values, 4)).all()
    assert sma_nb(arr([]), 3).shape == (0,)


def test_sma_nan_in_window_gives_nan_then_recovers() -> None:
    values = arr([1, 2, NAN, 4, 5, 6, 7])
    assert_same(sma_nb(values, 2), arr([NAN, 1.5, NAN, NAN, 4.5, 5.5, 6.5]))


def test_sma_leading_nans_like_another_indicator() -> None:
    values = arr([NAN, NAN, 2, 4, 6])
    assert_same(sma_nb(values, 2), arr([NAN, NAN, NAN, 3, 5]))


@given(price_lists, windows)
@settings(max_examples=200, deadline=None)
def test_sma_matches_plain_loop(values: list[float], n: int) -> None:
    assert_same(sma_nb(arr(values), n), sma_ref(values, n), rtol=1e-9)


@given(
    st.lists(
        st.one_of(prices, st.just(NAN)),
        max_size=80,
    ),
    windows,
)
@settings(max_examples=200, deadline=None)
def test_sma_with_nans_matches_plain_loop(values: list[float], n: int) -> None:
    assert_same(sma_nb(arr(values), n), sma_ref(values, n), rtol=1e-9)


@given(st.lists(st.integers(1, 4), min_size=2, max_size=120), windows, windows)
@settings(max_examples=300, deadline=None)
def test_sma_crosses_on_integer_prices_match_plain_loop_exactly(
    values: list[int], fast: int, slow: int
) -> None:
    # Integer prices make many exact ties between the averages.
    floats = [float(v) for v in values]
    a, b = sma_nb(arr(floats), fast), sma_nb(arr(floats), slow)
    np.testing.assert_array_equal(a, sma_ref(floats, fast))
    ref_a, ref_b = sma_ref(floats, fast), sma_ref(floats, slow)
    np.testing.assert_array_equal(crossed_above_nb(a, b), cross_ref(ref_a, ref_b, True))
    np.testing.assert_array_equal(crossed_below_nb(a, b), cross_ref(ref_a, ref_b, False))


def test_sma_does_not_drift_over_a_long_series() -> None:
    rng = np.random.default_rng(7)
    values = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300_000))), 2)
    out = sma_nb(values, 30)
    for t in (29, 1_000, 150_000, 299_999):
        expected = math.fsum(values[t - 29 : t + 1]) / 30
        assert out[t] == pytest.approx(expected, rel=1e-15)


def test_sma_constant_cent_prices_are_exact() -> None:
    values = np.full(5_000, 123.45)
    values[:2_500] = np.linspace(50, 150, 2_500)
    assert (sma_nb(values, 10)[-2_000:] == 123.45).all()
    assert (sma_nb(values, 30)[-2_000:] == 123.45).all()


# ----------------------------------------------------------------------- EMA


def test_ema_hand_case_seeded_with_sma() -> None:
    # alpha = 2 / (3 + 1) = 0.5; seed = mean(1, 2, 3) = 2
    assert_same(ema_nb(arr([1, 2, 3, 4, 5]), 3), arr([NAN, NAN, 2, 3, 4]))


def test_ema_skips_leading_nans() -> None:
    # alpha = 2/3; seed at index 3 = mean(1, 2) = 1.5; then 2/3 * 3 + 1/3 * 1.5 = 2.5
    assert_same(ema_nb(arr([NAN, NAN, 1, 2, 3]), 2), arr([NAN, NAN, NAN, 1.5, 2.5]))


def test_ema_too_short_is_all_nan() -> None:
    assert np.isnan(ema_nb(arr([1, 2]), 3)).all()


@given(price_lists, windows)
@settings(max_examples=200, deadline=None)
def test_ema_matches_plain_loop(values: list[float], n: int) -> None:
    assert_same(ema_nb(arr(values), n), ema_ref(values, n), rtol=1e-12)


def test_ema_matches_pandas_adjust_false_after_seed() -> None:
    rng = np.random.default_rng(1)
    values = 50 + np.cumsum(rng.normal(0, 1, 500))
    n = 12
    seeded = pd.Series(values.copy())  # pandas 2 shares memory with the array
    seeded.iloc[: n - 1] = np.nan
    seeded.iloc[n - 1] = values[:n].mean()
    expected = seeded.ewm(span=n, adjust=False).mean().to_numpy()
    assert_same(ema_nb(values, n), expected, rtol=1e-12)


# ----------------------------------------------------------------------- RSI


def test_rsi_hand_case() -> None:
    # changes +1, -0.5, +1; first averages: gain 0.5, loss 0.25 -> 66.67
    # then gain (0.5 + 1) / 2 = 0.75, loss 0.25 / 2 = 0.125 -> 100 * 0.75 / 0.875
    out = rsi_nb(arr([1, 2, 1.5, 2.5]), 2)
    assert np.isnan(out[:2]).all()
    assert out[2] == pytest.approx(200 / 3)
    assert out[3] == pytest.approx(600 / 7)


def test_rsi_extremes_and_flat() -> None:
    assert rsi_nb(arr([1, 2, 3, 4, 5]), 2)[-1] == 100.0
    assert rsi_nb(arr([5, 4, 3, 2, 1]), 2)[-1] == 0.0
    assert rsi_nb(arr([3, 3, 3, 3]), 2)[-1] == 50.0


def test_rsi_needs_period_changes() -> None:
    assert np.isnan(rsi_nb(arr([1, 2, 3]), 3)).all()
    assert not np.isnan(rsi_nb(arr([1, 2, 3, 4]), 3)[3])


@given(st.lists(prices, max_size=120), st.integers(1, 20))
@settings(max_examples=200, deadline=None)
def test_rsi_matches_wilder_reference(values: list[float], n: int) -> None:
    out = rsi_nb(arr(values), n)
    expected = rsi_ref(values, n)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    mask = ~np.isnan(expected)
    np.testing.assert_allclose(out[mask], expected[mask], rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------- standard deviation


def test_rolling_std_hand_case_population_and_sample() -> None:
    assert_same(rolling_std_nb(arr([1, 2, 3, 5]), 2, 0), arr([NAN, 0.5, 0.5, 1.0]))
    assert_same(
        rolling_std_nb(arr([1, 2, 3, 5]), 2, 1),
        arr([NAN, math.sqrt(0.5), math.sqrt(0.5), math.sqrt(2.0)]),
    )


@pytest.mark.parametrize("ddof", [0, 1])
def test_rolling_std_matches_pandas(ddof: int) -> None:
    rng = np.random.default_rng(3)
    values = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 3_000)))
    expected = pd.Series(values).rolling(20).std(ddof=ddof).to_numpy()
    assert_same(rolling_std_nb(values, 20, ddof), expected, rtol=1e-9)


def test_rolling_std_accurate_at_high_price_level() -> None:
    rng = np.random.default_rng(4)
    values = 1e7 + np.round(rng.normal(0, 5, 2_000), 0)
    assert_same(rolling_std_nb(values, 20, 0), std_ref(values.tolist(), 20, 0), rtol=1e-9)


@given(
    st.lists(st.one_of(prices, st.sampled_from([NAN, 1e7, 0.01, 0.02])), max_size=80),
    st.integers(2, 15),
)
@settings(max_examples=300, deadline=None)
def test_rolling_std_matches_two_pass_reference(values: list[float], n: int) -> None:
    # Level jumps (1e7 next to 0.01) must not leave cancellation errors behind.
    out = rolling_std_nb(arr(values), n, 0)
    expected = std_ref(values, n, 0)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    for t in np.flatnonzero(~np.isnan(expected)):
        window_scale = max(abs(v) for v in values[t - n + 1 : t + 1])
        assert abs(out[t] - expected[t]) <= 1e-9 * expected[t] + 1e-12 * window_scale


def test_rolling_std_rejects_window_not_above_ddof() -> None:
    with pytest.raises(ValueError, match="ddof"):
        rolling_std_nb(arr([1, 2, 3]), 1, 1)


# ----------------------------------------------------------------------- max / min


def test_rolling_max_excluding_current_bar() -> None:
    values = arr([1, 3, 2, 5, 4])
    assert_same(rolling_max_nb(values, 2, True), arr([NAN, NAN, 3, 3, 5]))
    assert_same(rolling_max_nb(values, 2, False), arr([NAN, 3, 3, 5, 5]))


def test_rolling_min_excluding_current_bar() -> None:
    values = arr([4, 2, 3, 1, 5])
    assert_same(rolling_min_nb(values, 2, True), arr([NAN, NAN, 2, 2, 1]))
    assert_same(rolling_min_nb(values, 2, False), arr([NAN, 2, 2, 1, 1]))


@given(
    st.lists(st.one_of(prices, st.just(NAN)), max_size=90),
    st.integers(1, 25),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_rolling_extremes_match_plain_loop(values: list[float], n: int, exclude: bool) -> None:
    a = arr(values)
    assert_same(rolling_max_nb(a, n, exclude), extreme_ref(values, n, exclude, np.max))
    assert_same(rolling_min_nb(a, n, exclude), extreme_ref(values, n, exclude, np.min))


def test_rolling_max_matches_pandas_on_long_series() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0, 1, 10_007)
    expected = pd.Series(values).rolling(20).max().shift(1).to_numpy()
    assert_same(rolling_max_nb(values, 20, True), expected)


# ----------------------------------------------------------------------- crosses


def test_cross_above_after_tie_counts() -> None:
    a = arr([1, 2, 2, 3])
    b = arr([2, 2, 2, 2])
    np.testing.assert_array_equal(crossed_above_nb(a, b), [False, False, False, True])
    np.testing.assert_array_equal(crossed_below_nb(b, a), [False, False, False, True])


def test_cross_touch_from_below_is_no_cross_above_but_a_cross_below() -> None:
    # Rising to a tie and falling back never has a > b; leaving the tie downwards
    # is a cross below by the tie rule (a[t-1] >= b[t-1]).
    a = arr([1, 2, 1])
    b = arr([2, 2, 2])
    assert not crossed_above_nb(a, b).any()
    np.testing.assert_array_equal(crossed_below_nb(a, b), [False, False, True])


def test_cross_below_hand_case() -> None:
    a = arr([3, 1, 1, 0])
    b = arr([2, 2, 1, 1])
    np.testing.assert_array_equal(crossed_below_nb(a, b), [False, True, False, True])


def test_cross_needs_both_values_on_both_bars() -> None:
    a = arr([0, NAN, 5, 0, 5])
    b = arr([1, 1, 1, NAN, 1])
    # t=2: a[t-1] is NaN; t=4: b[t-1] is NaN
    assert not crossed_above_nb(a, b).any()
    assert not crossed_below_nb(a, b).any()


def test_no_cross_on_first_bar_or_empty() -> None:
    assert not crossed_above_nb(arr([5]), arr([1])).any()
    assert crossed_above_nb(arr([]), arr([])).shape == (0,)


@given(
    st.lists(
        st.tuples(st.one_of(st.integers(0, 3).map(float), st.just(NAN)), st.integers(0, 3)),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_crosses_match_plain_loop(pairs: list[tuple[float, int]]) -> None:
    a = [p[0] for p in pairs]
    b = [float(p[1]) for p in pairs]
    np.testing.assert_array_equal(crossed_above_nb(arr(a), arr(b)), cross_ref(a, b, True))
    np.testing.assert_array_equal(crossed_below_nb(arr(a), arr(b)), cross_ref(a, b, False))


# ----------------------------------------------------------------------- contract


@pytest.mark.parametrize(
    "kernel",
    [
        lambda v: sma_nb(v, 0),
        lambda v: ema_nb(v, 0),
        lambda v: rsi_nb(v, 0),
        lambda v: rolling_max_nb(v, 0, True),
        lambda v: rolling_min_nb(v, 0, False),
    ],
)
def test_kernels_reject_window_below_one(kernel: Callable[[FloatArray], FloatArray]) -> None:
    with pytest.raises(ValueError, match="window"):
        kernel(arr([1, 2, 3]))


@pytest.mark.parametrize(
    "kernel",
    [
        lambda v: sma_nb(v, 5),
        lambda v: ema_nb(v, 5),
        lambda v: rsi_nb(v, 5),
        lambda v: rolling_std_nb(v, 5, 0),
        lambda v: rolling_max_nb(v, 5, True),
        lambda v: rolling_min_nb(v, 5, False),
    ],
)
def test_kernels_are_causal(kernel: Callable[[FloatArray], FloatArray]) -> None:
    rng = np.random.default_rng(6)
    values = 100 + np.cumsum(rng.normal(0, 1, 300))
    full = kernel(values)
    for cut in (1, 4, 5, 6, 77, 299):
        np.testing.assert_array_equal(kernel(values[:cut]), full[:cut])


def test_sma_cross_on_a_million_bars_matches_numpy() -> None:
    # Speed is measured by benchmarks/bench_engine.py; here the long run must be right.
    rng = np.random.default_rng(8)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1_000_000)))
    fast, slow = sma_nb(close, 10), sma_nb(close, 30)
    cumulative = np.concatenate(([0.0], np.cumsum(close)))
    for window, values in ((10, fast), (30, slow)):
        expected = (cumulative[window:] - cumulative[:-window]) / window
        np.testing.assert_allclose(values[window - 1 :], expected, rtol=1e-9)
        assert np.isnan(values[: window - 1]).all()
    crossed = crossed_above_nb(fast, slow)
    above = fast > slow
    expected_cross = np.zeros_like(above)
    expected_cross[1:] = above[1:] & ~above[:-1]
    valid = slice(30, None)
    np.testing.assert_array_equal(crossed[valid], expected_cross[valid])
