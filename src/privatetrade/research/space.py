"""Search spaces: the values tried per parameter, and the combinations a method draws.

A combination is a row of *codes*: the index of each searched parameter's value in
its axis. Tables of codes (``int32``, one row per combination) stay small however
many combinations run, and every method (grid, random, TPE) works on them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from annotated_types import Ge, Gt, Le, Lt
from pydantic import TypeAdapter, ValidationError

from privatetrade.domain.research import ParamRange, SearchAxis
from privatetrade.engine.strategies.base import Strategy, StrategyParams
from privatetrade.engine.strategies.registry import parse_error_message
from privatetrade.errors import ParameterError

__all__ = ["DEFAULT_AXIS_POINTS", "Codes", "SearchSpace", "build_space", "default_axes"]

Codes = npt.NDArray[np.int32]
DEFAULT_AXIS_POINTS = 8
_RANDOM_TRIES_PER_SAMPLE = 50


@dataclass(frozen=True)
class SearchSpace:
    """The searched parameters of one strategy, the values tried, and the fixed ones.

    Attributes:
        strategy: The strategy class.
        axes: Validated values per searched parameter, in search order.
        fixed: Parameters kept at one value (the strategy's defaults fill the rest).
        defaulted: True when the axes came from the strategy's declared bounds.
    """

    strategy: type[Strategy[Any]]
    axes: dict[str, list[Any]]
    fixed: dict[str, Any]
    defaulted: bool = False

    @property
    def names(self) -> list[str]:
        """Searched parameter names, in axis order."""
        return list(self.axes)

    def grid_size(self) -> int:
        """Combinations of the full grid, before the strategy's rules."""
        return math.prod(len(values) for values in self.axes.values())

    def params(self, codes: Sequence[int] | npt.NDArray[np.integer[Any]]) -> dict[str, Any]:
        """Return the complete parameters of one combination (defaults, fixed, searched)."""
        values = dict(self._defaults)
        values.update(self.fixed)
        for name, code in zip(self.axes, codes, strict=True):
            values[name] = self.axes[name][int(code)]
        return values

    def searched(self, codes: Sequence[int] | npt.NDArray[np.integer[Any]]) -> dict[str, Any]:
        """Return only the searched parameters of one combination."""
        return {name: self.axes[name][int(c)] for name, c in zip(self.axes, codes, strict=True)}

    def valid(self, codes: Codes) -> npt.NDArray[np.bool_]:
        """Return which combinations (rows of codes) the strategy's rules accept."""
        if len(codes) == 0:
            return np.zeros(0, dtype=np.bool_)
        if not self._declarative:
            return np.array([self._valid_one(row) for row in codes], dtype=np.bool_)
        keep = np.ones(len(codes), dtype=np.bool_)
        for low, high in self.strategy.Params.ordered:
            keep &= self._column(codes, low) < self._column(codes, high)
        return keep

    def grid(self) -> Codes:
        """Return every valid combination of the grid, in axis order (last axis fastest)."""
        shape = [len(values) for values in self.axes.values()]
        codes = np.indices(shape, dtype=np.int32).reshape(len(shape), -1).T
        return np.ascontiguousarray(codes[self.valid(codes)])

    def count_grid(self, cap: int) -> int:
        """Return the valid grid's size, or a number above ``cap`` without enumerating it all."""
        size = self.grid_size()
        if size > 4 * cap:
            return size
        return int(self.valid_count())

    def valid_count(self) -> int:
        """Return how many combinations of the grid the strategy's rules accept."""
        return len(self.grid())

    def sample(self, count: int, seed: int) -> Codes:
        """Draw ``count`` distinct valid combinations (all of them when fewer exist).

        Deterministic for a seed: uniform over the grid, rejecting invalid ones.
        """
        size = self.grid_size()
        if size <= 4 * count:
            everything = self.grid()
            if len(everything) <= count:
                return everything
            rng = np.random.default_rng(seed)
            chosen = np.sort(rng.choice(len(everything), size=count, replace=False))
            return np.ascontiguousarray(everything[chosen])
        return self._sample_sparse(count, seed)

    def _sample_sparse(self, count: int, seed: int) -> Codes:
        rng = np.random.default_rng(seed)
        lengths = np.array([len(values) for values in self.axes.values()], dtype=np.int64)
        seen: set[tuple[int, ...]] = set()
        rows: list[tuple[int, ...]] = []
        for _ in range(_RANDOM_TRIES_PER_SAMPLE):
            batch = (rng.random((2 * count, len(lengths))) * lengths).astype(np.int32)
            batch = batch[self.valid(batch)]
            for row in map(tuple, batch.tolist()):
                if row not in seen:
                    seen.add(row)
                    rows.append(row)
                    if len(rows) == count:
                        return np.array(rows, dtype=np.int32)
        if not rows:
            raise ParameterError(
                "the search space holds no valid combination",
                field="space",
                code="no_valid_combination",
            )
        return np.array(rows, dtype=np.int32)

    def describe(self) -> dict[str, Any]:
        """The axes and fixed parameters as JSON-ready data."""
        return {
            "axes": {name: list(values) for name, values in self.axes.items()},
            "fixed": dict(self.fixed),
            "defaulted": self.defaulted,
        }

    @functools.cached_property
    def _defaults(self) -> dict[str, Any]:
        return dict(self.strategy.Params.model_construct().__dict__)

    @functools.cached_property
    def _declarative(self) -> bool:
        decorators = self.strategy.Params.__pydantic_decorators__
        numeric = all(
            all(_is_number(v) for v in self.axes.get(name, []))
            for pair in self._pairs
            for name in pair
        )
        return (
            set(decorators.model_validators) <= {"_check_ordered"}
            and not decorators.field_validators
            and numeric
        )

    @property
    def _pairs(self) -> tuple[tuple[str, str], ...]:
        return self.strategy.Params.ordered

    def _column(self, codes: Codes, name: str) -> npt.NDArray[np.float64]:
        if name in self.axes:
            lookup = np.array(self.axes[name], dtype=np.float64)
            return lookup[codes[:, self.names.index(name)]]
        value: Any = self.fixed.get(name, self._defaults.get(name))
        return np.full(len(codes), float(value))

    def _valid_one(self, codes: npt.NDArray[np.int32]) -> bool:
        try:
            self.strategy.Params.model_validate(self.params(codes))
        except ValidationError:
            return False
        return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def build_space(
    strategy: type[Strategy[Any]],
    space: Mapping[str, SearchAxis | Sequence[Any] | range],
    fixed: Mapping[str, Any] | None = None,
) -> SearchSpace:
    """Check a search space against the strategy's parameters and return it.

    An empty ``space`` searches the default grid (:func:`default_axes`) of every
    parameter not fixed.

    Raises:
        ParameterError: Unknown parameter, a value outside the parameter's bounds
            (``field`` is ``space.<name>`` or ``params.<name>``), or no valid combination.
    """
    model = strategy.Params
    fixed_values = dict(fixed or {})
    for name, value in fixed_values.items():
        fixed_values[name] = _validated(model, name, [value], f"params.{name}")[0]
    defaulted = not space
    axes_input: Mapping[str, Any] = space or {
        name: values for name, values in default_axes(strategy).items() if name not in fixed_values
    }
    if not axes_input:
        raise ParameterError(
            f"{strategy.name} has no parameter to search", field="space", code="nothing_to_search"
        )
    axes: dict[str, list[Any]] = {}
    for name, axis in axes_input.items():
        values = axis.values() if isinstance(axis, ParamRange) else list(axis)
        if not values:
            raise ParameterError(
                f"no values to try for {name!r}", field=f"space.{name}", code="no_values"
            )
        checked = _validated(model, name, values, f"space.{name}")
        axes[name] = list(dict.fromkeys(checked))
    result = SearchSpace(strategy, axes, fixed_values, defaulted)
    _require_some_valid(result)
    return result


def _validated(
    model: type[StrategyParams], name: str, values: Iterable[Any], field: str
) -> list[Any]:
    if name not in model.model_fields:
        known = ", ".join(sorted(model.model_fields)) or "none"
        raise ParameterError(f"unknown parameter {name!r}; known: {known}", field=field)
    adapter = _field_adapter(model, name)
    checked = []
    for value in values:
        try:
            checked.append(adapter.validate_python(value))
        except ValidationError as exc:
            detail = exc.errors()[0].get("msg", "invalid value")
            raise ParameterError(f"{name}={value!r}: {detail}", field=field) from exc
    return checked


@functools.lru_cache(maxsize=256)
def _field_adapter(model: type[StrategyParams], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    annotation: Any = Annotated.__class_getitem__((field.annotation, *field.metadata))  # type: ignore[attr-defined]
    return TypeAdapter(annotation)


def _require_some_valid(space: SearchSpace) -> None:
    probe = space.sample(1, 0)
    if len(probe) == 0:
        names = list(space.axes)
        first = {name: space.axes[name][0] for name in names}
        reason = ""
        try:
            space.strategy.Params.model_validate(space.params([0] * len(names)))
        except ValidationError as exc:
            reason = f": {parse_error_message(exc, space.strategy.Params)}"
        raise ParameterError(
            f"the search space holds no valid combination (e.g. {first}){reason}",
            field="space",
            code="no_valid_combination",
        )


def default_axes(strategy: type[Strategy[Any]]) -> dict[str, list[Any]]:
    """A default grid from each parameter's declared bounds and default.

    Numbers get up to :data:`DEFAULT_AXIS_POINTS` values around the default, clipped to
    the declared bounds: whole numbers (windows) from a quarter of the default to four
    times it in geometric steps, real numbers from half to twice it in even steps (a
    quarter of the declared range either side of a default of zero); booleans both
    values; other parameters stay at their defaults.
    """
    axes: dict[str, list[Any]] = {}
    for name, field in strategy.Params.model_fields.items():
        low, high = _bounds(field.metadata)
        default = field.default
        if isinstance(default, bool):
            axes[name] = [False, True]
        elif _is_number(default) and low is not None and high is not None:
            values = _spread(float(default), low, high, integral=isinstance(default, int))
            if len(values) > 1:
                axes[name] = values
    return axes


def _bounds(metadata: Sequence[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        bound: Any
        if isinstance(item, Ge | Gt):
            bound = item.ge if isinstance(item, Ge) else item.gt
            low = float(bound)
        elif isinstance(item, Le | Lt):
            bound = item.le if isinstance(item, Le) else item.lt
            high = float(bound)
    return low, high


def _spread(default: float, low: float, high: float, *, integral: bool) -> list[Any]:
    factor = 4 if integral else 2
    if default > 0:
        start, stop = max(low, default / factor), min(high, default * factor)
    else:
        span = (high - low) / 4
        start, stop = max(low, default - span), min(high, default + span)
    if integral and start > 0 and stop / start >= 4:
        points = np.geomspace(start, stop, DEFAULT_AXIS_POINTS)
    else:
        points = np.linspace(start, stop, DEFAULT_AXIS_POINTS)
    if integral:
        return sorted({round(p) for p in points})
    return sorted({float(f"{p:.4g}") for p in points})
