"""Turn a BacktestSpec into a result, on the market data of one data directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.costs import CostModel
from privatetrade.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import SymbolInfo
    from privatetrade.engine.result import BacktestResult
    from privatetrade.engine.simulation import CancelToken

__all__ = ["PreparedRun", "StageCallback", "prepare_run", "run_prepared", "run_spec"]

StageCallback = Callable[[str, float], None]
_DEFAULT_CAPITAL = {"KRW": 10_000_000.0, "USD": 100_000.0}


@dataclass(frozen=True)
class PreparedRun:
    """A spec with everything resolved that can be checked without simulating."""

    spec: BacktestSpec
    symbol: SymbolInfo
    bars: pd.DataFrame
    benchmark: pd.Series | None
    costs: CostModel | str
    market: str | None
    capital: float


def prepare_run(
    spec: BacktestSpec, data: MarketData, *, max_bars: int | None = None
) -> PreparedRun:
    """Resolve the symbol, bars, benchmark, costs and capital of a spec.

    Raises:
        InputError: Unknown symbol or benchmark, no bars in range, too many bars
            (``field`` names the spec field).
    """
    symbol = _lookup(data, spec.symbol, "symbol")
    bars = _bars(data, symbol, spec, "symbol")
    if max_bars is not None and len(bars) > max_bars:
        raise InputError(
            f"{len(bars):,} bars in the chosen range; the limit is {max_bars:,} "
            "(choose a later start or an earlier end)",
            field="start",
        )
    benchmark = None
    if spec.benchmark is not None:
        bench_symbol = _lookup(data, spec.benchmark, "benchmark")
        benchmark = _bars(data, bench_symbol, spec, "benchmark")["close"]
    krx = symbol.tick_table == "krx"
    costs: CostModel | str
    if isinstance(spec.costs, CostModel):
        costs = spec.costs
    else:
        costs = ("krx" if krx else "us") if spec.costs == "auto" else spec.costs
    capital = spec.capital or _DEFAULT_CAPITAL.get(symbol.currency, 10_000_000.0)
    market = symbol.market.value if krx else None
    return PreparedRun(spec, symbol, bars, benchmark, costs, market, capital)


def _lookup(data: MarketData, code: str, field: str) -> SymbolInfo:
    try:
        return data.symbol(code)
    except InputError as exc:
        raise InputError(str(exc), field=field) from exc


def _bars(data: MarketData, symbol: SymbolInfo, spec: BacktestSpec, field: str) -> pd.DataFrame:
    from privatetrade.errors import DataError

    try:
        return data.bars(symbol.code, spec.start, spec.end, adjusted=spec.adjusted)
    except DataError as exc:
        raise InputError(str(exc), field=field) from exc


def run_prepared(
    run: PreparedRun,
    *,
    stage: StageCallback | None = None,
    cancel: CancelToken | None = None,
) -> BacktestResult:
    """Run a prepared spec, reporting stages and simulation progress."""
    from privatetrade.engine.api import run_backtest
    from privatetrade.engine.result import DataInfo

    spec = run.spec
    report = stage or _ignore

    def on_progress(fraction: float) -> None:
        report("simulating", 0.05 + 0.75 * fraction)

    report("simulating", 0.05)
    try:
        return run_backtest(
            run.bars,
            spec.strategy,
            spec.params,
            cash=run.capital,
            costs=run.costs,  # type: ignore[arg-type]
            market=run.market,
            sizing=spec.sizing,
            stops=spec.stops,
            fill_at=spec.fill_at,
            allow_short=spec.allow_short,
            close_at_end=spec.close_at_end,
            benchmark=run.benchmark,
            benchmark_name=spec.benchmark,
            data_info=DataInfo(
                symbol=run.symbol.code, source=run.symbol.source, adjusted=spec.adjusted
            ),
            progress=on_progress,
            cancel=cancel,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc), field=_spec_field(exc.field)) from exc


def run_spec(
    spec: BacktestSpec,
    data: MarketData,
    *,
    stage: StageCallback | None = None,
    cancel: CancelToken | None = None,
) -> BacktestResult:
    """Prepare and run a spec."""
    (stage or _ignore)("loading", 0.01)
    return run_prepared(prepare_run(spec, data), stage=stage, cancel=cancel)


def _spec_field(field: str | None) -> str | None:
    if field == "initial_cash":
        return "capital"
    return field


def _ignore(*_args: Any) -> None:
    return None
