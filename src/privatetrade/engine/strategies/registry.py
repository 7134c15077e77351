"""Find strategies by name, build them from untrusted parameters, and check them.

A :class:`StrategyRegistry` maps names to :class:`Strategy` classes. It is a plain
object (no module-level state): build one with :meth:`StrategyRegistry.with_builtins`
and add your own classes with :meth:`StrategyRegistry.register`, which also runs
:func:`check_causal` on them.

Installed packages can contribute strategies through the ``privatetrade.strategies``
entry-point group; :func:`load_entry_point_strategies` registers them. In the
plugin's ``pyproject.toml``::

    [project.entry-points."privatetrade.strategies"]
    my_strategy = "my_package.strategies:MyStrategy"

Example:
    >>> registry = StrategyRegistry.with_builtins()
    >>> strategy = registry.build("sma_cross", {"fast": 5})
    >>> strategy.params
    SmaCrossParams(fast=5, slow=30)
    >>> registry.build("sma_cross", {"fast": 0})
    Traceback (most recent call last):
    ...
    privatetrade.errors.ParameterError: parameter 'fast' must be >= 1 (got 0)
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, TypedDict, TypeVar

import numpy as np
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from privatetrade.engine.strategies.base import Bars, Signals, Strategy, StrategyParams
from privatetrade.engine.strategies.builtin import BUILTIN_STRATEGIES
from privatetrade.errors import InputError, ParameterError, PrivatetradeError, StrategyError

__all__ = [
    "ENTRY_POINT_GROUP",
    "StrategyDescription",
    "StrategyRegistry",
    "check_causal",
    "compute_signals",
    "load_entry_point_strategies",
    "parse_params",
    "synthetic_bars",
    "validate_signals",
]

ENTRY_POINT_GROUP = "privatetrade.strategies"
"""Entry-point group scanned by :func:`load_entry_point_strategies`."""

StrategyT = TypeVar("StrategyT", bound=type[Strategy[Any]])

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_SIGNAL_FIELDS = ("entries", "exits", "short_entries", "short_exits", "entry_offset")


class StrategyDescription(TypedDict):
    """What :meth:`StrategyRegistry.describe` says about one strategy."""

    name: str
    title: str
    description: str
    parameters_schema: dict[str, Any]
    defaults: dict[str, Any]


class StrategyRegistry:
    """Strategy classes by name.

    Example:
        >>> registry = StrategyRegistry.with_builtins()
        >>> "sma_cross" in registry
        True
        >>> registry.get("sma_cross").title
        'SMA crossover'
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Strategy[Any]]] = {}

    @classmethod
    def with_builtins(cls) -> StrategyRegistry:
        """Return a registry holding the built-in strategies."""
        registry = cls()
        for strategy in BUILTIN_STRATEGIES:
            registry.register(strategy)
        return registry

    def with_rules(self, rules: Any) -> StrategyRegistry:
        """Return a copy of this registry in which ``"rules"`` is the given rule document.

        Args:
            rules: A rule document (see docs/rules.md): a ``RuleDocument``, its JSON data
                or text.

        Raises:
            RuleError: The document is invalid (``path`` names the offending part).

        Example:
            >>> registry = StrategyRegistry.with_builtins().with_rules(
            ...     {"schema": "privatetrade.rules/1",
            ...      "long": {"entry": {"compare": "<", "left": {"indicator": "rsi",
            ...               "source": {"price": "close"}, "period": 14}, "right": 30}}})
            >>> registry.build("rules").warmup_bars()
            14
        """
        from privatetrade.engine.rules.strategy import rule_strategy_class

        strategy = rule_strategy_class(rules)
        copy = StrategyRegistry()
        copy._classes = {name: cls for name, cls in self._classes.items() if name != strategy.name}
        _check_strategy_class(strategy)
        copy._classes[strategy.name] = strategy
        return copy

    def register(self, strategy: StrategyT, *, verify: bool = True) -> StrategyT:
        """Add a strategy class; usable as a decorator.

        Args:
            strategy: A concrete :class:`Strategy` subclass with ``name``, ``title``,
                ``description`` and a ``Params`` model whose fields all have defaults.
            verify: Run :func:`check_causal` with the default parameters (skipped for
                the built-ins, which the test suite checks).

        Returns:
            ``strategy`` itself.

        Raises:
            StrategyError: The class is malformed, its name is taken, or it looks ahead.
        """
        _check_strategy_class(strategy)
        if strategy.name in self._classes:
            raise StrategyError(f"a strategy named {strategy.name!r} is already registered")
        if verify and strategy not in BUILTIN_STRATEGIES:
            check_causal(strategy(strategy.Params()))
        self._classes[strategy.name] = strategy
        return strategy

    def get(self, name: str) -> type[Strategy[Any]]:
        """Return the class registered as ``name``.

        Raises:
            StrategyError: No strategy has that name; the message lists the known ones.
        """
        try:
            return self._classes[name]
        except KeyError:
            raise StrategyError(self._unknown_message(name)) from None

    def names(self) -> list[str]:
        """Return the registered names in registration order."""
        return list(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[type[Strategy[Any]]]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)

    def describe(self) -> list[StrategyDescription]:
        """Return name, title, description, parameter JSON Schema and defaults of each."""
        return [
            StrategyDescription(
                name=strategy.name,
                title=strategy.title,
                description=strategy.description,
                parameters_schema=strategy.Params.model_json_schema(),
                defaults=strategy.Params().model_dump(mode="json"),
            )
            for strategy in self._classes.values()
        ]

    def build(
        self,
        strategy: str | type[Strategy[Any]],
        params: Mapping[str, Any] | StrategyParams | None = None,
    ) -> Strategy[Any]:
        """Return a strategy instance with validated parameters.

        Args:
            strategy: A registered name, or a Strategy class (registered or not; an
                unregistered class is checked for shape but not for look-ahead).
            params: Parameter values (missing ones take their defaults), a ready
                ``Params`` instance, or None for all defaults.

        Raises:
            StrategyError: The name is unknown or the class is malformed.
            ParameterError: A parameter is unknown, of the wrong type, out of bounds or
                inconsistent with another; ``field`` names the first offending one.
        """
        if isinstance(strategy, str):
            cls = self.get(strategy)
        else:
            name = getattr(strategy, "name", None)
            if not (isinstance(name, str) and self._classes.get(name) is strategy):
                _check_strategy_class(strategy)
            cls = strategy
        return cls(parse_params(cls, params))

    def _unknown_message(self, name: str) -> str:
        known = ", ".join(self._classes) or "none"
        close = difflib.get_close_matches(name, self._classes, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown strategy {name!r} (known strategies: {known}){hint}"


def parse_params(
    strategy: type[Strategy[Any]], params: Mapping[str, Any] | StrategyParams | None
) -> StrategyParams:
    """Validate ``params`` against ``strategy.Params``.

    Raises:
        ParameterError: With a one-line message and ``field`` set to the first
            offending parameter (see :meth:`StrategyRegistry.build`).
    """
    model = strategy.Params
    if params is None:
        params = {}
    if isinstance(params, StrategyParams):
        if not isinstance(params, model):
            raise ParameterError(
                f"{strategy.name!r} takes {model.__name__}, got {type(params).__name__}"
            )
        return params
    if not isinstance(params, Mapping):
        raise ParameterError(
            f"parameters must be a mapping of names to values, got {type(params).__name__}"
        )
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise _parameter_error(exc, model, strategy.name) from exc


def _parameter_error(
    exc: ValidationError, model: type[StrategyParams], strategy: str
) -> ParameterError:
    """Turn pydantic's error list into a one-line ParameterError naming the field.

    Its ``code`` is pydantic's error type (``greater_than_equal``, ``param_order``, ...),
    its ``params`` the error's context plus the strategy and the parameter.
    """
    errors = exc.errors(include_url=False)
    field, _ = _explain(errors[0], model)
    params: dict[str, str | int | float] = {"strategy": strategy}
    if field is not None:
        params["param"] = field
    for name, value in errors[0].get("ctx", {}).items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            params[name] = value
    message = parse_error_message(exc, model)
    return ParameterError(message, field=field, code=errors[0]["type"], params=params)


def parse_error_message(exc: ValidationError, model: type[StrategyParams]) -> str:
    """Return a one-line explanation of a parameter validation error."""
    errors = exc.errors(include_url=False)
    _, message = _explain(errors[0], model)
    if len(errors) > 1:
        others = len(errors) - 1
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return message


def _explain(error: ErrorDetails, model: type[StrategyParams]) -> tuple[str | None, str]:
    """Return the offending field and a human message for one pydantic error."""
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx = error.get("ctx", {})
    if not loc:  # a model validator: cross-parameter rule
        text = str(ctx.get("error", error["msg"]))
        names = [name for name in _QUOTED.findall(text) if name in model.model_fields]
        return (names[0] if names else None), text
    field = str(loc[0])
    if kind in _BOUNDS:
        operator, key = _BOUNDS[kind]
        return field, f"parameter {field!r} must be {operator} {ctx[key]} (got {value!r})"
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields) or "none"
        return field, f"unknown parameter {field!r} (known parameters: {known})"
    if kind == "missing":
        return field, f"parameter {field!r} is required"
    reason = str(ctx["error"]) if "error" in ctx else error["msg"]
    reason = reason[:1].lower() + reason[1:]
    return field, f"parameter {field!r}: {reason} (got {value!r})"


def _check_strategy_class(strategy: object) -> None:
    """Raise StrategyError unless ``strategy`` is a usable Strategy subclass."""
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise StrategyError(f"{strategy!r} is not a Strategy subclass")
    label = strategy.__qualname__
    if inspect.isabstract(strategy):
        raise StrategyError(f"{label} does not implement signals()")
    name = getattr(strategy, "name", None)
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        raise StrategyError(
            f"{label}.name must be a lowercase identifier such as 'my_strategy', got {name!r}"
        )
    for attribute in ("title", "description"):
        if not isinstance(getattr(strategy, attribute, None), str):
            raise StrategyError(f"{label}.{attribute} must be a string")
    _check_params_model(label, getattr(strategy, "Params", None))


def _check_params_model(label: str, model: object) -> None:
    if not (isinstance(model, type) and issubclass(model, StrategyParams)):
        raise StrategyError(f"{label}.Params must be a StrategyParams subclass, got {model!r}")
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    if required:
        raise StrategyError(f"{label}.Params: give parameter {required[0]!r} a default")
    try:
        model()
    except ValidationError as exc:
        raise StrategyError(f"{label}.Params: the defaults are invalid: {exc}") from exc


def load_entry_point_strategies(
    registry: StrategyRegistry, *, group: str = ENTRY_POINT_GROUP, verify: bool = True
) -> list[str]:
    """Register the strategies that installed packages declare as entry points.

    Entry points whose class is already registered are skipped, so calling this
    twice is harmless.

    Args:
        registry: Registry to add to.
        group: Entry-point group to scan.
        verify: Run :func:`check_causal` on each new class.

    Returns:
        The names added, sorted by entry-point name.

    Raises:
        StrategyError: An entry point cannot be imported, is not a valid strategy,
            clashes with a registered name, or looks ahead.
    """
    added: list[str] = []
    for point in sorted(entry_points(group=group), key=lambda item: item.name):
        try:
            strategy = point.load()
        except Exception as exc:
            raise StrategyError(
                f"cannot load strategy entry point {point.name!r} ({point.value}): {exc}"
            ) from exc
        if isinstance(strategy, type) and any(strategy is known for known in registry):
            continue
        registry.register(strategy, verify=verify)
        added.append(strategy.name)
    return added


# --------------------------------------------------------------------------- signals


def validate_signals(signals: object, n: int, *, strategy: str | None = None) -> Signals:
    """Check that a strategy returned well-formed signals for ``n`` bars.

    Args:
        signals: What ``Strategy.signals`` returned.
        n: Number of bars.
        strategy: Strategy name, for the error message.

    Returns:
        ``signals``, unchanged.

    Raises:
        StrategyError: Not a Signals, an array of the wrong dtype or length, only one
            of ``short_entries`` / ``short_exits`` set, or an infinite ``entry_offset``.
    """
    prefix = f"strategy {strategy!r}: " if strategy else ""
    if not isinstance(signals, Signals):
        raise StrategyError(f"{prefix}signals() must return Signals, got {type(signals).__name__}")
    for name in _SIGNAL_FIELDS:
        value = getattr(signals, name)
        dtype = np.float64 if name == "entry_offset" else np.bool_
        if value is None and name not in ("entries", "exits"):
            continue
        if not (isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == (n,)):
            raise StrategyError(
                f"{prefix}{name} must be a 1-D numpy {np.dtype(dtype).name} array of "
                f"length {n}, got {_describe_value(value)}"
            )
    if (signals.short_entries is None) != (signals.short_exits is None):
        raise StrategyError(f"{prefix}set both short_entries and short_exits, or neither")
    if signals.entry_offset is not None and np.isinf(signals.entry_offset).any():
        raise StrategyError(f"{prefix}entry_offset must be finite or NaN (NaN = market order)")
    return signals


def _describe_value(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return type(value).__name__


def compute_signals(strategy: Strategy[Any], bars: Bars) -> Signals:
    """Return ``strategy.signals(bars)``, validated.

    Raises:
        StrategyError: The strategy raised (chained as the cause) or returned
            malformed signals.
    """
    try:
        signals = strategy.signals(bars)
    except PrivatetradeError:
        raise
    except Exception as exc:
        raise StrategyError(
            f"strategy {strategy.name!r} failed on {len(bars)} bars: {type(exc).__name__}: {exc}"
        ) from exc
    return validate_signals(signals, len(bars), strategy=strategy.name)


# --------------------------------------------------------------------------- look-ahead


def synthetic_bars(count: int = 400, seed: int = 20240601) -> Bars:
    """Return a deterministic random-walk OHLCV series with valid, read-only bars.

    Prices are rounded to cents (so ties happen), ``low <= open, close <= high``,
    one bar per day from 2020-01-01 UTC.

    Args:
        count: Number of bars.
        seed: Seed of the random generator.
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, count)))
    open_ = np.concatenate(([100.0], close[:-1]))[:count] * np.exp(rng.normal(0.0, 0.005, count))
    top = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.01, count)))
    bottom = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, count)))
    day = 86_400 * 10**9
    time = np.int64(1_577_836_800) * 10**9 + np.arange(count, dtype=np.int64) * day
    columns = (
        time,
        np.round(open_, 2),
        np.round(top, 2),
        np.round(bottom, 2),
        np.round(close, 2),
        rng.integers(1_000, 100_000, count).astype(np.float64),
    )
    for column in columns:
        column.flags.writeable = False
    return Bars(*columns)


def check_causal(
    strategy: Strategy[Any], bars: Bars | None = None, cut_points: Sequence[int] | None = None
) -> None:
    """Reject a strategy whose signal at bar ``t`` depends on bars after ``t``.

    Computes the signals on ``bars`` and on each prefix ``bars[:cut]``; every
    signal of a prefix must equal the full run's signal for the same bar. This
    catches ``shift(-1)``, centered windows and whole-series normalization.

    Args:
        strategy: The strategy instance to check.
        bars: Bars to test on (default: :func:`synthetic_bars`, 400 bars).
        cut_points: Prefix lengths, each in ``1..len(bars) - 1`` (default: a spread
            from 1 bar to ``len(bars) - 1``).

    Raises:
        StrategyError: Names the first bar whose signal changed when later bars were
            removed, or reports a failure or malformed signals on some prefix.
        InputError: A cut point is out of range.
    """
    data = synthetic_bars() if bars is None else bars
    count = len(data)
    cuts = _default_cut_points(count) if cut_points is None else sorted(set(cut_points))
    if any(not 1 <= cut < count for cut in cuts):
        raise InputError(f"cut points must lie in 1..{count - 1}", field="cut_points")
    full = _normalized(compute_signals(strategy, data), count)
    first: tuple[int, str, int] | None = None
    for cut in cuts:
        partial = _normalized(compute_signals(strategy, data.head(cut)), cut)
        found = _first_difference(full, partial, cut)
        if found is not None and (first is None or found[0] < first[0]):
            first = (found[0], found[1], cut)
    if first is not None:
        bar, name, cut = first
        raise StrategyError(
            f"strategy {strategy.name!r} looks ahead: its {name} at bar {bar} changed when "
            f"the bars after bar {cut - 1} were removed; a decision at bar t may only use "
            "bars 0..t"
        )


def _default_cut_points(count: int) -> list[int]:
    """Return short prefixes plus ~30 spread over the series."""
    spread = np.linspace(1, count - 1, num=min(32, max(count - 1, 0)), dtype=np.int64)
    candidates = {1, 2, 3, 5, 8, *(int(cut) for cut in spread)}
    return sorted(cut for cut in candidates if 1 <= cut < count)


def _normalized(signals: Signals, count: int) -> dict[str, np.ndarray[Any, Any]]:
    """Return every signal field as an array (missing bools False, missing offsets NaN)."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for name in _SIGNAL_FIELDS:
        value = getattr(signals, name)
        if value is None:
            value = np.full(count, np.nan) if name == "entry_offset" else np.zeros(count, bool)
        arrays[name] = value
    return arrays


def _first_difference(
    full: dict[str, np.ndarray[Any, Any]], partial: dict[str, np.ndarray[Any, Any]], cut: int
) -> tuple[int, str] | None:
    """Return the first bar and field where ``partial`` differs from ``full[:cut]``."""
    best: tuple[int, str] | None = None
    for name in _SIGNAL_FIELDS:
        expected, actual = full[name][:cut], partial[name]
        if name == "entry_offset":
            same = np.isclose(actual, expected, rtol=1e-12, atol=0.0, equal_nan=True)
        else:
            same = actual == expected
        bad = np.flatnonzero(~same)
        if bad.size and (best is None or int(bad[0]) < best[0]):
            best = (int(bad[0]), name)
    return best
