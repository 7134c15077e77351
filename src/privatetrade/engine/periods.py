"""Calendar periods of a backtest: bars per year, monthly and yearly returns."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from privatetrade.errors import InputError

__all__ = ["check_initial_cash", "infer_periods_per_year", "period_returns"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NS_PER_DAY = 86_400 * 10**9
_SESSION_NS = 6.5 * 3_600 * 10**9
TRADING_DAYS = 252.0
_SPACING_SAMPLE = 10_001


def check_initial_cash(initial_cash: float) -> None:
    """Refuse a starting capital that is not a positive finite number.

    Raises:
        InputError: ``field`` is ``initial_cash``.
    """
    if not (math.isfinite(initial_cash) and initial_cash > 0):
        raise InputError(
            f"initial_cash must be a positive finite number, got {initial_cash}",
            field="initial_cash",
        )


def period_returns(
    local_time_ns: IntArray,
    equity: FloatArray,
    initial_cash: float,
    period: Literal["month", "year"],
) -> list[tuple[str, float]]:
    """Return the equity return of each calendar month or year that has bars.

    The return of a period is its last equity over the last equity of the
    previous period with bars (``initial_cash`` for the first) minus one.

    Args:
        local_time_ns: Bar timestamps as exchange wall-clock nanoseconds (int64).
        equity: Equity at each bar's close.
        initial_cash: Starting capital (> 0).
        period: ``"month"`` (labels like ``"2024-01"``) or ``"year"`` (``"2024"``).

    Returns:
        ``(label, return)`` pairs, oldest first. Like periods without bars, periods
        whose return is undefined (the previous period ended with equity at or
        below zero) are left out, so every value is finite.

    Raises:
        InputError: If the arrays differ in length or ``period`` is unknown.

    Example:
        >>> t = np.array(["2024-12-31", "2025-01-02"], dtype="datetime64[ns]")
        >>> period_returns(t.view(np.int64), np.array([150.0, 75.0]), 100.0, "year")
        [('2024', 0.5), ('2025', -0.5)]
    """
    units = {"month": "M", "year": "Y"}
    if period not in units:
        raise InputError(f"period must be 'month' or 'year', got {period!r}", field="period")
    check_initial_cash(initial_cash)
    times = np.asarray(local_time_ns, dtype=np.int64)
    values = np.asarray(equity, dtype=np.float64)
    if times.ndim != 1 or values.shape != times.shape:
        raise InputError(
            "local_time_ns and equity must be 1-d arrays of one length", field="equity"
        )
    if times.shape[0] == 0:
        return []
    # Calendar conversion is slow: convert only the last bar of each local date.
    days = times // NS_PER_DAY
    day_ends = np.append(np.flatnonzero(days[1:] != days[:-1]), days.shape[0] - 1)
    keys = days[day_ends].astype("datetime64[D]").astype(f"datetime64[{units[period]}]")
    period_ends = np.append(np.flatnonzero(keys[1:] != keys[:-1]), keys.shape[0] - 1)
    keys = keys[period_ends]
    ends = values[day_ends[period_ends]]
    starts = np.concatenate(([float(initial_cash)], ends[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = ends / starts - 1.0
    labels = np.datetime_as_string(keys).tolist()
    return [
        (label, change)
        for label, start, change in zip(labels, starts.tolist(), changes.tolist(), strict=True)
        if start > 0 and math.isfinite(change)
    ]


def infer_periods_per_year(time_ns: IntArray) -> float:
    """Guess the number of bars per year from the median spacing of the timestamps.

    Median spacing of at least 25 days gives 12 (monthly), at least 5 days 52
    (weekly), at least 20 hours 252 (daily, trading days). Shorter spacings are
    intraday: ``252 * ceil(6.5 h / spacing)``, assuming a 6.5-hour regular session
    (KRX 09:00-15:30, NYSE 09:30-16:00), so 1-minute bars give 252 * 390 and
    hourly bars 252 * 7. Fewer than two timestamps give 252.

    Args:
        time_ns: Bar timestamps in nanoseconds (int64), oldest first.

    Returns:
        Periods per year, for annualizing volatility and ratios.

    Raises:
        InputError: If the median spacing is not positive (unsorted or duplicate
            timestamps).

    Example:
        >>> infer_periods_per_year(np.arange(10, dtype=np.int64) * 60 * 10**9)
        98280.0
    """
    times = np.asarray(time_ns, dtype=np.int64)
    if times.ndim != 1 or times.shape[0] < 2:
        return TRADING_DAYS
    if times.shape[0] <= _SPACING_SAMPLE:
        spacing = float(np.median(np.diff(times)))
    else:  # the median of evenly spread consecutive spacings keeps long series cheap
        pairs = np.linspace(0, times.shape[0] - 2, num=_SPACING_SAMPLE).astype(np.int64)
        spacing = float(np.median(times[pairs + 1] - times[pairs]))
    day = float(NS_PER_DAY)
    if spacing >= 25 * day:
        return 12.0
    if spacing >= 5 * day:
        return 52.0
    if spacing >= 20 / 24 * day:
        return TRADING_DAYS
    if spacing <= 0:
        raise InputError("timestamps must be strictly increasing", field="time_ns")
    return TRADING_DAYS * math.ceil(_SESSION_NS / spacing - 1e-9)
