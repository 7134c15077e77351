"""The quality summary an import shows: the report's findings in a fixed order.

Both the CLI and the web pages print the same lines: the checks of
:data:`QUALITY_CHECKS` first (bars outside the exchange's sessions, off-tick prices,
jumps beyond the daily limit, zero-volume days, gaps), each with its count and first
days, or marked not checked where it does not apply; then notes when there are any.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from privatetrade.data.calendar import CalendarName
from privatetrade.data.quality import QualityReport

__all__ = ["QUALITY_CHECKS", "QualityFinding", "summarize_quality"]

QUALITY_CHECKS: tuple[str, ...] = (
    "non_session_bars",
    "off_grid",
    "jumps",
    "zero_volume",
    "missing_sessions",
)
"""The quality findings an import always reports, in order (``QualityReport`` fields)."""
_QUALITY_NOTES = ("detected_splits", "half_tick", "limit_up_locked", "limit_down_locked")


@dataclass(frozen=True, slots=True)
class QualityFinding:
    """One line of an import's quality summary.

    Attributes:
        name: The :class:`~privatetrade.data.quality.QualityReport` field, e.g.
            ``non_session_bars`` (labels and translations belong to the caller).
        count: How many days have it.
        examples: The first few of those days.
        problem: True for a problem (it makes the report fail), False for a note.
        checked: False when the check does not apply (no calendar for the market, the
            tick grid of adjusted prices, volume of a file without a volume column).
    """

    name: str
    count: int
    examples: tuple[dt.date, ...]
    problem: bool
    checked: bool = True

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (ISO dates)."""
        return {
            "name": self.name,
            "count": self.count,
            "examples": [day.isoformat() for day in self.examples],
            "problem": self.problem,
            "checked": self.checked,
        }


def summarize_quality(
    report: QualityReport, *, adjusted: bool = False, has_volume: bool = True
) -> tuple[QualityFinding, ...]:
    """Return the import summary of a quality report.

    The checks of :data:`QUALITY_CHECKS` always come first, in that order; notes
    (detected splits, half ticks, limit-locked days) follow when there are any.

    Args:
        report: The report of the bars.
        adjusted: The bars are adjusted prices (not on the tick grid by construction).
        has_volume: The file had a volume column (else every volume is 0).
    """
    applies = _applies(report, adjusted=adjusted, has_volume=has_volume)
    findings = []
    for name in QUALITY_CHECKS:
        issue = getattr(report, name)
        checked = applies.get(name, True)
        findings.append(
            QualityFinding(
                name,
                issue.count if checked else 0,
                issue.examples if checked else (),
                problem=name in report.PROBLEMS,
                checked=checked,
            )
        )
    for name in _QUALITY_NOTES:
        issue = getattr(report, name, None)
        if issue is not None and issue.count:
            findings.append(QualityFinding(name, issue.count, issue.examples, problem=False))
    return tuple(findings)


def _applies(report: QualityReport, *, adjusted: bool, has_volume: bool) -> dict[str, bool]:
    """Return, per check of :data:`QUALITY_CHECKS`, whether it applies to these bars."""
    has_calendar = report.calendar is not None
    return {
        "non_session_bars": has_calendar,
        "missing_sessions": has_calendar,
        "off_grid": report.calendar is CalendarName.XKRX and not adjusted,
        "zero_volume": has_volume,
    }
