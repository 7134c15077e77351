"""Cross-check against ../shared/reference/sma-cross-v1.json (independent plain loop).

Convention sma-cross-long-v1: SMA(10)/SMA(30) cross on close, long only, signal at the
close, fill at the next open, all-in whole shares with commission c on both sides, no
tax, slippage or ticks, initial cash 10,000,000, open position closed at the last close.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.costs import CostModel

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sma-cross-v1.json"


def _reference() -> dict[str, Any]:
    if not REFERENCE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"reference file missing in CI: {REFERENCE}")
        pytest.skip(f"reference values not available outside the workspace: {REFERENCE}")
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    assert data["convention"] == "sma-cross-long-v1"
    return data


CASES = ["GOOG_fee0", "GOOG_fee10bp", "MSFT_fee0", "MSFT_fee10bp"]


@pytest.mark.parametrize("case_name", CASES)
def test_trades_and_final_equity_match_reference(case_name: str) -> None:
    case = _reference()["cases"][case_name]
    bars = load_sample_bars(case["symbol"])
    result = pt.run_backtest(
        bars,
        "sma_cross",
        {"fast": 10, "slow": 30},
        cash=10_000_000,
        costs=CostModel(commission_rate=case["commission"]),
    )
    assert len(bars) == case["bars"]
    trades = result.trade_records()
    expected = case["trades"]
    assert len(trades) == len(expected)
    for mine, theirs in zip(trades, expected, strict=True):
        assert mine["entry_time"][:10] == theirs["entry"]
        assert mine["exit_time"][:10] == theirs["exit"]
        assert mine["entry_price"] == pytest.approx(theirs["entry_price"], abs=1e-9)
        assert mine["exit_price"] == pytest.approx(theirs["exit_price"], abs=1e-9)
        assert mine["quantity"] == theirs["shares"]
        assert (mine["exit_reason"] == "end_of_data") == theirs["open_at_end"]
    assert result.final_equity == pytest.approx(case["final_equity"], abs=0.01)
