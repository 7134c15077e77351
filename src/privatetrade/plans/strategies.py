"""The strategy of a run: a registered one by name, or a rule strategy from the spec's rules.

Every plan (backtest, optimization, walk-forward, scan, portfolio) builds its strategy
here, from the spec's ``strategy``, ``params`` and ``rules``, so a rule strategy is
checked the same way as a built-in everywhere: an unknown name names ``strategy``, a
bad parameter ``params.<name>`` (bounds from the document's ``parameters``), a bad
document ``rules.document.<path>`` (the JSON path of the
:class:`~privatetrade.errors.RuleError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from privatetrade.domain.rule_strategies import RULES_STRATEGY, RulesChoice
from privatetrade.errors import InputError, ParameterError, RuleError, StrategyError

if TYPE_CHECKING:
    from privatetrade.engine.rules import RuleDocument
    from privatetrade.engine.strategies.base import Strategy
    from privatetrade.engine.strategies.registry import StrategyRegistry

__all__ = [
    "build_strategy",
    "normalized_rules",
    "rule_document",
    "rule_error_field",
    "rules_record",
    "strategy_class",
    "strategy_registry",
]


def rule_error_field(exc: RuleError, prefix: str) -> InputError:
    """Return ``exc`` as an InputError whose field is ``prefix`` + its JSON path.

    ``$.long.entry.all[1].left.period`` under ``rules.document`` becomes
    ``rules.document.long.entry.all[1].left.period`` (``$`` alone: ``prefix``).
    """
    path = exc.path if exc.path.startswith("$") else f"${exc.path}"
    field = prefix + path[1:]
    message = str(exc)
    message = field + message[len(path) :] if message.startswith(path) else f"{field}: {message}"
    params = {**dict(exc.params), "path": field}
    return InputError(message, field=field, code=exc.code, params=params)


def rule_document(rules: RulesChoice, rules_field: str = "rules") -> RuleDocument:
    """Return the validated document of ``rules``.

    Args:
        rules: The rule of a run.
        rules_field: Where ``rules`` is in the request (``""``: the document is
            the request's ``document``).

    Raises:
        InputError: No document (a saved strategy the server did not resolve), or an
            invalid one; ``field`` is ``<rules_field>.document[.<path>]``.
    """
    from privatetrade.engine.rules import parse_rules

    field = f"{rules_field}.document" if rules_field else "document"
    if rules.document is None:
        raise InputError(
            f"{field}: give the rule document (a saved rule strategy is filled in "
            "only by the server)",
            field=field,
            code="rules_not_resolved",
        )
    try:
        return parse_rules(rules.document)
    except RuleError as exc:
        raise rule_error_field(exc, field) from exc


def normalized_rules(rules: RulesChoice | None) -> RulesChoice | None:
    """Return ``rules`` with its document in the canonical form (checked), None for None."""
    if rules is None:
        return None
    document = rule_document(rules).to_dict()
    return rules.model_copy(update={"document": document})


def rules_record(rules: RulesChoice | None) -> dict[str, Any] | None:
    """What a result document says about the rule: ``{"document", "saved"}`` (None: none)."""
    if rules is None:
        return None
    saved = None if rules.saved is None else rules.saved.model_dump(mode="json")
    document = rule_document(rules).to_dict()
    return {"document": document, "saved": saved}


def strategy_registry(
    strategy: str, rules: RulesChoice | None, *, rules_field: str = "rules"
) -> StrategyRegistry:
    """Return the registry that builds ``strategy``: with the rule strategy when it is one.

    Raises:
        InputError: An invalid rule document (see :func:`rule_document`).
    """
    from privatetrade.engine.api import default_registry

    registry = default_registry()
    if strategy != RULES_STRATEGY or rules is None:
        return registry
    return registry.with_rules(rule_document(rules, rules_field))


def strategy_class(
    strategy: str, rules: RulesChoice | None, *, prefix: str = ""
) -> type[Strategy[Any]]:
    """Return the class of ``strategy`` (a rule strategy's is made from its document).

    Raises:
        InputError: Unknown strategy (``<prefix>strategy``) or an invalid document.
    """
    registry = strategy_registry(strategy, rules)
    try:
        return registry.get(strategy)
    except StrategyError as exc:
        raise InputError(_prefixed(prefix, "strategy", exc), field=f"{prefix}strategy") from exc


def build_strategy(
    strategy: str,
    params: Mapping[str, Any] | None,
    rules: RulesChoice | None,
    *,
    prefix: str = "",
    rules_field: str = "rules",
) -> Strategy[Any]:
    """Return the strategy with validated parameters.

    Args:
        strategy: A registered name, or ``rules``.
        params: Its parameters (missing ones take the defaults).
        rules: The rule of a rule strategy (None for the others).
        prefix: Put before the fields named in errors (``rule.`` for a portfolio's).
        rules_field: Where ``rules`` is in the request (see :func:`rule_document`).

    Raises:
        ParameterError: ``<prefix>params.<name>``.
        InputError: Unknown or broken strategy (``<prefix>strategy``), a rule strategy
            without its document or with an invalid one (``rules.document.<path>``).
    """
    registry = strategy_registry(strategy, rules, rules_field=rules_field)
    try:
        return registry.build(strategy, params)
    except ParameterError as exc:
        field = f"{prefix}params.{exc.field}" if exc.field else f"{prefix}params"
        message = _prefixed(prefix, field.removeprefix(prefix), exc) if prefix else str(exc)
        raise ParameterError(message, field=field, code=exc.code, params=exc.params) from exc
    except StrategyError as exc:
        raise InputError(_prefixed(prefix, "strategy", exc), field=f"{prefix}strategy") from exc


def _prefixed(prefix: str, name: str, exc: Exception) -> str:
    return f"{prefix}{name}: {exc}" if prefix else str(exc)
