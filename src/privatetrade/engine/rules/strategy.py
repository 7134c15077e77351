"""Rule documents as strategies (stub, being written)."""

from __future__ import annotations

from typing import Any

from privatetrade.engine.rules.model import RuleDocument
from privatetrade.engine.strategies.base import Bars, Signals, Strategy, StrategyParams

__all__ = [
    "RuleStrategy",
    "evaluate_signals",
    "rule_params_model",
    "rule_stops",
    "rule_strategy_class",
]


class RuleStrategy(Strategy[StrategyParams]):
    """Base of the strategy classes built from rule documents (being written)."""

    name = "rules"
    title = "Rule strategy"
    description = "A strategy composed of rules."
    Params = StrategyParams

    def signals(self, bars: Bars) -> Signals:
        """Return the document's signals (being written)."""
        raise NotImplementedError


def rule_params_model(doc: RuleDocument) -> type[StrategyParams]:
    """Return the Params model of a document (being written)."""
    raise NotImplementedError


def rule_strategy_class(doc: RuleDocument) -> type[Strategy[Any]]:
    """Return a Strategy class for a document (being written)."""
    raise NotImplementedError


def rule_stops(doc: RuleDocument, params: Any = None) -> dict[str, Any] | None:
    """Return the document's exits resolved with the parameters (being written)."""
    raise NotImplementedError


def evaluate_signals(doc: RuleDocument, bars: Bars, params: Any = None) -> Signals:
    """Return the document's signals on the bars (being written)."""
    raise NotImplementedError
