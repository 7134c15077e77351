"""What a result page shows beyond the result document, computed from it and the run's bars.

The result document (docs/result-schema.md) keeps its schema; this analysis is derived
from it on request:

- the strategy's **indicators** (lines and levels), computed by the strategy's own code
  on the bars the run used, so a chart shows the values each decision was taken on;
- the **levels of each trade** (fixed stop, target, trailing stop bar by bar) and
  whether a stop exit gapped through its stop (:mod:`privatetrade.engine.stop_levels`);
- the **drawdown periods** of the equity (start, trough, recovery, depth, length);
- the **yearly returns** of the strategy next to buying and holding and the benchmark.

The bars are read again from the store and must be the very bars of the run: their
fingerprint is compared with the document's ``data.sha256``. If the stored prices
changed since (new adjustments, a re-import) or are gone, the bar-based parts are left
out and :attr:`ResultAnalysis.bars_note` says why; the rest is computed from the
document alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.drawdowns import drawdown_periods, drawdown_ratio
from privatetrade.engine.periods import period_returns
from privatetrade.engine.records import ExitReason
from privatetrade.engine.settings import Stops
from privatetrade.engine.stop_levels import TradeLevels, TradeSpan, trade_levels
from privatetrade.errors import DataError, InputError

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData
    from privatetrade.engine.bars import PreparedBars
    from privatetrade.engine.strategies.base import Indicators

__all__ = ["ANALYSIS_VERSION", "MAX_DRAWDOWN_PERIODS", "ResultAnalysis", "analyse_result"]

ANALYSIS_VERSION = "1.0"
MAX_DRAWDOWN_PERIODS = 10
_NS_PER_DAY = 86_400 * 1_000_000_000
_REASONS = {
    "signal": ExitReason.SIGNAL,
    "stop_loss": ExitReason.STOP_LOSS,
    "take_profit": ExitReason.TAKE_PROFIT,
    "trailing_stop": ExitReason.TRAILING_STOP,
    "end_of_data": ExitReason.END_OF_DATA,
}

Json = dict[str, Any]


@dataclass(frozen=True)
class ResultAnalysis:
    """The derived views of one result (see the module docstring).

    Attributes:
        bar_count: Bars of the run (``data.bar_count``).
        bars_note: Why the bar-based parts are missing: ``data_changed`` (the stored
            prices differ from the run's), ``data_missing`` (no prices stored any more),
            ``strategy_missing`` (the strategy is no longer installed); None when present.
        indicators: The strategy's lines and levels, or None (see ``bars_note``).
        trades: The levels of each trade, in the document's trade order, or None.
        drawdowns: The deepest drawdown periods, deepest first (at most
            :data:`MAX_DRAWDOWN_PERIODS`).
        drawdown_count: How many drawdown periods the equity had in all.
        yearly: Per calendar year: the strategy's return, buy and hold's, the benchmark's.
    """

    bar_count: int
    bars_note: str | None
    indicators: Json | None
    trades: list[Json] | None
    drawdowns: list[Json]
    drawdown_count: int
    yearly: list[Json]

    def to_dict(self) -> Json:
        """Return the analysis as a JSON-ready dict (no NaN: missing values are null)."""
        return {
            "schema_version": ANALYSIS_VERSION,
            "bar_count": self.bar_count,
            "bars_note": self.bars_note,
            "indicators": self.indicators,
            "trades": self.trades,
            "drawdowns": self.drawdowns,
            "drawdown_count": self.drawdown_count,
            "yearly": self.yearly,
        }


def analyse_result(
    spec: BacktestSpec, document: Mapping[str, Any], data: MarketData
) -> ResultAnalysis:
    """Analyse the result document of a run of ``spec`` on the stored market data.

    Args:
        spec: The run's spec (as stored with the job).
        document: The parsed result document.
        data: The market data the run read its bars from.
    """
    equity = document["equity"]
    times: list[str] = equity["time"]
    local = _local_ns(times)
    initial_cash = float(document["spec"]["settings"]["initial_cash"])
    values = np.asarray(equity["equity"], dtype=np.float64)
    periods = drawdown_periods(drawdown_ratio(values, initial_cash))
    deepest = sorted(periods, key=lambda period: (period.depth, period.start))[
        :MAX_DRAWDOWN_PERIODS
    ]
    drawdowns = [
        {
            "start": times[p.start],
            "trough": times[p.trough],
            "recovery": None if p.recovery is None else times[p.recovery],
            "depth": p.depth,
            "bars": p.bars,
            "days": int(
                (local[len(times) - 1 if p.recovery is None else p.recovery] - local[p.start])
                // _NS_PER_DAY
            ),
        }
        for p in deepest
    ]
    indicators, trades, note = _bar_parts(spec, document, data)
    return ResultAnalysis(
        bar_count=len(times),
        bars_note=note,
        indicators=indicators,
        trades=trades,
        drawdowns=drawdowns,
        drawdown_count=len(periods),
        yearly=_yearly(document, local, initial_cash),
    )


def _local_ns(times: Sequence[str]) -> npt.NDArray[np.int64]:
    """Wall-clock nanoseconds of ISO times with offsets (the offset is dropped)."""
    return np.array([time[:19] for time in times], dtype="datetime64[ns]").view(np.int64)


def _yearly(
    document: Mapping[str, Any], local: npt.NDArray[np.int64], initial_cash: float
) -> list[Json]:
    strategy = {row["period"]: row["return"] for row in document["yearly_returns"]}
    held = dict(
        period_returns(
            local, np.asarray(document["buy_and_hold"], dtype=np.float64), initial_cash, "year"
        )
    )
    benchmark: dict[str, float] = {}
    if document.get("benchmark") is not None:
        bench = np.array(
            [np.nan if v is None else v for v in document["benchmark"]], dtype=np.float64
        )
        valid = np.flatnonzero(np.isfinite(bench))
        if valid.size:
            first = int(valid[0])
            bench_values = bench[first:]
            if np.isfinite(bench_values).all():
                benchmark = dict(
                    period_returns(local[first:], bench_values, float(bench[first]), "year")
                )
    years = sorted(set(strategy) | set(held))
    return [
        {
            "period": year,
            "return": strategy.get(year),
            "buy_and_hold": held.get(year),
            "benchmark": benchmark.get(year),
        }
        for year in years
    ]


def _bar_parts(
    spec: BacktestSpec, document: Mapping[str, Any], data: MarketData
) -> tuple[Json | None, list[Json] | None, str | None]:
    """Indicators and trade levels from the run's bars, or why they cannot be had."""
    from privatetrade.engine.bars import bars_sha256
    from privatetrade.plans.backtest import build_strategy

    prepared = _run_bars(spec, data)
    if prepared is None:
        return None, None, "data_missing"
    if bars_sha256(prepared.bars) != document["data"]["sha256"]:
        return None, None, "data_changed"
    try:
        strategy = build_strategy(spec)
    except InputError:
        return None, None, "strategy_missing"
    indicators = _indicators_json(strategy.indicators(prepared.bars))
    offsets = None
    if document["spec"]["settings"]["fill_at"] == "close":
        from privatetrade.engine.strategies.registry import compute_signals

        offsets = compute_signals(strategy, prepared.bars).entry_offset
    trades = _trade_levels(document, prepared, offsets)
    return indicators, trades, None


def _run_bars(spec: BacktestSpec, data: MarketData) -> PreparedBars | None:
    from privatetrade.engine.bars import prepare_bars
    from privatetrade.plans.backtest import price_series

    try:
        symbol = data.symbol(spec.symbol)
        series = price_series(data, symbol, spec)
        if series is None:
            return None
        frame = data.bars(symbol.code, spec.start, spec.end, adjusted=series.adjusted)
        return prepare_bars(frame)
    except (InputError, DataError):
        return None


def _floats(values: npt.NDArray[np.float64]) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values.tolist()]


def _indicators_json(indicators: Indicators) -> Json:
    return {
        "lines": [
            {"name": line.name, "pane": line.pane.value, "values": _floats(line.values)}
            for line in indicators.lines
        ],
        "levels": [
            {"name": level.name, "pane": level.pane.value, "value": level.value}
            for level in indicators.levels
        ],
    }


def _trade_levels(
    document: Mapping[str, Any], prepared: PreparedBars, offsets: npt.NDArray[np.float64] | None
) -> list[Json]:
    settings = document["spec"]["settings"]
    stops = Stops.model_validate(settings["stops"])
    at_close_fills = settings["fill_at"] == "close"
    index = {time: bar for bar, time in enumerate(document["equity"]["time"])}
    spans = []
    for trade in document["trades"]:
        entry_bar = index[trade["entry_time"]]
        direction = 1 if trade["direction"] == "long" else -1
        stop_entry = (
            offsets is not None
            and direction > 0
            and entry_bar > 0
            and bool(np.isfinite(offsets[entry_bar - 1]))
        )
        spans.append(
            TradeSpan(
                entry_bar=entry_bar,
                exit_bar=index[trade["exit_time"]],
                direction=direction,
                entry_price=float(trade["entry_price"]),
                exit_reason=_REASONS.get(trade["exit_reason"], ExitReason.SIGNAL),
                at_close=at_close_fills and not stop_entry,
            )
        )
    bars = prepared.bars
    levels = trade_levels(bars.open, bars.high, bars.low, spans, stops)
    return [_trade_json(span, level) for span, level in zip(spans, levels, strict=True)]


def _trade_json(span: TradeSpan, levels: TradeLevels) -> Json:
    return {
        "entry_bar": span.entry_bar,
        "exit_bar": span.exit_bar,
        "stop_loss": levels.stop_loss,
        "take_profit": levels.take_profit,
        "trailing": None if levels.trailing is None else _floats(levels.trailing),
        "exit_stop": levels.exit_stop,
        "gap": levels.gap,
        "exit_open": levels.exit_open,
    }
