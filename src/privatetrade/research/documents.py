"""Result documents of optimizations and walk-forwards, and the heatmap of two parameters.

The library's result objects (:class:`Optimization`, :class:`WalkForward`) and the job
kinds' ``result.json`` are the same documents: ``to_dict()`` is what is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from privatetrade.errors import InputError
from privatetrade.research.optimize import METRICS, OptimizationResult
from privatetrade.research.walkforward import WalkForwardResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RESEARCH_SCHEMA_VERSION",
    "HeatmapMode",
    "Optimization",
    "WalkForward",
    "heatmap",
]

RESEARCH_SCHEMA_VERSION = 1
HeatmapMode = Literal["best", "mean", "max"]
MAX_HEATMAP_CELLS = 250_000


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


@dataclass(frozen=True)
class Optimization:
    """An optimization's result: the table, the best combination and the overfitting report.

    Attributes:
        result: Every combination's metrics.
        report: The overfitting report (statistics and findings).
        context: What was optimized (symbol, strategy, bars, settings), for the document.
        top_count: Rows of the top table in :meth:`to_dict`.
    """

    result: OptimizationResult
    report: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)
    top_count: int = 20

    @property
    def best(self) -> dict[str, Any] | None:
        """The best eligible combination (params, all_params, metrics) or None."""
        return self.result.best

    def to_frame(self) -> pd.DataFrame:
        """One row per combination: searched parameters, metrics, eligible, rank."""
        return self.result.to_frame()

    def heatmap(
        self, x: str, y: str, metric: str | None = None, mode: HeatmapMode = "best"
    ) -> dict[str, Any]:
        """The objective (or ``metric``) over two parameters; see :func:`heatmap`."""
        best = self.best
        return heatmap(
            self.to_frame(),
            list(self.result.space.axes),
            x,
            y,
            metric or self.result.objective,
            mode=mode,
            best_params=None if best is None else best["params"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The result document (``result.json`` of a sweep job)."""
        result = self.result
        return {
            "schema_version": RESEARCH_SCHEMA_VERSION,
            "kind": "sweep",
            **self.context,
            "method": result.method,
            "objective": result.objective,
            "min_trades": result.min_trades,
            "space": result.space.describe(),
            "metrics": list(METRICS),
            "combinations": len(result),
            "eligible": int(result.eligible.sum()),
            "best": result.best,
            "top": result.top(self.top_count),
            "report": self.report,
            "seconds": round(result.seconds, 4),
            "resumed_chunks": result.resumed,
        }


@dataclass(frozen=True)
class WalkForward:
    """A walk-forward's result: windows, stitched out-of-sample record, report."""

    result: WalkForwardResult
    report: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per window: dates, chosen parameters, in- and out-of-sample figures."""
        import pandas as pd

        return pd.DataFrame([_window_row(w) for w in self.windows()])

    def windows(self) -> list[dict[str, Any]]:
        """Each window as a document."""
        times = self.context.get("bar_times")
        return [_window_document(outcome, times) for outcome in self.result.windows]

    def equity_frame(self) -> pd.DataFrame:
        """The stitched out-of-sample equity, with the window of each bar."""
        import pandas as pd

        window = np.zeros(len(self.result.equity), dtype=np.int64)
        for number, start in enumerate(self.result.boundaries):
            window[start:] = number + 1
        return pd.DataFrame(
            {"time": self.result.times, "equity": self.result.equity, "window": window}
        )

    def to_dict(self) -> dict[str, Any]:
        """The result document (``result.json`` of a walkforward job)."""
        context = {k: v for k, v in self.context.items() if k != "bar_times"}
        metrics = self.result.metrics
        return {
            "schema_version": RESEARCH_SCHEMA_VERSION,
            "kind": "walkforward",
            **context,
            "windows": self.windows(),
            "equity": {
                "times": self.result.times,
                "values": [float(v) for v in self.result.equity],
                "boundaries": self.result.boundaries,
            },
            "initial_cash": self.result.initial_cash,
            "out_of_sample_metrics": None
            if metrics is None
            else {k: _clean(v) for k, v in _as_dict(metrics).items()},
            "report": self.report,
            "seconds": round(self.result.seconds, 4),
        }


def _as_dict(metrics: Any) -> dict[str, Any]:
    from dataclasses import asdict

    values: dict[str, Any] = asdict(metrics)
    return values


def _window_document(outcome: Any, times: list[str] | None) -> dict[str, Any]:
    window = outcome.window

    def when(position: int) -> str | None:
        return None if times is None or position >= len(times) else times[position]

    oos_metrics = None
    if outcome.oos is not None:
        oos_metrics = {k: _clean(v) for k, v in _as_dict(outcome.oos.metrics).items()}
    chosen = outcome.chosen
    return {
        "index": window.index,
        "in_sample": {
            "start": when(window.is_start),
            "end": when(window.is_end - 1),
            "bars": window.is_end - window.is_start,
        },
        "out_of_sample": {
            "start": when(window.oos_start),
            "end": when(window.oos_end - 1),
            "bars": window.oos_end - window.oos_start,
            "partial": window.partial,
        },
        "params": None if chosen is None else chosen["params"],
        "in_sample_metrics": None if chosen is None else chosen["metrics"],
        "out_of_sample_metrics": oos_metrics,
        "combinations": len(outcome.optimization),
        "eligible": int(outcome.optimization.eligible.sum()),
        "report": outcome.report,
    }


def _window_row(window: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "window": window["index"] + 1,
        "in_sample_start": window["in_sample"]["start"],
        "in_sample_end": window["in_sample"]["end"],
        "out_of_sample_start": window["out_of_sample"]["start"],
        "out_of_sample_end": window["out_of_sample"]["end"],
    }
    for name, value in (window["params"] or {}).items():
        row[f"param_{name}"] = value
    for prefix, metrics in (
        ("is", window["in_sample_metrics"]),
        ("oos", window["out_of_sample_metrics"]),
    ):
        for name in ("total_return", "cagr", "sharpe", "max_drawdown", "trade_count"):
            row[f"{prefix}_{name}"] = None if metrics is None else metrics.get(name)
    return row


def heatmap(
    frame: pd.DataFrame,
    names: list[str],
    x: str,
    y: str,
    metric: str,
    *,
    mode: HeatmapMode = "best",
    best_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``metric`` over parameters ``x`` and ``y`` of an optimization table.

    Modes: ``best`` fixes the other searched parameters at the best combination's
    values; ``mean`` averages over them; ``max`` takes their best. Only eligible rows
    count; cells without one are None.

    Raises:
        InputError: ``x`` or ``y`` is not a searched parameter (``field`` names it), they
            are the same, or ``metric`` is unknown.
    """
    for axis, name in (("x", x), ("y", y)):
        if name not in names:
            raise InputError(
                f"{name!r} is not a searched parameter; searched: {', '.join(names)}", field=axis
            )
    if x == y:
        raise InputError("choose two different parameters", field="y")
    if metric not in METRICS:
        raise InputError(
            f"unknown metric {metric!r}; use one of {', '.join(METRICS)}", field="metric"
        )
    rows = frame[frame["eligible"]] if "eligible" in frame else frame
    if mode == "best" and best_params is not None:
        for name in names:
            if name not in (x, y) and name in best_params:
                rows = rows[rows[name] == best_params[name]]
    x_values = sorted(frame[x].unique().tolist())
    y_values = sorted(frame[y].unique().tolist())
    if len(x_values) * len(y_values) > MAX_HEATMAP_CELLS:
        raise InputError(
            f"{len(x_values)} × {len(y_values)} cells; at most {MAX_HEATMAP_CELLS:,}", field="x"
        )
    grouped = rows.groupby([y, x])[metric]
    table = grouped.mean() if mode == "mean" else grouped.max()
    z = [[_clean(float(table.get((yv, xv), math.nan))) for xv in x_values] for yv in y_values]
    return {
        "x": x,
        "y": y,
        "metric": metric,
        "mode": mode,
        "x_values": [_clean(v) for v in x_values],
        "y_values": [_clean(v) for v in y_values],
        "z": z,
        "fixed": {}
        if mode != "best" or best_params is None
        else {k: v for k, v in best_params.items() if k not in (x, y)},
    }
