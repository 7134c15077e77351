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

import contextlib
import datetime as dt
import importlib
import importlib.util
import logging
import re
import threading
import time
import urllib.error
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError, InputError, ProviderError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BAR_COLUMNS",
    "HttpAnswer",
    "HttpLog",
    "Provider",
    "available_providers",
    "call_library",
    "describe_request",
    "finish_bars",
    "import_library",
    "is_krx_code",
    "is_transient_exception",
    "observe_library",
    "provider_for",
    "with_retries",
]

T = TypeVar("T")
_log = logging.getLogger(__name__)

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
_SESSION_TOKEN = re.compile(r"(crumb=)[^&\s'\"]+")  # Yahoo's, in URLs of error messages
_KRX_CODE = re.compile(r"\d{4}[0-9A-HJ-NP-TV-Z][0-9KLMN]")  # alphanumeric since 2024
_TRANSIENT_NAMES = frozenset(
    {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "ChunkedEncodingError"}
    | {"RemoteDisconnected", "IncompleteRead", "YFRateLimitError"}
)
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
                error = ProviderError(f"the connection failed: {_describe(exc)}", transient=True)
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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _http_error(exc: BaseException) -> tuple[int, str] | None:
    """Return (status, URL without query) of the first HTTP error in the chain."""
    for link in _chain(exc):
        if isinstance(link, urllib.error.HTTPError):
            return int(link.code), str(link.filename).split("?", 1)[0]
        response = getattr(link, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return status, str(getattr(response, "url", "")).split("?", 1)[0]
    return None


def _transient_status(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


def is_transient_exception(exc: BaseException) -> bool:
    """Return True for a timeout, a dropped connection or an HTTP 5xx/408/429 error."""
    error = _http_error(exc)
    if error is not None:
        return _transient_status(error[0])
    return any(
        isinstance(link, TimeoutError | ConnectionError | urllib.error.URLError)
        or any(cls.__name__ in _TRANSIENT_NAMES for cls in type(link).__mro__)
        for link in _chain(exc)
    )


def _describe(exc: BaseException) -> str:
    text = _SESSION_TOKEN.sub(r"\1...", " ".join(str(exc).split()))[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """One answer a library received (URL without query); status 0: no connection."""

    method: str
    url: str
    status: int
    excerpt: str  # error answers: the start of the body, tags stripped


@dataclass
class HttpLog:
    """The HTTP answers received during one library call."""

    answers: list[HttpAnswer] = field(default_factory=list)

    def record(self, method: str, response: Any) -> Any:
        """Remember ``response`` and return it unchanged."""
        status = int(getattr(response, "status_code", 0) or 0)
        text = str(getattr(response, "text", "")) if status >= 400 else ""
        excerpt = " ".join(re.sub(r"<[^>]*>", " ", text).split())[:200]
        url = str(getattr(response, "url", "")).split("?", 1)[0]
        self.answers.append(HttpAnswer(method, url, status, excerpt))
        return response

    def record_exception(self, method: str, url: str, exc: BaseException) -> None:
        """Remember a request that could not connect or timed out (others raise anyway)."""
        if is_transient_exception(exc):
            self.answers.append(HttpAnswer(method, url.split("?", 1)[0], 0, _describe(exc)))

    def failure(
        self, provider: str, what: str, explain: Callable[[HttpAnswer], str] | None = None
    ) -> ProviderError | None:
        """Return the error the answers show (transient ones first), or None."""
        failed = [answer for answer in self.answers if answer.status == 0 or answer.status >= 400]
        failed.sort(key=lambda answer: not (answer.status == 0 or _transient_status(answer.status)))
        return _http_failure(provider, what, failed[0], explain) if failed else None


def _http_failure(
    provider: str, what: str, answer: HttpAnswer, explain: Callable[[HttpAnswer], str] | None
) -> ProviderError:
    if answer.status == 0:
        reason = f"the connection to {answer.url} failed ({answer.excerpt}) while fetching {what}"
        return ProviderError(f"{provider}: {reason}", transient=True)
    said = f" ({answer.excerpt!r})" if answer.excerpt else ""
    message = f"{provider}: {answer.url} answered HTTP {answer.status}{said} while fetching {what}"
    if _transient_status(answer.status):
        return ProviderError(f"{message}; the service is busy or down, try later", transient=True)
    advice = explain(answer) if explain is not None else ""
    return ProviderError(message + (f"; {advice}" if advice else ""))


class _RecordingRequests:
    """Stand-in for the ``requests`` module: records answers, bounds waits, delegates."""

    def __init__(self, real: Any, log: HttpLog, timeout: float) -> None:
        self._real, self._log, self._timeout = real, log, timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _send(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        try:
            response = getattr(self._real, method.lower())(url, *args, **kwargs)
        except Exception as exc:
            self._log.record_exception(method, str(url), exc)
            raise
        return self._log.record(method, response)

    def get(self, url: str, *args: Any, **kwargs: Any) -> Any:
        return self._send("GET", url, *args, **kwargs)

    def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        return self._send("POST", url, *args, **kwargs)


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def observe_library(*modules: ModuleType, timeout: float = 30.0) -> Iterator[HttpLog]:
    """Record the HTTP answers that requests-based library modules receive.

    Some libraries turn an HTTP 500 or an HTML error page into an empty frame (and a
    ``print``). To report what happened, each module's global ``requests`` is pointed,
    for the block, at a stand-in that records every answer, gives requests made without
    a timeout ``timeout`` seconds, and delegates the rest to the real module. The swap
    is process-wide, so blocks are serialized by a lock.

    Yields:
        The log of answers.
    """
    log = HttpLog()
    with _PATCH_LOCK:
        patched = [(module, module.requests) for module in modules if hasattr(module, "requests")]
        try:
            for module, real in patched:
                setattr(module, "requests", _RecordingRequests(real, log, timeout))  # noqa: B010
            yield log
        finally:
            for module, real in patched:
                setattr(module, "requests", real)  # noqa: B010


def _translate(
    exc: Exception, provider: str, what: str, failure: ProviderError | None
) -> Exception:
    if isinstance(exc, ProviderError):
        return exc
    if failure is not None:
        return failure
    error = _http_error(exc)
    if error is not None:
        return _http_failure(provider, what, HttpAnswer("GET", error[1], error[0], ""), None)
    if is_transient_exception(exc):
        reason = f"the connection failed while fetching {what}: {_describe(exc)}"
        return ProviderError(f"{provider}: {reason}", transient=True)
    return ProviderError(f"{provider} could not read the answer for {what}: {_describe(exc)}")


def _is_empty(result: object) -> bool:
    empty = getattr(result, "empty", None)
    if isinstance(empty, bool):
        return empty
    return result is None or (isinstance(result, list | tuple | dict | str) and not result)


def call_library(
    fetch: Callable[[], T],
    *,
    provider: str,
    what: str,
    modules: tuple[ModuleType, ...] = (),
    log: HttpLog | None = None,
    explain: Callable[[HttpAnswer], str] | None = None,
    empty_hint: str = "",
) -> T:
    """Make one library call; turn every way it can fail into :class:`ProviderError`.

    Args:
        fetch: The library call.
        provider: Provider name, for messages.
        what: What is fetched, for messages.
        modules: Library modules to watch with :func:`observe_library`.
        log: A log filled elsewhere (a recording session), instead of ``modules``'.
        explain: Advice for a 4xx answer.
        empty_hint: Appended to the message for an empty answer.

    Returns:
        The non-empty result.

    Raises:
        ProviderError: The call raised, or the result is empty (the message then says
            which HTTP error, if any, left it empty; 5xx/429 are transient).
    """
    with observe_library(*modules) as observed:
        seen = log if log is not None else observed
        try:
            result = fetch()
        except Exception as exc:
            error = _translate(exc, provider, what, seen.failure(provider, what, explain))
            if error is exc:
                raise
            raise error from exc
    if not _is_empty(result):
        return result
    failure = seen.failure(provider, what, explain)
    if failure is not None:
        raise failure
    raise ProviderError(f"{provider} returned nothing for {what}{empty_hint}")


def describe_request(code: str, start: dt.date | None, end: dt.date | None) -> str:
    """Return e.g. ``daily bars of 005930 from 2024-01-02 to 2024-01-08``."""
    first = start.isoformat() if start is not None else "the first day"
    return f"daily bars of {code} from {first} to {end.isoformat() if end else 'the latest day'}"


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
