"""The provider contract, retries with backoff, and what every provider shares.

A provider wraps one optional library (extras ``privatetrade[fdr]``, ``[pykrx]``,
``[yfinance]``), imported inside its methods, and turns the library's answers into
validated daily bars or :class:`~privatetrade.data.symbols.SymbolInfo` lists. Every
failure is a :class:`~privatetrade.errors.ProviderError`: ``transient=True`` for
timeouts, dropped connections and HTTP 5xx/408/429 (retried by :func:`with_retries`),
``transient=False`` for what a retry cannot fix (unknown symbol, other 4xx, an empty or
malformed answer, bad bars).

Example:
    >>> from privatetrade.data.providers.base import provider_for
    >>> bars = provider_for("fdr").daily_bars("005930", None, None, adjusted=True)  # doctest: +SKIP
    >>> list(bars.columns)  # doctest: +SKIP
    ['open', 'high', 'low', 'close', 'volume']
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import logging
import re
import time
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypedDict, TypeVar, runtime_checkable

from privatetrade.data.providers.calls import (
    describe_exception,
    describe_request,
    is_transient_exception,
)
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError, InputError, ProviderError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BAR_COLUMNS",
    "LibraryProvider",
    "Provider",
    "RetryOptions",
    "available_providers",
    "finish_bars",
    "import_library",
    "is_krx_code",
    "provider_for",
    "with_retries",
]

T = TypeVar("T")
_log = logging.getLogger(__name__)

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
_KRX_CODE = re.compile(r"\d{4}[0-9A-HJ-NP-TV-Z][0-9KLMN]")  # alphanumeric since 2024
# name -> (module, class, library, extra)
_REGISTRY: Mapping[str, tuple[str, str, str, str]] = {
    "fdr": ("fdr", "FinanceDataReaderProvider", "FinanceDataReader", "fdr"),
    "pykrx": ("krx", "PykrxProvider", "pykrx", "pykrx"),
    "yfinance": ("yahoo", "YahooProvider", "yfinance", "yfinance"),
}
_ALIASES: Mapping[str, str] = {"financedatareader": "fdr", "krx": "pykrx", "yahoo": "yfinance"}


@runtime_checkable
class Provider(Protocol):
    """A source of symbol listings and daily bars."""

    name: str

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return the symbols of ``market`` (None: the provider's main markets).

        Raises:
            ProviderError: No listing for that market here, or the provider failed.
        """
        ...

    def daily_bars(
        self, code: str, start: dt.date | None, end: dt.date | None, *, adjusted: bool
    ) -> pd.DataFrame:
        """Return validated daily bars of ``code`` from ``start`` to ``end``, inclusive.

        Columns open, high, low, close, volume (float); a sorted tz-aware DatetimeIndex
        named ``time`` in the exchange's zone. None dates mean "as far as available".

        Raises:
            ProviderError: Nothing came back, or a malformed answer, or bad bars.
        """
        ...


def _installed(library: str) -> bool:
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):  # ValueError: blocked with sys.modules[name] = None
        return False


def available_providers() -> list[str]:
    """Return the names of the providers whose library is installed, sorted."""
    return sorted(name for name, entry in _REGISTRY.items() if _installed(entry[2]))


def provider_for(name: str) -> Provider:
    """Return a new provider: ``fdr``, ``pykrx`` or ``yfinance`` (aliases ``krx``, ``yahoo``).

    Raises:
        InputError: No provider has that name.
        ProviderError: Its library is not installed (the message names the extra).
    """
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in _REGISTRY:
        choices = ", ".join(sorted(_REGISTRY))
        raise InputError(
            f"unknown data provider {name!r}: choose one of {choices}", field="provider"
        )
    module, cls, library, extra = _REGISTRY[key]
    if not _installed(library):
        raise _missing(library, extra)
    provider: Provider = getattr(importlib.import_module(f"{__package__}.{module}"), cls)()
    return provider


def _missing(library: str, extra: str) -> ProviderError:
    return ProviderError(
        f"the {extra} provider needs the {library} package: "
        f"install privatetrade[{extra}] (pip install 'privatetrade[{extra}]')"
    )


def import_library(library: str, extra: str) -> ModuleType:
    """Import an optional provider library, or raise ProviderError naming its extra."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")  # pykrx 1.0
            return importlib.import_module(library)
    except ImportError as exc:
        raise _missing(library, extra) from exc


def is_krx_code(code: str) -> bool:
    """Return True for a six-character KRX short code such as ``005930`` or ``0126Z0``."""
    return _KRX_CODE.fullmatch(code) is not None


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 3,
    base_delay: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``call``, retrying transient failures after ``base_delay * 2**k`` seconds.

    Transient failures are :class:`ProviderError` with ``transient=True`` and the
    libraries' connection/timeout errors (converted to such an error); anything else
    is raised at once.

    Args:
        call: The operation.
        attempts: Tries in all (at least 1).
        base_delay: Seconds before the second try; doubled before each next one.
        sleep: Waits the given seconds (tests inject a recorder).

    Returns:
        What ``call`` returned.

    Raises:
        ProviderError: The first non-transient one, or the last transient one once
            every attempt failed.
    """
    if attempts < 1:
        raise InputError("attempts must be at least 1", field="attempts")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if isinstance(exc, ProviderError):
                error = exc if exc.transient else None
            elif is_transient_exception(exc):
                error = ProviderError(
                    f"the connection failed: {describe_exception(exc)}", transient=True
                )
            else:
                error = None
            if error is None:
                raise
            if attempt == attempts:
                tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
                raise ProviderError(f"{error} (gave up after {tries})", transient=True) from exc
            delay = base_delay * 2 ** (attempt - 1)
            _log.warning("provider.retry attempt=%d delay=%.2fs reason=%s", attempt, delay, error)
            sleep(delay)
    raise ProviderError("no attempt was made")  # unreachable: attempts >= 1


def finish_bars(
    frame: Any,
    *,
    provider: str,
    code: str,
    tz: str | None,
    columns: Mapping[str, str],
    start: dt.date | None,
    end: dt.date | None,
) -> pd.DataFrame:
    """Turn a library's daily frame into validated bars (see :meth:`Provider.daily_bars`).

    Args:
        frame: The library's answer, indexed by date.
        provider: Provider name, for messages.
        code: The symbol, for messages.
        tz: Exchange zone of a naive index (None: keep the index's own zone).
        columns: Library column name -> open, high, low, close or volume.
        start: First date kept, or None.
        end: Last date kept, or None.

    Raises:
        ProviderError: Empty (in the range), a column missing, or a bad bar (named by
            its row and time, with ``row`` set).
    """
    import numpy as np
    import pandas as pd

    from privatetrade.engine.bars import prepare_bars

    what = describe_request(code, start, end)
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ProviderError(f"{provider} returned no {what}")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        got = ", ".join(map(str, frame.columns))
        raise ProviderError(
            f"{provider} sent a malformed answer for {what}: "
            f"no column {', '.join(missing)} (columns: {got})"
        )
    try:
        index = pd.DatetimeIndex(frame.index)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"{provider} sent a malformed answer for {what}: {exc}") from exc
    if index.tz is None and tz is None:
        raise ProviderError(f"{provider} sent {what} without a time zone")
    index = index.tz_localize(tz) if index.tz is None else index.tz_convert(tz or index.tz)
    data = {
        target: pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
        for name, target in columns.items()
    }
    bars = pd.DataFrame(data, index=index)[list(BAR_COLUMNS)].sort_index(kind="stable")
    bars.index.name = "time"
    days = pd.DatetimeIndex(bars.index).tz_localize(None).normalize()
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= days >= pd.Timestamp(start)
    if end is not None:
        keep &= days <= pd.Timestamp(end)
    bars = bars[keep]
    if bars.empty:
        raise ProviderError(f"{provider} returned no {what} (no trading day in the range)")
    try:
        prepare_bars(bars)
    except DataError as exc:
        error = ProviderError(f"{provider} sent bad {what}: {exc}")
        error.row = exc.row
        raise error from exc
    return bars


class RetryOptions(TypedDict, total=False):
    """How a provider retries a failed request (see :func:`with_retries`)."""

    attempts: int
    base_delay: float
    sleep: Callable[[float], None]


class LibraryProvider:
    """Base of the providers: retries with backoff, and bars finished one way.

    Subclasses set ``name`` and ``columns`` (the library's column names ->
    open, high, low, close, volume) and implement ``listing`` and ``daily_bars``.

    Args:
        attempts: Tries per request, see :func:`with_retries`.
        base_delay: Seconds before the first retry.
        sleep: Waits between retries (injected by tests).
    """

    name: str
    columns: ClassVar[Mapping[str, str]]

    def __init__(
        self,
        *,
        attempts: int = 3,
        base_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def _retried(self, call: Callable[[], T]) -> T:
        """Call ``call`` with this provider's retries."""
        return with_retries(
            call, attempts=self._attempts, base_delay=self._base_delay, sleep=self._sleep
        )

    def _finished(
        self, frame: Any, code: str, start: dt.date | None, end: dt.date | None, tz: str | None
    ) -> pd.DataFrame:
        """Return the library's ``frame`` as validated bars (see :func:`finish_bars`)."""
        return finish_bars(
            frame, provider=self.name, code=code, tz=tz, columns=self.columns, start=start, end=end
        )
