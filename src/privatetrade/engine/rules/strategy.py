"""Rule documents as strategies: a Strategy class per document, its stops and signals.

:func:`rule_strategy_class` returns a :class:`RuleStrategy` subclass named ``"rules"``
whose ``Params`` model is generated from the document's parameters (bounds as ``ge`` /
``le``, defaults as defaults), so everything that runs a strategy (backtests, sweeps,
optimizers, the registry) runs a rule document unchanged. Classes are built once per
distinct document (by its canonical JSON) and reused.
"""

from __future__ import annotations

import copyreg
import functools
from abc import ABCMeta
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, cast

from pydantic import BeforeValidator, Field, create_model

from privatetrade.engine.rules.compiler import Program, compile_document
from privatetrade.engine.rules.document import RuleDocument, parse_rules
from privatetrade.engine.rules.evaluation import Evaluation, Values
from privatetrade.engine.rules.limits import RULES_STRATEGY
from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.rules.parameters import FloatParameter, IntParameter
from privatetrade.engine.strategies.base import (
    Bars,
    Indicators,
    Signals,
    Strategy,
    StrategyParams,
)

__all__ = [
    "RuleStrategy",
    "evaluate_signals",
    "resolved_stops",
    "rule_params_model",
    "rule_stops",
    "rule_strategy_class",
]

_STOP_FIELDS = ("stop_loss", "take_profit", "trailing_stop", "max_bars_held")


def _reject_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


class _RuleStrategyType(ABCMeta):
    """Metaclass of the rule strategies: a document's class pickles as its document.

    A class made by :func:`rule_strategy_class` exists only in the process that made it;
    pickled (to a worker process or a Dask worker, e.g. in an optimization's problem), it
    is rebuilt there from the document's canonical JSON.
    """


def _reduce_rule_class(cls: _RuleStrategyType) -> str | tuple[Any, ...]:
    document = cls.__dict__.get("document")
    if document is None:  # RuleStrategy itself: by name, as any class
        return cls.__qualname__
    return (_class_for, (document.to_json(),))


copyreg.pickle(_RuleStrategyType, _reduce_rule_class)


class RuleStrategy(Strategy[StrategyParams], metaclass=_RuleStrategyType):
    """Base of the strategy classes built from rule documents.

    Subclasses (made by :func:`rule_strategy_class`) set ``document``, ``program`` and
    ``Params``.
    """

    name = RULES_STRATEGY
    title = "Rule strategy"
    description = "A strategy composed of rules: indicators, comparisons and combinations."
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    document: ClassVar[RuleDocument]
    program: ClassVar[Program]

    def values(self) -> Values:
        """Return the parameter values by name."""
        return cast(Values, self.params.__dict__)

    def signals(self, bars: Bars) -> Signals:
        """Return the document's signals on ``bars`` (each bar decided on bars up to it)."""
        return self.program.signals(Evaluation(bars), self.values())

    def indicators(self, bars: Bars) -> Indicators:
        """Return every distinct indicator series of the document and its compared levels."""
        return self.program.indicators(Evaluation(bars), self.values())

    def warmup_bars(self) -> int:
        """Return the bars the document needs before its first possible signal."""
        return self.program.warmup(self.values())

    def stops(self) -> dict[str, float | int] | None:
        """Return the document's exits resolved with this strategy's parameters."""
        return resolved_stops(self.document, self.values())


def rule_params_model(doc: RuleDocument) -> type[StrategyParams]:
    """Return the parameter model of a document: one bounded field per parameter."""
    fields: dict[str, Any] = {}
    for name, parameter in doc.parameters.items():
        fields[name] = _parameter_field(parameter)
    model = create_model("RuleParams", __base__=StrategyParams, __module__=__name__, **fields)
    return cast(type[StrategyParams], model)


def _parameter_field(parameter: IntParameter | FloatParameter) -> tuple[Any, Any]:
    options: dict[str, Any] = {"ge": parameter.min, "le": parameter.max}
    if parameter.title is not None:
        options["title"] = parameter.title
    if isinstance(parameter, IntParameter):
        return Annotated[int, BeforeValidator(_reject_bool)], Field(parameter.default, **options)
    kind = Annotated[float, BeforeValidator(_reject_bool)]
    return kind, Field(parameter.default, allow_inf_nan=False, **options)


def rule_strategy_class(doc: RuleDocument | Mapping[str, Any] | str) -> type[RuleStrategy]:
    """Return the strategy class of a rule document (built once per distinct document).

    Args:
        doc: A validated document, or data :func:`parse_rules` accepts.

    Raises:
        RuleError: ``doc`` is not a valid document.
    """
    document = parse_rules(doc)
    return _class_for(document.to_json())


@functools.lru_cache(maxsize=64)
def _class_for(canonical: str) -> type[RuleStrategy]:
    document = parse_rules(canonical)
    namespace = {
        "__module__": __name__,
        "__doc__": "A strategy built from a rule document.",
        "Params": rule_params_model(document),
        "document": document,
        "program": compile_document(document),
    }
    return type("DocumentRuleStrategy", (RuleStrategy,), namespace)


def _values(
    doc: RuleDocument, params: Mapping[str, Any] | StrategyParams | None
) -> dict[str, int | float]:
    """Return validated parameter values (defaults for the missing ones)."""
    from privatetrade.engine.strategies.registry import parse_params

    strategy_class = rule_strategy_class(doc)
    if isinstance(params, StrategyParams) and not isinstance(params, strategy_class.Params):
        params = params.model_dump()
    parsed = parse_params(strategy_class, params)
    return dict(parsed.__dict__)


def resolved_stops(doc: RuleDocument, values: Values) -> dict[str, float | int] | None:
    """Return the exits a document sets, resolved with validated parameter values."""
    exits = doc.exits
    if exits is None:
        return None
    stops: dict[str, float | int] = {}
    for name in _STOP_FIELDS:
        number = getattr(exits, name)
        if number is None:
            continue
        stops[name] = values[number.name] if isinstance(number, ParamRef) else number
    return stops or None


def rule_stops(
    doc: RuleDocument | Mapping[str, Any] | str,
    params: Mapping[str, Any] | StrategyParams | None = None,
) -> dict[str, float | int] | None:
    """Return the document's exits resolved with the parameters, or None without exits.

    Args:
        doc: The document.
        params: Parameter values (missing ones take their defaults).

    Returns:
        The ``Stops`` fields the document sets (``stop_loss``, ``take_profit``,
        ``trailing_stop``, ``max_bars_held``), or None when it sets none.

    Raises:
        RuleError: The document is invalid.
        ParameterError: A parameter value is invalid.
    """
    document = parse_rules(doc)
    return resolved_stops(document, _values(document, params))


def evaluate_signals(
    doc: RuleDocument | Mapping[str, Any] | str,
    bars: Bars,
    params: Mapping[str, Any] | StrategyParams | None = None,
) -> Signals:
    """Return the document's signals on ``bars`` (for previews).

    Raises:
        RuleError: The document is invalid.
        ParameterError: A parameter value is invalid.
    """
    document = parse_rules(doc)
    values = _values(document, params)
    return rule_strategy_class(document).program.signals(Evaluation(bars), values)
