"""Rule strategies: trading rules written as a JSON document instead of code.

A rule document (schema ``privatetrade.rules/1``, grammar in docs/rules.md) says when
to enter and exit long (and short) positions, from indicators over the bars, with
optional protective exits and named, bounded parameters. It is validated by
:func:`parse_rules` (every problem a :class:`~privatetrade.errors.RuleError` naming
its JSON path) and compiled by our own evaluator into vectorized numpy / numba
operations: no ``eval``, no Python from users, no attribute access by user strings.

Example:
    >>> from privatetrade.engine.rules import parse_rules, rule_strategy_class
    >>> doc = parse_rules({
    ...     "schema": "privatetrade.rules/1",
    ...     "parameters": {"fast": {"type": "int", "default": 10, "min": 2, "max": 50}},
    ...     "long": {
    ...         "entry": {"crosses_above": [
    ...             {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
    ...             {"indicator": "sma", "source": {"price": "close"}, "period": 30}]},
    ...         "exit": {"crosses_below": [
    ...             {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
    ...             {"indicator": "sma", "source": {"price": "close"}, "period": 30}]},
    ...     },
    ... })
    >>> strategy_class = rule_strategy_class(doc)
    >>> strategy_class.name, strategy_class.Params().fast
    ('rules', 10)
"""

from __future__ import annotations

from privatetrade.engine.rules.document import RuleDocument, parse_rules, rules_json_schema
from privatetrade.engine.rules.limits import (
    MAX_ABS_NUMBER,
    MAX_BARS,
    MAX_BARS_HELD,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    MAX_PARAMETERS,
    RULES_SCHEMA_ID,
    RULES_STRATEGY,
)
from privatetrade.engine.rules.strategy import (
    RuleStrategy,
    evaluate_signals,
    rule_params_model,
    rule_stops,
    rule_strategy_class,
)

__all__ = [
    "MAX_ABS_NUMBER",
    "MAX_BARS",
    "MAX_BARS_HELD",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODES",
    "MAX_PARAMETERS",
    "RULES_SCHEMA_ID",
    "RULES_STRATEGY",
    "RuleDocument",
    "RuleStrategy",
    "evaluate_signals",
    "parse_rules",
    "rule_params_model",
    "rule_stops",
    "rule_strategy_class",
    "rules_json_schema",
]
