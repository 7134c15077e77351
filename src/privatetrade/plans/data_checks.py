"""Warnings about the bars of a backtest, written into its result.

The run plan (:mod:`privatetrade.plans.backtest`) asks :func:`data_warnings` about
the bars it runs on, so the API's worker and the CLI give the same warnings. They say
what the data-quality report (:mod:`privatetrade.data.quality`) finds in the run's
date range and what it means for the result:

- bars on days the exchange held no session (holidays, weekends) in any series;
- in raw prices (or prices of unknown adjustment, e.g. a CSV file): detected splits,
  whose price change the run books as a loss or gain, and jumps beyond the daily
  limit that no split ratio explains (a corporate action or bad data).

The checks are vectorized; the first check of a market in a process loads its
trading calendar (seconds), later ones take milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from privatetrade.data.calendar import CalendarName
from privatetrade.data.quality import US_JUMP_THRESHOLD, QualityIssue, SplitIssue, quality_report
from privatetrade.data.symbols import Market

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXAMPLE_DAYS", "data_warnings", "raw_fallback_warning"]

EXAMPLE_DAYS = 5
"""How many days a warning names before it says how many more there are."""


def data_warnings(bars: pd.DataFrame, market: Market, *, adjusted: bool | None) -> list[str]:
    """Return the warnings the bars of a run deserve.

    Args:
        bars: The bars the run simulates (timezone-aware index, OHLCV columns).
        market: Their market: decides the calendar and the daily limit.
        adjusted: True for adjusted prices (no split or jump warnings), False for
            raw ones, None when unknown (treated as possibly raw).

    Returns:
        Human-readable warnings naming the days; empty when nothing stands out.
    """
    if bars.empty:
        return []
    report = quality_report(bars, market, max_examples=EXAMPLE_DAYS)
    prices = "raw prices" if adjusted is False else "the prices"
    warnings: list[str] = []
    if adjusted is not True and report.detected_splits.count:
        warnings.append(_split_warning(report.detected_splits, prices))
    if adjusted is not True and report.unexplained_jumps.count:
        limit = (
            "the daily price limit"
            if report.calendar is CalendarName.XKRX
            else f"{US_JUMP_THRESHOLD:.0%} in a day"
        )
        warnings.append(
            f"{prices} jump beyond {limit} on {_days(report.unexplained_jumps)}, matching "
            "no split ratio: a real move, another corporate action or bad data; check "
            "the data, or use adjusted prices"
        )
    outside = report.non_session_bars
    if outside.count and report.calendar is not None:
        bars_on = f"{outside.count:,} bar{'' if outside.count == 1 else 's'}"
        warnings.append(
            f"{bars_on} on days the exchange was closed ({report.calendar.value} "
            f"calendar): {_days(outside)}; check the data"
        )
    return warnings


def raw_fallback_warning(code: str, *, benchmark: bool = False) -> str:
    """Say that ``code`` has no adjusted prices stored and its raw ones were used."""
    role = "the benchmark " if benchmark else ""
    return (
        f"no adjusted prices are stored for {role}{code}: this run used its raw prices, "
        "which are not adjusted for splits and dividends"
    )


def _split_warning(splits: SplitIssue, prices: str) -> str:
    effect = "a price move (false returns, trades and stops); use adjusted prices"
    if splits.count == 1:
        (split,) = splits.splits
        return (
            f"possible {split.ratio} split on {split.day} in {prices}: the run books it as {effect}"
        )
    named = ", ".join(f"{split.day} ({split.ratio})" for split in splits.splits)
    more = splits.count - len(splits.examples)
    listed = f"{named} and {more} more" if more > 0 else named
    return f"possible splits in {prices} on {listed}: the run books each as {effect}"


def _days(issue: QualityIssue) -> str:
    shown = ", ".join(day.isoformat() for day in issue.examples)
    more = issue.count - len(issue.examples)
    return f"{shown} and {more} more" if more > 0 else shown
