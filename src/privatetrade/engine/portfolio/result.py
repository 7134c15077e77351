"""The result of one portfolio backtest: arrays, metrics, tables and the result document.

The document (schema ``1.1``, kind ``portfolio``) is described in docs/result-schema.md
("Portfolio result"); the semantics of its numbers in docs/portfolio.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from privatetrade.engine.bars import format_times
from privatetrade.engine.costs import CostModel
from privatetrade.engine.metrics import Metrics, drawdown_series, period_returns
from privatetrade.engine.portfolio.align import AlignedBars
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.simulation import PortfolioOutput
from privatetrade.engine.records import Side
from privatetrade.engine.result import (
    FILL_COLUMNS,
    TRADE_COLUMNS,
    DataInfo,
    fill_rows,
    trade_rows,
)
from privatetrade.engine.settings import SimulationSettings

__all__ = [
    "CONTRIBUTION_COLUMNS",
    "PORTFOLIO_EQUITY_COLUMNS",
    "PORTFOLIO_SCHEMA_VERSION",
    "PortfolioResult",
    "Rebalances",
    "forward_filled",
    "symbol_sha256",
    "turnover_scale",
]

PORTFOLIO_SCHEMA_VERSION = "1.1"
PORTFOLIO_EQUITY_COLUMNS = ("time", "equity", "cash", "invested", "exposure", "drawdown")
CONTRIBUTION_COLUMNS = (
    "symbol",
    "pnl",
    "return_contribution",
    "trades",
    "win_rate",
    "turnover",
    "max_weight",
)
_WEIGHT_DECIMALS = 6
_NS_PER_DAY = 86_400 * 1_000_000_000
_DAYS_PER_YEAR = 365.25

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Rebalances:
    """The rebalances an allocation rule executed (empty for the signals rule).

    Attributes:
        signal_bars: ``(R,)`` bars whose closes decided the weights.
        fill_bars: ``(R,)`` bars where the orders filled.
        weights: ``(R, N)`` target weights.
    """

    signal_bars: npt.NDArray[np.int64]
    fill_bars: npt.NDArray[np.int64]
    weights: FloatArray

    @classmethod
    def none(cls, n_symbols: int) -> Rebalances:
        """Return an empty record (the signals rule)."""
        empty = np.empty(0, dtype=np.int64)
        return cls(empty, empty.copy(), np.empty((0, n_symbols)))


@dataclass(frozen=True)
class PortfolioResult:
    """Outcome of a portfolio backtest.

    Attributes:
        rule: The portfolio rule.
        settings: Capital, costs (the model of every symbol, or of the first when
            ``symbol_costs`` is set), fill timing, stops and metric settings.
        symbol_costs: Each symbol's cost model when they were given per symbol.
        aligned: The bars the run covered (from ``start``), on the portfolio calendar.
        output: Raw kernel arrays (cash, equity, positions, fills, trades, ...).
        metrics: Summary metrics (``exposure`` and ``turnover`` as defined for portfolios).
        rebalances: The executed rebalances of an allocation rule.
        benchmark_close: Benchmark prices on the calendar, if one was given.
        benchmark_name: Label of the benchmark.
        data_info: Source and adjustment of each symbol's bars.
        engine_version: Version of the engine semantics that produced this result.
        periods_per_year: Annualization factor the metrics used.
        warnings: Human-readable caveats.
        history_bars: Calendar bars before ``aligned`` the run read as history only
            (``run_portfolio``'s ``start``).
    """

    rule: PortfolioRule
    settings: SimulationSettings
    symbol_costs: Mapping[str, CostModel] | None
    aligned: AlignedBars
    output: PortfolioOutput
    metrics: Metrics
    rebalances: Rebalances
    benchmark_close: FloatArray | None
    benchmark_name: str | None
    data_info: Mapping[str, DataInfo]
    engine_version: str
    periods_per_year: float
    warnings: list[str] = field(default_factory=list)
    history_bars: int = 0

    @property
    def symbols(self) -> tuple[str, ...]:
        """The universe, in order."""
        return self.aligned.symbols

    @property
    def final_equity(self) -> float:
        """Equity after the last bar."""
        return float(self.output.equity[-1])

    @cached_property
    def times(self) -> list[str]:
        """ISO 8601 timestamps of the calendar's bars, with the exchange's UTC offset."""
        return format_times(self.aligned.time, self.aligned.local_time_ns)

    @cached_property
    def last_close(self) -> FloatArray:
        """``(T, N)`` each symbol's last close at each bar (NaN before its first bar)."""
        return forward_filled(self.aligned.close, self.aligned.present)

    @cached_property
    def holding_values(self) -> FloatArray:
        """``(T, N)`` value of each holding at its last close, at each bar's close."""
        position = self.output.position
        return np.where(position != 0.0, position * np.nan_to_num(self.last_close), 0.0)

    @cached_property
    def invested(self) -> FloatArray:
        """``(T,)`` value of all holdings at each bar's close."""
        return np.asarray(self.holding_values.sum(axis=1), dtype=np.float64)

    @cached_property
    def exposure(self) -> FloatArray:
        """``(T,)`` invested fraction of equity at each bar's close."""
        equity = self.output.equity
        return np.where(equity > 0.0, self.invested / np.where(equity > 0.0, equity, 1.0), 0.0)

    @cached_property
    def weights(self) -> FloatArray:
        """``(T, N)`` each holding's share of equity at each bar's close."""
        equity = self.output.equity[:, None]
        safe = np.where(equity > 0.0, equity, 1.0)
        return np.where(equity > 0.0, self.holding_values / safe, 0.0)

    @cached_property
    def drawdown(self) -> FloatArray:
        """Drawdown at each bar's close (0 at a new high, negative below it)."""
        return drawdown_series(self.output.equity, self.settings.initial_cash)

    @property
    def n_symbols_held(self) -> int:
        """How many symbols were held at some bar's close."""
        return int(np.count_nonzero((self.output.position != 0.0).any(axis=0)))

    def monthly_returns(self) -> list[tuple[str, float]]:
        """Return ``(YYYY-MM, return)`` for each calendar month."""
        return period_returns(
            self.aligned.local_time_ns, self.output.equity, self.settings.initial_cash, "month"
        )

    def yearly_returns(self) -> list[tuple[str, float]]:
        """Return ``(YYYY, return)`` for each calendar year."""
        return period_returns(
            self.aligned.local_time_ns, self.output.equity, self.settings.initial_cash, "year"
        )

    def trade_records(self) -> list[dict[str, Any]]:
        """Return the exit trades as JSON-ready dicts: ``symbol`` then the single fields."""
        rows = trade_rows(self.output.trades, self.times, self.aligned.local_time_ns)
        return _with_symbols(rows, self.output.trade_symbol, self.symbols)

    def fill_records(self) -> list[dict[str, Any]]:
        """Return every fill as a JSON-ready dict: ``symbol`` then the single fields."""
        rows = fill_rows(self.output.fills, self.times)
        return _with_symbols(rows, self.output.fill_symbol, self.symbols)

    def equity_series(self) -> dict[str, list[Any]]:
        """Return the per-bar series as columns (see ``PORTFOLIO_EQUITY_COLUMNS``)."""
        return {
            "time": self.times,
            "equity": self.output.equity.tolist(),
            "cash": self.output.cash.tolist(),
            "invested": self.invested.tolist(),
            "exposure": self.exposure.tolist(),
            "drawdown": self.drawdown.tolist(),
        }

    @cached_property
    def held_columns(self) -> npt.NDArray[np.int64]:
        """Universe indices of the symbols held at some bar's close, in universe order."""
        return np.flatnonzero(np.any(self.holding_values != 0.0, axis=0)).astype(np.int64)

    def holdings_document(self) -> dict[str, Any]:
        """Return ``{symbols, weights}`` of the symbols ever held: weights rounded to 6 decimals.

        Symbols never held are left out (a rotation over 500 symbols holds a few dozen),
        which keeps the document proportional to what the portfolio did.
        """
        held = self.held_columns
        rounded = np.round(self.weights[:, held], _WEIGHT_DECIMALS) + 0.0  # no negative zeros
        return {"symbols": [self.symbols[j] for j in held], "weights": rounded.tolist()}

    def contribution_records(self) -> list[dict[str, Any]]:
        """Return each symbol's share of the result (see docs/result-schema.md).

        ``pnl`` is the symbol's sales minus its purchases (costs included) plus the
        value still held at the end, so the symbols' P&L sum to the final equity minus
        the initial cash.
        """
        n = len(self.symbols)
        fills = self.output.fills
        symbol = self.output.fill_symbol
        value = fills["quantity"] * fills["price"]
        flow = np.where(
            fills["side"] == int(Side.BUY),
            -(value + fills["commission"]),
            value - fills["commission"] - fills["tax"],
        )
        pnl = np.bincount(symbol, weights=flow, minlength=n) + self.holding_values[-1]
        traded = np.bincount(symbol, weights=value, minlength=n)
        trade_symbol = self.output.trade_symbol
        trades = np.bincount(trade_symbol, minlength=n)
        wins = np.bincount(trade_symbol, weights=(self.output.trades["net_pnl"] > 0.0), minlength=n)
        scale = turnover_scale(self.aligned.local_time_ns, self.output.equity)
        max_weight = self.weights.max(axis=0) if len(self.aligned) else np.zeros(n)
        initial = self.settings.initial_cash
        return [
            {
                "symbol": code,
                "pnl": float(pnl[j]),
                "return_contribution": float(pnl[j] / initial),
                "trades": int(trades[j]),
                "win_rate": float(wins[j] / trades[j]) if trades[j] else None,
                "turnover": None if scale is None else float(traded[j] * scale),
                "max_weight": float(max_weight[j]),
            }
            for j, code in enumerate(self.symbols)
        ]

    def rebalance_records(self) -> list[dict[str, Any]]:
        """Return the executed rebalances: times, turnover and the non-zero target weights."""
        times = self.times
        rebalances = self.rebalances
        traded = self.output.rebalance_traded
        equity = self.output.rebalance_equity
        rows = []
        for r in range(rebalances.signal_bars.shape[0]):
            weights = rebalances.weights[r]
            rows.append(
                {
                    "signal_time": times[int(rebalances.signal_bars[r])],
                    "fill_time": times[int(rebalances.fill_bars[r])],
                    "turnover": float(traded[r] / 2.0 / equity[r]) if equity[r] > 0 else None,
                    "weights": {
                        self.symbols[j]: float(weights[j]) for j in np.flatnonzero(weights > 0.0)
                    },
                }
            )
        return rows

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
        """Return the metrics as a JSON-ready dict (the single result's keys, plus more)."""
        values = {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self.metrics).items()
        }
        values["periods_per_year"] = self.periods_per_year
        local = self.aligned.local_time_ns
        times = self.times
        for key in ("max_drawdown_start", "max_drawdown_end", "max_drawdown_recovery"):
            bar = values[key]
            values[f"{key}_time"] = None if bar is None else times[bar]
        start, end = values["max_drawdown_start"], values["max_drawdown_recovery"]
        if start is not None:
            last = len(times) - 1 if end is None else end
            values["max_drawdown_duration_days"] = int((local[last] - local[start]) // _NS_PER_DAY)
        else:
            values["max_drawdown_duration_days"] = None
        values["n_symbols_held"] = self.n_symbols_held
        return values

    def data_document(self) -> dict[str, Any]:
        """Return ``{symbols: [...], first, last, bars, history_bars}`` of the bars used."""
        aligned = self.aligned
        times = self.times
        rows = []
        for j, code in enumerate(self.symbols):
            info = self.data_info.get(code, DataInfo())
            bars = aligned.rows(j)
            rows.append(
                {
                    "symbol": code,
                    "first": times[bars[0]] if bars.size else None,
                    "last": times[bars[-1]] if bars.size else None,
                    "bars": int(bars.size),
                    "sha256": symbol_sha256(aligned, j),
                    "source": info.source,
                    "adjusted": info.adjusted,
                }
            )
        return {
            "symbols": rows,
            "first": times[0],
            "last": times[-1],
            "bars": len(times),
            "history_bars": self.history_bars,
        }

    def spec_document(self) -> dict[str, Any]:
        """Return ``{rule, settings, symbols, benchmark}``: what re-runs this backtest."""
        settings = self.settings.model_dump(mode="json")
        if self.symbol_costs is not None:
            settings["costs"] = {
                code: model.model_dump(mode="json") for code, model in self.symbol_costs.items()
            }
        return {
            "rule": self.rule.model_dump(mode="json"),
            "settings": settings,
            "symbols": list(self.symbols),
            "benchmark": self.benchmark_name,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the versioned result document (JSON-ready, see docs/result-schema.md)."""
        from privatetrade import __version__

        return {
            "schema_version": PORTFOLIO_SCHEMA_VERSION,
            "kind": "portfolio",
            "engine_version": self.engine_version,
            "app_version": __version__,
            "spec": self.spec_document(),
            "data": self.data_document(),
            "metrics": self.metrics_document(),
            "equity": self.equity_series(),
            "holdings": self.holdings_document(),
            "contribution": self.contribution_records(),
            "trades": self.trade_records(),
            "fills": self.fill_records(),
            "rebalances": self.rebalance_records(),
            "benchmark": self.benchmark_equity(),
            "monthly_returns": [{"period": p, "return": r} for p, r in self.monthly_returns()],
            "yearly_returns": [{"period": p, "return": r} for p, r in self.yearly_returns()],
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the result document as deterministic JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def equity_csv(self) -> str:
        """Return the per-bar series as CSV (``PORTFOLIO_EQUITY_COLUMNS``)."""
        series = self.equity_series()
        columns = [series[name] for name in PORTFOLIO_EQUITY_COLUMNS]
        return _csv(PORTFOLIO_EQUITY_COLUMNS, list(zip(*columns, strict=True)))

    def holdings_csv(self) -> str:
        """Return each bar's weights as CSV: ``time`` then one column per symbol."""
        holdings = self.holdings_document()
        rows = [[time, *row] for time, row in zip(self.times, holdings["weights"], strict=True)]
        return _csv(("time", *holdings["symbols"]), rows)

    def trades_csv(self) -> str:
        """Return the exit trades as CSV: ``symbol`` then the single result's columns."""
        columns = ("symbol", *TRADE_COLUMNS)
        return _csv(columns, [[row[c] for c in columns] for row in self.trade_records()])

    def fills_csv(self) -> str:
        """Return the fills as CSV: ``symbol`` then the single result's fill fields."""
        columns = ("symbol", *FILL_COLUMNS)
        return _csv(columns, [[row[c] for c in columns] for row in self.fill_records()])

    def contribution_csv(self) -> str:
        """Return the contribution table as CSV (``CONTRIBUTION_COLUMNS``)."""
        rows = self.contribution_records()
        return _csv(CONTRIBUTION_COLUMNS, [[row[c] for c in CONTRIBUTION_COLUMNS] for row in rows])


def forward_filled(values: FloatArray, present: npt.NDArray[np.bool_]) -> FloatArray:
    """Return ``values`` carried forward over bars where ``present`` is False (NaN before)."""
    count = values.shape[0]
    index = np.where(present, np.arange(count)[:, None], -1)
    np.maximum.accumulate(index, axis=0, out=index)
    columns = np.arange(values.shape[1])[None, :]
    filled = values[np.maximum(index, 0), columns]
    return np.where(index >= 0, filled, np.nan)


def symbol_sha256(aligned: AlignedBars, column: int) -> str:
    """SHA-256 of one symbol's bars as the single result's ``data.sha256`` defines it."""
    bars = aligned.symbol_bars(column).bars
    digest = hashlib.sha256()
    for array in (bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume):
        digest.update(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).data)
    return digest.hexdigest()


def turnover_scale(local_time_ns: npt.NDArray[np.int64], equity: FloatArray) -> float | None:
    """Return the factor turning traded value into annualized turnover, or None.

    Turnover is ``traded value / 2 / mean equity / years`` (years: calendar days from
    the first to the last bar / 365.25); None when the bars span no time or the mean
    equity is not positive.
    """
    days = int(local_time_ns[-1] // _NS_PER_DAY - local_time_ns[0] // _NS_PER_DAY)
    mean_equity = float(equity.sum()) / len(equity)
    if days <= 0 or not mean_equity > 0.0:
        return None
    return 1.0 / (2.0 * mean_equity * (days / _DAYS_PER_YEAR))


def _with_symbols(
    rows: list[dict[str, Any]], symbol_index: npt.NDArray[np.int64], symbols: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [
        {"symbol": symbols[int(j)], **row}
        for j, row in zip(symbol_index.tolist(), rows, strict=True)
    ]


def _csv(header: tuple[str, ...], rows: list[Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
