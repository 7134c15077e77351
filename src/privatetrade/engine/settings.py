"""How a backtest trades: capital, costs, sizing, stops and fill timing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from privatetrade.engine.costs import CostModel
from privatetrade.engine.limits import (
    MAX_CASH,
    MAX_PERIODS_PER_YEAR,
    MAX_SHARES,
    Cash,
    RiskFreeRate,
)

__all__ = [
    "DEFAULT_CAPITAL",
    "FillAt",
    "SimulationSettings",
    "Sizing",
    "Stops",
    "costs_currency",
    "default_capital",
]

DEFAULT_CAPITAL: Mapping[str, float] = {"KRW": 10_000_000.0, "USD": 100_000.0}
"""Initial cash when none is given, by quote currency; 10,000,000 for any other."""
_OTHER_CURRENCY_CAPITAL = 10_000_000.0
_PRESET_CURRENCY = {"krx": "KRW", "us": "USD"}


def default_capital(currency: str | None) -> float:
    """Return the initial cash used when none is given: 10,000,000 KRW or 100,000 USD.

    The one rule of every entry point (library, CLI, API, web form). An unknown
    currency (``None``, e.g. zero or custom costs in the library) gets 10,000,000.
    """
    return DEFAULT_CAPITAL.get((currency or "").upper(), _OTHER_CURRENCY_CAPITAL)


def costs_currency(costs: CostModel | Mapping[str, object] | None) -> str | None:
    """Return the quote currency a cost model implies: KRW for ``krx``, USD for ``us``.

    None for ``zero``, ``custom`` or no model: the costs do not say.
    """
    preset = costs.preset if isinstance(costs, CostModel) else (costs or {}).get("preset")
    return _PRESET_CURRENCY.get(str(preset))


SizingName = Literal["all_in", "fraction", "amount", "shares"]
FillAt = Literal["next_open", "close"]
"""When a decision at bar ``t`` fills: ``next_open`` (bar ``t+1``'s open) or ``close``."""


class Sizing(BaseModel):
    """How many shares an entry takes.

    Attributes:
        mode: ``all_in`` spends all cash (after costs); ``fraction`` a fraction of
            equity; ``amount`` a fixed amount of money; ``shares`` a fixed count.
        value: The fraction (0 < f <= 1), amount (0 < a <= 10^15) or share count
            (1 <= n <= 10^12); none for ``all_in``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: SizingName = "all_in"
    value: float | None = Field(
        None, gt=0.0, le=MAX_CASH, allow_inf_nan=False, validate_default=True
    )

    @field_validator("value")
    @classmethod
    def _value_fits_mode(cls, value: float | None, info: ValidationInfo) -> float | None:
        mode = info.data.get("mode")
        if mode is None:  # the mode itself is invalid: that error is enough
            return value
        if mode == "all_in":
            if value is not None:
                raise PydanticCustomError("sizing_takes_no_value", "sizing 'all_in' takes no value")
        elif value is None:
            raise PydanticCustomError(
                "sizing_needs_value", "sizing '{mode}' needs a value", {"mode": mode}
            )
        elif mode == "fraction" and value > 1.0:
            raise PydanticCustomError(
                "fraction_above_one", "a fraction of equity must be at most 1 (no margin)"
            )
        elif mode == "shares" and not 1.0 <= value <= MAX_SHARES:
            raise PydanticCustomError(
                "shares_out_of_range",
                "a share count must be between 1 and {max}",
                {"max": f"{MAX_SHARES:,.0f}"},
            )
        return value


def _is_none(value: object) -> bool:
    return value is None


class Stops(BaseModel):
    """Protective exits, as fractions of the entry price (0.05 = 5%).

    Checked on the bar's high and low from the entry bar on for entries at the open
    or intrabar (only the part of the bar after the fill), from the next bar for
    entries at the close. A gap through a level fills at the open; when the stop and
    the target are both touched in one bar, the stop wins (the intrabar order is
    unknown, so assume the worse). See docs/engine.md §3.6.

    ``max_bars_held`` (a time exit) closes a position by a market exit decided at the
    close of its N-th bar held, executed like a signal exit; exit reason ``time``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_loss: float | None = Field(None, gt=0.0, lt=1.0, allow_inf_nan=False)
    take_profit: float | None = Field(None, gt=0.0, le=100.0, allow_inf_nan=False)
    trailing_stop: float | None = Field(None, gt=0.0, lt=1.0, allow_inf_nan=False)
    # Left out of the serialized form while None, so specs, fingerprints and result
    # documents without a time exit keep the text they had before it existed.
    max_bars_held: StrictInt | None = Field(None, ge=1, le=10_000, exclude_if=_is_none)


class SimulationSettings(BaseModel):
    """Everything about a backtest except the bars and the strategy.

    Attributes:
        initial_cash: Starting cash in the quote currency. Built directly, the settings
            default to 10,000,000; ``run_backtest`` and ``sweep`` given no cash take
            :func:`default_capital` of the costs' currency (100,000 for ``us``).
        costs: Commission, taxes, slippage, tick grid, limits and lot size.
        sizing: Position sizing of entries.
        stops: Stop-loss, take-profit and trailing stop.
        fill_at: ``next_open`` (default, no look-ahead) or ``close`` (same bar).
        allow_short: Trade the strategy's short signals too.
        close_at_end: Close a position still open after the last bar at its close,
            paying costs, so the final equity is realized.
        risk_free_rate: Annual risk-free rate for Sharpe, Sortino and alpha.
        periods_per_year: Annualization factor; inferred from the bar spacing if None.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_cash: Cash = _OTHER_CURRENCY_CAPITAL
    costs: CostModel = Field(default_factory=CostModel.zero)
    sizing: Sizing = Field(default_factory=Sizing)
    stops: Stops = Field(default_factory=Stops)
    fill_at: FillAt = "next_open"
    allow_short: bool = False
    close_at_end: bool = True
    risk_free_rate: RiskFreeRate = 0.0
    periods_per_year: float | None = Field(
        None, gt=0.0, le=MAX_PERIODS_PER_YEAR, allow_inf_nan=False
    )
