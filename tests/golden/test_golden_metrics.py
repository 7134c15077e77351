"""Full metrics of built-in strategies on the bundled bars, pinned in JSON files.

A difference means the engine's numbers changed: if intended, bump ENGINE_VERSION and
regenerate with ``.venv/bin/python tests/golden/golden_cases.py``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from golden_cases import CASES, GOLDEN_DIR, pinned


def assert_same(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, float) and isinstance(actual, float):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert sorted(actual) == sorted(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, where


@pytest.mark.parametrize("name", sorted(CASES))
def test_metrics_match_the_pinned_file(name: str) -> None:
    expected = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    actual = json.loads(json.dumps(pinned(CASES[name]())))
    assert_same(actual, expected, name)


def test_pinned_runs_trade_and_differ() -> None:
    sma = json.loads((GOLDEN_DIR / "sma_cross_goog_us.json").read_text())
    rsi = json.loads((GOLDEN_DIR / "rsi_reversion_ibm_stops.json").read_text())
    assert sma["trade_count"] > 20
    assert rsi["trade_count"] > 10
    assert sma["metrics"]["beta"] is not None
    assert {t["exit_reason"] for t in [rsi["first_trade"], rsi["last_trade"]]} <= {
        "signal", "stop_loss", "take_profit", "trailing_stop", "end_of_data",
    }  # fmt: skip
