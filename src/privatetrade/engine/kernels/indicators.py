"""Technical indicators as numba kernels: O(n), float64 arrays in, arrays out.

Every kernel takes the input series oldest first and returns an array of the same
length. Values that cannot be computed yet (the warm-up) are NaN, so ``out[t]``
only ever depends on ``values[: t + 1]``: the kernels are causal.

NaN policy: a rolling window (``sma_nb``, ``rolling_std_nb``, ``rolling_max_nb``,
``rolling_min_nb``) that contains a NaN yields NaN, and the output recovers once
the NaN has left the window. The recursive ``ema_nb`` skips leading NaNs (so it
can smooth another indicator) but propagates a NaN met after its seed.

Example:
    >>> import numpy as np
    >>> close = np.array([1.0, 2.0, 3.0, 4.0])
    >>> sma_nb(close, 2)
    array([nan, 1.5, 2.5, 3.5])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "atr_nb",
    "crossed_above_nb",
    "crossed_below_nb",
    "ema_nb",
    "held_for_nb",
    "held_within_nb",
    "roc_nb",
    "rolling_max_nb",
    "rolling_min_nb",
    "rolling_std_nb",
    "rsi_nb",
    "shift_nb",
    "sma_nb",
    "wma_nb",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_F = TypeVar("_F", bound=Callable[..., Any])


def _njit(func: _F) -> _F:
    """Compile ``func`` with ``numba.njit(cache=True)``, keeping its signature for mypy."""
    return cast(_F, numba.njit(cache=True)(func))


def _njit_numpy_errors(func: _F) -> _F:
    """Compile ``func`` like :func:`_njit`, dividing by zero as numpy does (inf / NaN)."""
    return cast(_F, numba.njit(cache=True, error_model="numpy")(func))


@_njit
def _neumaier_add(total: float, error: float, value: float) -> tuple[float, float]:
    """Return ``total + value`` rounded and the running error with its rounding error added."""
    result = total + value
    if abs(total) >= abs(value):
        error += (total - result) + value
    else:
        error += (value - result) + total
    return result, error


@_njit
def _two_sum(a: float, b: float) -> tuple[float, float]:
    """Return ``a + b`` rounded and its exact rounding error (Knuth's TwoSum)."""
    result = a + b
    shift = result - a
    return result, (a - (result - shift)) + (b - shift)


@_njit
def _compensated_add(total: float, error: float, value: float) -> tuple[float, float]:
    """Branch-free compensated ``total + value`` (TwoSum, errors accumulated apart)."""
    total, rounding = _two_sum(total, value)
    return total, error + rounding


@_njit
def sma_nb(values: FloatArray, window: int) -> FloatArray:
    """Return the simple moving average over the last ``window`` values.

    The running sum is compensated (TwoSum of each ``new - old`` update, Neumaier
    summation of the updates), so ``out[t]`` agrees with
    ``sum(values[t - window + 1 : t + 1]) / window`` to an ulp or two even after
    millions of bars, and exactly for integer prices (ties stay ties).

    Args:
        values: Input series.
        window: Number of values averaged, >= 1.

    Returns:
        The averages; NaN for ``t < window - 1`` and wherever the window holds a NaN.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    out, complete = _sma_finite(values, window)
    return out if complete else _sma_nan_aware(values, window)


@_njit
def _sma_finite(values: FloatArray, window: int) -> tuple[FloatArray, bool]:
    """Return the SMA of a NaN-free series, or ``(partial, False)`` on meeting a NaN."""
    n = values.shape[0]
    out = np.empty(n)
    total = 0.0
    error = 0.0
    head = min(window, n)
    for t in range(head):
        if np.isnan(values[t]):
            return out, False
        total, error = _neumaier_add(total, error, values[t])
        out[t] = np.nan
    if head == window:
        out[window - 1] = (total + error) / window
    for t in range(window, n):
        delta, rounding = _two_sum(values[t], -values[t - window])
        if np.isnan(delta):
            return out, False
        total, error = _neumaier_add(total, error + rounding, delta)
        out[t] = (total + error) / window
    return out, True


@_njit
def _sma_nan_aware(values: FloatArray, window: int) -> FloatArray:
    """Return the SMA of a series with NaNs (slower path of :func:`sma_nb`)."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    error = 0.0
    nans = 0
    for t in range(n):
        new = values[t]
        old = values[t - window] if t >= window else 0.0
        if np.isnan(new):
            nans += 1
            new = 0.0
        if np.isnan(old):
            nans -= 1
            old = 0.0
        delta, rounding = _two_sum(new, -old)
        total, error = _neumaier_add(total, error + rounding, delta)
        if t >= window - 1 and nans == 0:
            out[t] = (total + error) / window
    return out


@_njit
def ema_nb(values: FloatArray, window: int) -> FloatArray:
    """Return the exponential moving average with ``alpha = 2 / (window + 1)``.

    The average is seeded with the simple mean of the first ``window`` values
    (counted from the first non-NaN value), as TA-Lib does, then
    ``out[t] = alpha * values[t] + (1 - alpha) * out[t - 1]``.

    Args:
        values: Input series; leading NaNs are skipped.
        window: Span of the average, >= 1.

    Returns:
        The averages; NaN before the seed, i.e. for ``t < first_valid + window - 1``.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = values.shape[0]
    out = np.full(n, np.nan)
    start = 0
    while start < n and np.isnan(values[start]):
        start += 1
    seed_at = start + window - 1
    if seed_at >= n:
        return out
    alpha = 2.0 / (window + 1.0)
    total = 0.0
    for t in range(start, seed_at + 1):
        total += values[t]
    previous = total / window
    out[seed_at] = previous
    for t in range(seed_at + 1, n):
        previous = alpha * values[t] + (1.0 - alpha) * previous
        out[t] = previous
    return out


@_njit
def rsi_nb(values: FloatArray, window: int) -> FloatArray:
    """Return Wilder's relative strength index (0-100).

    Average gain and loss start as the simple means of the first ``window``
    changes and then follow Wilder's smoothing
    ``avg[t] = avg[t - 1] * (window - 1) / window + change[t] / window``.
    ``rsi = 100 * avg_gain / (avg_gain + avg_loss)``, which equals
    ``100 - 100 / (1 + RS)``; a flat stretch with no gain and no loss gives 50.

    Args:
        values: Input series (closing prices).
        window: Smoothing period, >= 1.

    Returns:
        The RSI; NaN for ``t < window`` (the first value needs ``window`` changes).
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = values.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, window + 1):
        change = values[t] - values[t - 1]
        gain += max(change, 0.0)
        loss += max(-change, 0.0)
    gain /= window
    loss /= window
    out[window] = _rsi_value(gain, loss)
    keep = (window - 1.0) / window
    scale = 1.0 / window
    for t in range(window + 1, n):
        change = values[t] - values[t - 1]
        gain = gain * keep + max(change, 0.0) * scale
        loss = loss * keep + max(-change, 0.0) * scale
        out[t] = _rsi_value(gain, loss)
    return out


@_njit
def _rsi_value(gain: float, loss: float) -> float:
    """Return the RSI of an average gain and loss (50 when both are zero)."""
    total = gain + loss
    if total == 0.0:
        return 50.0
    return 100.0 * gain / total


@_njit
def rolling_std_nb(values: FloatArray, window: int, ddof: int) -> FloatArray:
    """Return the rolling standard deviation over the last ``window`` values.

    Compensated sums of deviations (and squared deviations) from a reference value
    slide with the window; every ``window`` bars the reference moves to the
    current value and the sums are recomputed. This stays O(n) and agrees with a
    two-pass ``np.std`` of each window to ~1e-12 relative, also at high price
    levels and after a jump in level.

    Args:
        values: Input series.
        window: Number of values, >= 1 (and > ``ddof``).
        ddof: Delta degrees of freedom: 0 for the population standard deviation
            (Bollinger Bands, as on most platforms), 1 for the sample one.

    Returns:
        The deviations; NaN for ``t < window - 1`` and wherever the window holds a NaN.
    """
    if window < 1 or ddof < 0 or window <= ddof:
        raise ValueError("window must be >= 1 and greater than ddof")
    n = values.shape[0]
    out = np.full(n, np.nan)
    sum1 = error1 = sum2 = error2 = reference = 0.0
    nans = countdown = 0
    for t in range(n):
        if countdown == 0:
            countdown = window
            if not np.isnan(values[t]):
                reference = values[t]
            sum1, error1, sum2, error2, nans = _deviation_sums(
                values, max(0, t - window + 1), t, reference
            )
        elif t >= window:
            old = values[t - window] - reference
            if np.isnan(old):
                nans -= 1
            else:
                sum1, error1 = _compensated_add(sum1, error1, -old)
                sum2, error2 = _compensated_add(sum2, error2, -old * old)
        countdown -= 1
        new = values[t] - reference
        if np.isnan(new):
            nans += 1
        else:
            sum1, error1 = _compensated_add(sum1, error1, new)
            sum2, error2 = _compensated_add(sum2, error2, new * new)
        if t >= window - 1 and nans == 0:
            total = sum1 + error1
            variance = (sum2 + error2 - total * total / window) / (window - ddof)
            out[t] = np.sqrt(max(variance, 0.0))
    return out


@_njit
def _deviation_sums(
    values: FloatArray, start: int, stop: int, reference: float
) -> tuple[float, float, float, float, int]:
    """Return compensated sums (and errors) of deviations and squares, and the NaN count."""
    sum1 = error1 = sum2 = error2 = 0.0
    nans = 0
    for i in range(start, stop):
        deviation = values[i] - reference
        if np.isnan(deviation):
            nans += 1
        else:
            sum1, error1 = _compensated_add(sum1, error1, deviation)
            sum2, error2 = _compensated_add(sum2, error2, deviation * deviation)
    return sum1, error1, sum2, error2, nans


@_njit
def _rolling_extreme(values: FloatArray, window: int, sign: float) -> FloatArray:
    """Return the rolling max (``sign=1``) or min (``sign=-1``) ending at each bar.

    Van Herk / Gil-Werman: split the series into blocks of ``window`` bars; the
    window ending at ``t`` is a suffix of one block plus a prefix of the next, so
    ``out[t] = max(suffix_max[t - window + 1], prefix_max[t])``. Three comparisons
    per bar, no temporaries; falls back to a NaN-aware deque if a NaN is met.
    """
    n = values.shape[0]
    out = np.empty(n)
    if not _block_prefix(values, out, 0, min(window, n), sign):
        return _rolling_extreme_nan_aware(values, window, sign)
    for start in range(0, n, window):
        stop = min(start + window, n)
        if not _block_prefix(values, out, stop, min(stop + window, n), sign):
            return _rolling_extreme_nan_aware(values, window, sign)
        best = sign * values[stop - 1]
        for offset in range(1, stop - start):
            i = stop - offset
            best = max(best, sign * values[i])
            t = i + window - 1
            if t < n:
                out[t] = sign * max(best, sign * out[t])
    out[: min(window - 1, n)] = np.nan
    return out


@_njit
def _block_prefix(values: FloatArray, out: FloatArray, start: int, stop: int, sign: float) -> bool:
    """Write the running extreme of ``values[start:stop]`` into ``out``; False on a NaN."""
    if start >= stop:
        return True
    best = sign * values[start]
    finite: bool = best == best
    out[start] = sign * best
    for i in range(start + 1, stop):
        value = sign * values[i]
        finite &= value == value
        best = max(best, value)
        out[i] = sign * best
    return finite


@_njit
def _rolling_extreme_nan_aware(values: FloatArray, window: int, sign: float) -> FloatArray:
    """Return the rolling extreme of a series with NaNs (monotonic deque, slower)."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    nans = 0
    for t in range(n):
        if t >= window and np.isnan(values[t - window]):
            nans -= 1
        if head < tail and queue[head] <= t - window:
            head += 1
        value = values[t]
        if np.isnan(value):
            nans += 1
        else:
            while head < tail and sign * values[queue[tail - 1]] <= sign * value:
                tail -= 1
            queue[tail] = t
            tail += 1
        if t >= window - 1 and nans == 0:
            out[t] = values[queue[head]]
    return out


@_njit
def _shift_one_in_place(values: FloatArray) -> FloatArray:
    """Shift ``values`` one bar later in place (``values[t] = values[t - 1]``, NaN at 0)."""
    for t in range(values.shape[0] - 1, 0, -1):
        values[t] = values[t - 1]
    if values.shape[0] > 0:
        values[0] = np.nan
    return values


@_njit
def rolling_max_nb(values: FloatArray, window: int, exclude_current: bool) -> FloatArray:
    """Return the highest value over a rolling window of ``window`` bars.

    Args:
        values: Input series.
        window: Number of bars, >= 1.
        exclude_current: If True, the window is the ``window`` bars BEFORE ``t``
            (``values[t - window : t]``), as a Donchian breakout needs: a close can
            then exceed it. If False, the window ends at ``t`` inclusive.

    Returns:
        The maxima; NaN until the window is full (``t < window`` when excluding the
        current bar, ``t < window - 1`` otherwise) and wherever it holds a NaN.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    out = _rolling_extreme(values, window, 1.0)
    return _shift_one_in_place(out) if exclude_current else out


@_njit
def rolling_min_nb(values: FloatArray, window: int, exclude_current: bool) -> FloatArray:
    """Return the lowest value over a rolling window of ``window`` bars.

    Args:
        values: Input series.
        window: Number of bars, >= 1.
        exclude_current: If True, the window is the ``window`` bars BEFORE ``t``
            (``values[t - window : t]``); if False, it ends at ``t`` inclusive.

    Returns:
        The minima; NaN until the window is full and wherever it holds a NaN.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    out = _rolling_extreme(values, window, -1.0)
    return _shift_one_in_place(out) if exclude_current else out


@_njit
def crossed_above_nb(a: FloatArray, b: FloatArray) -> BoolArray:
    """Return where ``a`` crosses above ``b``: ``a[t] > b[t]`` and ``a[t-1] <= b[t-1]``.

    A tie at ``t - 1`` followed by ``a > b`` at ``t`` is a cross. All four values
    must be non-NaN; otherwise there is no signal (so no cross on bar 0).

    Args:
        a: First series.
        b: Second series, same length as ``a``.

    Returns:
        A bool array of ``len(a)``.
    """
    n = a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for t in range(1, n):
        # Comparisons with NaN are False, so a NaN anywhere yields no signal.
        out[t] = a[t] > b[t] and a[t - 1] <= b[t - 1]
    return out


@_njit
def crossed_below_nb(a: FloatArray, b: FloatArray) -> BoolArray:
    """Return where ``a`` crosses below ``b``: ``a[t] < b[t]`` and ``a[t-1] >= b[t-1]``.

    Mirror of :func:`crossed_above_nb`, with the same tie and NaN rules.

    Args:
        a: First series.
        b: Second series, same length as ``a``.

    Returns:
        A bool array of ``len(a)``.
    """
    n = a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for t in range(1, n):
        out[t] = a[t] < b[t] and a[t - 1] >= b[t - 1]
    return out


@_njit
def wma_nb(values: FloatArray, window: int) -> FloatArray:
    """Return the linearly weighted moving average over the last ``window`` values.

    ``out[t] = sum(w * values[t - window + w] for w in 1..window) / (window * (window + 1) / 2)``:
    the newest value weighs ``window``, the oldest 1. Summed directly per bar (O(n * window),
    no running-sum drift).

    Args:
        values: Input series.
        window: Number of values, >= 1.

    Returns:
        The averages; NaN for ``t < window - 1`` and wherever the window holds a NaN.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = values.shape[0]
    out = np.full(n, np.nan)
    divisor = window * (window + 1) / 2.0
    for t in range(window - 1, n):
        total = 0.0
        for w in range(1, window + 1):
            total += w * values[t - window + w]
        out[t] = total / divisor
    return out


@_njit
def atr_nb(high: FloatArray, low: FloatArray, close: FloatArray, window: int) -> FloatArray:
    """Return Wilder's average true range.

    The true range of bar ``t >= 1`` is ``max(high - low, |high - close[t-1]|,
    |low - close[t-1]|)``. The first ATR (bar ``window``) is the mean of the true ranges
    of bars ``1..window``; then ``atr[t] = (atr[t-1] * (window - 1) + tr[t]) / window``.

    Args:
        high: Highest prices.
        low: Lowest prices.
        close: Closing prices.
        window: Smoothing period, >= 1.

    Returns:
        The ATR; NaN for ``t < window``.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    total = 0.0
    for t in range(1, window + 1):
        total += _true_range(high[t], low[t], close[t - 1])
    average = total / window
    out[window] = average
    for t in range(window + 1, n):
        average = (average * (window - 1) + _true_range(high[t], low[t], close[t - 1])) / window
        out[t] = average
    return out


@_njit
def _true_range(high: float, low: float, previous_close: float) -> float:
    """Return the true range of a bar given the previous close."""
    return max(high - low, abs(high - previous_close), abs(low - previous_close))


@_njit_numpy_errors
def roc_nb(values: FloatArray, window: int) -> FloatArray:
    """Return the rate of change ``values[t] / values[t - window] - 1`` (a fraction).

    Args:
        values: Input series.
        window: Bars back, >= 1.

    Returns:
        The changes; NaN for ``t < window`` (a zero base gives inf or NaN, as in numpy).
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    n = values.shape[0]
    out = np.full(n, np.nan)
    for t in range(window, n):
        out[t] = values[t] / values[t - window] - 1.0
    return out


@_njit
def shift_nb(values: FloatArray, bars: int) -> FloatArray:
    """Return the series ``bars`` bars later: ``out[t] = values[t - bars]``, NaN before.

    Args:
        values: Input series.
        bars: Bars back, >= 0.
    """
    if bars < 0:
        raise ValueError("bars must be >= 0")
    n = values.shape[0]
    out = np.full(n, np.nan)
    for t in range(bars, n):
        out[t] = values[t - bars]
    return out


@_njit
def held_for_nb(condition: BoolArray, bars: int) -> BoolArray:
    """Return where ``condition`` held on each of the last ``bars`` bars (``t`` included).

    False while fewer than ``bars`` bars exist.
    """
    if bars < 1:
        raise ValueError("bars must be >= 1")
    n = condition.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    run = 0
    for t in range(n):
        run = run + 1 if condition[t] else 0
        out[t] = run >= bars
    return out


@_njit
def held_within_nb(condition: BoolArray, bars: int) -> BoolArray:
    """Return where ``condition`` held on one or more of the last ``bars`` bars (``t`` included)."""
    if bars < 1:
        raise ValueError("bars must be >= 1")
    n = condition.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    last = -bars - 1
    for t in range(n):
        if condition[t]:
            last = t
        out[t] = t - last < bars
    return out
