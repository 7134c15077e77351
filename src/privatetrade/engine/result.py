"""The result of one backtest: arrays, metrics, tables and the result document.

Arrays and metrics are computed eagerly (they are cheap); pandas tables, the
data fingerprint and the JSON document are built only when asked for.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.engine.bars import PreparedBars, bars_sha256, format_times
from privatetrade.engine.metrics import Metrics, drawdown_series, period_returns
from privatetrade.engine.records import EXIT_REASON_NAMES, Direction, ExitReason, Side
from privatetrade.engine.settings import SimulationSettings
from privatetrade.engine.simulation import SimulationOutput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESULT_SCHEMA_VERSION", "BacktestResult", "DataInfo", "fill_rows", "trade_rows"]

RESULT_SCHEMA_VERSION = "1.1"
_NS_PER_DAY = 86_400 * 1_000_000_000

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "direction",
    "quantity",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "commission",
    "tax",
    "fees",
    "net_pnl",
    "return",
    "holding_bars",
    "holding_days",
    "exit_reason",
    "mae",
    "mfe",
)
FILL_COLUMNS = ("time", "side", "quantity", "price", "commission", "tax", "slippage", "reason")
EQUITY_COLUMNS = ("time", "equity", "cash", "position", "close", "drawdown")


@dataclass(frozen=True, slots=True)
class DataInfo:
    """Where the bars came from (recorded in the result for reproducibility).

    Attributes:
        symbol: Symbol code, if known.
        source: Data source label (``sample``, ``csv``, ``fdr``, ...).
        adjusted: True for split/dividend-adjusted prices, False for raw, None unknown.
    """

    symbol: str | None = None
    source: str | None = None
    adjusted: bool | None = None


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of a backtest.

    Attributes:
        strategy: Registry name of the strategy.
        params: The strategy's validated parameters.
        settings: Capital, costs, sizing, stops and fill timing used.
        prepared: The validated bars the run used.
        output: Raw kernel arrays (cash, position, equity, fills, trades).
        metrics: Summary metrics.
        benchmark_close: Benchmark prices aligned to the bars, if one was given.
        benchmark_name: Label of the benchmark.
        data_info: Symbol, source and adjustment of the bars.
        engine_version: Version of the engine semantics that produced this result.
        periods_per_year: Annualization factor the metrics used (given or inferred).
        warnings: Human-readable caveats (few trades, short history, ...).
        rules: A rule strategy's rule, JSON-ready: ``{"document": {...}, "saved":
            {"id", "version", "name"} | None}``, written as ``spec.rules``; None for
            other strategies (and then not written).
    """

    strategy: str
    params: dict[str, Any]
    settings: SimulationSettings
    prepared: PreparedBars
    output: SimulationOutput
    metrics: Metrics
    benchmark_close: npt.NDArray[np.float64] | None
    benchmark_name: str | None
    data_info: DataInfo
    engine_version: str
    periods_per_year: float
    warnings: list[str] = field(default_factory=list)
    rules: dict[str, Any] | None = None

    @property
    def final_equity(self) -> float:
        """Equity after the last bar."""
        return float(self.output.equity[-1])

    @cached_property
    def drawdown(self) -> npt.NDArray[np.float64]:
        """Drawdown at each bar's close (0 at a new high, negative below it)."""
        return drawdown_series(self.output.equity, self.settings.initial_cash)

    @cached_property
    def times(self) -> list[str]:
        """ISO 8601 timestamps of the bars, with the exchange's UTC offset."""
        return format_times(self.prepared.bars.time, self.prepared.local_time_ns)

    @cached_property
    def data_sha256(self) -> str:
        """SHA-256 of exactly the bars used: times, then open, high, low, close, volume."""
        return bars_sha256(self.prepared.bars)

    def monthly_returns(self) -> list[tuple[str, float]]:
        """Return ``(YYYY-MM, return)`` for each calendar month."""
        return period_returns(
            self.prepared.local_time_ns, self.output.equity, self.settings.initial_cash, "month"
        )

    def yearly_returns(self) -> list[tuple[str, float]]:
        """Return ``(YYYY, return)`` for each calendar year."""
        return period_returns(
            self.prepared.local_time_ns, self.output.equity, self.settings.initial_cash, "year"
        )

    def trade_records(self) -> list[dict[str, Any]]:
        """Return the closed trades as JSON-ready dicts (see ``TRADE_COLUMNS``)."""
        return trade_rows(self.output.trades, self.times, self.prepared.local_time_ns)

    def fill_records(self) -> list[dict[str, Any]]:
        """Return every fill as a JSON-ready dict."""
        return fill_rows(self.output.fills, self.times)

    def equity_series(self) -> dict[str, list[Any]]:
        """Return the equity series as columns (see ``EQUITY_COLUMNS``)."""
        return {
            "time": self.times,
            "equity": self.output.equity.tolist(),
            "cash": self.output.cash.tolist(),
            "position": self.output.position.tolist(),
            "close": self.prepared.bars.close.tolist(),
            "drawdown": self.drawdown.tolist(),
        }

    def buy_and_hold_equity(self) -> list[float]:
        """Return the equity of holding the stock from the first close, frictionless."""
        close = self.prepared.bars.close
        equity: list[float] = (self.settings.initial_cash * close / close[0]).tolist()
        return equity

    def benchmark_equity(self) -> list[float | None] | None:
        """Return the benchmark scaled to the initial cash (None before its first price)."""
        if self.benchmark_close is None:
            return None
        bench = self.benchmark_close
        valid = np.flatnonzero(np.isfinite(bench))
        if valid.size == 0:
            return None
        scaled = self.settings.initial_cash * bench / bench[valid[0]]
        return [None if not math.isfinite(v) else float(v) for v in scaled.tolist()]

    def metrics_document(self) -> dict[str, Any]:
        """Return the metrics as a JSON-ready dict, drawdown bars also given as times."""
        values = _json_safe(asdict(self.metrics))
        values["periods_per_year"] = self.periods_per_year
        local = self.prepared.local_time_ns
        for key in ("max_drawdown_start", "max_drawdown_end", "max_drawdown_recovery"):
            bar = values[key]
            values[f"{key}_time"] = None if bar is None else self.times[bar]
        start, end = values["max_drawdown_start"], values["max_drawdown_recovery"]
        if start is not None:
            last = len(self.times) - 1 if end is None else end
            values["max_drawdown_duration_days"] = int((local[last] - local[start]) // _NS_PER_DAY)
        else:
            values["max_drawdown_duration_days"] = None
        return values

    def to_dict(self) -> dict[str, Any]:
        """Return the versioned result document (JSON-ready, see docs/result-schema.md)."""
        from privatetrade import __version__

        times = self.times
        bars = self.prepared.bars
        spec: dict[str, Any] = {
            "strategy": self.strategy,
            "params": self.params,
            "settings": self.settings.model_dump(mode="json"),
            "benchmark": self.benchmark_name,
        }
        if self.rules is not None:
            spec["rules"] = self.rules
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "engine_version": self.engine_version,
            "app_version": __version__,
            "spec": spec,
            "data": {
                **asdict(self.data_info),
                "timezone": self.prepared.tz,
                "first_bar": times[0],
                "last_bar": times[-1],
                "bar_count": len(bars),
                "sha256": self.data_sha256,
            },
            "metrics": self.metrics_document(),
            "trades": self.trade_records(),
            "fills": self.fill_records(),
            "equity": self.equity_series(),
            "buy_and_hold": self.buy_and_hold_equity(),
            "benchmark": self.benchmark_equity(),
            "monthly_returns": [{"period": p, "return": r} for p, r in self.monthly_returns()],
            "yearly_returns": [{"period": p, "return": r} for p, r in self.yearly_returns()],
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the result document as deterministic JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def trades_csv(self) -> str:
        """Return the trades as CSV text (header row first)."""
        return _csv(
            TRADE_COLUMNS, [[row[c] for c in TRADE_COLUMNS] for row in self.trade_records()]
        )

    def equity_csv(self) -> str:
        """Return the equity series as CSV text (header row first)."""
        series = self.equity_series()
        columns = [series[name] for name in EQUITY_COLUMNS]
        return _csv(EQUITY_COLUMNS, list(zip(*columns, strict=True)))

    def equity_frame(self) -> pd.DataFrame:
        """Return equity, cash, position, close and drawdown as a DataFrame."""
        import pandas as pd

        index = pd.DatetimeIndex(self.prepared.bars.time, tz="UTC").tz_convert(self.prepared.tz)
        data = {name: values for name, values in self.equity_series().items() if name != "time"}
        return pd.DataFrame(data, index=index)

    def trades_frame(self) -> pd.DataFrame:
        """Return the closed trades as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.trade_records(), columns=list(TRADE_COLUMNS))


def trade_rows(
    trades: npt.NDArray[np.void], times: list[str], local_time_ns: npt.NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Return ``TRADE_DTYPE`` records as JSON-ready dicts (see ``TRADE_COLUMNS``).

    Args:
        trades: The trade records; their bar fields index ``times``.
        times: ISO 8601 time of each bar.
        local_time_ns: Wall-clock nanoseconds of each bar (for ``holding_days``).
    """
    rows = []
    for trade in trades:
        entry, exit_ = int(trade["entry_bar"]), int(trade["exit_bar"])
        rows.append(
            {
                "entry_time": times[entry],
                "exit_time": times[exit_],
                "direction": Direction(int(trade["direction"])).name.lower(),
                "quantity": float(trade["quantity"]),
                "entry_price": float(trade["entry_price"]),
                "exit_price": float(trade["exit_price"]),
                "gross_pnl": float(trade["gross_pnl"]),
                "commission": float(trade["commission"]),
                "tax": float(trade["tax"]),
                "fees": float(trade["commission"] + trade["tax"]),
                "net_pnl": float(trade["net_pnl"]),
                "return": float(trade["return_pct"]),
                "holding_bars": exit_ - entry,
                "holding_days": int((local_time_ns[exit_] - local_time_ns[entry]) // _NS_PER_DAY),
                "exit_reason": EXIT_REASON_NAMES[ExitReason(int(trade["exit_reason"]))],
                "mae": float(trade["mae"]),
                "mfe": float(trade["mfe"]),
            }
        )
    return rows


def fill_rows(fills: npt.NDArray[np.void], times: list[str]) -> list[dict[str, Any]]:
    """Return ``FILL_DTYPE`` records as JSON-ready dicts (see ``FILL_COLUMNS``).

    Args:
        fills: The fill records; their ``bar`` field indexes ``times``.
        times: ISO 8601 time of each bar.
    """
    rows = []
    for fill in fills:
        reason = ExitReason(int(fill["reason"]))
        rows.append(
            {
                "time": times[int(fill["bar"])],
                "side": Side(int(fill["side"])).name.lower(),
                "quantity": float(fill["quantity"]),
                "price": float(fill["price"]),
                "commission": float(fill["commission"]),
                "tax": float(fill["tax"]),
                "slippage": float(fill["slippage"]),
                "reason": "entry" if reason is ExitReason.NONE else EXIT_REASON_NAMES[reason],
            }
        )
    return rows


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


def _csv(header: tuple[str, ...], rows: list[Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
