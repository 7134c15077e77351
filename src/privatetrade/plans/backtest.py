"""The run plan of one backtest: what the user asked for, resolved once into what the engine runs.

Every entry point (the API's submit check, the worker, the CLI ``backtest`` command)
goes through :func:`plan_backtest` (stored symbols) or :func:`plan_on_bars` (bars the
caller brings, e.g. a CSV file), so a field of the spec cannot be dropped on one path:
the engine receives one complete :class:`~privatetrade.engine.settings.SimulationSettings`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from privatetrade.data.symbols import Market
from privatetrade.domain.specs import BacktestSpec, CostChoice
from privatetrade.engine.costs import CostModel, resolve_costs
from privatetrade.engine.limits import MIN_DATE
from privatetrade.engine.settings import DEFAULT_CAPITAL, SimulationSettings, default_capital
from privatetrade.errors import ConfigurationError, DataError, InputError
from privatetrade.plans.strategies import normalized_rules, rules_record, strategy_registry

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import SymbolInfo
    from privatetrade.engine.result import BacktestResult, DataInfo
    from privatetrade.engine.simulation import CancelToken
    from privatetrade.engine.strategies.base import Strategy

__all__ = [
    "DEFAULT_CAPITAL",
    "BacktestPlan",
    "CostOverrides",
    "Instrument",
    "PriceSeries",
    "StageCallback",
    "default_capital",
    "execute_plan",
    "plan_backtest",
    "plan_on_bars",
    "preset_costs",
    "price_series",
    "resolve_settings",
]

StageCallback = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the settings depend on about the traded instrument.

    Attributes:
        currency: Quote currency (``KRW``, ``USD``); picks the default capital.
        krx_market: KOSPI, KOSDAQ or KONEX for KRX listings (taxes, ticks), else None.
    """

    currency: str
    krx_market: str | None = None

    @classmethod
    def of(cls, symbol: SymbolInfo) -> Instrument:
        """Return the instrument of a catalog entry."""
        krx = symbol.tick_table == "krx"
        return cls(symbol.currency, symbol.market.value if krx else None)


@dataclass(frozen=True, slots=True)
class CostOverrides:
    """Numbers that replace a cost preset's own; None keeps the preset's.

    Attributes:
        commission_rate: Commission as a fraction of traded value (0.00015 = 0.015%).
        min_commission: Minimum commission per fill, in the quote currency.
        slippage: Adverse price move per market fill, in ``slippage_unit``.
        slippage_unit: ``bps`` or ``ticks``; the preset's when None.
        sell_tax_rate: One sell-side tax rate for every date, replacing the
            preset's schedule (0.002 = 0.2%).
    """

    commission_rate: float | None = None
    min_commission: float | None = None
    slippage: float | None = None
    slippage_unit: Literal["bps", "ticks"] | None = None
    sell_tax_rate: float | None = None

    def apply(self, costs: CostModel) -> CostModel:
        """Return ``costs`` with these numbers in place of its own.

        Raises:
            ConfigurationError: A number is out of bounds; ``field`` is ``costs.<name>``
                (``costs.sell_tax_rate`` for the tax).
        """
        changes: dict[str, Any] = {
            name: value
            for name in ("commission_rate", "min_commission", "slippage", "slippage_unit")
            if (value := getattr(self, name)) is not None
        }
        if self.sell_tax_rate is not None:
            changes["sell_tax"] = ({"since": MIN_DATE, "rate": self.sell_tax_rate},)
        if not changes:
            return costs
        try:
            return CostModel.model_validate(costs.model_dump() | changes)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else "costs"
            name = "sell_tax_rate" if name == "sell_tax" else name
            message = f"{error['msg']}, got {error['input']!r}".removeprefix("Value error, ")
            raise ConfigurationError(f"costs.{name}: {message}", field=f"costs.{name}") from exc


def preset_costs(preset: CostChoice, instrument: Instrument) -> CostModel:
    """Return the cost model of a preset for an instrument.

    ``auto`` is the instrument's market: ``krx`` (with its KOSPI, KOSDAQ or KONEX tax
    schedule and tick table) for KRX listings, ``us`` otherwise.
    """
    if preset == "auto":
        preset = "krx" if instrument.krx_market is not None else "us"
    return resolve_costs(preset, instrument.krx_market)


@dataclass(frozen=True)
class BacktestPlan:
    """Everything the engine needs for one backtest, checked and resolved.

    Attributes:
        spec: The spec with its symbol codes normalized to the catalog's.
        strategy: The strategy instance with validated parameters.
        settings: Complete simulation settings (capital, costs, market rules,
            sizing, stops, fill timing, short selling, risk-free rate).
        bars: The bars in the chosen range.
        benchmark: Benchmark closes, if the spec names a benchmark.
        data_info: Symbol, source and adjustment recorded in the result.
        market: The bars' market: the calendar and daily limit of the data checks.
        notes: Warnings known when planning (raw prices used for lack of adjusted ones).
    """

    spec: BacktestSpec
    strategy: Strategy[Any]
    settings: SimulationSettings
    bars: pd.DataFrame
    benchmark: pd.Series | None
    data_info: DataInfo
    market: Market = Market.OTHER
    notes: tuple[str, ...] = ()

    @property
    def bar_count(self) -> int:
        """Number of bars the run simulates."""
        return len(self.bars)

    @cached_property
    def warnings(self) -> tuple[str, ...]:
        """Warnings about the data, for the result: :attr:`notes`, then the findings.

        The findings are what :func:`~privatetrade.plans.data_checks.data_warnings`
        sees in the bars: splits and jumps in raw prices, bars on days without a session.

        Computed on first use, when the plan runs: the submit check does not load
        the trading calendar.
        """
        from privatetrade.plans.data_checks import data_warnings

        found = data_warnings(self.bars, self.market, adjusted=self.data_info.adjusted)
        return (*self.notes, *found)


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Which stored prices a run reads for a symbol.

    Attributes:
        adjusted: True when the prices are adjusted (a synthetic symbol's raw series
            counts: it has no corporate actions).
        fallback: True when adjusted prices were asked for but only raw ones are stored.
    """

    adjusted: bool
    fallback: bool = False


def price_series(data: MarketData, symbol: SymbolInfo, spec: BacktestSpec) -> PriceSeries | None:
    """Return the prices a run of ``spec`` reads for ``symbol``; None if none are stored.

    ``adjusted=True`` (the default) reads the adjusted series, or the raw one when no
    adjusted series is stored (``fallback``); ``adjusted=False`` reads only the raw one.
    """
    if data.series_for(symbol, adjusted=spec.adjusted) is not None:
        return PriceSeries(adjusted=spec.adjusted)
    if spec.adjusted and data.series_for(symbol, adjusted=False) is not None:
        return PriceSeries(adjusted=False, fallback=True)
    return None


def resolve_settings(spec: BacktestSpec, instrument: Instrument) -> SimulationSettings:
    """Resolve the spec's trading choices into complete simulation settings.

    ``costs="auto"`` picks the instrument's market (``krx`` or ``us``); a missing
    capital takes :func:`default_capital` of the instrument's currency.

    Raises:
        ConfigurationError: A choice is invalid; ``field`` names the spec field.
    """
    costs = spec.costs
    if not isinstance(costs, CostModel):
        costs = preset_costs(costs, instrument)
    try:
        return SimulationSettings(
            initial_cash=spec.capital or default_capital(instrument.currency),
            costs=costs,
            sizing=spec.sizing,
            stops=spec.stops,
            fill_at=spec.fill_at,
            allow_short=spec.allow_short,
            close_at_end=spec.close_at_end,
            risk_free_rate=spec.risk_free_rate,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        field = "capital" if where == "initial_cash" else where
        raise ConfigurationError(f"{field}: {error['msg']}", field=field) from exc


def plan_backtest(
    spec: BacktestSpec, data: MarketData, *, max_bars: int | None = None
) -> BacktestPlan:
    """Resolve a spec on the stored market data into a plan.

    Raises:
        InputError: Unknown symbol or benchmark, an index as the symbol (a
            benchmark only), no bars in the range, too many
            bars, invalid parameters or settings; ``field`` names the spec field
            (``symbol``, ``start``, ``params.fast``, ``costs`` ...).
    """
    from privatetrade.data.indices import require_tradable
    from privatetrade.engine.result import DataInfo
    from privatetrade.plans.data_checks import raw_fallback_warning

    strategy = build_strategy(spec)
    symbol = _lookup(data, spec.symbol, "symbol")
    require_tradable(symbol)
    series = _series(data, symbol, spec, "adjusted")
    bars = _bars(data, symbol, spec, series)
    if max_bars is not None and len(bars) > max_bars:
        raise InputError(
            f"{len(bars):,} bars in the chosen range; the limit is {max_bars:,} "
            "(choose a later start or an earlier end)",
            field="start",
            code="too_many_bars",
            params={"count": len(bars), "limit": max_bars},
        )
    notes = [raw_fallback_warning(symbol.code)] if series.fallback else []
    benchmark = None
    benchmark_code = None
    if spec.benchmark is not None:
        bench_symbol = _lookup(data, spec.benchmark, "benchmark")
        benchmark_code = bench_symbol.code
        bench_series = _series(data, bench_symbol, spec, "benchmark")
        benchmark = _bars(data, bench_symbol, spec, bench_series, "benchmark")["close"]
        if bench_series.fallback:
            notes.append(raw_fallback_warning(bench_symbol.code, benchmark=True))
    normalized = spec.model_copy(
        update={
            "symbol": symbol.code,
            "benchmark": benchmark_code,
            "rules": normalized_rules(spec.rules),
        }
    )
    return BacktestPlan(
        spec=normalized,
        strategy=strategy,
        settings=resolve_settings(spec, Instrument.of(symbol)),
        bars=bars,
        benchmark=benchmark,
        data_info=DataInfo(symbol=symbol.code, source=symbol.source, adjusted=series.adjusted),
        market=symbol.market,
        notes=tuple(notes),
    )


def plan_on_bars(
    spec: BacktestSpec,
    bars: pd.DataFrame,
    instrument: Instrument,
    data_info: DataInfo,
    *,
    market: Market = Market.OTHER,
) -> BacktestPlan:
    """Plan a backtest on bars the caller brings (a CSV file); ``spec.symbol`` is a label.

    ``market`` decides the calendar and daily limit the bars are checked against
    (:attr:`BacktestPlan.warnings`); ``data_info.adjusted`` says whether they are
    adjusted (None: unknown). ``spec.adjusted`` does not apply: the bars are what they are.

    Raises:
        InputError: Invalid parameters or settings, or no bars in the range.
    """
    strategy = build_strategy(spec)
    selected = _select_dates(bars, spec.start, spec.end)
    if selected.empty:
        raise InputError(_empty_range(spec, bars, data_info), field=_range_field(spec))
    settings = resolve_settings(spec, instrument)
    return BacktestPlan(spec, strategy, settings, selected, None, data_info, market=market)


def build_strategy(spec: BacktestSpec) -> Strategy[Any]:
    """Return the spec's strategy with validated parameters (a rule strategy's from ``rules``).

    Raises:
        ParameterError: ``field`` is ``params.<name>``.
        InputError: Unknown or broken strategy (``field`` is ``strategy``), an invalid
            rule document (``rules.document.<path>``).
    """
    from privatetrade.plans.strategies import build_strategy as build

    return build(spec.strategy, spec.params, spec.rules)


def execute_plan(
    plan: BacktestPlan,
    *,
    stage: StageCallback | None = None,
    cancel: CancelToken | None = None,
) -> BacktestResult:
    """Run a plan, reporting stages and simulation progress (5%..80%)."""
    from privatetrade.engine.api import run_backtest

    report = stage or _ignore

    def on_progress(fraction: float) -> None:
        report("simulating", 0.05 + 0.75 * fraction)

    report("simulating", 0.05)
    data_warnings = plan.warnings
    spec = plan.spec
    result = run_backtest(
        plan.bars,
        spec.strategy,
        spec.params,
        registry=strategy_registry(spec.strategy, spec.rules),
        settings=plan.settings,
        benchmark=plan.benchmark,
        benchmark_name=plan.spec.benchmark,
        data_info=plan.data_info,
        progress=on_progress,
        cancel=cancel,
    )
    if spec.rules is not None:
        result = dataclasses.replace(result, rules=rules_record(spec.rules))
    if not data_warnings:
        return result
    return dataclasses.replace(result, warnings=[*data_warnings, *result.warnings])


def _lookup(data: MarketData, code: str, field: str) -> SymbolInfo:
    try:
        return data.symbol(code)
    except InputError as exc:
        raise InputError(str(exc), field=field) from exc


def _series(data: MarketData, symbol: SymbolInfo, spec: BacktestSpec, field: str) -> PriceSeries:
    series = price_series(data, symbol, spec)
    if series is None:
        stored = ", ".join(symbol.adjusted) or "none"
        hint = "; run on adjusted prices" if symbol.adjusted else ""
        raise InputError(
            f"no {'adjusted' if spec.adjusted else 'raw'} prices stored for {symbol.code} "
            f"(stored: {stored}){hint}",
            field=field,
            code="no_adjusted_prices" if spec.adjusted else "no_raw_prices",
            params={"symbol": symbol.code},
        )
    return series


def _bars(
    data: MarketData,
    symbol: SymbolInfo,
    spec: BacktestSpec,
    series: PriceSeries,
    field: str | None = None,
) -> pd.DataFrame:
    try:
        return data.bars(symbol.code, spec.start, spec.end, adjusted=series.adjusted)
    except DataError as exc:
        raise InputError(str(exc), field=field or _range_field(spec)) from exc


def _range_field(spec: BacktestSpec) -> str:
    """The date field to blame for an empty range: ``start`` unless only ``end`` was given."""
    return "end" if spec.start is None and spec.end is not None else "start"


def _empty_range(spec: BacktestSpec, bars: pd.DataFrame, data_info: DataInfo) -> str:
    from privatetrade.data.market_data import empty_range_message

    local_dates = _local_dates(bars)
    stored = (local_dates[0].date(), local_dates[-1].date()) if len(local_dates) else None
    return empty_range_message(data_info.symbol or spec.symbol, spec.start, spec.end, stored)


def _local_dates(bars: pd.DataFrame) -> pd.DatetimeIndex:
    """Return the bars' local calendar dates (midnight, no time zone)."""
    import pandas as pd

    return pd.DatetimeIndex(bars.index).tz_localize(None).normalize()


def _select_dates(bars: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    import pandas as pd

    local_dates = _local_dates(bars)
    keep = pd.Series(True, index=bars.index)
    if start is not None:
        keep &= local_dates >= pd.Timestamp(start)
    if end is not None:
        keep &= local_dates <= pd.Timestamp(end)
    return bars[keep.to_numpy()]


def _ignore(*_args: Any) -> None:
    return None
