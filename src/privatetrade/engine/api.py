"""Run a backtest: validate inputs, compute signals, simulate, measure."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from privatetrade.engine.bars import BarsInput, PreparedBars, prepare_bars
from privatetrade.engine.costs import (
    CostArrays,
    CostModel,
    CostPreset,
    cost_arrays,
    resolve_costs,
)
from privatetrade.engine.metrics import compute_metrics, infer_periods_per_year, metric_warnings
from privatetrade.engine.result import BacktestResult, DataInfo
from privatetrade.engine.rules.limits import RULES_STRATEGY
from privatetrade.engine.rules.strategy import RuleStrategy
from privatetrade.engine.settings import (
    SimulationSettings,
    Sizing,
    Stops,
    costs_currency,
    default_capital,
)
from privatetrade.engine.simulation import CancelToken, ProgressCallback, simulate
from privatetrade.engine.strategies.base import Bars, Signals, Strategy, StrategyParams
from privatetrade.engine.strategies.registry import (
    StrategyRegistry,
    compute_signals,
    load_entry_point_strategies,
)
from privatetrade.errors import ConfigurationError, DataError, ParameterError

__all__ = [
    "ENGINE_VERSION",
    "align_benchmark",
    "check_start",
    "default_registry",
    "make_settings",
    "run_backtest",
    "strategy_registry",
    "with_strategy_stops",
]

_ArrayT = TypeVar("_ArrayT", bound=npt.NDArray[Any])

# Version of the execution semantics; bumped whenever the same inputs could give
# different numbers.
ENGINE_VERSION = "1.1.0"


@lru_cache(maxsize=1)
def default_registry() -> StrategyRegistry:
    """Return the registry of built-in strategies plus installed entry-point strategies."""
    registry = StrategyRegistry.with_builtins()
    load_entry_point_strategies(registry)
    return registry


def make_settings(
    settings: SimulationSettings | None = None,
    *,
    market: str | None = None,
    **overrides: Any,
) -> SimulationSettings:
    """Return settings with ``overrides`` applied, validated.

    ``costs`` may be a preset name (``krx``, ``us``, ``zero``) or a CostModel;
    ``sizing`` and ``stops`` may be mappings; ``cash`` is a shorthand for
    ``initial_cash``. Cash given neither here nor when ``settings`` was built is
    :func:`~privatetrade.engine.settings.default_capital` of the costs' currency:
    100,000 for ``us`` costs, 10,000,000 for ``krx``, ``zero`` and custom ones.

    Raises:
        ConfigurationError: Naming the offending field.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    cash_chosen = settings is not None and "initial_cash" in settings.model_fields_set
    if settings is not None and not given and cash_chosen:
        return settings
    values: dict[str, Any] = {} if settings is None else settings.model_dump()
    if "cash" in given:
        given["initial_cash"] = given.pop("cash")
    if "costs" in given and not isinstance(given["costs"], (CostModel, Mapping)):
        given["costs"] = resolve_costs(given["costs"], market)
    values |= given
    if "initial_cash" not in given and not cash_chosen:
        values["initial_cash"] = default_capital(costs_currency(values.get("costs")))
    try:
        return SimulationSettings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        raise ConfigurationError(f"{where}: {error['msg']}", field=where) from exc


def run_backtest(
    bars: BarsInput,
    strategy: str | type[Strategy[Any]],
    params: Mapping[str, Any] | StrategyParams | None = None,
    *,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | None = None,
    market: str | None = None,
    sizing: Sizing | Mapping[str, Any] | None = None,
    stops: Stops | Mapping[str, Any] | None = None,
    fill_at: str | None = None,
    allow_short: bool | None = None,
    close_at_end: bool | None = None,
    benchmark: Any = None,
    benchmark_name: str | None = None,
    data_info: DataInfo | None = None,
    tz: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    window: int | None = None,
    registry: StrategyRegistry | None = None,
    start: int | None = None,
    rules: Any = None,
) -> BacktestResult:
    """Backtest a strategy on bars and return the result.

    Args:
        bars: A DataFrame with a timezone-aware DatetimeIndex and OHLCV columns, or a
            mapping of arrays (``time`` plus OHLCV; then pass ``tz``).
        strategy: Registry name (``"sma_cross"``) or a Strategy class.
        params: Strategy parameters; missing ones take their defaults.
        settings: Base settings; the keyword arguments below override them.
        cash: Initial cash; by default 100,000 for ``us`` costs and 10,000,000
            otherwise (``krx``, ``zero``, custom), as the CLI and the API default
            by the symbol's currency.
        costs: ``"krx"``, ``"us"``, ``"zero"`` (default) or a CostModel.
        market: KRX market for the ``krx`` preset (KOSPI default, KOSDAQ, KONEX).
        sizing: e.g. ``{"mode": "fraction", "value": 0.5}``.
        stops: e.g. ``{"stop_loss": 0.05, "trailing_stop": 0.1}``.
        fill_at: ``"next_open"`` (default) or ``"close"``.
        allow_short: Trade short signals too.
        close_at_end: Close an open position at the last close (default True).
        benchmark: Benchmark prices: a pandas Series (aligned to the bars by time,
            forward-filled) or an array of the bars' length.
        benchmark_name: Label of the benchmark in the result.
        data_info: Symbol, source and adjustment of the bars, recorded in the result.
        tz: Time zone of array bars.
        progress: Called with the fraction done (0..1) as the run proceeds.
        cancel: A token whose ``is_set()`` stops the run with CancelledError.
        window: Bars per kernel call (progress granularity).
        registry: Strategy registry (default: built-ins plus installed entry points).
        start: Bars before this index are history only: the strategy sees all bars
            (its indicators warm up) but no order is placed before ``start``, and the
            result (equity, trades, metrics, time range) covers ``bars[start:]``.
            None or 0: all bars.
        rules: The rule document of ``strategy="rules"`` (docs/rules.md): a
            ``RuleDocument``, its JSON data or text. Its exits replace the stops they set.

    Returns:
        The backtest result.

    Raises:
        DataError: The bars are invalid (the message names the first bad row).
        ParameterError: A strategy parameter is invalid (``field`` names it), or
            ``start`` is not a bar index (``field="start"``), or ``rules`` is given
            without ``strategy="rules"`` or missing with it (``field="rules"``).
        RuleError: The rule document is invalid (``path`` names the offending part).
        ConfigurationError: A setting is invalid.
        StrategyError: The strategy is unknown or returned malformed signals.
        CancelledError: The cancel token was set.

    Example:
        >>> import privatetrade as pt
        >>> result = pt.run_backtest(frame, "sma_cross", {"fast": 10, "slow": 30}, costs="krx")
        >>> result.metrics.total_return  # doctest: +SKIP
    """
    prepared = prepare_bars(bars, tz=tz)
    chosen = strategy_registry(strategy, rules, registry)
    instance = chosen.build(strategy, params)
    resolved = make_settings(
        settings,
        market=market,
        cash=cash,
        costs=costs,
        sizing=sizing,
        stops=stops,
        fill_at=fill_at,
        allow_short=allow_short,
        close_at_end=close_at_end,
    )
    resolved = with_strategy_stops(resolved, instance)
    history = len(prepared)
    check_start(start or 0, history)
    signals = compute_signals(instance, prepared.bars)
    bench = _align_benchmark(benchmark, prepared)
    costs_per_bar = None
    if start:
        prepared, signals, costs_per_bar, bench = _from_bar(
            start, prepared, signals, resolved, bench
        )
    output = simulate(
        prepared,
        signals,
        resolved,
        progress=progress,
        cancel=cancel,
        window=window,
        costs=costs_per_bar,
    )
    periods = resolved.periods_per_year or infer_periods_per_year(prepared.bars.time)
    metrics = compute_metrics(
        prepared.local_time_ns,
        output.equity,
        output.position,
        prepared.bars.close,
        output.fills,
        output.trades,
        initial_cash=resolved.initial_cash,
        benchmark_close=bench,
        periods_per_year=periods,
        risk_free_rate=resolved.risk_free_rate,
    )
    warnings = metric_warnings(metrics, len(prepared))
    if history <= instance.warmup_bars():
        warnings.insert(
            0,
            f"only {history} bar{'' if history == 1 else 's'} but the strategy needs "
            f"{instance.warmup_bars()} before its first signal",
        )
    return BacktestResult(
        strategy=instance.name,
        params=instance.params.model_dump(mode="json"),
        settings=resolved,
        prepared=prepared,
        output=output,
        metrics=metrics,
        benchmark_close=bench,
        benchmark_name=benchmark_name,
        data_info=data_info or DataInfo(),
        engine_version=ENGINE_VERSION,
        periods_per_year=periods,
        warnings=warnings,
    )


def strategy_registry(
    strategy: str | type[Strategy[Any]], rules: Any, registry: StrategyRegistry | None
) -> StrategyRegistry:
    """Return the registry to build ``strategy`` from: ``registry`` plus the rule document.

    Raises:
        ParameterError: ``rules`` without ``strategy="rules"``, or ``"rules"`` without
            ``rules`` where the registry has no rule strategy (``field="rules"``).
        RuleError: The rule document is invalid.
    """
    chosen = registry or default_registry()
    if rules is None:
        if strategy == RULES_STRATEGY and RULES_STRATEGY not in chosen:
            raise ParameterError(
                "strategy 'rules' needs a rule document: pass rules=... (see docs/rules.md)",
                field="rules",
                code="rules_required",
            )
        return chosen
    if strategy != RULES_STRATEGY:
        name = strategy if isinstance(strategy, str) else strategy.name
        raise ParameterError(
            f"rules= is for strategy 'rules', not {name!r}",
            field="rules",
            code="rules_not_used",
            params={"strategy": name},
        )
    return chosen.with_rules(rules)


def with_strategy_stops(
    settings: SimulationSettings, strategy: Strategy[Any]
) -> SimulationSettings:
    """Return ``settings`` with the exits a rule strategy's document sets.

    The document's ``stop_loss``, ``take_profit``, ``trailing_stop`` and
    ``max_bars_held`` (resolved with the strategy's parameters) replace the settings'
    ones; other strategies leave the settings as they are.
    """
    if not isinstance(strategy, RuleStrategy):
        return settings
    stops = strategy.stops()
    if not stops:
        return settings
    merged = Stops.model_validate(settings.stops.model_dump() | stops)
    return settings.model_copy(update={"stops": merged})


def check_start(start: int, n_bars: int) -> None:
    """Check that ``start`` is the index of one of ``n_bars`` bars.

    Raises:
        ParameterError: ``field="start"``.
    """
    if (
        isinstance(start, bool)
        or not isinstance(start, int | np.integer)
        or not 0 <= start < n_bars
    ):
        raise ParameterError(
            f"start must be a bar index from 0 to {n_bars - 1}, got {start!r}", field="start"
        )


def _from_bar(
    start: int,
    prepared: PreparedBars,
    signals: Signals,
    settings: SimulationSettings,
    benchmark: npt.NDArray[np.float64] | None,
) -> tuple[PreparedBars, Signals, CostArrays, npt.NDArray[np.float64] | None]:
    """Return bars, signals, per-bar costs and benchmark from bar ``start`` on.

    Costs are computed on all bars first, so a price-limit lock on bar ``start``
    still compares with the bar before it.
    """
    bars = prepared.bars
    costs = cost_arrays(settings.costs, prepared.local_time_ns, bars.high, bars.low, bars.close)
    tail = slice(start, None)
    sliced = PreparedBars(
        Bars(
            bars.time[tail],
            bars.open[tail],
            bars.high[tail],
            bars.low[tail],
            bars.close[tail],
            bars.volume[tail],
        ),
        prepared.local_time_ns[tail],
        prepared.tz,
    )
    kept = Signals(
        signals.entries[tail],
        signals.exits[tail],
        _tail(signals.short_entries, start),
        _tail(signals.short_exits, start),
        _tail(signals.entry_offset, start),
    )
    kept_costs = CostArrays(
        costs.tax_rate[tail],
        costs.buy_blocked[tail],
        costs.sell_blocked[tail],
        costs.tick_row[tail],
    )
    return sliced, kept, kept_costs, _tail(benchmark, start)


def _tail(values: _ArrayT | None, start: int) -> _ArrayT | None:
    return None if values is None else cast("_ArrayT", values[start:])


def _align_benchmark(benchmark: Any, prepared: PreparedBars) -> npt.NDArray[np.float64] | None:
    return align_benchmark(benchmark, prepared.bars.time)


def align_benchmark(
    benchmark: Any, time_ns: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64] | None:
    """Return benchmark prices on the bars' times, or None without a benchmark.

    Args:
        benchmark: A pandas Series (or a DataFrame's ``close``) with a timezone-aware
            index, forward-filled onto the bars' times (NaN before its first price); or
            an array with one value per bar.
        time_ns: The bars' UTC nanoseconds.

    Raises:
        DataError: Wrong length, a naive index, or a price that is not positive.
    """
    if benchmark is None:
        return None
    n = int(time_ns.shape[0])
    if type(benchmark).__module__.startswith("pandas"):
        return _align_series(benchmark, time_ns)
    values = np.asarray(benchmark, dtype=np.float64)
    if values.shape != (n,):
        raise DataError(f"benchmark has {values.shape[0]} values; the bars have {n}")
    if np.any(values[np.isfinite(values)] <= 0.0):
        raise DataError("benchmark prices must be positive")
    return values


def _align_series(series: Any, time_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    import pandas as pd

    if isinstance(series, pd.DataFrame):
        lowered = {str(c).lower(): c for c in series.columns}
        if "close" not in lowered:
            raise DataError("benchmark frame has no 'close' column")
        series = series[lowered["close"]]
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        raise DataError("benchmark needs a timezone-aware DatetimeIndex")
    index = pd.DatetimeIndex(time_ns, tz="UTC")
    source = series.astype("float64").sort_index()
    source = source[~source.index.duplicated(keep="last")]
    aligned = source.tz_convert("UTC").reindex(index, method="ffill")
    values = np.ascontiguousarray(aligned.to_numpy(dtype=np.float64))
    if np.any(values[np.isfinite(values)] <= 0.0):
        raise DataError("benchmark prices must be positive")
    return values
