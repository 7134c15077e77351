"""Data-quality report of one symbol's daily bars.

:func:`quality_report` checks bars against the market's trading calendar and rules
and counts what looks wrong, keeping the first few dates of each finding:

- **missing sessions**: sessions between the first and last bar without a bar;
- **bars on non-sessions**: a bar dated on a holiday, a weekend or a day our
  calendar overrides close (see :mod:`privatetrade.data.calendar`);
- **suspicious jumps**: a close further from the previous close than the market
  allows. KRX: the daily limit in force that day (±30% since 2015-06-15, ±15%
  before, and on KONEX) plus one tick, so a jump means a corporate action (split,
  rights issue) in unadjusted prices, or bad data. Other markets: more than 50%;
- **off-grid prices** (KRX): a price that is not a multiple of the tick size in
  force that day (the table changed on 2023-01-25). Since 2025-03-04 midpoint
  orders on the alternative venue (Nextrade) trade at half ticks, so from that day
  a multiple of half a tick is fine and is counted under ``half_tick`` instead.

Splits are looked for in every series (:func:`detect_splits`): a day whose open or
close, against the previous close, matches a split ratio of :data:`SPLIT_RATIOS`
(2:1 halves the price, 1:10 multiplies it by ten) within :data:`SPLIT_TOLERANCE`, and
that is not part of a one-day spike, is a **detected split** (a note: the data may be
right, raw prices are not adjusted). The open is checked too because on a split day
the open rarely moves far from the previous close divided by the ratio, while the
close may. **Unexplained jumps** are the jumps on days without a detected split.

Zero-volume days (trading halts), half-tick prices and days locked at the daily
limit are reported too, as notes: they are legitimate and do not make a report fail.
Adjusted price series are not on the tick grid by construction; check raw prices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from privatetrade.data.calendar import (
    CALENDAR_END,
    CALENDAR_START,
    CalendarName,
    calendar_for_market,
    session_days,
    session_mask,
)
from privatetrade.data.symbols import Market, market_timezone, parse_market
from privatetrade.engine.costs import CostModel, tick_tables
from privatetrade.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KRX_HALF_TICK_SINCE",
    "KRX_LIMIT_30_SINCE",
    "KRX_UNIFIED_TICKS_SINCE",
    "SPLIT_RATIOS",
    "SPLIT_TOLERANCE",
    "US_JUMP_THRESHOLD",
    "DetectedSplit",
    "QualityIssue",
    "QualityReport",
    "SplitIssue",
    "detect_splits",
    "quality_report",
]

KRX_LIMIT_30_SINCE = dt.date(2015, 6, 15)
"""First day of the ±30% KRX daily limit (±15% before)."""
KRX_UNIFIED_TICKS_SINCE = dt.date(2023, 1, 25)
"""First day of the unified KRX tick table (see ``privatetrade.engine.costs``)."""
KRX_HALF_TICK_SINCE = dt.date(2025, 3, 4)
"""First day half-tick prices (midpoint orders on Nextrade) are legitimate."""
US_JUMP_THRESHOLD = 0.5
"""Close-to-close move flagged as suspicious outside KRX (50%)."""
SPLIT_RATIOS: tuple[tuple[int, int], ...] = (
    *((new, 1) for new in (2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 50, 100)),
    (3, 2),
    (5, 2),
    *((1, old) for old in (2, 3, 4, 5, 8, 10, 15, 20, 25, 50, 100)),
)
"""Split ratios recognized in prices, as (new shares, old shares): (2, 1) is a 2:1 split."""
SPLIT_TOLERANCE = 0.03
"""Relative distance from a ratio's price factor within which a day's move matches it."""

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Days = npt.NDArray[np.datetime64]
_PRICES = ("open", "high", "low", "close")
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class QualityIssue:
    """How often one kind of finding occurs, and on which days first.

    Attributes:
        count: Number of days with the finding.
        examples: The first few of those days, in order.
    """

    count: int = 0
    examples: tuple[dt.date, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (ISO dates)."""
        return {"count": self.count, "examples": [day.isoformat() for day in self.examples]}


@dataclass(frozen=True, slots=True)
class DetectedSplit:
    """A day whose prices moved by a split ratio.

    Attributes:
        day: The first day at the new price level.
        ratio: New shares for old ones: ``"2:1"`` (the price halves), ``"1:10"``
            (a reverse split, the price ten times higher).
    """

    day: dt.date
    ratio: str


@dataclass(frozen=True, slots=True)
class SplitIssue(QualityIssue):
    """Detected splits: their count, first days and ratios (``"2:1"``), in order.

    Attributes:
        ratios: The ratio of each day in ``examples``, new:old shares.
    """

    ratios: tuple[str, ...] = ()

    @property
    def splits(self) -> tuple[DetectedSplit, ...]:
        """The example days with their ratios."""
        return tuple(map(DetectedSplit, self.examples, self.ratios))

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (ISO dates, ratios aligned with the dates)."""
        return {**QualityIssue.to_dict(self), "ratios": list(self.ratios)}


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Findings of :func:`quality_report` on one symbol's bars.

    ``missing_sessions``, ``non_session_bars``, ``jumps`` and ``off_grid`` are
    problems (they make :attr:`ok` false); ``detected_splits``,
    ``unexplained_jumps`` (the jumps that no detected split explains), ``zero_volume``,
    ``half_tick``, ``limit_up_locked`` and ``limit_down_locked`` are notes.

    Attributes:
        symbol: The symbol's code, when given.
        market: Its market.
        calendar: The calendar checked against (None: market without one).
        first_bar: Day of the first bar (None without bars).
        last_bar: Day of the last bar.
        bar_count: Number of bars.
        unchecked_bars: Bars whose day the calendar could not check (outside its range,
            or no calendar).
        missing_sessions: Sessions between the first and last bar with no bar.
        non_session_bars: Bars dated on a day without a session.
        jumps: Closes beyond the daily limit (KRX) or 50% (elsewhere) from the previous.
        detected_splits: Days whose open or close moved by a split ratio (with ratios).
        unexplained_jumps: Jumps on days without a detected split.
        off_grid: KRX bars with a price off the tick grid of their day.
        zero_volume: Bars with zero volume (halts).
        half_tick: KRX bars with a half-tick price on or after 2025-03-04 (allowed).
        limit_up_locked: KRX bars that traded only at the upper daily limit.
        limit_down_locked: KRX bars that traded only at the lower daily limit.
    """

    PROBLEMS: ClassVar[tuple[str, ...]] = (
        "missing_sessions",
        "non_session_bars",
        "jumps",
        "off_grid",
    )

    symbol: str | None
    market: Market
    calendar: CalendarName | None
    first_bar: dt.date | None
    last_bar: dt.date | None
    bar_count: int
    unchecked_bars: int
    missing_sessions: QualityIssue
    non_session_bars: QualityIssue
    jumps: QualityIssue
    detected_splits: SplitIssue
    unexplained_jumps: QualityIssue
    off_grid: QualityIssue
    zero_volume: QualityIssue
    half_tick: QualityIssue
    limit_up_locked: QualityIssue
    limit_down_locked: QualityIssue

    @property
    def problems(self) -> tuple[str, ...]:
        """Names of the problem kinds found (empty when the data looks right)."""
        return tuple(name for name in self.PROBLEMS if getattr(self, name).count > 0)

    @property
    def ok(self) -> bool:
        """True when no problem was found (notes do not count)."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """Return the report as a JSON-ready dict."""
        result: dict[str, object] = {"ok": self.ok, "problems": list(self.problems)}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, QualityIssue):
                result[item.name] = value.to_dict()
            elif isinstance(value, dt.date):
                result[item.name] = value.isoformat()
            elif isinstance(value, Market | CalendarName):
                result[item.name] = value.value
            else:
                result[item.name] = value
        return result


def quality_report(
    bars: pd.DataFrame,
    market: Market | str,
    *,
    symbol: str | None = None,
    max_examples: int = 5,
    index: bool = False,
) -> QualityReport:
    """Check one symbol's daily bars against its market's calendar and price rules.

    Args:
        bars: Daily bars: a DataFrame with a timezone-aware DatetimeIndex and columns
            open, high, low, close, volume (any letter case). Days are read in the
            exchange's time zone.
        market: The symbol's market (decides calendar, limits and tick grid).
        symbol: The symbol's code, recorded in the report.
        max_examples: How many days to keep per finding.
        index: The bars are index points: no tick grid, price limits or splits apply,
            and jumps are judged by the relative threshold.

    Returns:
        The report; ``report.ok`` is True when no problem was found.

    Raises:
        DataError: The frame lacks a column or a timezone-aware DatetimeIndex.
        InputError: The market is unknown.

    Example:
        >>> from privatetrade.data.synthetic import synthetic_bars
        >>> report = quality_report(synthetic_bars("DEMO01"), "KOSPI", symbol="DEMO01")
        >>> report.ok, report.missing_sessions.count
        (True, 0)
    """
    member = parse_market(market)
    days, columns = _columns(bars, market_timezone(member))
    keep = max(0, max_examples)

    def issue(mask: Bools, on: Days) -> QualityIssue:
        hits = on[mask]
        return QualityIssue(int(hits.shape[0]), tuple(hits[:keep].astype(object).tolist()))

    none = np.zeros(days.shape[0], dtype=np.bool_)
    calendar = calendar_for_market(member)
    unchecked, missing, non_session = _session_findings(calendar, days)
    open_, high, low, close, volume = columns
    is_krx = calendar is CalendarName.XKRX and not index
    if is_krx:
        ticks = _TickGrid(member, days)
        jumps = _krx_jumps(ticks, close)
        off_grid, half_tick = _krx_grid(ticks, (open_, high, low, close))
        up, down = _krx_locks(ticks, high, low, close)
    else:
        jumps = _relative_jumps(close, US_JUMP_THRESHOLD)
        off_grid, half_tick, up, down = none, none, none, none
    split_at, ratio_of = _split_days(open_, close)
    if index:
        split_at = none
    return QualityReport(
        symbol=symbol,
        market=member,
        calendar=calendar,
        first_bar=days[0].astype(object) if days.shape[0] else None,
        last_bar=days[-1].astype(object) if days.shape[0] else None,
        bar_count=int(days.shape[0]),
        unchecked_bars=unchecked,
        missing_sessions=issue(np.ones(missing.shape[0], dtype=np.bool_), missing),
        non_session_bars=issue(non_session, days),
        jumps=issue(jumps, days),
        detected_splits=_split_issue(split_at, ratio_of, days, keep),
        unexplained_jumps=issue(jumps & ~split_at, days),
        off_grid=issue(off_grid, days),
        zero_volume=issue(volume == 0.0, days),
        half_tick=issue(half_tick, days),
        limit_up_locked=issue(up, days),
        limit_down_locked=issue(down, days),
    )


def detect_splits(bars: pd.DataFrame, *, tz: str = "UTC") -> tuple[DetectedSplit, ...]:
    """Find the days on which daily prices moved by a split ratio.

    A day is a split when its open or its close, divided by the previous close, is
    within :data:`SPLIT_TOLERANCE` of a ratio's price factor of :data:`SPLIT_RATIOS`
    (0.5 for 2:1), unless the day is part of a one-day spike (bad data, not a split):
    the next close goes back more than half way, or the day itself goes back more
    than half way to the close two days before. Raw prices show splits; adjusted
    ones should not.

    Args:
        bars: Daily bars: a DataFrame with a timezone-aware DatetimeIndex and columns
            open, high, low, close, volume (any letter case).
        tz: Time zone whose calendar dates name the days (the exchange's).

    Returns:
        Every detected split, in time order.

    Raises:
        DataError: The frame lacks a column or a timezone-aware DatetimeIndex.

    Example:
        >>> from privatetrade.data.sample import load_sample_bars
        >>> detect_splits(load_sample_bars("AAPL"), tz="America/New_York")[-1]
        DetectedSplit(day=datetime.date(2005, 2, 28), ratio='2:1')
    """
    days, (open_, _high, _low, close, _volume) = _columns(bars, tz)
    split_at, ratio_of = _split_days(open_, close)
    issue = _split_issue(split_at, ratio_of, days, int(np.count_nonzero(split_at)))
    return issue.splits


def _columns(frame: pd.DataFrame, tz: str) -> tuple[Days, tuple[Floats, ...]]:
    """Return the bars' local days and OHLCV columns in time order."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"bars must be a pandas DataFrame, not {type(frame).__name__}")
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("bars need a timezone-aware DatetimeIndex (e.g. Asia/Seoul)")
    lowered = {str(name).lower(): name for name in frame.columns}
    absent = [name for name in (*_PRICES, "volume") if name not in lowered]
    if absent:
        raise DataError(f"bars have no {', '.join(repr(name) for name in absent)} column")
    days = np.asarray(index.tz_convert(tz).tz_localize(None).values).astype("datetime64[D]")
    order = None if index.is_monotonic_increasing else np.argsort(days, kind="stable")
    columns = []
    for name in (*_PRICES, "volume"):
        values = np.asarray(frame[lowered[name]].to_numpy(), dtype=np.float64)
        columns.append(values if order is None else values[order])
    return (days if order is None else days[order]), tuple(columns)


def _session_findings(calendar: CalendarName | None, days: Days) -> tuple[int, Days, Bools]:
    """Return (unchecked bar count, missing sessions, per-bar non-session flags)."""
    n = days.shape[0]
    non_session = np.zeros(n, dtype=np.bool_)
    no_days = np.empty(0, dtype="datetime64[D]")
    if calendar is None:
        return n, no_days, non_session
    covered = (days >= np.datetime64(CALENDAR_START, "D")) & (
        days <= np.datetime64(CALENDAR_END, "D")
    )
    unchecked = int(n - np.count_nonzero(covered))
    if unchecked == n:
        return unchecked, no_days, non_session
    non_session[covered] = ~session_mask(calendar, days[covered])
    checked = days[covered]
    expected = session_days(calendar, checked.min().astype(object), checked.max().astype(object))
    have = checked[np.concatenate(([True], checked[1:] != checked[:-1]))]  # sorted: O(n)
    position = np.minimum(np.searchsorted(have, expected), have.shape[0] - 1)
    return unchecked, expected[have[position] != expected], non_session


class _TickGrid:
    """KRX ticks and limits for the bars' days, vectorized."""

    def __init__(self, market: Market, days: Days) -> None:
        self.bounds, self.sizes = _krx_tables(market.value)
        self.unified = days >= np.datetime64(KRX_UNIFIED_TICKS_SINCE, "D")
        self.half_ok = days >= np.datetime64(KRX_HALF_TICK_SINCE, "D")
        since = np.datetime64(KRX_LIMIT_30_SINCE, "D")
        # KONEX kept its ±15% limit when KOSPI and KOSDAQ moved to ±30%.
        wide = 0.15 if market is Market.KONEX else 0.30
        self.limit = np.where(days >= since, wide, 0.15)

    def tick(self, price: Floats, unified: Bools) -> Floats:
        """Return the tick size at each price under the table in force that day."""
        clean = np.nan_to_num(price, nan=0.0, posinf=0.0, neginf=0.0)
        last = self.bounds.shape[1] - 1
        old = self.sizes[0][np.minimum(np.searchsorted(self.bounds[0], clean, "right"), last)]
        new = self.sizes[1][np.minimum(np.searchsorted(self.bounds[1], clean, "right"), last)]
        result: Floats = np.where(unified, new, old)
        return result


@lru_cache(maxsize=8)
def _krx_tables(market: str) -> tuple[Floats, Floats]:
    bounds, sizes = tick_tables(CostModel.krx(market))  # type: ignore[arg-type]
    bounds.setflags(write=False)
    sizes.setflags(write=False)
    return bounds, sizes


def _krx_jumps(grid: _TickGrid, close: Floats) -> Bools:
    jumps = np.zeros(close.shape[0], dtype=np.bool_)
    if close.shape[0] < 2:
        return jumps
    prev, now = close[:-1], close[1:]
    tolerance = grid.tick(now, grid.unified[1:])
    jumps[1:] = np.abs(now - prev) > grid.limit[1:] * prev + tolerance + _EPS
    return jumps


def _relative_jumps(close: Floats, threshold: float) -> Bools:
    jumps = np.zeros(close.shape[0], dtype=np.bool_)
    if close.shape[0] >= 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            jumps[1:] = np.abs(close[1:] / close[:-1] - 1.0) > threshold
    return jumps


@lru_cache(maxsize=1)
def _split_factors() -> tuple[Floats, tuple[str, ...]]:
    """Log price factors of :data:`SPLIT_RATIOS` (ln(old/new)) and their labels."""
    logs = np.log(np.array([old / new for new, old in SPLIT_RATIOS], dtype=np.float64))
    logs.setflags(write=False)
    return logs, tuple(f"{new}:{old}" for new, old in SPLIT_RATIOS)


def _split_days(open_: Floats, close: Floats) -> tuple[Bools, npt.NDArray[np.intp]]:
    """Return per-bar flags of detected splits and the index of each one's ratio."""
    n = close.shape[0]
    found = np.zeros(n, dtype=np.bool_)
    ratio = np.zeros(n, dtype=np.intp)
    factors, _ = _split_factors()
    reach = np.log1p(SPLIT_TOLERANCE)
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = np.log(np.stack([open_[1:], close[1:]]) / close[:-1])  # open, close vs prev
        # Only moves as large as the smallest ratio's can match one: few days, if any.
        candidate = np.flatnonzero(np.any(np.abs(moves) >= np.abs(factors).min() - reach, 0))
        distance = np.abs(moves[:, candidate, None] - factors)
        nearest = np.argmin(distance, axis=2)
        hit = np.take_along_axis(distance, nearest[:, :, None], axis=2)[:, :, 0] <= reach
        day = candidate + 1
        # The open decides when it matches: on a split day it trades nearest the ratio.
        found[day] = hit[0] | hit[1]
        ratio[day] = np.where(hit[0], nearest[0], nearest[1])
        # A split is no spike: the close after it stays past half the move, and it
        # does not itself undo the day before (the recovery from a one-day spike).
        size = 0.5 * np.abs(factors[ratio])
        later = day[day + 1 < n]
        found[later] &= np.abs(np.log(close[later + 1] / close[later - 1])) >= size[later]
        earlier = day[day >= 2]
        found[earlier] &= np.abs(np.log(close[earlier] / close[earlier - 2])) >= size[earlier]
    return found, ratio


def _split_issue(found: Bools, ratio: npt.NDArray[np.intp], days: Days, keep: int) -> SplitIssue:
    _, labels = _split_factors()
    first = np.flatnonzero(found)[:keep]
    return SplitIssue(
        count=int(np.count_nonzero(found)),
        examples=tuple(days[first].astype(object).tolist()),
        ratios=tuple(labels[int(index)] for index in ratio[first]),
    )


def _krx_grid(grid: _TickGrid, prices: tuple[Floats, ...]) -> tuple[Bools, Bools]:
    """Return per-bar flags: (a price off the grid, a half-tick price where allowed)."""
    off = np.zeros(prices[0].shape[0], dtype=np.bool_)
    half = off.copy()
    for price in prices:
        steps = price / grid.tick(price, grid.unified)
        on_tick = np.abs(steps - np.rint(steps)) < _EPS
        on_half = np.abs(2.0 * steps - np.rint(2.0 * steps)) < 2.0 * _EPS
        off |= ~on_tick & ~(on_half & grid.half_ok)
        half |= ~on_tick & on_half & grid.half_ok
    return off, half & ~off


def _krx_locks(grid: _TickGrid, high: Floats, low: Floats, close: Floats) -> tuple[Bools, Bools]:
    """Return per-bar flags of one-price bars at the upper and at the lower limit.

    KRX limit prices: the width ``previous close × limit`` is truncated to the tick
    of the previous close; the upper limit is then truncated, the lower one raised,
    onto the grid of their own price band.
    """
    up = np.zeros(close.shape[0], dtype=np.bool_)
    down = up.copy()
    if close.shape[0] < 2:
        return up, down
    unified = grid.unified[1:]
    prev = close[:-1]
    base_tick = grid.tick(prev, unified)
    width = np.floor(prev * grid.limit[1:] / base_tick + _EPS) * base_tick
    upper_tick = grid.tick(prev + width, unified)
    upper = np.floor((prev + width) / upper_tick + _EPS) * upper_tick
    lower_tick = grid.tick(prev - width, unified)
    lower = np.ceil((prev - width) / lower_tick - _EPS) * lower_tick
    flat = high[1:] == low[1:]
    up[1:] = flat & (high[1:] >= upper - 0.5 * upper_tick)
    down[1:] = flat & (low[1:] <= lower + 0.5 * lower_tick)
    return up, down
