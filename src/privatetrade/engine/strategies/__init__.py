"""Strategies: the Strategy API, the built-ins and the registry.

Example:
    >>> from privatetrade.engine.strategies import StrategyRegistry, synthetic_bars
    >>> strategy = StrategyRegistry.with_builtins().build("sma_cross", {"fast": 5, "slow": 20})
    >>> len(strategy.signals(synthetic_bars(100)).entries)
    100
"""

from __future__ import annotations

from privatetrade.engine.strategies.base import (
    Bars,
    IndicatorLevel,
    IndicatorLine,
    Indicators,
    Pane,
    Signals,
    Strategy,
    StrategyParams,
)
from privatetrade.engine.strategies.builtin import BUILTIN_STRATEGIES
from privatetrade.engine.strategies.registry import (
    ENTRY_POINT_GROUP,
    StrategyDescription,
    StrategyRegistry,
    check_causal,
    compute_signals,
    load_entry_point_strategies,
    parse_params,
    synthetic_bars,
    validate_signals,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "ENTRY_POINT_GROUP",
    "Bars",
    "IndicatorLevel",
    "IndicatorLine",
    "Indicators",
    "Pane",
    "Signals",
    "Strategy",
    "StrategyDescription",
    "StrategyParams",
    "StrategyRegistry",
    "check_causal",
    "compute_signals",
    "load_entry_point_strategies",
    "parse_params",
    "synthetic_bars",
    "validate_signals",
]
