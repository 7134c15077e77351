"""The provider contract, retries with backoff, and what every provider shares.

A provider wraps one optional market-data library (the extras ``privatetrade[fdr]``,
``privatetrade[pykrx]`` and ``privatetrade[yfinance]``) and turns its answers into
validated daily bars or :class:`~privatetrade.data.symbols.SymbolInfo` lists. The
library is imported inside the provider's methods, so ``privatetrade`` works without
any extra installed.

Every failure reaches the caller as :class:`~privatetrade.errors.ProviderError`:
``transient=True`` for timeouts, dropped connections, HTTP 5xx, 408 and 429 (retried by
:func:`with_retries`), ``transient=False`` for what a retry cannot fix: an unknown
symbol, any other 4xx answer, an empty or malformed answer, bad bars.

Example:
    >>> from privatetrade.data.providers.base import available_providers, provider_for
    >>> "fdr" in available_providers()  # doctest: +SKIP
    True
    >>> bars = provider_for("fdr").daily_bars("005930", None, None, adjusted=True)  # doctest: +SKIP
    >>> list(bars.columns)  # doctest: +SKIP
    ['open', 'high', 'low', 'close', 'volume']
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.util
import io
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
    "finish_bars",
    "import_library",
    "is_krx_code",
    "is_transient_exception",
    "observe_library",
    "provider_for",
    "translate_error",
    "with_retries",
]

T = TypeVar("T")
_log = logging.getLogger(__name__)

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
# KRX short codes: six characters, alphanumeric since the 2024 code reform (e.g. 0126Z0).
_KRX_CODE = re.compile(r"\d{4}[0-9A-HJ-NP-TV-Z][0-9KLMN]")
_TRANSIENT_STATUS = frozenset({408, 425, 429})
_TRANSIENT_NAMES = frozenset(
    {
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "ChunkedEncodingError",
        "RemoteDisconnected",
        "IncompleteRead",
        "YFRateLimitError",
    }
)


@runtime_checkable
class Provider(Protocol):
    """A source of symbol listings and daily bars."""

    name: str

    def listing(self, market: Market | None = None) -> list[SymbolInfo]:
        """Return the symbols listed on ``market`` (the provider's main markets if None).

        Raises:
            ProviderError: The provider has no listing for the market, or failed.
        """
        ...

    def daily_bars(
        self, code: str, start: dt.date | None, end: dt.date | None, *, adjusted: bool
    ) -> pd.DataFrame:
        """Return validated daily bars of ``code`` from ``start`` to ``end`` (inclusive).

        The frame has float columns open, high, low, close and volume and a sorted,
        tz-aware DatetimeIndex named ``time`` in the exchange's time zone.

        Raises:
            ProviderError: Nothing came back, the answer was malformed or held bad bars.
        """
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    module: str
    cls: str
    library: str
    extra: str


_REGISTRY: Mapping[str, _Entry] = {
    "fdr": _Entry(
        "privatetrade.data.providers.fdr", "FinanceDataReaderProvider", "FinanceDataReader", "fdr"
    ),
    "pykrx": _Entry("privatetrade.data.providers.krx", "PykrxProvider", "pykrx", "pykrx"),
    "yfinance": _Entry(
        "privatetrade.data.providers.yahoo", "YahooProvider", "yfinance", "yfinance"
    ),
}
_ALIASES: Mapping[str, str] = {"financedatareader": "fdr", "krx": "pykrx", "yahoo": "yfinance"}


def _installed(library: str) -> bool:
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):  # ValueError: a module blocked with sys.modules[x] = None
        return False


def available_providers() -> list[str]:
    """Return the names of the providers whose library is installed, sorted."""
    return sorted(name for name, entry in _REGISTRY.items() if _installed(entry.library))


def provider_for(name: str) -> Provider:
    """Return the provider called ``name`` (``fdr``, ``pykrx`` or ``yfinance``).

    Raises:
        InputError: No provider has that name.
        ProviderError: Its library is not installed (the message names the extra).
    """
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    entry = _REGISTRY.get(key)
    if entry is None:
        choices = ", ".join(sorted(_REGISTRY))
        raise InputError(
            f"unknown data provider {name!r}: choose one of {choices}", field="provider"
        )
    if not _installed(entry.library):
        raise _missing(entry.library, entry.extra)
    provider: Provider = getattr(importlib.import_module(entry.module), entry.cls)()
    return provider


def _missing(library: str, extra: str) -> ProviderError:
    return ProviderError(
        f"the {extra} provider needs the {library} package: install privatetrade[{extra}] "
        f"(pip install 'privatetrade[{extra}]')"
    )


def import_library(library: str, extra: str) -> ModuleType:
    """Import an optional provider library, or say which extra installs it.

    Raises:
        ProviderError: The library is not installed.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pkg_resources.*")  # pykrx 1.0 imports it
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
    """Call ``call`` until it succeeds, backing off exponentially on transient failures.

    A :class:`ProviderError` with ``transient=True`` and the libraries' connection and
    timeout errors are retried after ``base_delay``, ``2 * base_delay``, ... seconds;
    any other error is raised at once.

    Args:
        call: The operation, without arguments.
        attempts: How many times to try in all (at least 1).
        base_delay: Seconds to wait before the second attempt.
        sleep: Waits the given seconds (injected by tests).

    Returns:
        What ``call`` returned.

    Raises:
        ProviderError: The last transient failure once every attempt failed
            (``transient=True``), or the first non-transient ProviderError.
    """
    if attempts < 1:
        raise InputError("attempts must be at least 1", field="attempts")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            error = _retryable(exc)
            if error is None:
                raise
            if attempt == attempts:
                raise ProviderError(
                    f"{error} (failed {attempts} time{'s' if attempts > 1 else ''})", transient=True
                ) from exc
            delay = base_delay * 2 ** (attempt - 1)
            _log.warning("provider.retry attempt=%d delay=%.2fs reason=%s", attempt, delay, error)
            sleep(delay)
    raise ProviderError("no attempt was made")  # unreachable: attempts >= 1


def _retryable(exc: BaseException) -> ProviderError | None:
    if isinstance(exc, ProviderError):
        return exc if exc.transient else None
    if is_transient_exception(exc):
        return ProviderError(f"the connection failed: {_describe(exc)}", transient=True)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_status(exc: BaseException) -> int | None:
    for link in _chain(exc):
        if isinstance(link, urllib.error.HTTPError):
            return int(link.code)
        status = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 400:
            return status
    return None


def _transient_status(status: int) -> bool:
    return status >= 500 or status in _TRANSIENT_STATUS


def is_transient_exception(exc: BaseException) -> bool:
    """Return True for a timeout, a dropped connection or an HTTP 5xx/408/429 error."""
    status = _http_status(exc)
    if status is not None:
        return _transient_status(status)
    for link in _chain(exc):
        if isinstance(link, TimeoutError | ConnectionError | urllib.error.URLError):
            return True
        if type(link).__name__ in _TRANSIENT_NAMES:
            return True
    return False


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """One HTTP answer a library received (``status`` 0: the request itself failed)."""

    method: str
    url: str  # without the query string
    status: int
    excerpt: str  # error answers: the start of the body, tags stripped


@dataclass
class HttpLog:
    """The HTTP answers received and the text printed during one library call."""

    answers: list[HttpAnswer] = field(default_factory=list)
    _printed: io.StringIO = field(default_factory=io.StringIO, repr=False)
    _transient_error: str | None = None

    @property
    def printed(self) -> str:
        """What the library printed to standard output, stripped."""
        return self._printed.getvalue().strip()

    def record(self, method: str, response: Any) -> Any:
        """Remember ``response`` and return it unchanged."""
        status = int(getattr(response, "status_code", 0) or 0)
        excerpt = ""
        if status >= 400:
            text = re.sub(r"<[^>]*>", " ", str(getattr(response, "text", "")))
            excerpt = " ".join(text.split())[:200]
        url = str(getattr(response, "url", "")).split("?", 1)[0]
        self.answers.append(HttpAnswer(method, url, status, excerpt))
        return response

    def record_exception(self, method: str, url: str, exc: BaseException) -> None:
        """Remember a request that failed before any answer came back."""
        self.answers.append(HttpAnswer(method, url.split("?", 1)[0], 0, _describe(exc)))
        if is_transient_exception(exc):
            self._transient_error = _describe(exc)

    def failure(
        self, provider: str, what: str, explain: Callable[[HttpAnswer], str] | None = None
    ) -> ProviderError | None:
        """Return the error the answers show, transient ones first, or None."""
        for answer in self.answers:
            if _transient_status(answer.status):
                return ProviderError(
                    f"{provider}: {answer.url} answered HTTP {answer.status} while fetching "
                    f"{what}; the service may be busy or down, try again later",
                    transient=True,
                )
        if self._transient_error is not None:
            return ProviderError(
                f"{provider}: the connection failed while fetching {what}: {self._transient_error}",
                transient=True,
            )
        for answer in self.answers:
            if answer.status >= 400:
                said = f" ({answer.excerpt!r})" if answer.excerpt else ""
                extra = explain(answer) if explain is not None else ""
                return ProviderError(
                    f"{provider}: {answer.url} answered HTTP {answer.status}{said} while "
                    f"fetching {what}{'; ' + extra if extra else ''}"
                )
        return None


class _RecordingRequests:
    """Stand-in for the ``requests`` module: records answers, bounds waits, delegates."""

    def __init__(self, real: Any, log: HttpLog, timeout: float) -> None:
        self._real = real
        self._log = log
        self._timeout = timeout

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
    """Record the HTTP answers requests-based library modules receive, and their prints.

    Some libraries turn an HTTP 500 or an HTML error page into an empty frame and a
    ``print``. To report what really happened, each module's global name ``requests``
    is pointed, for the duration of the block, at a stand-in that records every answer,
    adds a ``timeout`` to requests made without one, and delegates everything else to
    the real module; standard output is captured. Both are process-wide, so blocks are
    serialized by a lock.

    Args:
        modules: Library modules that call ``requests.get``/``requests.post``.
        timeout: Seconds to wait for a server that the library would wait on forever.

    Yields:
        The log the answers and prints go to.
    """
    log = HttpLog()
    with _PATCH_LOCK:
        patched = [(module, module.requests) for module in modules if hasattr(module, "requests")]
        try:
            for module, real in patched:
                setattr(module, "requests", _RecordingRequests(real, log, timeout))  # noqa: B010
            with contextlib.redirect_stdout(log._printed):
                yield log
        finally:
            for module, real in patched:
                setattr(module, "requests", real)  # noqa: B010


def translate_error(
    exc: BaseException,
    *,
    provider: str,
    what: str,
    log: HttpLog | None = None,
    explain: Callable[[HttpAnswer], str] | None = None,
) -> ProviderError:
    """Return the :class:`ProviderError` that says what ``exc`` means for the caller."""
    if isinstance(exc, ProviderError):
        return exc
    failure = log.failure(provider, what, explain) if log is not None else None
    if failure is not None:
        return failure
    status = _http_status(exc)
    if status is not None:
        return ProviderError(
            f"{provider}: HTTP {status} while fetching {what}: {_describe(exc)}",
            transient=_transient_status(status),
        )
    if is_transient_exception(exc):
        return ProviderError(
            f"{provider}: the connection failed while fetching {what}: {_describe(exc)}",
            transient=True,
        )
    return ProviderError(f"{provider} could not read the answer for {what}: {_describe(exc)}")


def _is_empty(result: object) -> bool:
    if result is None:
        return True
    empty = getattr(result, "empty", None)
    if isinstance(empty, bool):
        return empty
    return isinstance(result, list | tuple | dict | str) and len(result) == 0


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
    """Make one library call and turn every way it can fail into :class:`ProviderError`.

    Args:
        fetch: The library call.
        provider: Provider name, for messages.
        what: What is fetched, for messages ("daily bars of 005930 ...").
        modules: Library modules to observe with :func:`observe_library`.
        log: A log filled by other means (a recording session), when no modules are given.
        explain: Adds advice to a 4xx message, given the answer.
        empty_hint: Appended to the message when the answer is empty.

    Returns:
        What ``fetch`` returned, known not to be empty.

    Raises:
        ProviderError: The call failed, an answer showed an HTTP error that left the
            result empty (or any 5xx/429), or the result is empty.
    """
    with observe_library(*modules) as observed:
        seen = log if log is not None else observed
        try:
            result = fetch()
        except Exception as exc:
            error = translate_error(exc, provider=provider, what=what, log=seen, explain=explain)
            if error is exc:
                raise
            raise error from exc
    empty = _is_empty(result)
    failure = seen.failure(provider, what, explain)
    if failure is not None and (failure.transient or empty):
        raise failure
    if empty:
        said = f"; the library said {observed.printed[:200]!r}" if observed.printed else ""
        raise ProviderError(f"{provider} returned nothing for {what}{empty_hint}{said}")
    return result


def describe_request(code: str, start: dt.date | None, end: dt.date | None) -> str:
    """Return e.g. ``daily bars of 005930 from 2024-01-02 to 2024-01-08``."""
    first = start.isoformat() if start is not None else "the first day"
    last = end.isoformat() if end is not None else "the latest day"
    return f"daily bars of {code} from {first} to {last}"


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
        tz: Exchange time zone of naive dates; None if the index is already tz-aware.
        columns: Library column -> one of open, high, low, close, volume.
        start: First date kept (inclusive), or None.
        end: Last date kept (inclusive), or None.

    Raises:
        ProviderError: The frame is empty (in the range), lacks a column, or holds a bad
            bar (the message names its row and time).
    """
    import numpy as np
    import pandas as pd

    what = describe_request(code, start, end)
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ProviderError(f"{provider} returned no {what}")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        got = ", ".join(str(name) for name in frame.columns)
        raise ProviderError(
            f"{provider} sent a malformed answer for {what}: no column {', '.join(missing)} "
            f"(columns: {got})"
        )
    try:
        index = pd.DatetimeIndex(frame.index)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"{provider} sent a malformed answer for {what}: {exc}") from exc
    if index.tz is None:
        if tz is None:
            raise ProviderError(f"{provider} sent {what} without a time zone")
        index = index.tz_localize(tz)
    elif tz is not None:
        index = index.tz_convert(tz)
    data = {
        target: pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
        for name, target in columns.items()
    }
    bars = pd.DataFrame(data, index=index)[list(BAR_COLUMNS)]
    bars.index.name = "time"
    bars = bars.sort_index(kind="stable")
    days = bars.index.tz_localize(None).normalize()
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= days >= pd.Timestamp(start)
    if end is not None:
        keep &= days <= pd.Timestamp(end)
    bars = bars[keep]
    if bars.empty:
        raise ProviderError(f"{provider} returned no {what} (no trading day in the range)")
    from privatetrade.engine.bars import prepare_bars

    try:
        prepare_bars(bars)
    except DataError as exc:
        error = ProviderError(f"{provider} sent bad {what}: {exc}")
        error.row = exc.row
        raise error from exc
    return bars
