"""The run plan of a portfolio backtest: the API's check, the worker and the CLI.

:func:`plan_portfolio` resolves the universe
(:func:`~privatetrade.plans.universe.resolve_universe`), checks the rule against it
(fixed weights of symbols in the universe, the strategy and its parameters), resolves
the settings (capital by currency, ``auto`` costs per symbol: KOSPI and KOSDAQ differ
in taxes and ticks) and the benchmark, without reading any bars. :func:`load_bars`
reads the bars (in the worker, or the CLI), with the warm-up history before ``start``
the rule reads (:mod:`~privatetrade.plans.portfolio_history`); :func:`execute_portfolio`
runs :func:`~privatetrade.engine.portfolio.api.run_portfolio` with that history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.engine.costs import CostModel
from privatetrade.engine.settings import SimulationSettings, default_capital
from privatetrade.errors import ConfigurationError, InputError
from privatetrade.plans.backtest import Instrument, preset_costs
from privatetrade.plans.portfolio_history import (
    calendar_start,
    cut_history,
    history_sessions,
    history_start,
    history_warning,
    strategy_warmup,
)
from privatetrade.plans.strategies import normalized_rules, strategy_registry
from privatetrade.plans.universe import Member, Universe, resolve_universe, series_of

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import SymbolInfo
    from privatetrade.engine.bars import BarsInput, PreparedBars
    from privatetrade.engine.portfolio.result import PortfolioResult
    from privatetrade.engine.simulation import CancelToken

__all__ = ["PortfolioPlan", "execute_portfolio", "load_bars", "plan_portfolio"]

StageCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class PortfolioPlan:
    """A portfolio backtest, checked and resolved (its bars not loaded yet).

    Attributes:
        spec: The spec, symbol codes as the catalog spells them.
        universe: The resolved symbols, in order.
        settings: Capital, costs (the first symbol's model), fill timing, stops,
            close at end, risk-free rate.
        symbol_costs: Each symbol's cost model when they differ (KOSPI and KOSDAQ),
            else None (``settings.costs`` is every symbol's).
        benchmark: The benchmark's catalog entry, or None.
        benchmark_adjusted: Which benchmark series to read.
        notes: Warnings known when planning (raw prices used for lack of adjusted ones).
        history: Calendar bars of history before ``spec.start`` the rule reads at its
            first decision (:func:`~privatetrade.plans.portfolio_history.history_sessions`);
            0 without ``start``.
    """

    spec: PortfolioSpec
    universe: Universe
    settings: SimulationSettings
    symbol_costs: dict[str, CostModel] | None
    benchmark: SymbolInfo | None = None
    benchmark_adjusted: bool = True
    notes: tuple[str, ...] = ()
    history: int = 0

    @property
    def load_start(self) -> dt.date | None:
        """The first day :func:`load_bars` reads: ``start``, earlier by the history."""
        start = self.spec.start
        return None if start is None else history_start(start, self.history)


def plan_portfolio(
    spec: PortfolioSpec, data: MarketData, *, max_symbols: int | None = None
) -> PortfolioPlan:
    """Resolve a portfolio spec on the stored market data (no bars are read).

    Raises:
        InputError: The universe (``symbols``, ``market``: unknown codes, an index,
            mixed currencies, too many, no prices over the period), the rule
            (``rule.weights``, ``rule.strategy``, ``rule.params.<name>``), the settings
            (``capital``, ``costs``...) or the benchmark (``benchmark``).
    """
    from privatetrade.plans.data_checks import raw_fallback_warning

    universe = resolve_universe(spec, data, max_symbols=max_symbols)
    for member in universe.members:
        _check_member(member, spec)
    codes = universe.codes
    rule = _checked_rule(spec, codes)
    warmup = strategy_warmup(rule, spec.rules)
    history = 0 if spec.start is None else history_sessions(rule, warmup)
    symbol_costs = _costs(spec, universe)
    first_costs = symbol_costs[codes[0]]
    settings = _settings(spec, universe.currency, first_costs)
    distinct = {model.model_dump_json() for model in symbol_costs.values()}
    benchmark, benchmark_adjusted, benchmark_notes = _benchmark(spec, data)
    notes = [
        raw_fallback_warning(member.code)
        for member in universe.members
        if member.series is not None and member.series.fallback
    ]
    normalized = spec.model_copy(
        update={
            "symbols": None if spec.symbols is None else codes,
            "rule": rule,
            "benchmark": None if benchmark is None else benchmark.code,
            "rules": normalized_rules(spec.rules),
        }
    )
    return PortfolioPlan(
        spec=normalized,
        universe=universe,
        settings=settings,
        symbol_costs=None if len(distinct) == 1 else symbol_costs,
        benchmark=benchmark,
        benchmark_adjusted=benchmark_adjusted,
        notes=(*notes, *benchmark_notes),
        history=history,
    )


def _check_member(member: Member, spec: PortfolioSpec) -> None:
    """A listed symbol needs the prices asked for, stored over the period."""
    symbol = member.symbol
    if member.series is None:
        kind = "adjusted" if spec.adjusted else "raw"
        raise InputError(
            f"symbols: no {kind} prices stored for {symbol.code} (stored: "
            f"{', '.join(symbol.adjusted) or 'none'})",
            field="symbols",
            code=f"no_{kind}_prices",
            params={"symbol": symbol.code},
        )
    first, last = symbol.first_bar, symbol.last_bar
    outside = (
        first is None
        or last is None
        or (spec.end is not None and first > spec.end)
        or (spec.start is not None and last < spec.start)
    )
    if outside:
        from privatetrade.data.market_data import empty_range_code, empty_range_message

        held = None if first is None or last is None else (first, last)
        message = empty_range_message(symbol.code, spec.start, spec.end, held)
        raise InputError(
            f"symbols: {message}", field="symbols", **empty_range_code(symbol.code, held)
        )


def _checked_rule(spec: PortfolioSpec, codes: list[str]) -> Any:
    """The rule with fixed weights keyed by the catalog's codes; the strategy checked."""
    from privatetrade.plans.strategies import build_strategy

    rule = spec.rule
    if rule.weights is not None:
        by_upper = {code.upper(): code for code in codes}
        unknown = [code for code in rule.weights if code.upper() not in by_upper]
        if unknown:
            raise InputError(
                f"rule.weights: {', '.join(unknown[:5])} not in the universe",
                field="rule.weights",
                code="weights_not_in_universe",
                params={"symbols": ", ".join(unknown[:5])},
            )
        weights = {by_upper[code.upper()]: value for code, value in rule.weights.items()}
        rule = rule.model_copy(update={"weights": weights})
    if rule.strategy is not None:
        build_strategy(rule.strategy, rule.params, spec.rules, prefix="rule.")
    return rule


def _costs(spec: PortfolioSpec, universe: Universe) -> dict[str, CostModel]:
    """Each symbol's cost model: a preset resolved for its own market, or the one model."""
    costs = spec.costs
    if isinstance(costs, CostModel):
        return dict.fromkeys(universe.codes, costs)
    return {
        member.code: preset_costs(costs, Instrument.of(member.symbol))
        for member in universe.members
    }


def _settings(spec: PortfolioSpec, currency: str, costs: CostModel) -> SimulationSettings:
    try:
        return SimulationSettings(
            initial_cash=spec.capital or default_capital(currency),
            costs=costs,
            stops=spec.stops,
            fill_at=spec.fill_at,
            close_at_end=spec.close_at_end,
            risk_free_rate=spec.risk_free_rate,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        field = "capital" if where == "initial_cash" else where
        raise ConfigurationError(f"{field}: {error['msg']}", field=field) from exc


def _benchmark(spec: PortfolioSpec, data: MarketData) -> tuple[SymbolInfo | None, bool, list[str]]:
    from privatetrade.plans.data_checks import raw_fallback_warning

    if spec.benchmark is None:
        return None, True, []
    try:
        symbol = data.symbol(spec.benchmark)
    except InputError as exc:
        raise InputError(f"benchmark: {exc}", field="benchmark") from exc
    series = series_of(data, symbol, spec.adjusted)
    if series is None:
        raise InputError(
            f"benchmark: no {'adjusted' if spec.adjusted else 'raw'} prices stored for "
            f"{symbol.code}",
            field="benchmark",
            code="no_adjusted_prices" if spec.adjusted else "no_raw_prices",
            params={"symbol": symbol.code},
        )
    notes = [raw_fallback_warning(symbol.code, benchmark=True)] if series.fallback else []
    return symbol, series.adjusted, notes


LOAD_THREADS = 4
"""Threads reading Parquet files at once (the reads release the GIL)."""


def load_bars(
    plan: PortfolioPlan, data: MarketData, *, stage: StageCallback | None = None
) -> tuple[dict[str, PreparedBars], pd.Series | None]:
    """Read and validate every symbol's bars in the period (and the benchmark's closes).

    With ``start`` and a rule that reads history (``plan.history`` > 0), the bars of the
    last ``plan.history`` calendar bars before ``start`` come too (fewer when fewer are
    stored); :func:`execute_portfolio` runs them as history only. The files are read by
    :data:`LOAD_THREADS` threads, as arrays (the engine's
    :class:`~privatetrade.engine.bars.PreparedBars`, no pandas frame per symbol).

    Raises:
        DataError: A symbol (or the benchmark) has no bars in the period, or bad ones
            (the message starts with the symbol).
    """
    from concurrent.futures import ThreadPoolExecutor

    members = plan.universe.members
    loaded: dict[str, PreparedBars] = {}
    with ThreadPoolExecutor(max_workers=min(LOAD_THREADS, len(members))) as pool:
        read = pool.map(lambda member: _read(plan, data, member), members)
        for index, (member, bars) in enumerate(zip(members, read, strict=True)):
            loaded[member.code] = bars
            if stage is not None and index % 25 == 24:
                stage("loading", 0.01 + 0.19 * (index + 1) / len(members))
    if plan.spec.start is not None and plan.history > 0:
        loaded = cut_history(loaded, plan.spec.start, plan.history)
    benchmark = None
    if plan.benchmark is not None:
        benchmark = data.bars(
            plan.benchmark.code,
            plan.load_start,  # from before the first bar: forward-filled onto the calendar
            plan.spec.end,
            adjusted=plan.benchmark_adjusted,
        )["close"]
    return loaded, benchmark


def _read(plan: PortfolioPlan, data: MarketData, member: Member) -> PreparedBars:
    from privatetrade.data.market_data import empty_range_message
    from privatetrade.engine.bars import prepare_bars
    from privatetrade.errors import DataError

    assert member.series is not None  # the plan refused symbols without prices
    start, end = plan.spec.start, plan.spec.end
    kind = data.series_for(member.symbol, adjusted=member.series.adjusted)
    if kind is None:
        raise DataError(f"the prices of {member.code} were removed since the plan")
    columns, tz = data.store.read_columns(member.code, plan.load_start, end, kind=kind)
    if columns["time"].shape[0] == 0:
        raise DataError(empty_range_message(member.code, start, end, _held(member)))
    try:
        prepared = prepare_bars(columns, tz=tz)
    except DataError as exc:
        raise DataError(f"{member.code}: {exc}", row=exc.row) from exc
    if start is not None and calendar_start({member.code: prepared}, start) == len(prepared):
        # Only history: no bar from start on (the catalog's range is out of date).
        raise DataError(empty_range_message(member.code, start, end, _held(member)))
    return prepared


def _held(member: Member) -> tuple[dt.date, dt.date] | None:
    first, last = member.symbol.first_bar, member.symbol.last_bar
    return None if first is None or last is None else (first, last)


def execute_portfolio(
    plan: PortfolioPlan,
    bars: Mapping[str, BarsInput],
    benchmark: pd.Series | None,
    *,
    stage: StageCallback | None = None,
    cancel: CancelToken | None = None,
) -> PortfolioResult:
    """Run the plan on its loaded bars, reporting simulation progress (20%..85%).

    The bars before ``start``'s day (:func:`load_bars`'s warm-up history) are history
    only: rankings and strategies read them, the result covers ``start`` .. ``end``.
    A warning says so when fewer of them are stored than the rule reads.
    """
    from privatetrade.engine.bars import prepare_bars
    from privatetrade.engine.portfolio.api import run_portfolio
    from privatetrade.engine.result import DataInfo

    def on_progress(fraction: float) -> None:
        if stage is not None:
            stage("simulating", 0.2 + 0.65 * fraction)

    data_info = {
        member.code: DataInfo(
            symbol=member.code,
            source=member.symbol.source,
            adjusted=None if member.series is None else member.series.adjusted,
        )
        for member in plan.universe.members
    }
    prepared = {code: prepare_bars(symbol_bars) for code, symbol_bars in bars.items()}
    first = calendar_start(prepared, plan.spec.start)
    notes = list(plan.notes)
    if plan.spec.start is not None and first < plan.history:
        notes.append(history_warning(first, plan.history, plan.spec.start))
    rule = plan.spec.rule
    result = run_portfolio(
        prepared,
        rule,
        registry=strategy_registry(rule.strategy or "", plan.spec.rules),
        settings=plan.settings,
        costs=plan.symbol_costs,
        benchmark=benchmark,
        benchmark_name=plan.spec.benchmark,
        data_info=data_info,
        start=first,
        progress=on_progress,
        cancel=cancel,
    )
    if not notes:
        return result
    return dataclasses.replace(result, warnings=[*notes, *result.warnings])
