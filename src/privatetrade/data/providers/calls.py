"""One call into a provider library: the HTTP answers it got, and how it failed.

The libraries fail in their own ways: some raise, some log an HTTP error and return an
empty frame. :func:`call_library` makes one call and turns every outcome but a
non-empty answer into a :class:`~privatetrade.errors.ProviderError`, naming the HTTP
answer that explains it when :func:`observe_library` or a recording session saw one.
``transient=True`` marks what a retry may fix: timeouts, dropped connections and HTTP
5xx/408/425/429.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from privatetrade.errors import ProviderError

__all__ = [
    "HttpAnswer",
    "HttpLog",
    "call_library",
    "describe_exception",
    "describe_request",
    "is_transient_exception",
    "observe_library",
]

T = TypeVar("T")

_SESSION_TOKEN = re.compile(r"(crumb=)[^&\s'\"]+")  # Yahoo's, in URLs of error messages
_TRANSIENT_NAMES = frozenset(
    {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "ChunkedEncodingError"}
    | {"RemoteDisconnected", "IncompleteRead", "YFRateLimitError"}
)


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


def describe_exception(exc: BaseException) -> str:
    """Return the exception's type and message on one line, session tokens masked."""
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
            self.answers.append(
                HttpAnswer(method, url.split("?", 1)[0], 0, describe_exception(exc))
            )

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
        reason = f"the connection failed while fetching {what}: {describe_exception(exc)}"
        return ProviderError(f"{provider}: {reason}", transient=True)
    return ProviderError(
        f"{provider} could not read the answer for {what}: {describe_exception(exc)}"
    )


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
