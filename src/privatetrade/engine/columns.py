"""The metrics of a sweep row, by name and in column order (no compiled code: cheap to import)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["SWEEP_METRICS", "SweepMetric"]

SweepMetric = Literal[
    "final_equity",
    "total_return",
    "sharpe",
    "max_drawdown",
    "trade_count",
    "cagr",
    "sortino",
    "calmar",
    "profit_factor",
    "win_rate",
    "return_over_drawdown",
]
SWEEP_METRICS: tuple[str, ...] = get_args(SweepMetric)
