"""How a portfolio trades: an allocation rule or per-symbol strategy signals.

:class:`PortfolioRule` is one flat, frozen model named by ``rule``. Each rule reads
only some fields; a field the rule does not read must keep its default, so one run
has one spelling (and one fingerprint). A field that breaks this gets an error at its
own location whose message starts with its name, e.g. ``top: only the top_n_* rules
take top``. Symbols of ``weights`` are checked against the universe by
``run_portfolio``, strategy names and parameters against the strategy registry.

Fields are declared in the order their checks need: a field's validator sees only
the fields declared before it (``rule`` first; ``lookback`` after everything that
decides whether it is read).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.engine.limits import MAX_CASH, MAX_PARAM_MAGNITUDE

__all__ = [
    "ALLOCATION_RULES",
    "MAX_LOOKBACK",
    "MAX_PORTFOLIO_SYMBOLS",
    "MAX_TOP",
    "RULE_NAMES",
    "PortfolioRule",
    "RuleName",
]

MAX_PORTFOLIO_SYMBOLS: Final = 2_000
"""Most symbols in one portfolio (and in a ``fixed_weights`` mapping)."""
MAX_TOP: Final = 500
"""Most symbols a ``top_n_*`` rule holds, and most open positions of ``signals``."""
MAX_LOOKBACK: Final = 2_520
"""Longest ranking window in bars: ten years of daily bars."""
WEIGHT_SUM_TOLERANCE: Final = 1e-9
"""How far above 1 the fixed weights may sum (decimal rounding of e.g. ten times 0.1)."""

RuleName = Literal[
    "equal_weight",
    "fixed_weights",
    "inverse_volatility",
    "top_n_momentum",
    "top_n_low_volatility",
    "top_n_signal",
    "signals",
]
RULE_NAMES: tuple[str, ...] = get_args(RuleName)
ALLOCATION_RULES: frozenset[str] = frozenset(RULE_NAMES) - {"signals"}
"""Rules that hold target weights, rebalanced on a schedule."""
_TOP_N_RULES = frozenset({"top_n_momentum", "top_n_low_volatility", "top_n_signal"})
_STRATEGY_RULES = frozenset({"top_n_signal", "signals"})

Weighting = Literal["equal", "inverse_volatility"]
Rebalance = Literal["daily", "weekly", "monthly", "quarterly"]
RebalanceOn = Literal["first", "last"]
PositionSize = Literal["equal", "all_in", "fraction", "amount"]
EntryPriority = Literal["order", "momentum", "low_volatility"]
Delisted = Literal["hold", "liquidate"]

SymbolCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Weight = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
StrategyName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
ParamValue = (
    Annotated[int, Field(ge=-MAX_PARAM_MAGNITUDE, le=MAX_PARAM_MAGNITUDE)]
    | Annotated[float, Field(ge=-MAX_PARAM_MAGNITUDE, le=MAX_PARAM_MAGNITUDE, allow_inf_nan=False)]
    | bool
    | Annotated[str, StringConstraints(max_length=256)]
)


def _rule_of(info: ValidationInfo) -> str | None:
    """The rule being validated, or None when ``rule`` itself failed (that error suffices)."""
    rule = info.data.get("rule")
    return rule if isinstance(rule, str) else None


def _default_of(field: str) -> Any:
    return PortfolioRule.model_fields[field].default


def _unused(field: str, value: Any, used: bool, readers: str) -> Any:
    """Return ``value``; raise naming ``field`` when a rule that ignores it changed it."""
    if not used and value != _default_of(field):
        raise PydanticCustomError(
            "field_not_used",
            "{field}: only {readers} take {field}",
            {"field": field, "readers": readers},
        )
    return value


class PortfolioRule(BaseModel):
    """The rule of a portfolio backtest (see docs/portfolio.md, "Allocation rules").

    Attributes:
        rule: ``equal_weight``, ``fixed_weights``, ``inverse_volatility``,
            ``top_n_momentum``, ``top_n_low_volatility``, ``top_n_signal`` (allocation
            rules: target weights, rebalanced on a schedule) or ``signals`` (each
            symbol's strategy signals compete for shared cash).
        weights: ``fixed_weights`` only (required): symbol -> weight in ``[0, 1]``,
            summing to at most 1; the rest stays cash.
        top: ``top_n_*`` only (required): how many symbols to hold, 1..500.
        weighting: ``top_n_*`` only: how the chosen are weighted, ``equal`` or
            ``inverse_volatility``.
        rebalance: Allocation rules: ``daily``, ``weekly`` (ISO week), ``monthly`` or
            ``quarterly`` (calendar quarter).
        rebalance_on: Allocation rules: the ``first`` or ``last`` session of the period.
        band: Allocation rules: no trade in a symbol whose weight is within this
            absolute distance of its target (0..1).
        absolute_momentum: Allocation rules: a chosen symbol whose ``lookback`` return
            is at or below ``momentum_threshold`` gets weight 0 (its share stays cash).
        momentum_threshold: With ``absolute_momentum``: the return to beat, -1..1.
        strategy: ``signals`` and ``top_n_signal`` (required): a registered strategy.
        params: With ``strategy``: its parameters (missing ones take the defaults).
        max_positions: ``signals`` only: most open positions at once, 1..500.
        position_size: ``signals`` only: ``equal`` (equity / max_positions),
            ``all_in`` (all free cash), ``fraction`` (of equity) or ``amount`` (money).
        position_value: ``signals`` with ``fraction`` (0 < f <= 1) or ``amount``
            (0 < a <= 10^15) only, and required there.
        entry_priority: ``signals`` only: which entries get the free slots first when
            too many fire on one bar: ``order`` (universe order), ``momentum``
            (highest ``lookback`` return) or ``low_volatility``.
        lookback: Bars of the momentum and volatility windows, 2..2,520. Read by the
            rankings, ``inverse_volatility``, the absolute momentum filter and the
            ``momentum``/``low_volatility`` entry priorities.
        delisted: A symbol whose data ends before the calendar's: ``liquidate`` (sell
            at its last bar's close) or ``hold`` (valued at its last close, flagged).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: RuleName = "equal_weight"
    weights: dict[SymbolCode, Weight] | None = Field(
        None, min_length=1, max_length=MAX_PORTFOLIO_SYMBOLS, validate_default=True
    )
    top: int | None = Field(None, ge=1, le=MAX_TOP, validate_default=True)
    weighting: Weighting = Field("equal", validate_default=True)
    rebalance: Rebalance = Field("monthly", validate_default=True)
    rebalance_on: RebalanceOn = Field("last", validate_default=True)
    band: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False, validate_default=True)
    absolute_momentum: bool = Field(False, validate_default=True)
    momentum_threshold: float = Field(
        0.0, ge=-1.0, le=1.0, allow_inf_nan=False, validate_default=True
    )
    strategy: StrategyName | None = Field(None, validate_default=True)
    params: dict[ParamName, ParamValue] | None = Field(None, max_length=32, validate_default=True)
    max_positions: int = Field(10, ge=1, le=MAX_TOP, validate_default=True)
    position_size: PositionSize = Field("equal", validate_default=True)
    position_value: float | None = Field(
        None, gt=0.0, le=MAX_CASH, allow_inf_nan=False, validate_default=True
    )
    entry_priority: EntryPriority = Field("order", validate_default=True)
    lookback: int = Field(60, ge=2, le=MAX_LOOKBACK, validate_default=True)
    delisted: Delisted = "liquidate"

    @property
    def is_allocation(self) -> bool:
        """Whether the rule holds target weights rebalanced on a schedule (not ``signals``)."""
        return self.rule in ALLOCATION_RULES

    @field_validator("weights")
    @classmethod
    def _check_weights(
        cls, weights: dict[str, float] | None, info: ValidationInfo
    ) -> dict[str, float] | None:
        rule = _rule_of(info)
        if rule is None:
            return weights
        if rule != "fixed_weights":
            return _unused("weights", weights, False, "the fixed_weights rule")  # type: ignore[no-any-return]
        if weights is None:
            raise PydanticCustomError(
                "weights_needed", "weights: the fixed_weights rule needs weights (symbol -> weight)"
            )
        total = math.fsum(weights.values())
        if total > 1.0 + WEIGHT_SUM_TOLERANCE:
            raise PydanticCustomError(
                "weights_sum_above_one",
                "weights: the weights sum to {total}; at most 1 (no margin)",
                {"total": float(f"{total:.6g}")},
            )
        return weights

    @field_validator("top")
    @classmethod
    def _check_top(cls, top: int | None, info: ValidationInfo) -> int | None:
        rule = _rule_of(info)
        if rule is None:
            return top
        if rule in _TOP_N_RULES and top is None:
            raise PydanticCustomError(
                "top_needed",
                "top: the {rule} rule needs top (how many symbols to hold)",
                {"rule": rule},
            )
        return _unused("top", top, rule in _TOP_N_RULES, "the top_n_* rules")  # type: ignore[no-any-return]

    @field_validator("weighting")
    @classmethod
    def _check_weighting(cls, weighting: str, info: ValidationInfo) -> str:
        rule = _rule_of(info)
        used = rule is None or rule in _TOP_N_RULES
        return _unused("weighting", weighting, used, "the top_n_* rules")  # type: ignore[no-any-return]

    @field_validator("rebalance", "rebalance_on", "band", "absolute_momentum")
    @classmethod
    def _check_allocation_field(cls, value: Any, info: ValidationInfo) -> Any:
        rule = _rule_of(info)
        used = rule is None or rule in ALLOCATION_RULES
        return _unused(str(info.field_name), value, used, "the allocation rules (not signals)")

    @field_validator("momentum_threshold")
    @classmethod
    def _check_threshold(cls, threshold: float, info: ValidationInfo) -> float:
        used = "absolute_momentum" not in info.data or bool(info.data["absolute_momentum"])
        return _unused("momentum_threshold", threshold, used, "rules with absolute_momentum")  # type: ignore[no-any-return]

    @field_validator("strategy")
    @classmethod
    def _check_strategy(cls, strategy: str | None, info: ValidationInfo) -> str | None:
        rule = _rule_of(info)
        if rule is None:
            return strategy
        if rule in _STRATEGY_RULES and strategy is None:
            raise PydanticCustomError(
                "strategy_needed", "strategy: the {rule} rule needs a strategy", {"rule": rule}
            )
        return _unused("strategy", strategy, rule in _STRATEGY_RULES, "signals and top_n_signal")  # type: ignore[no-any-return]

    @field_validator("params")
    @classmethod
    def _check_params(
        cls, params: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        rule = _rule_of(info)
        used = rule is None or rule in _STRATEGY_RULES
        _unused("params", params, used, "signals and top_n_signal")
        return params

    @field_validator("max_positions", "position_size", "entry_priority")
    @classmethod
    def _check_signals_field(cls, value: Any, info: ValidationInfo) -> Any:
        rule = _rule_of(info)
        used = rule is None or rule == "signals"
        return _unused(str(info.field_name), value, used, "the signals rule")

    @field_validator("position_value")
    @classmethod
    def _check_position_value(cls, value: float | None, info: ValidationInfo) -> float | None:
        size = info.data.get("position_size")
        if size is None or _rule_of(info) is None:  # an earlier error says enough
            return value
        if size in ("fraction", "amount"):
            if value is None:
                raise PydanticCustomError(
                    "position_value_needed",
                    "position_value: position_size '{size}' needs position_value",
                    {"size": size},
                )
            if size == "fraction" and value > 1.0:
                raise PydanticCustomError(
                    "fraction_above_one", "position_value: a fraction of equity must be at most 1"
                )
            return value
        return _unused("position_value", value, False, "position_size fraction or amount")  # type: ignore[no-any-return]

    @field_validator("lookback")
    @classmethod
    def _check_lookback(cls, lookback: int, info: ValidationInfo) -> int:
        rule = _rule_of(info)
        if rule is None:
            return lookback
        data = info.data
        used = (
            rule in ("inverse_volatility", "top_n_momentum", "top_n_low_volatility", "top_n_signal")
            or bool(data.get("absolute_momentum"))
            or data.get("weighting") == "inverse_volatility"
            or data.get("entry_priority", "order") != "order"
        )
        readers = "rankings, inverse volatility, absolute momentum or a signals entry_priority"
        return _unused("lookback", lookback, used, readers)  # type: ignore[no-any-return]
