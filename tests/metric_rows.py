"""Compare sweep rows (``SweepResult.values``) with the metrics of full backtests."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from privatetrade.engine.metrics import Metrics
from privatetrade.engine.sweep import SWEEP_METRICS

# Relative tolerance per column: sums of returns and of trade P&L run in another order
# than in compute_metrics; final equity and the trade count come out of the same kernel.
_TOLERANCE = {"final_equity": 1e-12, "sharpe": 1e-7, "sortino": 1e-7, "trade_count": 0.0}


def expected_row(metrics: Metrics) -> dict[str, float | None]:
    """Return the sweep columns as ``run_backtest``'s metrics define them (None: undefined)."""
    expected: dict[str, float | None] = {
        name: getattr(metrics, name) for name in SWEEP_METRICS if name != "return_over_drawdown"
    }
    drawdown = metrics.max_drawdown
    expected["return_over_drawdown"] = metrics.total_return / -drawdown if drawdown else None
    return expected


def assert_row_matches(row: Sequence[float], metrics: Metrics) -> None:
    """Assert one sweep row equals the metrics of a full backtest, column by column."""
    expected = expected_row(metrics)
    for name, value in zip(SWEEP_METRICS, row, strict=True):
        want = expected[name]
        if want is None:
            assert math.isnan(value), (name, value)
        else:
            tolerance = _TOLERANCE.get(name, 1e-9)
            assert value == pytest.approx(want, rel=tolerance, abs=1e-12), name
