"""The test tree itself: module basenames are unique (pytest imports them by basename)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique() -> None:
    names = Counter(
        path.name for path in TESTS.rglob("*.py") if path.name not in {"__init__.py", "conftest.py"}
    )
    assert {name for name, count in names.items() if count > 1} == set()
