"""What a strategy is: typed parameters in, vectorized signals out.

A strategy sees the bars as read-only arrays and returns, for every bar ``t``,
the decisions taken at bar ``t``'s close. The engine executes them strictly
after the decision (next open by default), so a strategy cannot trade on a
price it has not seen. :func:`privatetrade.engine.strategies.registry.check_causal`
additionally rejects strategies whose signal at ``t`` changes when bars after
``t`` change (centered windows, ``shift(-1)``, whole-series normalization).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Bars:
    """Read-only OHLCV arrays of one symbol, oldest first.

    Attributes:
        time: Bar timestamps as int64 nanoseconds since the epoch (UTC).
        open: Opening prices.
        high: Highest prices.
        low: Lowest prices.
        close: Closing prices.
        volume: Traded volumes.
    """

    time: npt.NDArray[np.int64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def head(self, count: int) -> Bars:
        """Return the first ``count`` bars."""
        return Bars(
            self.time[:count],
            self.open[:count],
            self.high[:count],
            self.low[:count],
            self.close[:count],
            self.volume[:count],
        )


@dataclass(frozen=True, slots=True)
class Signals:
    """Decisions taken at each bar's close, one element per bar.

    Attributes:
        entries: Open a long position (ignored while already long).
        exits: Close a long position.
        short_entries: Open a short position (used only when shorting is allowed).
        short_exits: Close a short position.
        entry_offset: For intrabar stop-entry orders: the entry decided at bar ``t``
            becomes a buy stop at bar ``t+1``'s open plus this offset (price units),
            valid for that bar only. NaN (the default) means a market order.
    """

    entries: BoolArray
    exits: BoolArray
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None
    entry_offset: FloatArray | None = None


class Pane(StrEnum):
    """Where a chart draws an indicator: over the prices, or in a pane of its own below."""

    PRICE = "price"
    LOWER = "lower"


@dataclass(frozen=True, slots=True)
class IndicatorLine:
    """One indicator series a strategy decides on, for charts.

    Attributes:
        name: Stable key of the line (``sma_fast``, ``rsi``, ``bb_lower`` ...), which
            a chart translates into its label.
        values: One value per bar, NaN during the warm-up.
        pane: Drawn over the prices or in the lower pane.
    """

    name: str
    values: FloatArray
    pane: Pane = Pane.PRICE


@dataclass(frozen=True, slots=True)
class IndicatorLevel:
    """A constant level a strategy compares an indicator with (RSI 30 and 70 ...).

    Attributes:
        name: Stable key of the level (``rsi_lower`` ...).
        value: The level, in the unit of its pane's lines.
        pane: The pane the level belongs to.
    """

    name: str
    value: float
    pane: Pane = Pane.LOWER


@dataclass(frozen=True, slots=True)
class Indicators:
    """What a strategy's rule looks at, as lines and levels a chart can draw.

    Built from the same arrays as the strategy's signals, so a chart shows exactly
    the values each decision was taken on.
    """

    lines: tuple[IndicatorLine, ...] = ()
    levels: tuple[IndicatorLevel, ...] = ()


def _schema_with_order(schema: dict[str, Any], model: type[BaseModel]) -> None:
    ordered = getattr(model, "ordered", ())
    if ordered:
        schema["x-ordered"] = [list(pair) for pair in ordered]


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model: frozen, no unknown fields.

    Cross-parameter rules of the form "``a`` must be less than ``b``" are declared as
    data in ``ordered`` (pairs ``(a, b)``), not as code: they are checked here, exported
    in the JSON Schema as ``x-ordered`` (so a form can check them too) and applied to
    whole parameter grids at once by sweeps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_schema_with_order)

    ordered: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _check_ordered(self) -> Self:
        for low, high in self.ordered:
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value >= high_value:
                raise PydanticCustomError(
                    "param_order",
                    "parameter '{low}' must be less than '{high}' "
                    "(got {low}={low_value}, {high}={high_value})",
                    {"low": low, "high": high, "low_value": low_value, "high_value": high_value},
                )
        return self


ParamsT = TypeVar("ParamsT", bound=StrategyParams)


class Strategy(ABC, Generic[ParamsT]):
    """A trading rule with typed parameters.

    Subclasses set ``name`` (registry key), ``title``, ``description`` and
    ``Params`` (a :class:`StrategyParams` model whose JSON Schema drives the API
    and the web form), and implement :meth:`signals`.

    Example:
        >>> class AlwaysLong(Strategy[StrategyParams]):
        ...     name = "always_long"
        ...     title = "Always long"
        ...     description = "Buy on the first bar and hold."
        ...     Params = StrategyParams
        ...     def signals(self, bars: Bars) -> Signals:
        ...         entries = np.zeros(len(bars), dtype=bool)
        ...         entries[0] = True
        ...         return Signals(entries, np.zeros(len(bars), dtype=bool))
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[StrategyParams]]

    def __init__(self, params: ParamsT) -> None:
        self.params = params

    @abstractmethod
    def signals(self, bars: Bars) -> Signals:
        """Return the decisions for every bar, using bars up to that bar only."""

    def warmup_bars(self) -> int:
        """Return how many bars the strategy needs before its first signal."""
        return 0

    def indicators(self, bars: Bars) -> Indicators:
        """Return the indicator lines and levels the rule decides on (none by default).

        Strategies override this to let charts show why each trade happened; the
        values must be the ones :meth:`signals` uses.
        """
        return Indicators()
