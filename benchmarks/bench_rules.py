"""Rule-strategy benchmarks: one compiled and backtested rule, and a sweep of 1,000 sets.

Targets (issue 20, 2-core machine, after JIT warm-up):
  a 5-condition rule on 10 years of daily bars (2,500) parsed, compiled and backtested: <= 5 ms
  the same rule swept over 1,000 parameter sets: >= 20,000 backtests/s
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import privatetrade as pt
from _synthetic import random_walk_bars
from privatetrade.engine.rules import strategy as rule_strategy

CLOSE = {"price": "close"}
RSI = {"indicator": "rsi", "source": CLOSE, "period": 14}
TREND = {"indicator": "sma", "source": CLOSE, "period": "${trend}"}
OVERSOLD = "${oversold}"

# Five conditions in the entry (trend, momentum, volume, a cross, a recent dip) and two exits.
FIVE_CONDITIONS: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "trend": {"type": "int", "default": 100, "min": 20, "max": 200},
        "oversold": {"type": "float", "default": 45.0, "min": 20.0, "max": 60.0},
        "fast": {"type": "int", "default": 5, "min": 2, "max": 30},
    },
    "long": {
        "entry": {
            "all": [
                {"compare": ">", "left": CLOSE, "right": TREND},
                {
                    "within_bars": 5,
                    "condition": {"compare": "<", "left": RSI, "right": "${oversold}"},
                },
                {
                    "compare": ">",
                    "left": {"price": "volume"},
                    "right": {"indicator": "volume_average", "period": 20},
                },
                {
                    "crosses_above": [
                        {"indicator": "ema", "source": CLOSE, "period": "${fast}"},
                        {"indicator": "ema", "source": CLOSE, "period": 30},
                    ]
                },
                {"between": RSI, "low": 20, "high": 70},
            ]
        },
        "exit": {
            "any": [
                {"compare": ">", "left": RSI, "right": 70},
                {"crosses_below": [CLOSE, TREND]},
            ]
        },
    },
    "exits": {"stop_loss": 0.08},
}


def _timed(action: Callable[[], object], repeat: int) -> list[float]:
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def bench_single(target: float) -> None:
    bars = random_walk_bars(2_500)

    def run() -> object:
        rule_strategy._class_for.cache_clear()  # parse and compile every time
        return pt.run_backtest(bars, "rules", rules=FIVE_CONDITIONS, costs="krx", tz="Asia/Seoul")  # type: ignore[arg-type]

    result = run()
    samples = _timed(run, 200)
    median = statistics.median(samples)
    verdict = "OK" if median <= target else "OVER TARGET"
    trades = result.metrics.trade_count  # type: ignore[attr-defined]
    print(
        f"{'5-condition rule, 2,500 bars, parse+compile+backtest':<56}"
        f" median {median * 1e3:7.3f} ms"
        f"  best {min(samples) * 1e3:7.3f} ms  ({trades} trades)  target {target * 1e3:.0f} ms"
        f"  {verdict}"
    )


def bench_sweep(target_rate: float) -> None:
    bars = random_walk_bars(2_500)
    grid = {
        "trend": range(20, 201, 20),  # 10
        "oversold": [20.0 + 4.0 * i for i in range(10)],  # 10
        "fast": range(2, 30, 3),  # 10
    }

    def run() -> pt.SweepResult:
        return pt.sweep(bars, "rules", grid, rules=FIVE_CONDITIONS, costs="krx", tz="Asia/Seoul")  # type: ignore[arg-type]

    result = run()
    samples = _timed(run, 10)
    median = statistics.median(samples)
    rate = len(result) / median
    verdict = "OK" if rate >= target_rate else "UNDER TARGET"
    print(
        f"{'sweep of the rule, ' + f'{len(result):,}' + ' sets x 2,500 bars':<56} median"
        f" {median * 1e3:7.1f} ms  {rate:,.0f} backtests/s  target {target_rate:,.0f}/s  {verdict}"
    )


def bench_reference() -> None:
    """Print the built-in SMA-cross sweep's rate now (its target is 100,000/s), for context."""
    bars = random_walk_bars(2_500)
    grid = {"fast": range(5, 51), "slow": range(20, 201, 5)}

    def run() -> pt.SweepResult:
        return pt.sweep(bars, "sma_cross", grid, tz="Asia/Seoul")  # type: ignore[arg-type]

    count = len(run())
    median = statistics.median(_timed(run, 5))
    print(
        f"{'  for context: built-in sma_cross sweep now':<56} {count / median:,.0f} backtests/s"
        " (its own target: 100,000/s)"
    )


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, privatetrade {pt.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    bench_single(0.005)
    bench_sweep(20_000)
    bench_reference()


if __name__ == "__main__":
    main()
