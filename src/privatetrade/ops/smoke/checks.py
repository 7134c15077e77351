"""What the smoke steps expect of the service's answers, and helpers to check them."""

from __future__ import annotations

import time
from typing import Any

import httpx

from privatetrade.engine.result import EQUITY_COLUMNS, TRADE_COLUMNS

__all__ = [
    "EQUITY_CSV_HEADER",
    "REQUIRED_METRICS",
    "REQUIRED_RESULT_FIELDS",
    "TRADES_CSV_HEADER",
    "StepFailedError",
    "describe_error",
    "format_number",
    "is_json",
    "json_body",
    "json_object",
    "require_attachment",
    "require_object",
    "require_succeeded",
    "require_time_left",
    "snippet",
]

#: Top-level keys of the downloaded result document, in documented order
#: (docs/result-schema.md, "Top level" plus ``run``, which the web service adds).
REQUIRED_RESULT_FIELDS: tuple[str, ...] = (
    "schema_version",
    "run",
    "engine_version",
    "app_version",
    "spec",
    "data",
    "metrics",
    "trades",
    "fills",
    "equity",
    "buy_and_hold",
    "benchmark",
    "monthly_returns",
    "yearly_returns",
    "warnings",
)
#: Metrics the smoke test requires in ``metrics`` (docs/result-schema.md, ``metrics``).
REQUIRED_METRICS: tuple[str, ...] = ("total_return", "sharpe", "max_drawdown")
#: Header rows of ``trades.csv`` and ``equity.csv`` (docs/result-schema.md, "CSV exports").
TRADES_CSV_HEADER: tuple[str, ...] = TRADE_COLUMNS
EQUITY_CSV_HEADER: tuple[str, ...] = EQUITY_COLUMNS


class StepFailedError(Exception):
    """A check of the current step did not hold; the message says which."""


def require_succeeded(job: Any) -> None:
    """Fail the step unless the job document's state is ``succeeded``."""
    state = job.get("state") if isinstance(job, dict) else None
    if state != "succeeded":
        error = job.get("error") if isinstance(job, dict) else None
        raise StepFailedError(f"backtest ended {state}" + (f": {error}" if error else ""))


def require_attachment(response: httpx.Response, media_type: str) -> None:
    """Fail the step unless the response is an attachment of ``media_type``."""
    kind = response.headers.get("content-type", "")
    if not kind.startswith(media_type):
        raise StepFailedError(f"content type {kind!r}, not {media_type}")
    disposition = response.headers.get("content-disposition", "")
    if not disposition.lower().startswith("attachment"):
        raise StepFailedError(f"Content-Disposition {disposition!r} is not an attachment")


def is_json(response: httpx.Response) -> bool:
    """Whether the response says it holds JSON."""
    return "json" in response.headers.get("content-type", "")


def json_body(response: httpx.Response) -> Any:
    """Return the response's JSON; fail the step when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise StepFailedError(f"not JSON: {snippet(response)}") from exc


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """Return the response's JSON object, or None when it holds none."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def require_object(response: httpx.Response) -> dict[str, Any]:
    """Return the response's JSON object; fail the step when it holds none."""
    body = json_object(response)
    if body is None:
        raise StepFailedError(f"not a JSON object: {snippet(response)}")
    return body


def require_time_left(deadline: float, message: str) -> None:
    """Fail the step with ``message`` once the monotonic clock has passed ``deadline``."""
    if time.monotonic() > deadline:
        raise StepFailedError(message)


def snippet(response: httpx.Response, limit: int = 120) -> str:
    """Describe a response in one short line: its type and the start of its body."""
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    problem = json_object(response) if is_json(response) else None
    if problem is not None and "title" in problem:
        text = f"{problem['title']}: {problem.get('detail')}"
        return f"{kind} {text[: limit - 1] + '…' if len(text) > limit else text}"
    text = " ".join(response.text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{kind} {text!r}" if text else kind


def format_number(value: Any) -> str:
    """Format a metric with four significant digits (other values as they are)."""
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)


def describe_error(exc: BaseException) -> str:
    """Describe a transport error in a few words."""
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text
