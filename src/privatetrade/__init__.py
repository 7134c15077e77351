"""privatetrade: a self-hosted stock backtesting platform for KRX and US equities.

The library API is small::

    import privatetrade as pt

    result = pt.run_backtest(frame, "sma_cross", {"fast": 10, "slow": 30}, costs="krx")
    print(result.metrics.sharpe, result.final_equity)
    document = result.to_dict()          # the versioned result document

    grid = {"fast": range(5, 51), "slow": range(20, 201, 5)}
    table = pt.sweep(frame, "sma_cross", grid).to_frame()

    found = pt.optimize(frame, "sma_cross", grid, method="tpe", samples=200)
    found.best, found.report["deflated_sharpe"], found.to_frame()
    wf = pt.walk_forward(frame, "sma_cross", grid, in_sample="24m", out_of_sample="6m")

    book = pt.run_portfolio({"005930": samsung, "000660": hynix}, {"rule": "equal_weight"})
    ranked = pt.scan({"005930": samsung, "000660": hynix}, "sma_cross", {"fast": 5}).ranking()

Heavy modules load on first use, so ``import privatetrade`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privatetrade._version_info import __version__

if TYPE_CHECKING:
    from privatetrade.engine.api import ENGINE_VERSION, default_registry, run_backtest
    from privatetrade.engine.costs import CostModel
    from privatetrade.engine.portfolio.api import run_portfolio
    from privatetrade.engine.portfolio.result import PortfolioResult
    from privatetrade.engine.portfolio.rules import PortfolioRule
    from privatetrade.engine.result import BacktestResult, DataInfo
    from privatetrade.engine.settings import SimulationSettings, Sizing, Stops
    from privatetrade.engine.strategies.base import Bars, Signals, Strategy, StrategyParams
    from privatetrade.engine.sweep import SweepResult, sweep
    from privatetrade.research.api import optimize, walk_forward
    from privatetrade.research.documents import Optimization, WalkForward
    from privatetrade.research.scan import ScanResult, scan

__all__ = [
    "ENGINE_VERSION",
    "BacktestResult",
    "Bars",
    "CostModel",
    "DataInfo",
    "Optimization",
    "PortfolioResult",
    "PortfolioRule",
    "ScanResult",
    "Signals",
    "SimulationSettings",
    "Sizing",
    "Stops",
    "Strategy",
    "StrategyParams",
    "SweepResult",
    "WalkForward",
    "__version__",
    "default_registry",
    "optimize",
    "run_backtest",
    "run_portfolio",
    "scan",
    "sweep",
    "walk_forward",
]

_LAZY = {
    "ENGINE_VERSION": "privatetrade.engine.api",
    "default_registry": "privatetrade.engine.api",
    "run_backtest": "privatetrade.engine.api",
    "CostModel": "privatetrade.engine.costs",
    "run_portfolio": "privatetrade.engine.portfolio.api",
    "PortfolioResult": "privatetrade.engine.portfolio.result",
    "PortfolioRule": "privatetrade.engine.portfolio.rules",
    "BacktestResult": "privatetrade.engine.result",
    "DataInfo": "privatetrade.engine.result",
    "SimulationSettings": "privatetrade.engine.settings",
    "Sizing": "privatetrade.engine.settings",
    "Stops": "privatetrade.engine.settings",
    "Bars": "privatetrade.engine.strategies.base",
    "Signals": "privatetrade.engine.strategies.base",
    "Strategy": "privatetrade.engine.strategies.base",
    "StrategyParams": "privatetrade.engine.strategies.base",
    "SweepResult": "privatetrade.engine.sweep",
    "sweep": "privatetrade.engine.sweep",
    "optimize": "privatetrade.research.api",
    "walk_forward": "privatetrade.research.api",
    "Optimization": "privatetrade.research.documents",
    "WalkForward": "privatetrade.research.documents",
    "ScanResult": "privatetrade.research.scan",
    "scan": "privatetrade.research.scan",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'privatetrade' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
