"""What a user asks for: the specification of one backtest run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.domain.rule_strategies import RulesChoice, omitted, rules_field_check
from privatetrade.engine.costs import CostModel
from privatetrade.engine.limits import MAX_PARAM_MAGNITUDE, Cash, IsoDate, RiskFreeRate
from privatetrade.engine.settings import FillAt, Sizing, Stops

__all__ = ["COST_PRESETS", "BacktestSpec", "CostChoice", "ParamValue", "canonical_spec_json"]

ParamValue = (
    Annotated[int, Field(ge=-MAX_PARAM_MAGNITUDE, le=MAX_PARAM_MAGNITUDE)]
    | Annotated[float, Field(ge=-MAX_PARAM_MAGNITUDE, le=MAX_PARAM_MAGNITUDE, allow_inf_nan=False)]
    | bool
    | Annotated[str, StringConstraints(max_length=256)]
)
CostChoice = Literal["auto", "krx", "us", "zero"]
COST_PRESETS: tuple[str, ...] = get_args(CostChoice)


def _preset_or_model(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Say what ``costs`` accepts in the caller's words, not as a failed union of types."""
    presets = ", ".join(COST_PRESETS)
    if isinstance(value, str) and value not in COST_PRESETS:
        raise ValueError(f"unknown cost preset {value!r}; use {presets} or a cost model object")
    if not isinstance(value, (str, dict, CostModel)):
        raise ValueError(f"use a cost preset ({presets}) or a cost model object")
    return handler(value)


Costs = Annotated[CostChoice | CostModel, WrapValidator(_preset_or_model)]
SymbolCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


def canonical_spec_json(spec: BaseModel) -> str:
    """Return a spec as canonical JSON (sorted keys, no spaces); ``rules`` is left out when None."""
    data = spec.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


class BacktestSpec(BaseModel):
    """Everything needed to run (and re-run) one backtest on stored market data.

    Attributes:
        symbol: Catalog code of the stock (``005930``, ``AAPL``, ``DEMO01``).
        start: First local trading date to include; the first stored bar if None.
        end: Last local trading date to include; the last stored bar if None.
        strategy: Registry name of the strategy.
        params: Strategy parameters; missing ones take the strategy's defaults.
        capital: Initial cash in the quote currency; 10,000,000 for KRW, 100,000 for USD.
        costs: A preset (``auto`` = the symbol's market: ``krx`` or ``us``) or a cost model.
        adjusted: True (the default): split- and dividend-adjusted prices, or the raw
            ones with a warning in the result when the symbol has no adjusted series
            (a synthetic symbol's count as adjusted); False: raw prices, as traded.
            The result's ``data.adjusted`` says which prices the run used.
        sizing: Position sizing of entries.
        stops: Stop-loss, take-profit and trailing stop.
        fill_at: ``next_open`` or ``close``.
        allow_short: Trade short signals too.
        close_at_end: Close an open position at the last close.
        risk_free_rate: Annual risk-free rate for Sharpe, Sortino and alpha.
        benchmark: Catalog code of a benchmark series, compared in the metrics.
        rules: The rule of a rule strategy (``strategy="rules"``): its document and
            the saved strategy it came from; required for ``rules``, refused otherwise.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: SymbolCode
    start: IsoDate | None = None
    end: IsoDate | None = None
    strategy: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "sma_cross"
    params: dict[ParamName, ParamValue] = Field(default_factory=dict, max_length=32)
    capital: Cash | None = None
    costs: Costs = "auto"
    adjusted: bool = True
    sizing: Sizing = Field(default_factory=Sizing)
    stops: Stops = Field(default_factory=Stops)
    fill_at: FillAt = "next_open"
    allow_short: bool = False
    close_at_end: bool = True
    risk_free_rate: RiskFreeRate = 0.0
    benchmark: SymbolCode | None = None
    rules: RulesChoice | None = Field(None, validate_default=True, exclude_if=omitted)

    @field_validator("end")
    @classmethod
    def _dates_in_order(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")
        if start is not None and end is not None and start > end:
            raise PydanticCustomError("start_after_end", "start must not be after end")
        return end

    @field_validator("rules")
    @classmethod
    def _rules_for_rule_strategy(
        cls, rules: RulesChoice | None, info: ValidationInfo
    ) -> RulesChoice | None:
        return rules_field_check(info.data.get("strategy"), rules)

    def canonical_json(self) -> str:
        """Return the spec as canonical JSON (sorted keys, no spaces).

        ``rules`` is left out when None, so a spec without a rule strategy keeps the
        text (and fingerprint) it had before rule strategies existed.
        """
        return canonical_spec_json(self)

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of the canonical JSON: equal specs, equal ids."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str | bytes) -> BacktestSpec:
        """Rebuild a spec from its JSON."""
        return cls.model_validate_json(text)
