"""Parameter sweeps: evaluate a grid of parameter sets, metrics only.

Moving-average crosses (``sma_cross``, ``ema_cross``) take a parallel numba fast
path that computes each average once and every combination's signals on the
fly; other strategies compute signals per combination in Python and simulate in
numba. Both use the single-backtest kernel, so a sweep row equals the full
backtest of the same parameters.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import numba
import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter, ValidationError

from privatetrade.engine.api import default_registry, make_settings
from privatetrade.engine.bars import BarsInput, PreparedBars, prepare_bars
from privatetrade.engine.costs import CostModel, CostPreset, cost_arrays
from privatetrade.engine.kernels.sweep import (
    N_COLUMNS,
    TRADE_COUNT,
    ma_cross_sweep_nb,
    moving_average_table_nb,
    summarize_equity_nb,
)
from privatetrade.engine.metrics import infer_periods_per_year
from privatetrade.engine.records import FILL_DTYPE, TRADE_DTYPE, new_state
from privatetrade.engine.settings import SimulationSettings
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

__all__ = ["SWEEP_METRICS", "SweepResult", "sweep"]

SWEEP_METRICS = ("final_equity", "total_return", "sharpe", "max_drawdown", "trade_count")
_MA_STRATEGIES = ("sma_cross", "ema_cross")
_REJECTED = object()


@dataclass(frozen=True)
class SweepResult:
    """Metrics of every valid parameter combination of a sweep.

    Attributes:
        strategy: Strategy name.
        params: One dict per evaluated combination.
        values: ``(len(params), 5)`` array in the order of ``SWEEP_METRICS``; Sharpe is
            NaN where the equity never moved.
        skipped: Combinations rejected by the strategy's parameter rules.
    """

    strategy: str
    params: list[dict[str, Any]]
    values: npt.NDArray[np.float64]
    skipped: int

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

    Returns:
        Metrics per valid combination; invalid ones (e.g. fast >= slow) are skipped.

    Raises:
        ParameterError: The grid names an unknown parameter or holds no valid combination.
    """
    prepared = prepare_bars(bars, tz=tz)
    chosen = registry or default_registry()
    strategy_class = chosen.get(strategy) if isinstance(strategy, str) else strategy
    resolved = make_settings(settings, market=market, cash=cash, costs=costs)
    params = _valid_combinations(strategy_class, grid)
    skipped = _grid_size(grid) - len(params)
    if strategy_class.name in _MA_STRATEGIES:
        values = _ma_cross_sweep(prepared, strategy_class.name, params, resolved)
    else:
        model = strategy_class.Params
        instances = [strategy_class(model.model_construct(**p)) for p in params]
        values = _generic_sweep(prepared, instances, resolved)
    return SweepResult(strategy_class.name, params, values, skipped)


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


def _kernel_inputs(
    prepared: PreparedBars, settings: SimulationSettings
) -> tuple[tuple[Any, ...], tuple[Any, ...], npt.NDArray[np.void], float, float]:
    bars = prepared.bars
    costs = cost_arrays(settings.costs, prepared.local_time_ns, bars.high, bars.low, bars.close)
    periods = settings.periods_per_year or infer_periods_per_year(bars.time)
    risk_free = (1.0 + settings.risk_free_rate) ** (1.0 / periods) - 1.0
    prices = (bars.open, bars.high, bars.low, bars.close)
    return prices, costs.as_tuple(), build_config(settings), periods, risk_free


def _ma_cross_sweep(
    prepared: PreparedBars,
    name: str,
    params: list[dict[str, Any]],
    settings: SimulationSettings,
) -> npt.NDArray[np.float64]:
    windows = sorted({p["fast"] for p in params} | {p["slow"] for p in params})
    row_of = {window: row for row, window in enumerate(windows)}
    averages = moving_average_table_nb(
        prepared.bars.close, np.array(windows, dtype=np.int64), name == "ema_cross"
    )
    fast_rows = np.array([row_of[p["fast"]] for p in params], dtype=np.int64)
    slow_rows = np.array([row_of[p["slow"]] for p in params], dtype=np.int64)
    prices, costs, config, periods, risk_free = _kernel_inputs(prepared, settings)
    out = np.empty((len(params), N_COLUMNS))
    ma_cross_sweep_nb(
        prices, averages, fast_rows, slow_rows, costs, config,
        new_state(settings.initial_cash), np.empty(0, dtype=FILL_DTYPE),
        np.empty(0, dtype=TRADE_DTYPE), periods, risk_free,
        min(len(params), numba.get_num_threads() * 8), out,
    )  # fmt: skip
    return out


def _generic_sweep(
    prepared: PreparedBars,
    instances: list[Strategy[Any]],
    settings: SimulationSettings,
) -> npt.NDArray[np.float64]:
    from privatetrade.engine.kernels.simulate import simulate_window_nb

    n = len(prepared)
    prices, costs, config, periods, risk_free = _kernel_inputs(prepared, settings)
    out = np.empty((len(instances), N_COLUMNS))
    no_series, equity = np.empty(0), np.empty(n)
    no_fills, no_trades = np.empty(0, dtype=FILL_DTYPE), np.empty(0, dtype=TRADE_DTYPE)
    for k, instance in enumerate(instances):
        signals = compute_signals(instance, prepared.bars)
        state = new_state(settings.initial_cash)
        simulate_window_nb(
            0, n, prices, signal_arrays(signals, n), costs, config, state,
            no_fills, no_trades, no_series, no_series, equity,
        )  # fmt: skip
        summarize_equity_nb(equity, settings.initial_cash, periods, risk_free, out[k])
        out[k, TRADE_COUNT] = state[0]["n_trades"]
    return out
