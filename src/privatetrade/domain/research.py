"""What a user asks for in research: parameter optimization (``sweep``) and walk-forward runs.

Both extend :class:`~privatetrade.domain.specs.BacktestSpec`: the symbol, dates, costs,
sizing, stops, capital and benchmark are a backtest's, ``params`` holds the parameters
kept fixed, and ``space`` the ones searched.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from privatetrade.domain.specs import BacktestSpec, ParamName, ParamValue
from privatetrade.engine.limits import MAX_PARAM_MAGNITUDE

__all__ = [
    "MAX_SAMPLES",
    "MAX_SEARCHED_PARAMS",
    "OBJECTIVES",
    "Method",
    "Objective",
    "ParamRange",
    "SearchAxis",
    "SweepSpec",
    "WalkForwardSpec",
    "WindowLength",
    "parse_axis",
]

MAX_SEARCHED_PARAMS = 8
MAX_CHOICES = 1_000
MAX_SAMPLES = 1_000_000
Objective = Literal[
    "sharpe",
    "cagr",
    "sortino",
    "calmar",
    "profit_factor",
    "total_return",
    "max_drawdown",
    "return_over_drawdown",
]
OBJECTIVES: tuple[str, ...] = get_args(Objective)
Method = Literal["grid", "random", "tpe"]
Bound = Annotated[
    float, Field(ge=-MAX_PARAM_MAGNITUDE, le=MAX_PARAM_MAGNITUDE, allow_inf_nan=False)
]


class ParamRange(BaseModel):
    """Values ``start, start + step, ...`` up to and including ``stop`` (``5:50:1``).

    Integers when all three are whole numbers, else floats (rounded to the step's
    decimals, so ``0.1:0.5:0.1`` gives 0.1, 0.2, ... 0.5 exactly).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: Bound
    stop: Bound
    step: Annotated[float, Field(gt=0, le=MAX_PARAM_MAGNITUDE, allow_inf_nan=False)] = 1

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.stop < self.start:
            raise PydanticCustomError("range_stop_below_start", "stop must not be below start")
        if (self.stop - self.start) / self.step > MAX_CHOICES:
            raise PydanticCustomError(
                "too_many_values",
                "more than {max} values; use a larger step",
                {"max": f"{MAX_CHOICES:,}"},
            )
        return self

    @property
    def integral(self) -> bool:
        """True when every value is a whole number."""
        return all(float(v).is_integer() for v in (self.start, self.stop, self.step))

    def values(self) -> list[int] | list[float]:
        """Return the values of the range, in order."""
        count = int((self.stop - self.start) / self.step + 1e-9) + 1
        if self.integral:
            return [int(self.start) + i * int(self.step) for i in range(count)]
        decimals = max(_decimals(self.start), _decimals(self.step))
        return [round(self.start + i * self.step, decimals) for i in range(count)]

    def text(self) -> str:
        """The ``start:stop:step`` form."""
        return f"{_number(self.start)}:{_number(self.stop)}:{_number(self.step)}"


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text else len(text.split(".")[1].rstrip("0"))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


SearchAxis = ParamRange | Annotated[list[ParamValue], Field(min_length=1, max_length=MAX_CHOICES)]

_RANGE_TEXT = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")


def parse_axis(text: str) -> SearchAxis:
    """Parse ``start:stop[:step]`` or comma-separated choices (``5,10,20``, ``true,false``).

    Raises:
        ValueError: Not a range or a list of values.
    """
    match = _RANGE_TEXT.match(text)
    if match:
        start, stop, step = match.groups()
        return ParamRange(start=float(start), stop=float(stop), step=float(step or 1))
    choices = [_choice(part.strip()) for part in text.split(",") if part.strip()]
    if not choices:
        raise ValueError("give start:stop:step or comma-separated values")
    return choices


def _choice(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


class SweepSpec(BacktestSpec):
    """A parameter optimization: a backtest's settings, a search space, a method and a goal.

    Attributes:
        space: Values searched per parameter: a range or a list of choices. Empty:
            a default grid from the strategy's declared parameter bounds.
        method: ``grid`` (every combination), ``random`` (``samples`` combinations
            drawn with ``seed``) or ``tpe`` (Optuna's TPE sampler, ``samples`` trials).
        samples: Combinations drawn (random) or trials run (tpe); 100 when None.
        seed: Seed of random and tpe: the same spec gives the same result.
        objective: Metric to maximize (``max_drawdown``: the shallowest drawdown).
        min_trades: Combinations with fewer trades are not eligible as the best.
        top: Rows of the top-combinations table kept in the result document.
    """

    space: dict[ParamName, SearchAxis] = Field(default_factory=dict, max_length=MAX_SEARCHED_PARAMS)
    method: Method = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    objective: Objective = "sharpe"
    min_trades: Annotated[int, Field(ge=0, le=100_000)] = 1
    top: Annotated[int, Field(ge=1, le=200)] = 20

    @model_validator(mode="after")
    def _space_apart_from_params(self) -> Self:
        both = sorted(set(self.space) & set(self.params))
        if both:
            raise PydanticCustomError(
                "param_fixed_and_searched",
                "parameter '{param}' is both fixed (params) and searched (space)",
                {"param": both[0]},
            )
        return self

    def backtest_spec(self, params: dict[str, Any] | None = None) -> BacktestSpec:
        """The plain backtest of one combination (fixed parameters plus ``params``)."""
        values = BacktestSpec.model_fields
        data = {name: getattr(self, name) for name in values}
        data["params"] = {**self.params, **(params or {})}
        return BacktestSpec(**data)


WINDOW_UNITS = {"m": "months", "b": "bars"}
_WINDOW_TEXT = re.compile(r"^([1-9][0-9]{0,5})([mb])$")


class WindowLength(BaseModel):
    """A window length: ``count`` calendar months or bars (``24m``, ``500b``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: Annotated[int, Field(ge=1, le=100_000)]
    unit: Literal["months", "bars"]

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _WINDOW_TEXT.match(value.strip().lower())
            if match is None:
                raise PydanticCustomError(
                    "window_text", "use a number of months or bars: 24m, 500b"
                )
            return {"count": int(match.group(1)), "unit": WINDOW_UNITS[match.group(2)]}
        return value

    def text(self) -> str:
        """The short form (``24m``)."""
        return f"{self.count}{self.unit[0]}"


class WalkForwardSpec(SweepSpec):
    """A walk-forward analysis: optimize on each in-sample window, trade the next one.

    Attributes:
        in_sample: Length of each in-sample (optimization) window.
        out_of_sample: Length of each out-of-sample (trading) window.
        step: How far each window moves on; ``out_of_sample`` when None (the
            out-of-sample pieces then tile the period without gaps or overlaps).
        anchored: True: every in-sample window starts at the first bar (it grows);
            False: it rolls (fixed length).
    """

    in_sample: WindowLength = Field(default_factory=lambda: WindowLength(count=24, unit="months"))
    out_of_sample: WindowLength = Field(
        default_factory=lambda: WindowLength(count=6, unit="months")
    )
    step: WindowLength | None = None
    anchored: bool = False

    @model_validator(mode="after")
    def _step_fits(self) -> Self:
        step = self.step or self.out_of_sample
        if step.unit != self.out_of_sample.unit:
            raise PydanticCustomError(
                "step_unit_mismatch", "step and out_of_sample must use the same unit"
            )
        if step.count < self.out_of_sample.count:
            raise PydanticCustomError(
                "step_shorter_than_window",
                "step must not be shorter than out_of_sample (windows would overlap)",
            )
        return self
