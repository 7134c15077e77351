"""Drawdowns of an equity curve: the series, the deepest one and how long it lasted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privatetrade.engine.kernels.drawdown import drawdown_ratio_nb
from privatetrade.engine.periods import check_initial_cash

__all__ = [
    "DrawdownPeriod",
    "Drawdowns",
    "drawdown_periods",
    "drawdown_ratio",
    "drawdown_series",
    "drawdown_stats",
    "longest_run",
]

FloatArray = npt.NDArray[np.float64]


def drawdown_ratio(equity: FloatArray, initial_cash: float) -> FloatArray:
    """Return ``equity / running peak`` (the drawdown plus one)."""
    ratio: FloatArray = drawdown_ratio_nb(np.ascontiguousarray(equity), initial_cash)
    return ratio


def drawdown_series(equity: FloatArray, initial_cash: float) -> FloatArray:
    """Return the drawdown at each bar: ``equity_t / max(initial, equity_0..t) - 1``.

    Args:
        equity: Equity at each bar's close.
        initial_cash: Starting capital, the peak before the first bar (> 0).

    Returns:
        Fractions ``<= 0``, one per bar: ``-1`` when equity reaches zero, below
        ``-1`` if it turns negative.

    Raises:
        InputError: If ``initial_cash`` is not a positive finite number.
    """
    check_initial_cash(initial_cash)
    ratio = drawdown_ratio(np.asarray(equity, dtype=np.float64), float(initial_cash))
    ratio -= 1.0
    return ratio


def longest_run(mask: npt.NDArray[np.bool_]) -> int:
    """Return the length of the longest run of ``True`` in ``mask``."""
    if not mask.any():
        return 0
    padded = np.zeros(mask.shape[0] + 2, dtype=np.bool_)
    padded[1:-1] = mask
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return int((edges[1::2] - edges[::2]).max())


@dataclass(frozen=True, slots=True)
class Drawdowns:
    """The deepest drawdown (depth, peak bar, trough bar, recovery bar, bars) and the longest."""

    max_drawdown: float
    start: int | None
    end: int | None
    recovery: int | None
    duration: int
    longest: int


def drawdown_stats(ratio: FloatArray) -> Drawdowns:
    """Find the deepest and the longest drawdown from ``equity / peak``."""
    n = ratio.shape[0]
    trough = int(ratio.argmin())
    depth = float(ratio[trough]) - 1.0
    if depth >= 0.0:
        return Drawdowns(0.0, None, None, None, 0, 0)
    under = ratio < 1.0
    changes = np.flatnonzero(under[1:] != under[:-1]) + 1
    first = 0 if under[0] else 1
    bounds = np.concatenate(([0], changes, [n]))
    run_starts = bounds[first:-1:2]
    run_stops = bounds[first + 1 :: 2]  # first bar back at the peak, or n
    peaks = np.maximum(run_starts - 1, 0)
    ends = np.minimum(run_stops, n - 1)
    k = int(np.searchsorted(run_starts, trough, side="right")) - 1
    stop = int(run_stops[k])
    start = int(peaks[k])
    return Drawdowns(
        max_drawdown=depth,
        start=start,
        end=trough,
        recovery=stop if stop < n else None,
        duration=min(stop, n - 1) - start,
        longest=int((ends - peaks).max()),
    )


@dataclass(frozen=True, slots=True)
class DrawdownPeriod:
    """One stretch below the running peak.

    Attributes:
        start: Bar of the peak the stretch fell from (the bar before the first bar below
            it; bar 0 when the first bar is already below the initial cash).
        trough: Bar of the lowest ratio in the stretch (the first one on ties).
        recovery: First bar back at the peak, or None if the equity never got back.
        depth: ``ratio[trough] - 1``, a fraction < 0.
        bars: Bars from ``start`` to ``recovery`` (to the last bar if never recovered).
    """

    start: int
    trough: int
    recovery: int | None
    depth: float
    bars: int


def drawdown_periods(ratio: FloatArray) -> list[DrawdownPeriod]:
    """Return every stretch below the running peak, in time order.

    Uses the same rules as :func:`drawdown_stats`: the deepest period's ``start``,
    ``trough`` and ``recovery`` are the metrics' ``max_drawdown_start``, ``_end`` and
    ``_recovery``.

    Args:
        ratio: ``equity / running peak`` per bar (:func:`drawdown_ratio`).
    """
    n = ratio.shape[0]
    under = ratio < 1.0
    if n == 0 or not under.any():
        return []
    changes = np.flatnonzero(under[1:] != under[:-1]) + 1
    first = 0 if under[0] else 1
    bounds = np.concatenate(([0], changes, [n]))
    periods = []
    for begin, stop in zip(bounds[first:-1:2], bounds[first + 1 :: 2], strict=True):
        begin, stop = int(begin), int(stop)
        trough = begin + int(ratio[begin:stop].argmin())
        start = max(begin - 1, 0)
        periods.append(
            DrawdownPeriod(
                start=start,
                trough=trough,
                recovery=stop if stop < n else None,
                depth=float(ratio[trough]) - 1.0,
                bars=min(stop, n - 1) - start,
            )
        )
    return periods
