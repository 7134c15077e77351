"""Run a portfolio backtest: align the symbols, build the orders, simulate, measure."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from privatetrade.engine.api import (
    ENGINE_VERSION,
    align_benchmark,
    check_start,
    default_registry,
    make_settings,
)
from privatetrade.engine.bars import BarsInput
from privatetrade.engine.costs import CostModel, CostPreset, cost_arrays
from privatetrade.engine.kernels.portfolio_windows import window_sums_nb
from privatetrade.engine.metrics import (
    Metrics,
    compute_metrics,
    infer_periods_per_year,
    metric_warnings,
)
from privatetrade.engine.portfolio.align import AlignedBars, align_bars
from privatetrade.engine.portfolio.result import (
    PortfolioResult,
    Rebalances,
    forward_filled,
    turnover_scale,
)
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.schedule import signal_bars
from privatetrade.engine.portfolio.simulation import (
    AllocationOrders,
    PortfolioMarket,
    PortfolioOutput,
    SignalOrders,
    simulate_allocation,
    simulate_signals,
)
from privatetrade.engine.portfolio.targets import long_state, target_weights
from privatetrade.engine.records import CONFIG_DTYPE, ExitReason
from privatetrade.engine.result import DataInfo
from privatetrade.engine.settings import SimulationSettings
from privatetrade.engine.simulation import CancelToken, ProgressCallback, build_config
from privatetrade.engine.strategies.base import Strategy
from privatetrade.engine.strategies.registry import StrategyRegistry, compute_signals
from privatetrade.errors import ConfigurationError

__all__ = [
    "entry_scores",
    "parse_rule",
    "portfolio_market",
    "portfolio_metrics",
    "rule_warmup",
    "run_portfolio",
]

FloatMatrix = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]
CostsInput = CostModel | CostPreset | Mapping[str, CostModel] | None

_WINDOW_RULES = frozenset(
    {"inverse_volatility", "top_n_momentum", "top_n_low_volatility", "top_n_signal"}
)
_LISTED = 10  # symbols named in a warning before "and k more"


def run_portfolio(
    bars: Mapping[str, BarsInput],
    rule: PortfolioRule | Mapping[str, Any],
    *,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostsInput = None,
    market: str | None = None,
    fill_at: str | None = None,
    close_at_end: bool | None = None,
    benchmark: Any = None,
    benchmark_name: str | None = None,
    data_info: Mapping[str, DataInfo] | None = None,
    start: int | None = None,
    tz: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window: int | None = None,
    registry: StrategyRegistry | None = None,
) -> PortfolioResult:
    """Backtest several symbols trading from one account and return the result.

    Args:
        bars: Symbol code -> bars (a DataFrame with a timezone-aware index, or a
            mapping of arrays with ``tz``), in universe order; 1 to 2,000 symbols of
            one time zone. The calendar is the union of their bar times.
        rule: A :class:`PortfolioRule` or its fields, e.g.
            ``{"rule": "top_n_momentum", "top": 10, "lookback": 120}``.
        settings: Base settings: initial cash, costs, fill timing, stops (``signals``
            rule only), close at end, risk-free rate, periods per year. Their
            ``sizing`` is not used (the rule sizes positions); ``allow_short`` must
            stay False.
        cash: Initial cash (default by the costs' currency, as ``run_backtest``).
        costs: One cost model or preset for all symbols, or a mapping symbol -> model
            (e.g. KOSPI and KOSDAQ tick tables side by side).
        market: KRX market of the ``krx`` preset.
        fill_at: ``next_open`` (default) or ``close``.
        close_at_end: Sell every holding at the last bar's close (default True).
        benchmark: Benchmark prices: a pandas Series (forward-filled onto the
            calendar) or an array with one value per calendar bar.
        benchmark_name: Label of the benchmark in the result.
        data_info: Symbol -> source and adjustment of its bars, for the result.
        start: Calendar bars before this index are history only: strategies and
            rankings see them, but no order is placed before ``start`` and the result
            covers ``[start:]``. None or 0: all bars.
        tz: Time zone of array bars.
        progress: Called with the fraction done (0..1) as the run proceeds.
        cancel: A token whose ``is_set()`` stops the run with CancelledError.
        window: Bars per kernel call (progress granularity).
        registry: Strategy registry (default: built-ins plus installed entry points).

    Returns:
        The portfolio result.

    Raises:
        DataError: Bad bars (the message starts with the symbol), mixed time zones,
            too many symbols or bars, a bad benchmark.
        ConfigurationError: A rule field or setting is invalid (``field`` names it:
            ``allow_short``, ``stops``, ``costs``, ``rule.top``, ...).
        ParameterError: A strategy parameter, or ``start``.
        StrategyError: Unknown strategy or malformed signals.
        CancelledError: The cancel token was set.

    Example:
        >>> import privatetrade as pt
        >>> result = pt.run_portfolio(
        ...     {"005930": samsung, "000660": hynix, "035420": naver},
        ...     {"rule": "top_n_momentum", "top": 2, "lookback": 60},
        ...     costs="krx",
        ... )  # doctest: +SKIP
        >>> result.metrics.sharpe, result.to_dict()["holdings"]  # doctest: +SKIP
    """
    parsed = parse_rule(rule)
    aligned = align_bars(bars, tz=tz)
    symbol_costs = _symbol_costs(costs, aligned.symbols)
    resolved = make_settings(
        settings,
        market=market,
        cash=cash,
        costs=costs if symbol_costs is None else symbol_costs[aligned.symbols[0]],
        fill_at=fill_at,
        close_at_end=close_at_end,
    )
    _check_settings(resolved, parsed, aligned.symbols)
    first = start or 0
    check_start(first, len(aligned))
    strategy = None
    if parsed.strategy is not None:
        strategy = (registry or default_registry()).build(parsed.strategy, parsed.params)
    models = [
        resolved.costs if symbol_costs is None else symbol_costs[code] for code in aligned.symbols
    ]
    market_data = portfolio_market(aligned, resolved, models)
    signals = None if strategy is None else _signals(aligned, strategy)
    if parsed.is_allocation:
        output, rebalances = _run_allocation(
            aligned, parsed, resolved, market_data, signals, first, progress, cancel, window
        )
    elif signals is not None:
        output = _run_signals(
            aligned, parsed, resolved, market_data, signals, first, progress, cancel, window
        )
        rebalances = Rebalances.none(len(aligned.symbols))
    else:  # the rule model makes the signals rule name a strategy
        raise ConfigurationError("rule.strategy: the signals rule needs a strategy", field="rule")
    run = aligned.tail(first)
    bench = align_benchmark(benchmark, aligned.time)
    bench = None if bench is None else bench[first:]
    periods = resolved.periods_per_year or infer_periods_per_year(run.time)
    metrics = portfolio_metrics(run, output, resolved, bench, periods)
    warnings = _warnings(aligned, run, parsed, strategy, output, rebalances, first)
    warnings += metric_warnings(metrics, len(run))
    return PortfolioResult(
        rule=parsed,
        settings=resolved,
        symbol_costs=symbol_costs,
        aligned=run,
        output=output,
        metrics=metrics,
        rebalances=rebalances,
        benchmark_close=bench,
        benchmark_name=benchmark_name,
        data_info=dict(data_info or {}),
        engine_version=ENGINE_VERSION,
        periods_per_year=periods,
        warnings=warnings,
        history_bars=first,
    )


def parse_rule(rule: PortfolioRule | Mapping[str, Any]) -> PortfolioRule:
    """Return ``rule`` as a validated :class:`PortfolioRule`.

    Raises:
        ConfigurationError: ``field`` is ``rule.<name>`` of the first invalid field.
    """
    if isinstance(rule, PortfolioRule):
        return rule
    if not isinstance(rule, Mapping):
        raise ConfigurationError(
            f"rule must be a PortfolioRule or a mapping, not {type(rule).__name__}", field="rule"
        )
    try:
        return PortfolioRule.model_validate(dict(rule))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in ("rule", *error["loc"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        # The rule's own messages start with the field's name: "top: ...".
        message = message.removeprefix(f"{where.rsplit('.', 1)[-1]}: ")
        raise ConfigurationError(f"{where}: {message}", field=where) from exc


def _symbol_costs(costs: CostsInput, symbols: tuple[str, ...]) -> dict[str, CostModel] | None:
    """Return the per-symbol cost models of a mapping, None for one model or preset."""
    if costs is None or isinstance(costs, (str, CostModel)):
        return None
    if not isinstance(costs, Mapping):
        raise ConfigurationError(
            "costs must be a preset name, a CostModel or a mapping symbol -> CostModel",
            field="costs",
        )
    missing = [code for code in symbols if code not in costs]
    if missing:
        raise ConfigurationError(f"costs: no cost model for {_listing(missing)}", field="costs")
    extra = [str(code) for code in costs if code not in symbols]
    if extra:
        raise ConfigurationError(f"costs: {_listing(extra)} not in the universe", field="costs")
    models = {code: costs[code] for code in symbols}
    for code, model in models.items():
        if not isinstance(model, CostModel):
            raise ConfigurationError(
                f"costs: the model of {code} is a {type(model).__name__}, not a CostModel",
                field="costs",
            )
    return models


def _check_settings(
    settings: SimulationSettings, rule: PortfolioRule, symbols: tuple[str, ...]
) -> None:
    if settings.allow_short:
        raise ConfigurationError(
            "allow_short: portfolio backtests are long only", field="allow_short"
        )
    stops = settings.stops
    has_stops = any(
        value is not None
        for value in (stops.stop_loss, stops.take_profit, stops.trailing_stop, stops.max_bars_held)
    )
    if has_stops and rule.rule != "signals":
        raise ConfigurationError(
            f"stops: only the signals rule takes stops (the rule is {rule.rule})", field="stops"
        )
    if rule.weights is not None:
        unknown = [code for code in rule.weights if code not in symbols]
        if unknown:
            raise ConfigurationError(
                f"rule.weights: {_listing(unknown)} not in the universe", field="rule.weights"
            )


def portfolio_market(
    aligned: AlignedBars, settings: SimulationSettings, models: list[CostModel]
) -> PortfolioMarket:
    """Return prices, per-bar costs (each symbol's on its own bars) and configs."""
    count = len(aligned.symbols)
    configs = np.zeros(count, dtype=CONFIG_DTYPE)
    rows: dict[CostModel, np.void] = {}
    for j, model in enumerate(models):
        if model not in rows:
            rows[model] = build_config(settings.model_copy(update={"costs": model}))[0]
        configs[j] = rows[model]
    return PortfolioMarket(
        open=aligned.open,
        high=aligned.high,
        low=aligned.low,
        close=aligned.close,
        present=aligned.present,
        costs=_cost_matrices(aligned, models),
        configs=configs,
        last_bar=aligned.last_bar,
    )


def _cost_matrices(
    aligned: AlignedBars, models: list[CostModel]
) -> tuple[FloatMatrix, BoolMatrix, BoolMatrix, npt.NDArray[np.int64]]:
    """Return the per-(bar, symbol) cost arrays, each symbol's as on its own bars.

    Tax rates and tick rows depend on the bar's date only, so each model's are computed
    once on the calendar; limit locks compare a bar with the symbol's previous bar, so
    they are computed on the own bars of the symbols that have a one-price bar.
    """
    shape = aligned.close.shape
    count = shape[0]
    tax = np.zeros(shape)
    buy_blocked = np.zeros(shape, dtype=np.bool_)
    sell_blocked = np.zeros(shape, dtype=np.bool_)
    tick_row = np.zeros(shape, dtype=np.int64)
    columns: dict[CostModel, list[int]] = {}
    for j, model in enumerate(models):
        columns.setdefault(model, []).append(j)
    one_price = (aligned.high == aligned.low).any(axis=0)
    any_costs = False
    for model, cols in columns.items():
        # No bar of the calendar call is a one-price bar: it yields dates' values only.
        by_date = cost_arrays(
            model, aligned.local_time_ns, np.full(count, 2.0), np.ones(count), np.ones(count)
        )
        if by_date.tax_rate.shape[0] == 0:
            continue
        any_costs = True
        tax[:, cols] = by_date.tax_rate[:, None]
        tick_row[:, cols] = by_date.tick_row[:, None]
        if model.price_limit is None:
            continue
        for j in cols:
            if one_price[j]:
                rows = aligned.rows(j)
                own = cost_arrays(
                    model,
                    aligned.local_time_ns[rows],
                    aligned.high[rows, j],
                    aligned.low[rows, j],
                    aligned.close[rows, j],
                )
                buy_blocked[rows, j] = own.buy_blocked
                sell_blocked[rows, j] = own.sell_blocked
    if not any_costs:
        return (np.empty((0, 0)), np.empty((0, 0), np.bool_), np.empty((0, 0), np.bool_),
                np.empty((0, 0), np.int64))  # fmt: skip
    return tax, buy_blocked, sell_blocked, tick_row


def _signals(
    aligned: AlignedBars, strategy: Strategy[Any]
) -> tuple[BoolMatrix, BoolMatrix, FloatMatrix | None]:
    """Return each symbol's signals on its own bars, scattered onto the calendar."""
    shape = aligned.close.shape
    entries = np.zeros(shape, dtype=np.bool_)
    exits = np.zeros(shape, dtype=np.bool_)
    offsets: FloatMatrix | None = None
    for j in range(shape[1]):
        rows = aligned.rows(j)
        signals = compute_signals(strategy, aligned.symbol_bars(j).bars)
        entries[rows, j] = signals.entries
        exits[rows, j] = signals.exits
        if signals.entry_offset is not None:
            if offsets is None:
                offsets = np.full(shape, np.nan)
            offsets[rows, j] = signals.entry_offset
    return entries, exits, offsets


def _run_signals(
    aligned: AlignedBars,
    rule: PortfolioRule,
    settings: SimulationSettings,
    market: PortfolioMarket,
    signals: tuple[BoolMatrix, BoolMatrix, FloatMatrix | None],
    first: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    window: int | None,
) -> PortfolioOutput:
    entries, exits, offsets = signals
    scores = None
    if rule.entry_priority != "order":
        scores = entry_scores(aligned, rule.lookback, rule.entry_priority)
    orders = SignalOrders(
        entries=np.ascontiguousarray(entries[first:]),
        exits=np.ascontiguousarray(exits[first:]),
        entry_offset=None if offsets is None else np.ascontiguousarray(offsets[first:]),
        scores=None if scores is None else np.ascontiguousarray(scores[first:]),
        max_positions=rule.max_positions,
        position_size=rule.position_size,
        position_value=rule.position_value or 0.0,
        hold_delisted=rule.delisted == "hold",
    )
    return simulate_signals(
        _market_tail(market, aligned, first),
        orders,
        settings.initial_cash,
        progress=progress,
        cancel=cancel,
        window=window,
    )


def _run_allocation(
    aligned: AlignedBars,
    rule: PortfolioRule,
    settings: SimulationSettings,
    market: PortfolioMarket,
    signals: tuple[BoolMatrix, BoolMatrix, FloatMatrix | None] | None,
    first: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    window: int | None,
) -> tuple[PortfolioOutput, Rebalances]:
    signal_at = signal_bars(
        aligned.local_time_ns, rule.rebalance, rule.rebalance_on, max(first, rule_warmup(rule))
    )
    long = None if signals is None else long_state(signals[0], signals[1])
    weights = target_weights(aligned, rule, signal_at, long)
    delay = 1 if settings.fill_at == "next_open" else 0
    fill_at = signal_at + delay
    kept = fill_at < len(aligned)
    rebalances = Rebalances(signal_at[kept] - first, fill_at[kept] - first, weights[kept])
    orders = AllocationOrders(
        fill_bars=rebalances.fill_bars,
        weights=rebalances.weights,
        band=rule.band,
        hold_delisted=rule.delisted == "hold",
    )
    output = simulate_allocation(
        _market_tail(market, aligned, first),
        orders,
        settings.initial_cash,
        progress=progress,
        cancel=cancel,
        window=window,
    )
    return output, rebalances


def rule_warmup(rule: PortfolioRule) -> int:
    """Return the calendar bars an allocation rule reads before its first signal bar.

    Rankings, volatility weights and the absolute momentum filter read ``lookback``
    bars of history, so the first signal bar is at least ``lookback``; the other rules
    can rebalance on the first bar.
    """
    if rule.rule in _WINDOW_RULES or rule.absolute_momentum:
        return rule.lookback
    return 0


def entry_scores(aligned: AlignedBars, lookback: int, priority: str) -> FloatMatrix:
    """Return each symbol's entry priority at each bar (higher first, NaN without history).

    ``momentum``: the ``lookback`` return of the forward-filled closes; ``low_volatility``:
    minus the standard deviation of the ``lookback`` simple returns (the definitions of
    the allocation rules' rankings, ``targets.py``).
    """
    count = len(aligned)
    bars = np.arange(count, dtype=np.int64)
    filled, sums, squares = window_sums_nb(
        np.ascontiguousarray(aligned.close), np.ascontiguousarray(aligned.present), bars
    )
    scores = np.full(aligned.close.shape, np.nan)
    if count <= lookback:
        return scores
    end, begin = slice(lookback, None), slice(None, count - lookback)
    if priority == "momentum":
        with np.errstate(divide="ignore", invalid="ignore"):
            scores[end] = filled[end] / filled[begin] - 1.0
        return scores
    total = sums[end] - sums[begin]
    total_sq = squares[end] - squares[begin]
    spread = np.maximum(total_sq - total * total / lookback, 0.0)
    scores[end] = -np.sqrt(spread / (lookback - 1))
    scores[end][~np.isfinite(filled[begin])] = np.nan
    return scores


def _market_tail(market: PortfolioMarket, aligned: AlignedBars, first: int) -> PortfolioMarket:
    """Return the market from calendar bar ``first`` on (costs were computed on all bars)."""
    if first == 0:
        return market
    run = aligned.tail(first)
    costs = market.costs
    if costs[0].shape[0] > 0:
        costs = (
            np.ascontiguousarray(costs[0][first:]),
            np.ascontiguousarray(costs[1][first:]),
            np.ascontiguousarray(costs[2][first:]),
            np.ascontiguousarray(costs[3][first:]),
        )
    return PortfolioMarket(
        open=np.ascontiguousarray(run.open),
        high=np.ascontiguousarray(run.high),
        low=np.ascontiguousarray(run.low),
        close=np.ascontiguousarray(run.close),
        present=np.ascontiguousarray(run.present),
        costs=costs,
        configs=market.configs,
        last_bar=run.last_bar,
    )


def portfolio_metrics(
    run: AlignedBars,
    output: PortfolioOutput,
    settings: SimulationSettings,
    benchmark: FloatMatrix | None,
    periods_per_year: float,
) -> Metrics:
    """Return the single engine's metrics with the portfolio's exposure and turnover.

    ``exposure`` is the mean invested fraction of equity at the closes; ``turnover``
    is annualized: traded value / 2 / mean equity / years; ``buy_and_hold_return`` is
    the mean of the symbols' own buy-and-hold returns (first to last close of the run).
    """
    last_close = forward_filled(run.close, run.present)
    values = np.where(output.position != 0.0, output.position * np.nan_to_num(last_close), 0.0)
    invested = values.sum(axis=1)
    equity = output.equity
    metrics = compute_metrics(
        run.local_time_ns,
        equity,
        invested,
        equity,
        output.fills,
        output.trades,
        initial_cash=settings.initial_cash,
        benchmark_close=benchmark,
        periods_per_year=periods_per_year,
        risk_free_rate=settings.risk_free_rate,
    )
    exposure = np.where(equity > 0.0, invested / np.where(equity > 0.0, equity, 1.0), 0.0)
    fills = output.fills
    traded = float(np.abs(fills["quantity"]) @ fills["price"]) if fills.shape[0] else 0.0
    scale = turnover_scale(run.local_time_ns, equity)
    return dataclasses.replace(
        metrics,
        exposure=float(exposure.mean()),
        turnover=None if scale is None else traded * scale,
        buy_and_hold_return=_buy_and_hold(run),
    )


def _buy_and_hold(run: AlignedBars) -> float | None:
    returns = []
    for j in range(len(run.symbols)):
        first, last = int(run.first_bar[j]), int(run.last_bar[j])
        if first >= 0:
            returns.append(float(run.close[last, j] / run.close[first, j] - 1.0))
    return float(np.mean(returns)) if returns else None


def _warnings(
    aligned: AlignedBars,
    run: AlignedBars,
    rule: PortfolioRule,
    strategy: Strategy[Any] | None,
    output: PortfolioOutput,
    rebalances: Rebalances,
    first: int,
) -> list[str]:
    warnings: list[str] = []
    if strategy is not None:
        needed = strategy.warmup_bars()
        short = [
            code
            for j, code in enumerate(aligned.symbols)
            if int(np.count_nonzero(aligned.present[:, j])) <= needed
        ]
        if short:
            warnings.append(
                f"{_listing(short)} have no more bars than the strategy needs before its "
                f"first signal ({needed}): they never signal"
            )
    if rule.is_allocation:
        warmup = rule_warmup(rule)
        if len(aligned) <= warmup:
            warnings.append(
                f"only {len(aligned)} bars but the rule's lookback needs {warmup} bars of "
                "history before its first rebalance: nothing is bought"
            )
        elif rebalances.fill_bars.shape[0] == 0:
            warnings.append("no rebalance could fill before the data ended: nothing is bought")
    held = (output.position != 0.0).any(axis=0)
    never = [code for j, code in enumerate(run.symbols) if not held[j]]
    if never:
        warnings.append(
            f"{len(never)} of {len(run.symbols)} symbols were never held: {_listing(never)}"
        )
    warnings += _delisting_warnings(run, rule, output)
    return warnings


def _delisting_warnings(
    run: AlignedBars, rule: PortfolioRule, output: PortfolioOutput
) -> list[str]:
    """Name the symbols whose data ended before the calendar's while they were held."""
    end = len(run) - 1
    days = run.local_time_ns.astype("datetime64[ns]").astype("datetime64[D]").astype(str)
    fills = output.fills
    closed_out = fills["reason"] == int(ExitReason.END_OF_DATA)
    sold_early = set(output.fill_symbol[closed_out & (fills["bar"] < end)].tolist())
    held: list[str] = []
    sold: list[str] = []
    for j, code in enumerate(run.symbols):
        last = int(run.last_bar[j])
        if 0 <= last < end and output.position[end, j] != 0.0:
            held.append(f"{code} (last bar {days[last]})")
        elif j in sold_early:
            sold.append(f"{code} ({days[last]})")
    warnings = []
    if held:
        warnings.append(
            f"held at their last close after their data ended (delisted: hold): {_listing(held)}"
        )
    if sold and rule.delisted == "liquidate":
        warnings.append(f"sold at the close of their last bar (data ended): {_listing(sold)}")
    return warnings


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    more = len(names) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown
