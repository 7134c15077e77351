"""Warm-up history of a portfolio: the bars before ``start`` that its rule reads.

A ranking over ``lookback`` bars, a volatility weight or a strategy's indicators need
bars before the first decision. A portfolio asked from ``start`` therefore reads that
many calendar bars before it as history: :func:`~privatetrade.plans.portfolio.load_bars`
reads a generous number of calendar days before ``start`` (:func:`history_start`) and
keeps the last :attr:`~privatetrade.plans.portfolio.PortfolioPlan.history` bars of the
portfolio calendar before it (:func:`cut_history`);
:func:`~privatetrade.plans.portfolio.execute_portfolio` hands them to
:func:`~privatetrade.engine.portfolio.api.run_portfolio` as history
(``start=`` :func:`calendar_start`): rankings and signals see them, no order is placed
before ``start`` and the result covers ``start`` .. ``end`` only. Without ``start`` (the
first stored bar) there is no earlier history to read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from privatetrade.domain.rule_strategies import RulesChoice
from privatetrade.engine.portfolio.rules import PortfolioRule

if TYPE_CHECKING:
    from privatetrade.engine.bars import PreparedBars

__all__ = [
    "calendar_start",
    "cut_history",
    "history_sessions",
    "history_start",
    "history_warning",
    "strategy_warmup",
]

DAYS_PER_SESSION: Final = 1.5
"""Calendar days read per session of history: 7/5 for weekends, plus holidays."""
EXTRA_DAYS: Final = 30
"""Calendar days read on top: long holidays (Seollal, Chuseok, the year's end)."""
NS_PER_DAY: Final = 86_400 * 10**9
_EPOCH = dt.date(1970, 1, 1)


def strategy_warmup(rule: PortfolioRule, rules: RulesChoice | None = None) -> int:
    """Return the bars the rule's strategy needs before its first signal (0 without one).

    ``rules``: the rule document of a rule strategy (``rule.strategy == "rules"``).

    Raises:
        StrategyError: Unknown strategy. ParameterError: a bad parameter (the plan
            checked both before).
    """
    if rule.strategy is None:
        return 0
    from privatetrade.plans.strategies import build_strategy

    return int(build_strategy(rule.strategy, rule.params, rules, prefix="rule.").warmup_bars())


def history_sessions(rule: PortfolioRule, warmup: int = 0) -> int:
    """Return the calendar bars of history before ``start`` the rule reads at its first decision.

    * Allocation rules that read a window (rankings, ``inverse_volatility``, absolute
      momentum): ``lookback + 1``; ``top_n_signal`` also waits for its strategy:
      ``max(lookback, warmup) + 1``. ``equal_weight`` and ``fixed_weights``: 0.
    * ``signals``: ``max(warmup, lookback) + 1`` with a ranked ``entry_priority``,
      ``warmup + 1`` with ``order``; 0 for a strategy without warm-up (it decides from
      its first bar: ``buy_and_hold`` enters there, so history would move its entry
      before ``start``, where no order is placed).

    Args:
        rule: The portfolio rule.
        warmup: The strategy's :meth:`~privatetrade.engine.strategies.base.Strategy.warmup_bars`
            (:func:`strategy_warmup`).
    """
    from privatetrade.engine.portfolio.api import rule_warmup

    if rule.rule == "signals":
        if warmup <= 0:
            return 0
        ranked = 0 if rule.entry_priority == "order" else rule.lookback
        return max(warmup, ranked) + 1
    window = rule_warmup(rule)
    if rule.rule == "top_n_signal":
        window = max(window, warmup)
    return window + 1 if window > 0 else 0


def history_start(start: dt.date, sessions: int) -> dt.date:
    """Return the first calendar day to read for ``sessions`` sessions before ``start``.

    Generous on purpose (1.5 calendar days a session plus 30 days): the bars beyond
    the needed count are cut off again by :func:`cut_history`.
    """
    if sessions <= 0:
        return start
    days = math.ceil(sessions * DAYS_PER_SESSION) + EXTRA_DAYS
    return start - dt.timedelta(days=min(days, (start - dt.date.min).days))


def cut_history(
    bars: Mapping[str, PreparedBars], start: dt.date, sessions: int
) -> dict[str, PreparedBars]:
    """Keep the last ``sessions`` bars of the portfolio calendar before ``start``.

    The calendar is the union of the symbols' bar times (as
    :func:`~privatetrade.engine.portfolio.align.align_bars` builds it); each symbol
    keeps its bars from the first kept calendar bar on (fewer than ``sessions`` when it
    has no bar on some of them), and all of them from ``start``'s local day on. With
    fewer calendar bars before ``start`` than ``sessions``, all are kept.
    """
    before = _history_times(bars, start)
    if before.shape[0] <= sessions:
        return dict(bars)
    if sessions <= 0:
        boundary = _local_ns(start)
        return {
            code: _from_index(prepared, int(np.searchsorted(prepared.local_time_ns, boundary)))
            for code, prepared in bars.items()
        }
    cutoff = int(before[before.shape[0] - sessions])
    return {
        code: _from_index(prepared, int(np.searchsorted(prepared.bars.time, cutoff)))
        for code, prepared in bars.items()
    }


def calendar_start(bars: Mapping[str, PreparedBars], start: dt.date | None) -> int:
    """Return the index of the first calendar bar on or after ``start``'s local day.

    That is the number of calendar bars (the union of the symbols' bar times) before
    ``start``: ``run_portfolio``'s ``start``. 0 when ``start`` is None.
    """
    if start is None:
        return 0
    return int(_history_times(bars, start).shape[0])


def history_warning(count: int, needed: int, start: dt.date) -> str:
    """Return the warning of a portfolio whose stored prices hold too little history."""
    return (
        f"stored prices give {count} of the {needed} bars of history the rule reads before "
        f"{start.isoformat()}: its first trades may come up to {needed - count} bars late"
    )


def _history_times(bars: Mapping[str, PreparedBars], start: dt.date) -> npt.NDArray[np.int64]:
    """The sorted, distinct UTC times of the symbols' bars before ``start``'s local day."""
    boundary = _local_ns(start)
    parts = [
        prepared.bars.time[: int(np.searchsorted(prepared.local_time_ns, boundary))]
        for prepared in bars.values()
    ]
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))


def _local_ns(day: dt.date) -> int:
    """The exchange wall-clock nanoseconds of ``day``'s midnight."""
    return (day - _EPOCH).days * NS_PER_DAY


def _from_index(prepared: PreparedBars, first: int) -> PreparedBars:
    """The bars from index ``first`` on."""
    from privatetrade.engine.bars import PreparedBars
    from privatetrade.engine.strategies.base import Bars

    if first == 0:
        return prepared
    own = prepared.bars
    tail = slice(first, None)
    bars = Bars(
        own.time[tail], own.open[tail], own.high[tail], own.low[tail], own.close[tail],
        own.volume[tail],
    )  # fmt: skip
    return PreparedBars(bars, prepared.local_time_ns[tail], prepared.tz)
