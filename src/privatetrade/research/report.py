"""The overfitting report of an optimization or a walk-forward: statistics and findings.

- **Deflated Sharpe ratio** of the chosen combination: its Sharpe ratio against the
  best one expected from as many trials of a strategy with no edge, given the
  variance of the trials' Sharpe ratios, the chosen one's skewness and kurtosis and
  the number of bars (per-bar Sharpe ratios, as the paper defines them).
- **Probability of backtest overfitting** by combinatorially symmetric cross-validation
  on :data:`PBO_BLOCKS` blocks of bars (every split in halves), with the Sharpe ratio
  as the performance measure, whatever the objective; where fewer than two
  combinations are eligible it is not computed.
- **Walk-forward efficiency** (walk-forward only): out-of-sample annualized return /
  mean in-sample annualized return.
- **Findings** in Korean and English (see :mod:`privatetrade.research.findings`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.research import findings as found
from privatetrade.research.overfitting import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    kurtosis,
    probability_of_backtest_overfitting,
    skewness,
    walk_forward_efficiency,
)

if TYPE_CHECKING:
    from privatetrade.research.optimize import OptimizationResult
    from privatetrade.research.walkforward import WalkForwardResult

__all__ = [
    "FEW_TRADES",
    "PBO_BLOCKS",
    "block_lengths",
    "optimization_report",
    "walk_forward_report",
]

PBO_BLOCKS = 8  # C(8, 4) = 70 splits: cheap enough for every window of a walk-forward
FEW_TRADES = 20  # fewer trades behind the best result: too few to tell skill from luck


def block_lengths(n_bars: int, blocks: int) -> npt.NDArray[np.float64]:
    """Bars per block when ``n_bars`` are cut into ``blocks`` contiguous near-equal blocks."""
    edges = [j * n_bars // blocks for j in range(blocks + 1)]
    return np.diff(np.array(edges, dtype=np.float64))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def optimization_report(
    result: OptimizationResult,
    best_returns: npt.NDArray[np.float64] | None,
    periods_per_year: float,
    *,
    extra: list[found.Finding | None] | None = None,
) -> dict[str, Any]:
    """Statistics and findings of one optimization.

    Args:
        result: The optimization.
        best_returns: Per-bar returns of the best combination's full backtest (its
            skewness and kurtosis); None when none is eligible.
        periods_per_year: Bars per year (to de-annualize the Sharpe ratios).
        extra: Further findings (a walk-forward's) appended after the optimization's.
    """
    eligible = result.eligible
    sharpes = result.column("sharpe")[eligible]
    sharpes = sharpes[np.isfinite(sharpes)] / math.sqrt(periods_per_year)
    best = result.best
    stats: dict[str, Any] = {
        "trials": len(result),
        "eligible": int(eligible.sum()),
        "bars": result.n_bars,
        "sharpe_variance": None,
        "expected_max_sharpe": None,
        "deflated_sharpe": None,
        "skewness": None,
        "kurtosis": None,
        "pbo": None,
    }
    if best is not None and len(sharpes) >= 2 and best_returns is not None:
        _add_dsr(stats, best, sharpes, best_returns, periods_per_year)
    stats["pbo"] = _pbo(result)
    findings = _optimization_findings(result, best, stats)
    findings += found.collect(*(extra or []))
    return {**stats, "findings": [finding.to_dict() for finding in findings]}


def _add_dsr(
    stats: dict[str, Any],
    best: dict[str, Any],
    sharpes: npt.NDArray[np.float64],
    returns: npt.NDArray[np.float64],
    periods_per_year: float,
) -> None:
    best_sharpe = best["metrics"].get("sharpe")
    variance = float(np.var(sharpes, ddof=1))
    skew, kurt = skewness(returns), kurtosis(returns)
    stats.update(
        sharpe_variance=_finite(variance * periods_per_year),
        skewness=_finite(skew),
        kurtosis=_finite(kurt),
    )
    if best_sharpe is None or not all(map(math.isfinite, (variance, skew, kurt))):
        return
    per_bar = best_sharpe / math.sqrt(periods_per_year)
    expected = expected_maximum_sharpe(variance, len(sharpes))
    stats["expected_max_sharpe"] = _finite(expected * math.sqrt(periods_per_year))
    stats["deflated_sharpe"] = _finite(
        deflated_sharpe_ratio(per_bar, variance, len(sharpes), len(returns), skew, kurt)
    )


def _pbo(result: OptimizationResult) -> dict[str, Any] | None:
    stats = result.block_stats
    if stats.ndim != 3 or stats.shape[1] < 2:
        return None
    keep = result.eligible & np.isfinite(stats).all(axis=(1, 2))
    if keep.sum() < 2:
        return None
    lengths = block_lengths(result.n_bars, stats.shape[1])
    try:
        outcome = probability_of_backtest_overfitting(stats[keep, :, 0], stats[keep, :, 1], lengths)
    except ValueError:
        return None
    document: dict[str, Any] = outcome.to_dict()
    return document


def _optimization_findings(
    result: OptimizationResult, best: dict[str, Any] | None, stats: dict[str, Any]
) -> list[found.Finding]:
    if best is None:
        return []
    axes = result.space.axes
    shape_finding = None
    if result.method == "grid":
        grid, index = _score_grid(result)
        if grid is not None and index is not None:
            shape_finding = found.peak_shape(grid, index, axes=axes)
    pbo = stats.get("pbo")
    return found.collect(
        found.edge_of_grid(best["params"], axes),
        shape_finding,
        found.too_few_trades(int(best["metrics"]["trade_count"]), FEW_TRADES),
        found.low_dsr(stats["deflated_sharpe"], n_trials=stats["eligible"])
        if stats["deflated_sharpe"] is not None
        else None,
        found.high_pbo(pbo["pbo"]) if pbo is not None else None,
    )


def _score_grid(
    result: OptimizationResult,
) -> tuple[npt.NDArray[np.float64] | None, tuple[int, ...] | None]:
    """The objective on the full grid (NaN where invalid or ineligible) and the best's cell."""
    shape = tuple(len(axis) for axis in result.space.axes.values())
    if math.prod(shape) > 4_000_000 or result.best_index is None:
        return None, None
    grid = np.full(shape, np.nan)
    scores = result.scores
    finite = np.isfinite(scores)
    grid[tuple(result.codes[finite].T)] = scores[finite]
    return grid, tuple(int(c) for c in result.codes[result.best_index])


def walk_forward_report(result: WalkForwardResult, objective: str) -> dict[str, Any]:
    """Walk-forward efficiency, in- versus out-of-sample figures, and findings."""
    metrics = result.metrics
    oos_cagr = None if metrics is None else metrics.cagr
    is_cagr = result.in_sample_mean("cagr")
    wfe = (
        walk_forward_efficiency(is_cagr, oos_cagr)
        if is_cagr is not None and oos_cagr is not None
        else None
    )
    is_sharpe = result.in_sample_mean("sharpe")
    oos_sharpe = None if metrics is None else metrics.sharpe
    dsrs: list[float] = [
        float(o.report["deflated_sharpe"])
        for o in result.windows
        if o.report.get("deflated_sharpe") is not None
    ]
    pbos = [o.report["pbo"]["pbo"] for o in result.windows if o.report.get("pbo") is not None]
    findings = found.collect(
        found.oos_much_worse(is_sharpe, oos_sharpe, "sharpe")
        if is_sharpe is not None and oos_sharpe is not None
        else None,
        found.low_dsr(min(dsrs)) if dsrs else None,
        found.high_pbo(float(np.mean(pbos))) if pbos else None,
        found.too_few_trades(metrics.trade_count, FEW_TRADES) if metrics is not None else None,
    )
    return {
        "walk_forward_efficiency": _finite(wfe),
        "in_sample_cagr_mean": _finite(is_cagr),
        "out_of_sample_cagr": _finite(oos_cagr),
        "in_sample_sharpe_mean": _finite(is_sharpe),
        "out_of_sample_sharpe": _finite(oos_sharpe),
        "deflated_sharpe_min": min(dsrs) if dsrs else None,
        "pbo_mean": float(np.mean(pbos)) if pbos else None,
        "objective": objective,
        "findings": [finding.to_dict() for finding in findings],
    }
