"""Target weights of the allocation rules at their signal bars.

Everything here reads the bars up to the signal bar ``s`` and nothing after it: closes
are forward-filled per symbol on the portfolio calendar, so a symbol without a bar at
``t`` keeps its last close, and every window ends at ``s``. A row of weights sums to
at most 1 (the rest stays cash) and is 0 for a symbol that cannot be bought at ``s``.

Definitions (``L`` = ``rule.lookback``, ``c`` = forward-filled closes):

* **history**: a symbol has ``L`` bars of history at ``s`` when it had a bar at or
  before ``s - L`` (so ``c[s - L]`` exists).
* **momentum**: ``c[s] / c[s - L] - 1``.
* **volatility**: the sample standard deviation (``ddof=1``) of the ``L`` simple
  returns ``c[t] / c[t - 1] - 1`` for ``t`` in ``s - L + 1 .. s``, as ``bt``'s
  ``WeighInvVol`` (ffn ``calc_inv_vol_weights``) computes it; a bar where the symbol
  has no bar adds a zero return. A symbol whose volatility is 0 (no price change over
  the window, e.g. suspended) cannot be ranked or weighted by volatility.
* **eligible**: a bar at ``s``; with a rule that reads ``L``, history; with one that
  reads volatility, a volatility above 0; for ``top_n_signal``, a long strategy state.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from privatetrade.engine.kernels.portfolio_windows import long_state_nb, window_sums_nb
from privatetrade.engine.portfolio.align import AlignedBars
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.errors import InputError

__all__ = ["long_state", "target_weights"]

FloatMatrix = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_TOP_N_RULES = frozenset({"top_n_momentum", "top_n_low_volatility", "top_n_signal"})
_WINDOW_RULES = frozenset({"inverse_volatility"}) | _TOP_N_RULES
_FLAT_VARIANCE = 1e-12
"""A window variance below this share of the mean squared return is rounding: no change."""


def long_state(entries: BoolMatrix, exits: BoolMatrix) -> BoolMatrix:
    """Return whether each symbol's strategy is long after each bar's signals.

    The signals are read as the single engine's decisions read them against a
    position (docs/engine.md §3.2), without fills: a flat strategy goes long at an
    entry, a long one goes flat at an exit; an entry and an exit on one bar flip the
    state (flat -> long, long -> flat). Before the first signal a strategy is flat.

    Args:
        entries: Long entry signals ``(T, N)``, False where a symbol has no bar.
        exits: Long exit signals ``(T, N)``.

    Returns:
        Bool ``(T, N)``: long after bar ``t``'s signals.

    Raises:
        InputError: If the two arrays differ in shape or are not 2-d.

    Example:
        >>> e = np.array([[1], [0], [1], [1], [0]], dtype=bool)
        >>> x = np.array([[0], [0], [1], [1], [1]], dtype=bool)
        >>> long_state(e, x)[:, 0].tolist()
        [True, True, False, True, False]
    """
    entry = np.ascontiguousarray(entries, dtype=np.bool_)
    exit_ = np.ascontiguousarray(exits, dtype=np.bool_)
    if entry.ndim != 2 or entry.shape != exit_.shape:
        raise InputError("entries and exits must be 2-d arrays of one shape", field="entries")
    return np.asarray(long_state_nb(entry, exit_), dtype=np.bool_)


def target_weights(
    aligned: AlignedBars,
    rule: PortfolioRule,
    bars_idx: IntArray,
    long: BoolMatrix | None = None,
) -> FloatMatrix:
    """Return the target weights of an allocation rule at each signal bar.

    Args:
        aligned: The symbols' bars on the portfolio calendar.
        rule: An allocation rule (not ``signals``).
        bars_idx: Signal bar indices ``(R,)`` into the calendar.
        long: ``top_n_signal`` only: :func:`long_state` of the strategy ``(T, N)``.

    Returns:
        float64 ``(R, N)``: each row ``>= 0`` summing to at most 1 (the rest is
        cash), 0 for symbols that are not eligible at that bar (module docstring).
        Ties in a ranking go to the symbol earlier in the universe.

    Raises:
        InputError: For the ``signals`` rule, a bar index outside the calendar, or
            ``top_n_signal`` without a ``long`` array of the bars' shape.
    """
    if not rule.is_allocation:
        raise InputError("the signals rule has no target weights", field="rule")
    bars = np.asarray(bars_idx, dtype=np.int64)
    count = len(aligned)
    symbols = len(aligned.symbols)
    if bars.ndim != 1 or (bars.size and (bars.min() < 0 or bars.max() >= count)):
        raise InputError("signal bars must be indices into the calendar", field="bars_idx")
    if bars.size == 0:
        return np.zeros((0, symbols), dtype=np.float64)
    last = int(bars.max()) + 1  # nothing after the last signal bar is read
    close = np.asarray(aligned.close[:last], dtype=np.float64)
    present = np.asarray(aligned.present[:last], dtype=np.bool_) & np.isfinite(close)
    eligible = present[bars]
    stats = _WindowStats(close, present, bars, rule.lookback) if _reads_window(rule) else None
    if stats is not None:
        eligible &= stats.history
        if _reads_volatility(rule):
            eligible &= stats.volatility > 0.0
    if rule.rule == "top_n_signal":
        eligible &= _long_at(long, aligned, bars)
    weights = _rule_weights(rule, aligned.symbols, eligible, stats)
    if rule.absolute_momentum and stats is not None:
        weights[~(stats.momentum > rule.momentum_threshold)] = 0.0
    return weights


def _reads_window(rule: PortfolioRule) -> bool:
    return rule.rule in _WINDOW_RULES or rule.absolute_momentum


def _reads_volatility(rule: PortfolioRule) -> bool:
    return rule.rule in ("inverse_volatility", "top_n_low_volatility") or (
        rule.rule in _TOP_N_RULES and rule.weighting == "inverse_volatility"
    )


def _long_at(long: BoolMatrix | None, aligned: AlignedBars, bars: IntArray) -> BoolMatrix:
    if long is None or np.shape(long) != aligned.close.shape:
        raise InputError(
            "top_n_signal needs the strategy's long state on the calendar", field="long"
        )
    return np.asarray(long, dtype=np.bool_)[bars]


class _WindowStats:
    """Momentum and volatility over the ``lookback`` bars ending at each signal bar.

    One pass over the bars up to the last signal bar (numba) gives the forward-filled
    closes and the prefix sums of the returns and their squares at the window ends;
    a prefix sum at bar ``t`` reads bars ``<= t`` only, so nothing at ``s`` depends on
    later bars.
    """

    def __init__(self, close: FloatMatrix, present: BoolMatrix, bars: IntArray, lookback: int):
        begin = bars - lookback
        has_begin = begin >= 0
        checkpoints = np.unique(np.concatenate((bars, begin[has_begin])))
        filled, sums, squares = window_sums_nb(
            np.ascontiguousarray(close), np.ascontiguousarray(present), checkpoints
        )
        at_end = np.searchsorted(checkpoints, bars)
        at_begin = np.searchsorted(checkpoints, np.maximum(begin, 0))
        start_close = np.where(has_begin[:, None], filled[at_begin], np.nan)
        self.history: BoolMatrix = np.isfinite(start_close)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.momentum: FloatMatrix = np.where(
                self.history, filled[at_end] / start_close - 1.0, np.nan
            )
        # Returns of bars begin+1..s: prefix sum at s minus prefix sum at begin.
        total = sums[at_end] - sums[at_begin]
        total_sq = squares[at_end] - squares[at_begin]
        spread = np.maximum(total_sq - total * total / lookback, 0.0)
        spread[spread <= _FLAT_VARIANCE * total_sq] = 0.0
        volatility = np.sqrt(spread / (lookback - 1))
        self.volatility: FloatMatrix = np.where(self.history, volatility, np.nan)


def _rule_weights(
    rule: PortfolioRule,
    symbols: tuple[str, ...],
    eligible: BoolMatrix,
    stats: _WindowStats | None,
) -> FloatMatrix:
    """The weights of the rule before the absolute momentum filter."""
    if rule.rule == "fixed_weights":
        return _fixed(rule, symbols, eligible)
    if rule.rule == "equal_weight":
        return _normalized(eligible.astype(np.float64))
    if stats is None:  # pragma: no cover - every other rule reads the window
        raise InputError("the rule needs a lookback window", field="rule")
    with np.errstate(divide="ignore"):
        inverse_vol = np.where(eligible, 1.0 / stats.volatility, 0.0)
    if rule.rule == "inverse_volatility":
        return _normalized(inverse_vol)
    if rule.rule == "top_n_low_volatility":
        chosen = _top(stats.volatility, eligible, rule.top or 0, highest=False)
    else:  # top_n_momentum, top_n_signal
        chosen = _top(stats.momentum, eligible, rule.top or 0, highest=True)
    if rule.weighting == "inverse_volatility":
        return _normalized(np.where(chosen, inverse_vol, 0.0))
    return _normalized(chosen.astype(np.float64))


def _fixed(rule: PortfolioRule, symbols: tuple[str, ...], eligible: BoolMatrix) -> FloatMatrix:
    """The fixed weights of the symbols that can trade; the others' shares stay cash."""
    given = rule.weights or {}
    vector = np.array([given.get(symbol, 0.0) for symbol in symbols], dtype=np.float64)
    total = math.fsum(vector.tolist())
    if total > 1.0:  # within the rule's rounding tolerance: scale down to exactly <= 1
        vector = vector / total
    return np.where(eligible, vector[None, :], 0.0)


def _normalized(scores: FloatMatrix) -> FloatMatrix:
    """Scale each row of non-negative scores to sum to 1 (a row of zeros stays zero)."""
    total = scores.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(total > 0.0, scores / total, 0.0)
    return np.asarray(weights, dtype=np.float64)


def _top(score: FloatMatrix, eligible: BoolMatrix, top: int, *, highest: bool) -> BoolMatrix:
    """The ``top`` eligible symbols of each row by score; ties go to the earlier symbol.

    A partial sort finds each row's ``top``-th best key; the symbols strictly better
    are chosen, and the places left go to the symbols tied with it in universe order.
    """
    key = np.where(eligible, -score if highest else score, np.inf)
    if top >= key.shape[1]:
        return eligible.copy()
    cutoff = np.partition(key, top - 1, axis=1)[:, top - 1 : top]
    better = key < cutoff
    tied = key == cutoff
    places_left = top - better.sum(axis=1, keepdims=True)
    chosen = better | (tied & (np.cumsum(tied, axis=1) <= places_left))
    return np.asarray(chosen & eligible, dtype=np.bool_)
