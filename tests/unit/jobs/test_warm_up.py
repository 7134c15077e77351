"""The workers' warm-up covers what jobs compile, and what it compiles stays on disk.

Each check runs in fresh interpreters, as worker processes do: numba's compiled code
then comes only from its cache files (``./dev`` fills them at install,
``privatetrade.engine.warmup``), never from kernels another test compiled in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from privatetrade.engine.strategies.builtin import BUILTIN_STRATEGIES

# Prints, as JSON: the kernels numba had to compile during the warm-up (cache misses), and
# the signatures compiled afterwards by real jobs (every strategy, US and KRX symbols, a
# benchmark, shorts, stops, fills at the close).
CHILD = """
import importlib, json, pkgutil, sys
from pathlib import Path
from numba.core.registry import CPUDispatcher
import privatetrade.engine.kernels as kernels
from privatetrade.jobs.worker import warm_up

warm_up()
dispatchers = {}
for info in pkgutil.iter_modules(kernels.__path__):
    module = importlib.import_module(f"{kernels.__name__}.{info.name}")
    for name, value in vars(module).items():
        if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__:
            dispatchers[f"{info.name}.{name}"] = value
misses = {name: len(d.stats.cache_misses) for name, d in dispatchers.items()}
before = {name: set(map(str, d.signatures)) for name, d in dispatchers.items()}

from privatetrade.data.market_data import MarketData
from privatetrade.data.synthetic import synthetic_symbols
from privatetrade.domain.specs import BacktestSpec
from privatetrade.engine.api import default_registry
from privatetrade.plans.backtest import execute_plan, plan_backtest

data = MarketData(Path(sys.argv[1]))
options = [{}, {"allow_short": True, "fill_at": "close",
                "stops": {"stop_loss": 0.05, "take_profit": 0.1, "trailing_stop": 0.08}}]
for symbol in ("AAPL", synthetic_symbols()[0].code):
    for strategy in default_registry().names():
        for extra in options:
            spec = BacktestSpec(symbol=symbol, strategy=strategy, benchmark="AAPL", **extra)
            execute_plan(plan_backtest(spec, data)).to_json()
compiled_later = {
    name: sorted(set(map(str, d.signatures)) - before[name]) for name, d in dispatchers.items()
}
print(json.dumps({
    "misses": {name: count for name, count in misses.items() if count},
    "compiled_later": {name: sigs for name, sigs in compiled_later.items() if sigs},
}))
"""


def run_child(data_dir: Path) -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, dict[str, object]] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_compile_kernels_runs_every_builtin_strategy() -> None:
    from privatetrade.engine.warmup import compile_kernels

    assert compile_kernels(sweeps=False) == [strategy.name for strategy in BUILTIN_STRATEGIES]


def test_jobs_compile_nothing_after_the_warm_up_and_it_is_cached(tmp_path: Path) -> None:
    first = run_child(tmp_path)  # compiles what the cache lacks (nothing after ./dev)
    assert first["compiled_later"] == {}, "kernels jobs compile that the warm-up skips"
    second = run_child(tmp_path)
    assert second["misses"] == {}, "the warm-up's kernels were not loaded from numba's cache"
    assert second["compiled_later"] == {}
