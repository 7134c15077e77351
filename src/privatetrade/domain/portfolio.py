"""What a user asks for in a portfolio backtest: several symbols, one account, one rule."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from privatetrade.domain.rule_strategies import RulesChoice, omitted, rules_field_check
from privatetrade.domain.specs import Costs, SymbolCode
from privatetrade.domain.universe import UniverseSpec
from privatetrade.engine.limits import Cash, RiskFreeRate
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.settings import FillAt, Stops

__all__ = ["PortfolioSpec"]


class PortfolioSpec(UniverseSpec):
    """A portfolio backtest on stored market data (see docs/portfolio.md).

    Attributes:
        rule: How the portfolio trades: an allocation rule (target weights on a
            rebalancing schedule) or ``signals`` (each symbol's strategy competing
            for the shared cash).
        capital: Initial cash in the quote currency; 10,000,000 for KRW, 100,000 for USD.
        costs: A preset (``auto`` = each symbol's own market: KOSPI and KOSDAQ
            differ in taxes and ticks) or one cost model for every symbol.
        fill_at: ``next_open`` or ``close``.
        stops: Stop-loss, take-profit and trailing stop per position (``signals`` only).
        close_at_end: Sell every holding at the last close.
        risk_free_rate: Annual risk-free rate for Sharpe and Sortino.
        benchmark: Catalog code of a benchmark series; None: none (as for a backtest,
            the web form offers the market's index).
        rules: The rule of a rule strategy (``rule.strategy="rules"``, for the
            ``signals`` and ``top_n_signal`` rules); required then, refused otherwise.
    """

    rule: PortfolioRule = Field(default_factory=PortfolioRule)
    capital: Cash | None = None
    costs: Costs = "auto"
    fill_at: FillAt = "next_open"
    stops: Stops = Field(default_factory=Stops)
    close_at_end: bool = True
    risk_free_rate: RiskFreeRate = 0.0
    benchmark: SymbolCode | None = None
    rules: RulesChoice | None = Field(None, validate_default=True, exclude_if=omitted)

    @field_validator("stops")
    @classmethod
    def _stops_for_signals(cls, stops: Stops, info: ValidationInfo) -> Stops:
        rule = info.data.get("rule")
        if rule is not None and stops != Stops() and rule.rule != "signals":
            raise PydanticCustomError("stops_only_signals", "only the signals rule takes stops")
        return stops

    @field_validator("rules")
    @classmethod
    def _rules_for_rule_strategy(
        cls, rules: RulesChoice | None, info: ValidationInfo
    ) -> RulesChoice | None:
        rule = info.data.get("rule")
        if rule is None:
            return rules  # the rule's own error suffices
        if rule.strategy is None and rules is None:
            return None
        return rules_field_check(rule.strategy or "none", rules)

    @property
    def strategy_label(self) -> str:
        """What listings show as the strategy: the rule, and its strategy if it has one."""
        rule = self.rule
        return rule.rule if rule.strategy is None else f"{rule.rule}:{rule.strategy}"[:64]
