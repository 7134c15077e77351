"""The bars a compiled document is evaluated on, and the cache of what it computed.

An :class:`Evaluation` caches every series and condition under a key made of what it
is and its resolved arguments (``("sma", ("price", "close"), 10)``). A sweep keeps one
cache across parameter sets, so an indicator is computed once per distinct argument,
whatever the number of combinations that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final

import numpy as np

from privatetrade.engine.rules.numbers import ParamRef
from privatetrade.engine.strategies.base import Bars, FloatArray

__all__ = ["CACHE_BYTES", "Evaluation", "Key", "Scalar", "Values", "resolve", "whole"]

Values = Mapping[str, int | float]
"""Resolved parameter values by name."""
Scalar = int | float
Key = Hashable

CACHE_BYTES: Final = 256 * 1024 * 1024
"""Arrays an evaluation cache may hold before it is emptied (bytes)."""


class Evaluation:
    """The bars a document is evaluated on and the cache of computed arrays.

    Args:
        bars: The bars.
        cache_bytes: Emptied when the cached arrays exceed this many bytes.
    """

    def __init__(self, bars: Bars, cache_bytes: int = CACHE_BYTES) -> None:
        self.bars = bars
        self.n = len(bars)
        self._cache: dict[Key, Any] = {}
        self._cached_bytes = 0
        self._limit = cache_bytes
        self.columns: dict[str, FloatArray] = {
            "open": np.asarray(bars.open, dtype=np.float64),
            "high": np.asarray(bars.high, dtype=np.float64),
            "low": np.asarray(bars.low, dtype=np.float64),
            "close": np.asarray(bars.close, dtype=np.float64),
            "volume": np.asarray(bars.volume, dtype=np.float64),
        }

    def cached(self, key: Key, compute: Callable[[], Any]) -> Any:
        """Return the array stored under ``key``, computing and storing it if missing."""
        found = self._cache.get(key)
        if found is None:
            found = self.store(key, compute())
        return found

    def lookup(self, key: Key) -> Any:
        """Return the array stored under ``key``, or None."""
        return self._cache.get(key)

    def store(self, key: Key, value: Any) -> Any:
        """Store ``value`` under ``key`` (emptying the cache first when it is full)."""
        size = _nbytes(value)
        if self._cached_bytes + size > self._limit:
            self._cache.clear()
            self._cached_bytes = 0
        self._cache[key] = value
        self._cached_bytes += size
        return value

    def full(self, value: Scalar) -> FloatArray:
        """Return a constant series."""
        constant: FloatArray = self.cached(("full", value), lambda: np.full(self.n, float(value)))
        return constant


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(item) for item in value)
    return 0


def resolve(number: int | float | ParamRef, values: Values) -> Scalar:
    """Return a number, or the value of the parameter it refers to."""
    return values[number.name] if isinstance(number, ParamRef) else number


def whole(number: int | float | ParamRef, values: Values) -> int:
    """Return :func:`resolve` as a whole number (periods, bar counts)."""
    return int(resolve(number, values))
