"""Engine benchmarks: single backtests, cold start and a parameter sweep.

Targets (issue 2, 2-core machine, after JIT warm-up):
  SMA-cross backtest, result object included: 2,500 bars <= 1 ms; 1,000,000 bars <= 50 ms
  cold start (fresh process, warm numba cache, imports included): <= 1.5 s
  sweep fast 5..50 x slow 20..200 step 5 (fast < slow) over 2,500 bars: >= 100,000 backtests/s
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import privatetrade as pt
from _synthetic import MINUTE_NS, random_walk_bars


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
    best = min(samples)
    verdict = "" if target is None else ("  OK" if median <= target else "  OVER TARGET")
    print(
        f"{label:<52} median {median * 1e3:9.3f} ms  best {best * 1e3:9.3f} ms"
        f"{'' if target is None else f'  target {target * 1e3:.0f} ms'}{verdict}"
    )


def bench_single(n: int, repeat: int, target: float, costs: str, **bar_options: int) -> None:
    bars = random_walk_bars(n, **bar_options)
    params = {"fast": 10, "slow": 30}

    def run() -> object:
        return pt.run_backtest(bars, "sma_cross", params, costs=costs, tz="Asia/Seoul")  # type: ignore[arg-type]

    _report(f"sma_cross {n:>9,} bars, costs={costs}", _timed(run, repeat), target)


def bench_cold_start(target: float) -> None:
    code = (
        "import sys; sys.path.insert(0, 'benchmarks')\n"
        "from _synthetic import random_walk_bars\n"
        "import privatetrade as pt\n"
        "r = pt.run_backtest(random_walk_bars(2500), 'sma_cross', {'fast': 10, 'slow': 30}, "
        "tz='Asia/Seoul')\n"
        "assert r.metrics.trade_count > 0\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)  # warms the numba cache
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
        samples.append(time.perf_counter() - start)
    _report("cold start: fresh process, first backtest", samples, target)


def bench_sweep(target_rate: float) -> None:
    bars = random_walk_bars(2_500)
    grid = {"fast": range(5, 51), "slow": range(20, 201, 5)}

    def run() -> object:
        return pt.sweep(bars, "sma_cross", grid, tz="Asia/Seoul")

    result = pt.sweep(bars, "sma_cross", grid, tz="Asia/Seoul")
    samples = _timed(run, 20)
    median = statistics.median(samples)
    rate = len(result) / median
    verdict = "OK" if rate >= target_rate else "UNDER TARGET"
    print(
        f"{'sweep ' + str(len(result)) + ' combos x 2,500 bars':<52} median {median * 1e3:9.3f} ms"
        f"  {rate:,.0f} backtests/s  target {target_rate:,.0f}/s  {verdict}"
    )
    from privatetrade.engine.strategies.builtin import SmaCross
    from privatetrade.engine.sweep import _valid_combinations

    checking = statistics.median(_timed(lambda: _valid_combinations(SmaCross, grid), 20))
    kernel = median - checking
    print(
        f"{'  of which parameter validation (pydantic)':<52} median {checking * 1e3:9.3f} ms;"
        f" simulation {kernel * 1e3:.1f} ms = {len(result) / kernel:,.0f} backtests/s"
    )


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, privatetrade {pt.__version__}"
    )
    bench_single(2_500, 300, 0.001, "zero")
    bench_single(2_500, 300, 0.001, "krx")
    bench_single(1_000_000, 15, 0.050, "zero", step_ns=MINUTE_NS, volatility=0.001)
    bench_single(1_000_000, 15, 0.050, "krx", step_ns=MINUTE_NS, volatility=0.001)
    bench_sweep(100_000)
    bench_cold_start(1.5)


if __name__ == "__main__":
    main()
