"""Parameter sweeps: evaluate a grid (or any list) of parameter sets, metrics only.

:func:`sweep` enumerates a grid's valid combinations and hands them to
:func:`evaluate`, which optimizers call with parameter sets of their own choosing.
Moving-average crosses (``sma_cross``, ``ema_cross``) take a parallel numba fast
path that computes each average once and every combination's signals on the
fly; other strategies compute signals per combination in Python and simulate in
numba. Both use the single-backtest kernel, so a sweep row equals the full
backtest of the same parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numba
import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError

from privatetrade.engine.api import (
    check_start,
    make_settings,
    strategy_registry,
    with_strategy_stops,
)
from privatetrade.engine.bars import BarsInput, PreparedBars, prepare_bars
from privatetrade.engine.columns import SWEEP_METRICS
from privatetrade.engine.costs import CostModel, CostPreset, cost_arrays
from privatetrade.engine.kernels.sweep import (
    N_COLUMNS,
    backtest_summary_nb,
    ma_cross_sweep_nb,
    moving_average_table_nb,
    signal_table_sweep_nb,
)
from privatetrade.engine.metrics import calendar_years, infer_periods_per_year
from privatetrade.engine.records import CONFIG_DTYPE, FILL_DTYPE, TRADE_DTYPE, new_state
from privatetrade.engine.rules.checks import iter_references
from privatetrade.engine.rules.evaluation import Evaluation
from privatetrade.engine.rules.strategy import RuleStrategy, resolved_stops
from privatetrade.engine.settings import SimulationSettings, Stops
from privatetrade.engine.simulation import build_config, signal_arrays
from privatetrade.engine.strategies.base import Strategy, StrategyParams
from privatetrade.engine.strategies.registry import (
    StrategyRegistry,
    compute_signals,
    parse_error_message,
)
from privatetrade.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_BLOCKS", "SWEEP_METRICS", "SweepResult", "block_edges", "evaluate", "sweep"]

MAX_BLOCKS = 64
_TABLE_BYTES = 64 * 1024 * 1024
"""Signal tables of a rule sweep are filled and simulated in batches of about this size."""
_MA_STRATEGIES = ("sma_cross", "ema_cross")
_REJECTED = object()


@dataclass(frozen=True)
class SweepResult:
    """Metrics of every evaluated parameter combination.

    Attributes:
        strategy: Strategy name.
        params: One dict per evaluated combination (every parameter, defaults filled in).
        values: ``(len(params), len(SWEEP_METRICS))`` array in the order of
            ``SWEEP_METRICS``; NaN where :func:`~privatetrade.engine.metrics.compute_metrics`
            gives ``None`` (e.g. Sharpe where the equity never moved).
        skipped: Combinations rejected by the strategy's parameter rules.
        block_stats: With ``blocks``: ``(len(params), blocks, 2)`` array, per combination
            and block the sum and the sum of squares of the per-bar returns; else None.
        block_lengths: With ``blocks``: bars per block (int64, ``blocks`` values); else None.
    """

    strategy: str
    params: list[dict[str, Any]]
    values: npt.NDArray[np.float64]
    skipped: int
    block_stats: npt.NDArray[np.float64] | None = None
    block_lengths: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.params)

    def column(self, metric: str) -> npt.NDArray[np.float64]:
        """Return one metric for every combination."""
        return self.values[:, SWEEP_METRICS.index(metric)]

    def best(self, metric: str = "sharpe") -> dict[str, Any]:
        """Return the parameters and metrics of the combination with the highest ``metric``."""
        # Drawdowns are negative fractions: the highest is the shallowest, the best.
        scores = self.column(metric)
        index = int(np.nanargmax(np.where(np.isnan(scores), -np.inf, scores)))
        row = dict(zip(SWEEP_METRICS, self.values[index].tolist(), strict=True))
        return {"params": self.params[index], "metrics": row}

    def to_frame(self) -> pd.DataFrame:
        """Return one row per combination: parameters, then metrics."""
        import pandas as pd

        frame = pd.DataFrame(self.params)
        for i, name in enumerate(SWEEP_METRICS):
            frame[name] = self.values[:, i]
        return frame


def sweep(
    bars: BarsInput,
    strategy: str | type[Strategy[Any]],
    grid: Mapping[str, Sequence[Any]],
    *,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | None = None,
    market: str | None = None,
    tz: str | None = None,
    registry: StrategyRegistry | None = None,
    blocks: int = 0,
    start: int = 0,
    rules: Any = None,
) -> SweepResult:
    """Backtest every combination of ``grid`` and return metrics only.

    Args:
        bars: Bars as for :func:`run_backtest`.
        strategy: Registry name or Strategy class.
        grid: Values to try per parameter, e.g. ``{"fast": range(5, 51),
            "slow": range(20, 201, 5)}``; parameters not named keep their defaults.
        settings: Base settings (costs, sizing, stops, ...).
        cash: Initial cash override.
        costs: Cost preset or model override.
        market: KRX market for the ``krx`` preset.
        tz: Time zone of array bars.
        registry: Strategy registry.
        blocks: As for :func:`evaluate`.
        start: As for :func:`evaluate`.
        rules: The rule document of ``strategy="rules"`` (docs/rules.md).

    Returns:
        Metrics per valid combination; invalid ones (e.g. fast >= slow) are skipped.

    Raises:
        ParameterError: The grid names an unknown parameter or holds no valid
            combination, or ``blocks`` or ``start`` is invalid.
    """
    prepared = prepare_bars(bars, tz=tz)
    strategy_class = _strategy_class(strategy, registry, rules)
    resolved = make_settings(settings, market=market, cash=cash, costs=costs)
    _check_window(len(prepared), blocks=blocks, start=start)
    params = _valid_combinations(strategy_class, grid)
    result = _evaluate(prepared, strategy_class, params, resolved, blocks, start)
    return dataclasses.replace(result, skipped=_grid_size(grid) - len(params))


def evaluate(
    bars: BarsInput,
    strategy: str | type[Strategy[Any]],
    params: Sequence[Mapping[str, Any]],
    *,
    settings: SimulationSettings | None = None,
    cash: float | None = None,
    costs: CostModel | CostPreset | None = None,
    market: str | None = None,
    tz: str | None = None,
    registry: StrategyRegistry | None = None,
    blocks: int = 0,
    start: int = 0,
    rules: Any = None,
) -> SweepResult:
    """Backtest each of the given parameter sets and return metrics only.

    The parameter sets are taken as valid (as :func:`sweep` or an optimizer's sampler
    produce them) and not validated again; only unknown and missing names are caught.

    Args:
        bars: Bars as for :func:`run_backtest`.
        strategy: Registry name or Strategy class.
        params: One mapping per combination; parameters not named take their defaults.
        settings: Base settings (costs, sizing, stops, ...).
        cash: Initial cash override.
        costs: Cost preset or model override.
        market: KRX market for the ``krx`` preset.
        tz: Time zone of array bars.
        registry: Strategy registry.
        blocks: 0 (off), or an even number from 2 to ``MAX_BLOCKS``: also return, per
            combination, the sum and sum of squares of the per-bar returns in that many
            contiguous blocks of the evaluated bars (see :func:`block_edges`).
        start: Bars before this index are history only: signals are computed on all
            bars (indicators warm up) but no order is placed before ``start``, and
            equity, returns and metrics cover ``bars[start:]``.
        rules: The rule document of ``strategy="rules"`` (docs/rules.md). A rule
            strategy's exits (resolved per parameter set) replace the stops they set.

    Returns:
        One row per parameter set, in the order given; ``skipped`` is 0.

    Raises:
        ParameterError: A parameter name is unknown, a parameter without default is
            missing, or ``blocks`` or ``start`` is invalid (``field`` names it).
    """
    prepared = prepare_bars(bars, tz=tz)
    strategy_class = _strategy_class(strategy, registry, rules)
    resolved = make_settings(settings, market=market, cash=cash, costs=costs)
    _check_window(len(prepared), blocks=blocks, start=start)
    complete = _with_defaults(strategy_class, params)
    return _evaluate(prepared, strategy_class, complete, resolved, blocks, start)


def _check_window(n_bars: int, *, blocks: int = 0, start: int = 0) -> None:
    """Check ``start`` (a bar index) and ``blocks`` (0, or even, 2..64, <= evaluated bars).

    Raises:
        ParameterError: Naming ``start`` or ``blocks``.
    """
    check_start(start, n_bars)
    evaluated = n_bars - start
    if (
        isinstance(blocks, bool)
        or not isinstance(blocks, int | np.integer)
        or (blocks != 0 and not (2 <= blocks <= MAX_BLOCKS and blocks % 2 == 0))
    ):
        raise ParameterError(
            f"blocks must be 0 (off) or an even number from 2 to {MAX_BLOCKS}, got {blocks!r}",
            field="blocks",
        )
    if blocks > evaluated:
        raise ParameterError(
            f"blocks ({blocks}) must not exceed the {evaluated} evaluated bars", field="blocks"
        )


def block_edges(n_bars: int, blocks: int, start: int = 0) -> npt.NDArray[np.int64]:
    """Return the ``blocks + 1`` bar indices that cut ``[start, n_bars)`` into blocks.

    Block ``j`` covers the evaluated bars ``[j * m // blocks, (j + 1) * m // blocks)``
    with ``m = n_bars - start``, i.e. bars ``[edges[j], edges[j + 1])``; its length is
    ``np.diff(edges)[j]``.

    Raises:
        ParameterError: ``blocks`` is below 1 (``field="blocks"``).
    """
    if blocks < 1:
        raise ParameterError(f"blocks must be at least 1, got {blocks}", field="blocks")
    m = n_bars - start
    return start + np.arange(blocks + 1, dtype=np.int64) * m // blocks


def _strategy_class(
    strategy: str | type[Strategy[Any]], registry: StrategyRegistry | None, rules: Any = None
) -> type[Strategy[Any]]:
    chosen = strategy_registry(strategy, rules, registry)
    if not isinstance(strategy, str):
        return strategy
    return chosen.get(strategy)


def _with_defaults(
    strategy_class: type[Strategy[Any]], params: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return each parameter set with the defaults of the parameters it does not name."""
    fields = strategy_class.Params.model_fields
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in fields.items()
        if not field.is_required()
    }
    complete = []
    for given in params:
        unknown = sorted(set(given) - fields.keys())
        if unknown:
            raise ParameterError(
                f"unknown parameter {unknown[0]!r} for {strategy_class.name}; "
                f"known: {', '.join(sorted(fields))}",
                field=unknown[0],
            )
        values = defaults | dict(given)
        missing = sorted(fields.keys() - values.keys())
        if missing:
            raise ParameterError(f"parameter {missing[0]!r} is required", field=missing[0])
        complete.append(values)
    return complete


def _evaluate(
    prepared: PreparedBars,
    strategy_class: type[Strategy[Any]],
    params: list[dict[str, Any]],
    settings: SimulationSettings,
    blocks: int,
    start: int,
) -> SweepResult:
    inputs = _kernel_inputs(prepared, settings, blocks, start)
    if strategy_class.name in _MA_STRATEGIES:
        values, stats = _ma_cross_sweep(prepared, strategy_class.name, params, inputs)
    elif issubclass(strategy_class, RuleStrategy):
        values, stats = _rule_sweep(prepared, strategy_class, params, settings, inputs)
    else:
        model = strategy_class.Params
        instances = [strategy_class(model.model_construct(**p)) for p in params]
        values, stats = _generic_sweep(prepared, instances, inputs)
    if not blocks:
        return SweepResult(strategy_class.name, params, values, 0)
    lengths = np.diff(inputs.block_edges)
    return SweepResult(strategy_class.name, params, values, 0, stats, lengths)


def _grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(values)
    return size


def _valid_combinations(
    strategy_class: type[Strategy[Any]],
    grid: Mapping[str, Sequence[Any]],
) -> list[dict[str, Any]]:
    """Return the validated parameters of every combination the strategy accepts.

    Parameters whose model declares its cross-parameter rules as data
    (``StrategyParams.ordered``) are validated value by value and the rules applied
    per combination in plain Python; other models validate each combination whole.
    """
    model = strategy_class.Params
    known = set(model.model_fields)
    unknown = sorted(set(grid) - known)
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!r} for {strategy_class.name}; "
            f"known: {', '.join(sorted(known))}",
            field=unknown[0],
        )
    valid = _valid_by_values(model, grid) if _declarative(model) else None
    if valid is None:
        valid = _valid_one_by_one(model, grid)
    if not valid:
        reason = _first_rejection(model, grid)
        raise ParameterError(f"the grid holds no valid parameter combination{reason}", field="grid")
    return valid


def _declarative(model: type[StrategyParams]) -> bool:
    """Return whether the model's only rules are field constraints and ``ordered`` pairs."""
    decorators = model.__pydantic_decorators__
    return (
        set(decorators.model_validators) <= {"_check_ordered"}
        and not decorators.field_validators
        and not decorators.validators
    )


def _valid_by_values(
    model: type[StrategyParams], grid: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    names = list(grid)
    defaults = model().__dict__
    axes = []
    for name in names:
        adapter = _field_adapter(model, name)
        axis = []
        for value in grid[name]:
            try:
                axis.append(adapter.validate_python(value))
            except ValidationError:
                axis.append(_REJECTED)
        axes.append(axis)
    axes = [[value for value in axis if value is not _REJECTED] for axis in axes]
    # Each ordered pair as (position in the combination or None, default value).
    slots = {name: names.index(name) if name in names else None for name in defaults}
    rules = [
        (slots[low], defaults[low], slots[high], defaults[high]) for low, high in model.ordered
    ]
    valid = []
    for combination in itertools.product(*axes):
        for a, low, b, high in rules:
            if not (combination[a] if a is not None else low) < (
                combination[b] if b is not None else high
            ):
                break
        else:
            values = defaults.copy()
            values.update(zip(names, combination, strict=True))
            valid.append(values)
    return valid


@functools.lru_cache(maxsize=256)
def _field_adapter(model: type[StrategyParams], name: str) -> TypeAdapter[Any]:
    """Return a validator of one field of ``model`` (built once: building costs ~1 ms)."""
    field = model.model_fields[name]
    annotation: Any = Annotated.__class_getitem__((field.annotation, *field.metadata))  # type: ignore[attr-defined]
    return TypeAdapter(annotation)


def _valid_one_by_one(
    model: type[StrategyParams], grid: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    names = list(grid)
    valid = []
    for combination in itertools.product(*(list(grid[name]) for name in names)):
        try:
            params = model.model_validate(dict(zip(names, combination, strict=True)))
        except ValidationError:
            continue
        valid.append(dict(params.__dict__))
    return valid


def _first_rejection(model: type[StrategyParams], grid: Mapping[str, Sequence[Any]]) -> str:
    names = list(grid)
    for combination in itertools.product(*(list(grid[name]) for name in names)):
        try:
            model.model_validate(dict(zip(names, combination, strict=True)))
        except ValidationError as exc:
            return f": {parse_error_message(exc, model)}"
    return ""


@dataclass(frozen=True)
class _KernelInputs:
    """Arguments every combination's simulation and summary share."""

    prices: tuple[Any, ...]
    costs: tuple[Any, ...]
    config: npt.NDArray[np.void]
    state: npt.NDArray[np.void]
    periods: float
    risk_free: float
    years: float
    start: int
    block_edges: npt.NDArray[np.int64]


def _kernel_inputs(
    prepared: PreparedBars, settings: SimulationSettings, blocks: int, start: int
) -> _KernelInputs:
    bars = prepared.bars
    costs = cost_arrays(settings.costs, prepared.local_time_ns, bars.high, bars.low, bars.close)
    periods = settings.periods_per_year or infer_periods_per_year(bars.time[start:])
    risk_free = (1.0 + settings.risk_free_rate) ** (1.0 / periods) - 1.0
    state = new_state(settings.initial_cash)
    state["next_bar"] = start
    edges = block_edges(len(bars), blocks, start) if blocks else np.zeros(1, dtype=np.int64)
    return _KernelInputs(
        prices=(bars.open, bars.high, bars.low, bars.close),
        costs=costs.as_tuple(),
        config=build_config(settings),
        state=state,
        periods=periods,
        risk_free=risk_free,
        years=calendar_years(prepared.local_time_ns[start:]),
        start=start,
        block_edges=edges,
    )


def _outputs(
    count: int, inputs: _KernelInputs
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the metrics and block-statistics arrays of ``count`` combinations."""
    blocks = inputs.block_edges.shape[0] - 1
    return np.empty((count, N_COLUMNS)), np.empty((count, blocks, 2))


def _ma_cross_sweep(
    prepared: PreparedBars,
    name: str,
    params: list[dict[str, Any]],
    inputs: _KernelInputs,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    windows = sorted({p["fast"] for p in params} | {p["slow"] for p in params})
    row_of = {window: row for row, window in enumerate(windows)}
    averages = moving_average_table_nb(
        prepared.bars.close, np.array(windows, dtype=np.int64), name == "ema_cross"
    )
    fast_rows = np.array([row_of[p["fast"]] for p in params], dtype=np.int64)
    slow_rows = np.array([row_of[p["slow"]] for p in params], dtype=np.int64)
    out, block_out = _outputs(len(params), inputs)
    ma_cross_sweep_nb(
        inputs.start, inputs.prices, averages, fast_rows, slow_rows, inputs.costs,
        inputs.config, inputs.state, np.empty(0, dtype=FILL_DTYPE),
        np.empty(0, dtype=TRADE_DTYPE), inputs.periods, inputs.risk_free, inputs.years,
        inputs.block_edges, min(len(params), numba.get_num_threads() * 8), out, block_out,
    )  # fmt: skip
    return out, block_out


def _generic_sweep(
    prepared: PreparedBars,
    instances: list[Strategy[Any]],
    inputs: _KernelInputs,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    n = len(prepared)
    out, block_out = _outputs(len(instances), inputs)
    equity = np.empty(n)
    no_fills, no_trades = np.empty(0, dtype=FILL_DTYPE), np.empty(0, dtype=TRADE_DTYPE)
    for k, instance in enumerate(instances):
        signals = compute_signals(instance, prepared.bars)
        backtest_summary_nb(
            inputs.start, inputs.prices, signal_arrays(signals, n), inputs.costs, inputs.config,
            inputs.state, no_fills, no_trades, inputs.periods, inputs.risk_free, inputs.years,
            inputs.block_edges, equity, k, out, block_out,
        )  # fmt: skip
    return out, block_out


def _rule_sweep(
    prepared: PreparedBars,
    strategy_class: type[RuleStrategy],
    params: list[dict[str, Any]],
    settings: SimulationSettings,
    inputs: _KernelInputs,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Sweep a rule strategy: signals per combination from one shared array cache.

    Every indicator and condition array is computed once per distinct resolved
    arguments (:class:`~privatetrade.engine.rules.evaluation.Evaluation`) and reused by
    every combination; the signal rows are then simulated in parallel, in batches.
    """
    program = strategy_class.program
    evaluation = Evaluation(prepared.bars)
    n = len(prepared)
    count = len(params)
    configs, config_rows = _rule_configs(strategy_class, params, settings)
    short = program.short_entries is not None
    out, block_out = _outputs(count, inputs)
    batch = max(1, min(count, _TABLE_BYTES // max(4 * n, 1)))
    entries = np.empty((batch, n), dtype=np.bool_)
    exits = np.empty((batch, n), dtype=np.bool_)
    short_entries = np.empty((batch if short else 0, n), dtype=np.bool_)
    short_exits = np.empty((batch if short else 0, n), dtype=np.bool_)
    no_fills, no_trades = np.empty(0, dtype=FILL_DTYPE), np.empty(0, dtype=TRADE_DTYPE)
    for first in range(0, count, batch):
        rows = min(batch, count - first)
        for row in range(rows):
            outputs: tuple[npt.NDArray[np.bool_], ...] = (entries[row], exits[row])
            if short:
                outputs += (short_entries[row], short_exits[row])
            program.write_signals(evaluation, params[first + row], outputs)
        done = slice(first, first + rows)
        signal_table_sweep_nb(
            inputs.start, inputs.prices, entries[:rows], exits[:rows],
            short_entries[:rows], short_exits[:rows], inputs.costs, configs,
            config_rows[done], inputs.state, no_fills, no_trades, inputs.periods,
            inputs.risk_free, inputs.years, inputs.block_edges,
            min(rows, numba.get_num_threads() * 8), out[done], block_out[done],
        )  # fmt: skip
    return out, block_out


def _rule_configs(
    strategy_class: type[RuleStrategy],
    params: list[dict[str, Any]],
    settings: SimulationSettings,
) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]]:
    """Return the distinct kernel configs of the combinations and each one's row.

    A rule document's exits may name parameters, so the stops can differ per combination.
    """
    document = strategy_class.document
    rows: dict[tuple[tuple[str, float | int], ...], int] = {}
    configs: list[npt.NDArray[np.void]] = []
    config_rows = np.zeros(len(params), dtype=np.int64)
    if not params or document.exits is None or not any(iter_references(document.exits)):
        # The same stops for every combination (none, or numbers only).
        sample = strategy_class(strategy_class.Params.model_construct(**(params or [{}])[0]))
        return build_config(with_strategy_stops(settings, sample)), config_rows
    for k, values in enumerate(params):
        stops = resolved_stops(document, values) or {}
        key = tuple(sorted(stops.items()))
        if key not in rows:
            merged = Stops.model_validate(settings.stops.model_dump() | stops)
            configs.append(build_config(settings.model_copy(update={"stops": merged})))
            rows[key] = len(configs) - 1
        config_rows[k] = rows[key]
    table = np.concatenate(configs) if configs else np.zeros(1, dtype=CONFIG_DTYPE)
    return table, config_rows
