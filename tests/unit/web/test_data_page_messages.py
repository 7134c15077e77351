"""The data pages name every finding, outcome, series and field in both languages.

The pages build these message keys from values (``data.finding.`` + a report's field),
which the scan of literal keys in test_i18n cannot see.
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from privatetrade.data.files import COLUMN_ALIASES
from privatetrade.data.quality import QualityIssue, QualityReport
from privatetrade.data.store import PriceKind
from privatetrade.domain.data_updates import UpdateStatus
from privatetrade.web.ui.i18n import Language, catalog


def finding_kinds() -> list[str]:
    """Every kind of finding a quality report can have."""
    kinds = [
        item.name
        for item in fields(QualityReport)
        if isinstance(item.type, str) and item.type.endswith("Issue")
    ]
    assert {"jumps", "non_session_bars", "off_grid", "zero_volume"} <= set(kinds)
    return kinds


def test_the_finding_kinds_are_the_reports_issues() -> None:
    issue_types = {QualityIssue.__name__, *(cls.__name__ for cls in QualityIssue.__subclasses__())}
    typed = {item.name for item in fields(QualityReport) if item.type in issue_types}
    assert set(finding_kinds()) == typed


@pytest.mark.parametrize("language", list(Language))
def test_every_value_the_data_pages_show_has_a_message(language: Language) -> None:
    messages = catalog(language)
    wanted = [
        *(f"data.finding.{kind}" for kind in finding_kinds()),
        *(f"data.explain.{kind}" for kind in finding_kinds()),
        *(f"data.outcome.{status.value}" for status in UpdateStatus),
        *(f"data.series.{kind.value}" for kind in PriceKind),
        *(f"data.field.{field}" for field in COLUMN_ALIASES),
        *(f"data.imported.{mode}" for mode in ("new", "replace", "merge")),
        *(f"data.checked_series.{kind.value}" for kind in PriceKind),
    ]
    assert [key for key in wanted if key not in messages] == []
