"""What a user asks for in a universe scan: one strategy, one parameter set, many symbols.

Each symbol of the universe is an independent backtest with the same settings; the
scan ranks them. :meth:`ScanSpec.backtest_spec` is the full single backtest of one
symbol, which a ranking row links to.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from privatetrade.domain.rule_strategies import RulesChoice, omitted, rules_field_check
from privatetrade.domain.specs import BacktestSpec, Costs, ParamName, ParamValue
from privatetrade.domain.universe import UniverseSpec
from privatetrade.engine.limits import Cash, RiskFreeRate
from privatetrade.engine.settings import FillAt, Sizing, Stops

__all__ = ["SCAN_COLUMNS", "SCAN_SORTS", "ScanSort", "ScanSpec"]

ScanSort = Literal[
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "return_over_drawdown",
    "trades",
    "final_equity",
    "bars",
    "symbol",
]
SCAN_SORTS: tuple[str, ...] = get_args(ScanSort)
"""Columns a ranking can be sorted by (``max_drawdown``: the shallowest is the highest)."""

SCAN_COLUMNS: tuple[str, ...] = (
    "rank",
    "symbol",
    "name",
    "market",
    "adjusted",
    "first",
    "last",
    "bars",
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "return_over_drawdown",
    "trades",
    "final_equity",
    "error",
)
"""The columns of a ranking row, in the order of ``ranking.csv``."""


class ScanSpec(UniverseSpec):
    """A universe scan: a backtest's settings applied to every symbol of a universe.

    Attributes:
        strategy: Registry name of the strategy.
        params: Strategy parameters; missing ones take the strategy's defaults.
        rules: The rule of a rule strategy (``strategy="rules"``), as a backtest's.
        capital: Initial cash of each symbol's backtest; by currency when None.
        costs: A preset (``auto`` = each symbol's own market: KOSPI and KOSDAQ
            differ in taxes and ticks) or one cost model for all.
        sizing: Position sizing of entries.
        stops: Stop-loss, take-profit and trailing stop.
        fill_at: ``next_open`` or ``close``.
        allow_short: Trade short signals too.
        close_at_end: Close an open position at the last close.
        risk_free_rate: Annual risk-free rate for Sharpe and Sortino.
        sort: The ranking's order (highest first): a metric, ``bars`` or ``symbol``.
    """

    strategy: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "sma_cross"
    params: dict[ParamName, ParamValue] = Field(default_factory=dict, max_length=32)
    rules: RulesChoice | None = Field(None, validate_default=True, exclude_if=omitted)
    capital: Cash | None = None
    costs: Costs = "auto"
    sizing: Sizing = Field(default_factory=Sizing)
    stops: Stops = Field(default_factory=Stops)
    fill_at: FillAt = "next_open"
    allow_short: bool = False
    close_at_end: bool = True
    risk_free_rate: RiskFreeRate = 0.0
    sort: ScanSort = "sharpe"

    @field_validator("rules")
    @classmethod
    def _rules_for_rule_strategy(
        cls, rules: RulesChoice | None, info: ValidationInfo
    ) -> RulesChoice | None:
        return rules_field_check(info.data.get("strategy"), rules)

    def backtest_spec(self, symbol: str, benchmark: str | None = None) -> BacktestSpec:
        """The full single backtest of ``symbol`` with the scan's settings."""
        shared = set(BacktestSpec.model_fields) & set(type(self).model_fields)
        values = {name: getattr(self, name) for name in shared}
        return BacktestSpec(**values, symbol=symbol, benchmark=benchmark)
