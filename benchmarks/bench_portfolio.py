"""Portfolio benchmarks: the simulation of a 500-symbol rotation (issue 18).

Targets (2-core machine, after JIT warm-up):
  monthly top-10 momentum rotation, 500 symbols x 2,520 daily bars, KRX costs:
  simulation (run_portfolio from the symbols' bars to the result object) <= 1 s
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
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.portfolio.align import align_bars

SYMBOLS = 500
BARS = 2_520
MOMENTUM = {"rule": "top_n_momentum", "top": 10, "lookback": 120, "rebalance": "monthly"}
SIGNALS = {
    "rule": "signals",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
    "max_positions": 20,
    "entry_priority": "momentum",
}


def universe(symbols: int = SYMBOLS, bars: int = BARS) -> dict[str, Any]:
    """Return ``symbols`` seeded random walks of ``bars`` daily bars (engine arrays)."""
    return {
        f"S{j:04d}": random_walk_bars(bars, seed=1_000 + j, volatility=0.02) for j in range(symbols)
    }


def _timed(action: Callable[[], object], repeat: int) -> list[float]:
    action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def _report(label: str, samples: list[float], target: float | None = None) -> None:
    median = statistics.median(samples)
    verdict = "" if target is None else ("  OK" if median <= target else "  OVER TARGET")
    target_text = "" if target is None else f"  target {target * 1e3:.0f} ms"
    print(
        f"{label:<64} median {median * 1e3:8.1f} ms  best {min(samples) * 1e3:8.1f} ms"
        f"{target_text}{verdict}"
    )


def bench_simulation(repeat: int = 7) -> None:
    """Time run_portfolio (alignment, orders, kernel, metrics) and its parts."""
    bars = universe()
    label = f"{SYMBOLS} x {BARS:,}"

    def rotation() -> object:
        return pt.run_portfolio(bars, MOMENTUM, costs="krx", tz="Asia/Seoul")

    _report(f"top-10 momentum monthly, {label}, krx", _timed(rotation, repeat), 1.0)
    prepared = {code: prepare_bars(frame, tz="Asia/Seoul") for code, frame in bars.items()}
    _report(f"  of which validating and aligning {SYMBOLS} symbols",
            _timed(lambda: align_bars(bars, tz="Asia/Seoul"), repeat))  # fmt: skip
    _report(
        "  same, from validated bars",
        _timed(lambda: pt.run_portfolio(prepared, MOMENTUM, costs="krx"), repeat),
    )
    result = rotation()
    assert isinstance(result, pt.PortfolioResult)
    _report("  its result document (to_json)", _timed(result.to_json, 3))
    _report(
        f"equal weight daily, {label}, krx",
        _timed(lambda: pt.run_portfolio(prepared, {"rule": "equal_weight", "rebalance": "daily"},
                                        costs="krx"), repeat),
    )  # fmt: skip
    _report(
        f"signals sma_cross, 20 positions, {label}, krx",
        _timed(lambda: pt.run_portfolio(prepared, SIGNALS, costs="krx"), repeat),
    )


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, privatetrade {pt.__version__}"
    )
    bench_simulation()


if __name__ == "__main__":
    main()
