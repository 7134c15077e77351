"""Compile every numba kernel once, so that no backtest waits for the compiler.

The kernels are compiled with ``cache=True``: numba writes the machine code next to the
sources (``__pycache__``, or its per-user cache directory when that is not writable) and
every later process loads it from there in milliseconds instead of compiling for half a
minute. ``./dev start`` and ``./dev test`` run this module right after installing; a
deployment runs it once as the service's user (docs/deploy.md)::

    python -m privatetrade.engine.warmup

Worker processes call :func:`compile_kernels` before their first job: with the cache in
place that only loads the compiled code.
"""

from __future__ import annotations

import math
import time
from typing import Any

from privatetrade.engine.api import run_backtest
from privatetrade.engine.portfolio.api import run_portfolio
from privatetrade.engine.strategies.builtin import BUILTIN_STRATEGIES
from privatetrade.engine.sweep import sweep

__all__ = ["compile_kernels", "main"]

_BARS = 300  # more than the longest default warm-up of the built-in strategies
_DAY_NS = 86_400_000_000_000
_FIRST_DAY_NS = 1_600_000_000_000_000_000
# The moving-average sweeps have kernels of their own (parallel); other strategies sweep
# through the simulation kernels the backtests compile plus the summary kernel.
_SWEEP_GRIDS = {
    "sma_cross": {"fast": [2, 3], "slow": [5, 8]},
    "ema_cross": {"fast": [2, 3], "slow": [5, 8]},
    "rsi_reversion": {"period": [7, 14]},
}


_CLOSE = {"price": "close"}
_RSI = {"indicator": "rsi", "source": _CLOSE, "period": 5}
# A rule document touching every indicator and condition kernel of the rule compiler.
_WARMUP_RULES: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {"n": {"type": "int", "default": 5, "min": 2, "max": 20}},
    "long": {
        "entry": {
            "any": [
                {"crosses_above": [
                    {"indicator": "wma", "source": _CLOSE, "period": "${n}"},
                    {"indicator": "ema", "source": _CLOSE, "period": 12},
                ]},
                {"all": [
                    {"compare": "<", "left": _RSI, "right": 45},
                    {"for_bars": 2, "condition": {
                        "compare": ">", "left": {"price": "volume"},
                        "right": {"indicator": "volume_average", "period": 5}}},
                    {"within_bars": 3, "condition": {
                        "compare": ">", "left": {"price": "high"},
                        "right": {"indicator": "range_breakout", "k": 0.3}}},
                ]},
            ]
        },
        "exit": {
            "any": [
                {"crosses_below": [_CLOSE, {"indicator": "bollinger", "source": _CLOSE,
                                            "period": 10, "k": 2, "band": "middle"}]},
                {"between": {"indicator": "roc", "source": _CLOSE, "period": 3},
                 "low": -1, "high": -0.02},
                {"compare": ">", "left": {"indicator": "atr", "period": 5}, "right": 1e6},
                {"not": {"compare": "<", "left": _CLOSE, "right": {
                    "indicator": "previous",
                    "source": {"indicator": "donchian", "period": 8, "band": "upper"},
                    "bars": 1}}},
                {"compare": ">", "left": {"indicator": "macd", "source": _CLOSE, "fast": 3,
                                          "slow": 6, "signal": 3, "output": "histogram"},
                 "right": 5},
            ]
        },
    },
    "short": {"entry": {"compare": ">", "left": _RSI, "right": 80},
              "exit": {"compare": "<", "left": _RSI, "right": 50}},
    "exits": {"max_bars_held": "${n}"},
}  # fmt: skip


def _sample_bars() -> dict[str, list[float] | list[int]]:
    """Daily bars that swing up and down, so every strategy enters and exits."""
    closes = [100.0 + 10.0 * math.sin(i / 9.0) + 3.0 * math.sin(i / 2.3) for i in range(_BARS)]
    opens = closes[:1] + closes[:-1]
    return {
        "time": [_FIRST_DAY_NS + i * _DAY_NS for i in range(_BARS)],
        "open": opens,
        "high": [max(o, c) + 1.0 for o, c in zip(opens, closes, strict=True)],
        "low": [min(o, c) - 1.0 for o, c in zip(opens, closes, strict=True)],
        "close": closes,
        "volume": [1000.0 + 10.0 * (i % 13) for i in range(_BARS)],
    }


def compile_kernels(*, sweeps: bool = True) -> list[str]:
    """Run every built-in strategy once (and the parameter sweeps) on small bars.

    The first call on a machine compiles the kernels and writes numba's cache; later
    calls, in any process, load them from the cache.

    Args:
        sweeps: Also compile the sweep kernels (the library's :func:`sweep`, and the
            chunks of optimization and walk-forward jobs).

    Returns:
        The strategies run, in registry order.
    """
    bars = _sample_bars()
    names = [strategy.name for strategy in BUILTIN_STRATEGIES]
    for name in names:
        result = run_backtest(bars, name, costs="krx", stops={"trailing_stop": 0.1}, tz="UTC")
        result.to_json()
    _compile_portfolio_kernels(bars)
    run_backtest(bars, "rules", rules=_WARMUP_RULES, costs="krx", allow_short=True, tz="UTC")
    if sweeps:
        for name, grid in _SWEEP_GRIDS.items():
            sweep(bars, name, grid, tz="UTC", blocks=2, start=_BARS // 2)
        grid = {"n": [3, 7]}
        sweep(bars, "rules", grid, rules=_WARMUP_RULES, tz="UTC", blocks=2, start=_BARS // 2)
    return names


def _compile_portfolio_kernels(bars: dict[str, list[float] | list[int]]) -> None:
    """Run both portfolio kernels (signals and allocation rules) on two symbols."""
    universe = {"A": bars, "B": {**bars, "time": bars["time"][1:], **_shifted(bars)}}
    rules = (
        {"rule": "top_n_momentum", "top": 1, "lookback": 20, "rebalance": "weekly"},
        {"rule": "signals", "strategy": "sma_cross", "entry_priority": "momentum", "lookback": 20},
    )
    for rule in rules:
        run_portfolio(universe, rule, costs="krx", tz="UTC").to_json()


def _shifted(bars: dict[str, list[float] | list[int]]) -> dict[str, list[float] | list[int]]:
    return {key: values[:-1] for key, values in bars.items() if key != "time"}


def main() -> None:
    """Compile the kernels and print how long it took."""
    started = time.perf_counter()
    names = compile_kernels()
    seconds = time.perf_counter() - started
    print(f"engine kernels ready for {len(names)} strategies ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
