"""Smoke test of a running deployment: ``privatetrade smoke --url URL``.

The seed report's path through the service, step by step and timed, against any
deployment (a laptop, a server behind a reverse proxy):

1. ``health``: ``GET /api/health`` answers 200 with ``status`` ``ok``.
2. ``search``: ``GET /api/symbols?q=SYMBOL`` finds the symbol.
3. ``submit``: ``POST /api/backtests`` answers 202 with a job id.
4. ``progress``: the job's event stream (SSE) shows its progress up to ``succeeded``;
   when the stream fails the job is polled instead, and the step says so.
5. ``download``: ``GET /api/backtest/result/{id}`` is a JSON attachment holding every
   documented top-level field (:data:`REQUIRED_RESULT_FIELDS`).
6. ``trades_csv`` and 7. ``equity_csv``: CSV attachments with the documented header.
8. ``not_found``: an unknown id is a 404 problem (``application/problem+json``).
9. ``cleanup``: the smoke backtest is deleted (204), so runs leave nothing behind.

A step that needs an earlier one that did not pass is skipped (never passed).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import httpx

from privatetrade.engine.result import EQUITY_COLUMNS, TRADE_COLUMNS
from privatetrade.errors import PrivatetradeError

__all__ = [
    "EQUITY_CSV_HEADER",
    "REQUIRED_METRICS",
    "REQUIRED_RESULT_FIELDS",
    "STEP_TITLES",
    "TRADES_CSV_HEADER",
    "SmokeReport",
    "SmokeUnreachableError",
    "StepResult",
    "run_smoke",
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

#: Step names, in order, with what each checks.
STEP_TITLES: dict[str, str] = {
    "health": "health is 200 and ok",
    "search": "symbol search finds the symbol",
    "submit": "backtest submitted (202)",
    "progress": "progress followed to succeeded",
    "download": "result document downloads",
    "trades_csv": "trades CSV downloads",
    "equity_csv": "equity CSV downloads",
    "not_found": "unknown id is a 404 problem",
    "cleanup": "smoke backtest deleted",
}

_FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
_UNKNOWN_ID = "0" * 32
_STRATEGY = "sma_cross"
_PARAMS: dict[str, Any] = {"fast": 10, "slow": 30}
_POLL_S = 0.2
_PROBLEM_KEYS = ("type", "title", "status", "detail")
_DEPENDS: dict[str, tuple[str, ...]] = {
    "health": (),
    "search": (),
    "submit": ("search",),
    "progress": ("submit",),
    "download": ("progress",),
    "trades_csv": ("progress",),
    "equity_csv": ("progress",),
    "not_found": (),
    "cleanup": ("submit",),  # runs whenever a job id came back
}

Status = Literal["pass", "fail", "skip"]


class SmokeUnreachableError(PrivatetradeError):
    """The deployment cannot be reached at all (bad URL, connection refused, DNS).

    Attributes:
        report: The report so far (every step failed or skipped), for ``--json``.
    """

    def __init__(self, message: str, report: SmokeReport) -> None:
        super().__init__(message)
        self.report = report


class _StepFailedError(Exception):
    """A check of the current step did not hold; the message says which."""


@dataclass(frozen=True)
class StepResult:
    """The outcome of one smoke step.

    Attributes:
        name: Step name (a key of :data:`STEP_TITLES`).
        status: ``pass``, ``fail`` or ``skip`` (a step it needs did not pass).
        ms: Wall-clock milliseconds the step took (0 when skipped).
        detail: What was seen, or why it failed or was skipped.
    """

    name: str
    status: Status
    ms: float
    detail: str

    @property
    def passed(self) -> bool:
        """Whether the step ran and every check held."""
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """Return the step as a JSON-ready dict."""
        return {
            "name": self.name,
            "passed": self.passed,
            "skipped": self.status == "skip",
            "ms": self.ms,
            "detail": self.detail,
        }


@dataclass
class SmokeReport:
    """Every step's outcome against one deployment.

    Attributes:
        url: The deployment's base URL.
        version: The server's version from ``/api/health`` (None if unknown).
        steps: One result per step, in order.
        backtest_id: The id of the smoke backtest, once submitted.
    """

    url: str
    version: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    backtest_id: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every step passed."""
        return bool(self.steps) and all(step.passed for step in self.steps)

    @property
    def failed_step(self) -> str | None:
        """The name of the first failed step, if any."""
        return next((step.name for step in self.steps if step.status == "fail"), None)

    @property
    def total_ms(self) -> float:
        """The sum of the steps' times."""
        return round(sum(step.ms for step in self.steps), 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "url": self.url,
            "version": self.version,
            "passed": self.passed,
            "failed_step": self.failed_step,
            "failed_steps": [step.name for step in self.steps if step.status == "fail"],
            "backtest_id": self.backtest_id,
            "total_ms": self.total_ms,
            "steps": [step.to_dict() for step in self.steps],
        }

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def run_smoke(
    url: str,
    token: str | None = None,
    *,
    symbol: str = "AAPL",
    timeout: float = 60.0,
    on_step: Callable[[StepResult], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SmokeReport:
    """Run every smoke step against the deployment at ``url``.

    Args:
        url: Base URL of the deployment, e.g. ``http://127.0.0.1:8000`` (a path prefix
            such as ``https://host/privatetrade`` is kept).
        token: API token sent as ``Authorization: Bearer``; None sends none (and the
            authenticated steps fail with 401).
        symbol: Catalog code to search for and backtest.
        timeout: Seconds allowed for each request and for the backtest to finish.
        on_step: Called with each step's result as soon as it is known.
        transport: An httpx transport to use instead of the network (for tests).

    Returns:
        The report; ``report.passed`` is True only if every step passed.

    Raises:
        SmokeUnreachableError: The URL is not an http(s) URL, or nothing answers there.
    """
    base = url.rstrip("/")
    report = SmokeReport(url=base)
    try:
        parsed: httpx.URL | None = httpx.URL(base)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        _unreachable(report, f"bad URL {url!r}: expected http(s)://HOST[:PORT][/PREFIX]")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(
        base_url=base,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        follow_redirects=False,
    ) as client:
        _Smoke(client, report, symbol, timeout, token is not None, on_step).run()
    return report


class _Smoke:
    """Runs the steps in order, timing each and skipping those whose needs failed."""

    def __init__(
        self,
        client: httpx.Client,
        report: SmokeReport,
        symbol: str,
        timeout: float,
        has_token: bool,
        on_step: Callable[[StepResult], None] | None,
    ) -> None:
        self.client = client
        self.report = report
        self.symbol = symbol
        self.timeout = timeout
        self.has_token = has_token
        self.on_step = on_step
        self.job_id: str | None = None

    def run(self) -> None:
        steps: dict[str, Callable[[], str]] = {
            "health": self.health,
            "search": self.search,
            "submit": self.submit,
            "progress": self.progress,
            "download": self.download,
            "trades_csv": self.trades_csv,
            "equity_csv": self.equity_csv,
            "not_found": self.not_found,
            "cleanup": self.cleanup,
        }
        status: dict[str, Status] = {}
        for name, check in steps.items():
            missing = [need for need in _DEPENDS[name] if status.get(need) != "pass"]
            if name == "cleanup" and self.job_id is not None:
                missing = []  # delete whatever was submitted, even if submit's checks failed
            if missing:
                result = StepResult(name, "skip", 0.0, f"skipped: needs {missing[0]}")
            else:
                result = self._timed(name, check)
            status[name] = result.status
            self._record(result)

    def _timed(self, name: str, check: Callable[[], str]) -> StepResult:
        started = time.perf_counter()
        try:
            detail = check()
            outcome: Status = "pass"
        except _StepFailedError as exc:
            detail, outcome = str(exc), "fail"
        except httpx.ConnectError as exc:
            if name == "health":
                self._unreachable(f"cannot connect to {self.report.url}: {_reason(exc)}")
            detail, outcome = f"connection failed: {_reason(exc)}", "fail"
        except httpx.TimeoutException as exc:
            if name == "health" and isinstance(exc, httpx.ConnectTimeout):
                self._unreachable(f"cannot connect to {self.report.url}: connect timed out")
            detail, outcome = f"timed out after {self.timeout:g} s ({type(exc).__name__})", "fail"
        except httpx.HTTPError as exc:
            detail, outcome = f"HTTP error: {type(exc).__name__}: {_reason(exc)}", "fail"
        ms = round((time.perf_counter() - started) * 1000.0, 1)
        return StepResult(name, outcome, ms, detail)

    def _record(self, result: StepResult) -> None:
        self.report.steps.append(result)
        if self.on_step is not None:
            self.on_step(result)

    def _unreachable(self, message: str) -> None:
        _unreachable(self.report, message, self.on_step)

    # -- checks ------------------------------------------------------------------------

    def _expect(self, response: httpx.Response, status: int) -> None:
        if response.status_code == status:
            return
        detail = f"expected {status}, got {response.status_code}"
        if response.status_code == 401 and not self.has_token:
            detail += " (no token: pass --token or set PRIVATETRADE_TOKEN)"
        elif response.status_code in {401, 403}:
            detail += " (is the token valid?)"
        raise _StepFailedError(f"{detail}: {_snippet(response)}")

    def health(self) -> str:
        response = self.client.get("/api/health")
        body = _json_object(response) if _is_json(response) else None
        if body is not None and isinstance(body.get("version"), str):
            self.report.version = body["version"]
        self._expect(response, 200)
        if body is None:
            raise _StepFailedError(f"not a JSON object: {_snippet(response)}")
        if body.get("status") != "ok":
            raise _StepFailedError(f"status is {body.get('status')!r}, not 'ok'")
        executor = body.get("executor")
        kind = executor.get("kind") if isinstance(executor, dict) else None
        return f"version {body.get('version')}, database {body.get('database')}, executor {kind}"

    def search(self) -> str:
        response = self.client.get("/api/symbols", params={"q": self.symbol})
        self._expect(response, 200)
        hits = _json(response)
        if not isinstance(hits, list):
            raise _StepFailedError(f"expected a list of symbols: {_snippet(response)}")
        codes = [hit.get("code") for hit in hits if isinstance(hit, dict)]
        if not any(str(code).upper() == self.symbol.upper() for code in codes):
            shown = ", ".join(str(code) for code in codes[:5]) or "nothing"
            raise _StepFailedError(f"{self.symbol} not found (got {shown})")
        return f"{self.symbol} found among {len(hits)} match(es)"

    def submit(self) -> str:
        body = {"symbol": self.symbol, "strategy": _STRATEGY, "params": _PARAMS}
        response = self.client.post("/api/backtests", json=body)
        self._expect(response, 202)
        job = _json_object(response)
        job_id = job.get("id") if job is not None else None
        if not isinstance(job_id, str) or not job_id:
            raise _StepFailedError(f"no job id in the answer: {_snippet(response)}")
        self.job_id = self.report.backtest_id = job_id
        location = response.headers.get("location", "")
        if not location.endswith(f"/api/backtests/{job_id}"):
            raise _StepFailedError(f"job {job_id}: Location header is {location!r}")
        return f"job {job_id}, state {job.get('state') if job else None}"

    def progress(self) -> str:
        deadline = time.monotonic() + self.timeout
        try:
            events, final = self._follow_events(deadline)
        except (_SseUnavailableError, httpx.TransportError) as exc:
            reason = exc if isinstance(exc, _SseUnavailableError) else _reason(exc)
            job, polls = self._poll(deadline, f"SSE failed ({reason})")
            _require_succeeded(job)
            return f"SSE failed ({reason}); polled instead: succeeded after {polls} poll(s)"
        _require_succeeded(final)
        kinds = [kind for kind, _ in events]
        values = [job.get("progress") for _, job in events]
        progresses = [float(v) for v in values if isinstance(v, int | float) and 0 <= v <= 1]
        if not progresses or len(progresses) != len(values):
            raise _StepFailedError(f"progress missing or outside 0..1 in the events: {values}")
        if final.get("progress") != 1:
            raise _StepFailedError(f"final progress is {final.get('progress')!r}, not 1")
        return (
            f"{len(events)} SSE event(s) ({kinds.count('state')} state, "
            f"{kinds.count('progress')} progress), progress "
            f"{min(progresses):g}..{max(progresses):g}, final succeeded"
        )

    def _follow_events(self, deadline: float) -> tuple[list[tuple[str, dict[str, Any]]], Any]:
        """Read the job's event stream until a final state.

        Returns:
            The ``(event, job)`` pairs received and the last job.

        Raises:
            _SseUnavailableError: The stream could not be used (the caller polls instead).
            _StepFailedError: The job was deleted meanwhile, or the deadline passed.
        """
        path = f"/api/backtests/{self.job_id}/events"
        read = max(min(self.timeout, deadline - time.monotonic()), 0.1)
        timeout = httpx.Timeout(self.timeout, read=read)
        events: list[tuple[str, dict[str, Any]]] = []
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        with self.client.stream("GET", path, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                raise _SseUnavailableError(f"{response.status_code}: {_snippet(response)}")
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                raise _SseUnavailableError(f"content type {kind!r}")
            try:
                for event, data in _sse_events(response.iter_lines()):
                    if event == "deleted":
                        raise _StepFailedError("the job was deleted while it ran")
                    try:
                        job = json.loads(data)
                    except ValueError as exc:
                        raise _SseUnavailableError(f"bad event data {data[:80]!r}") from exc
                    if isinstance(job, dict):
                        events.append((event, job))
                        if job.get("state") in _FINAL_STATES:
                            return events, job
                    if time.monotonic() > deadline:
                        raise _StepFailedError(
                            f"not finished after {self.timeout:g} s "
                            f"(state {job.get('state') if isinstance(job, dict) else None})"
                        )
            except httpx.ReadTimeout as exc:
                # One poll tells a stalled stream (job done) from a job that is still running.
                raise _SseUnavailableError("no event before the timeout") from exc
        raise _SseUnavailableError(f"the stream ended before a final state ({len(events)} events)")

    def _poll(self, deadline: float, why: str) -> tuple[dict[str, Any], int]:
        polls = 0
        while True:
            polls += 1
            response = self.client.get(f"/api/backtests/{self.job_id}")
            self._expect(response, 200)
            job = _json_object(response) or {}
            if job.get("state") in _FINAL_STATES:
                return job, polls
            if time.monotonic() > deadline:
                raise _StepFailedError(
                    f"{why}; polling saw no final state after {self.timeout:g} s "
                    f"(state {job.get('state')}, progress {job.get('progress')})"
                )
            time.sleep(_POLL_S)

    def download(self) -> str:
        response = self.client.get(f"/api/backtest/result/{self.job_id}")
        self._expect(response, 200)
        _require_attachment(response, "application/json")
        document = _json_object(response)
        if document is None:
            raise _StepFailedError(f"not a JSON object: {_snippet(response)}")
        missing = [key for key in REQUIRED_RESULT_FIELDS if key not in document]
        if missing:
            raise _StepFailedError(f"missing top-level field(s): {', '.join(missing)}")
        run = document["run"]
        run_id = run.get("id") if isinstance(run, dict) else None
        if run_id != self.job_id:
            raise _StepFailedError(f"run.id is {run_id!r}, not {self.job_id}")
        metrics = document["metrics"]
        if not isinstance(metrics, dict):
            raise _StepFailedError("metrics is not an object")
        absent = [name for name in REQUIRED_METRICS if name not in metrics]
        if absent:
            raise _StepFailedError(f"metrics lack {', '.join(absent)}")
        trades = document["trades"]
        return (
            f"{len(response.content):,} bytes, {len(trades) if isinstance(trades, list) else '?'}"
            f" trade(s), total_return {_number(metrics['total_return'])}, "
            f"sharpe {_number(metrics['sharpe'])}, max_drawdown {_number(metrics['max_drawdown'])}"
        )

    def trades_csv(self) -> str:
        return self._csv("trades.csv", TRADES_CSV_HEADER)

    def equity_csv(self) -> str:
        return self._csv("equity.csv", EQUITY_CSV_HEADER)

    def _csv(self, name: str, header: tuple[str, ...]) -> str:
        response = self.client.get(f"/api/backtests/{self.job_id}/{name}")
        self._expect(response, 200)
        _require_attachment(response, "text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        if not rows:
            raise _StepFailedError("empty file (no header row)")
        if tuple(rows[0]) != header:
            raise _StepFailedError(
                f"header is {','.join(rows[0])[:120]!r}, not {','.join(header)!r}"
            )
        return f"{len(rows) - 1} row(s), header {header[0]},…,{header[-1]}"

    def not_found(self) -> str:
        response = self.client.get(f"/api/backtests/{_UNKNOWN_ID}")
        self._expect(response, 404)
        kind = response.headers.get("content-type", "")
        if not kind.startswith("application/problem+json"):
            raise _StepFailedError(f"content type {kind!r}, not application/problem+json")
        problem = _json_object(response)
        if problem is None:
            raise _StepFailedError(f"not a JSON object: {_snippet(response)}")
        absent = [key for key in _PROBLEM_KEYS if key not in problem]
        if absent:
            raise _StepFailedError(f"problem lacks {', '.join(absent)}")
        if problem["status"] != 404:
            raise _StepFailedError(f"problem status is {problem['status']!r}, not 404")
        return f"404 problem: {problem['title']}"

    def cleanup(self) -> str:
        response = self.client.delete(f"/api/backtests/{self.job_id}")
        self._expect(response, 204)
        after = self.client.get(f"/api/backtests/{self.job_id}")
        if after.status_code != 404:
            raise _StepFailedError(f"deleted, but GET still answers {after.status_code}")
        return f"job {self.job_id} deleted (now 404)"


def _unreachable(
    report: SmokeReport, message: str, on_step: Callable[[StepResult], None] | None = None
) -> NoReturn:
    """Fail ``health`` with ``message``, skip the rest, raise :class:`SmokeUnreachableError`."""
    for name in STEP_TITLES:
        step = (
            StepResult(name, "fail", 0.0, message)
            if name == "health"
            else StepResult(name, "skip", 0.0, "skipped: deployment unreachable")
        )
        report.steps.append(step)
        if on_step is not None:
            on_step(step)
    raise SmokeUnreachableError(message, report)


class _SseUnavailableError(Exception):
    """The event stream cannot be used; the job is polled instead."""


def _sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(event, data)`` for each Server-Sent Event in ``lines``."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def _require_succeeded(job: Any) -> None:
    state = job.get("state") if isinstance(job, dict) else None
    if state != "succeeded":
        error = job.get("error") if isinstance(job, dict) else None
        raise _StepFailedError(f"backtest ended {state}" + (f": {error}" if error else ""))


def _require_attachment(response: httpx.Response, media_type: str) -> None:
    kind = response.headers.get("content-type", "")
    if not kind.startswith(media_type):
        raise _StepFailedError(f"content type {kind!r}, not {media_type}")
    disposition = response.headers.get("content-disposition", "")
    if not disposition.lower().startswith("attachment"):
        raise _StepFailedError(f"Content-Disposition {disposition!r} is not an attachment")


def _is_json(response: httpx.Response) -> bool:
    return "json" in response.headers.get("content-type", "")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _StepFailedError(f"not JSON: {_snippet(response)}") from exc


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _snippet(response: httpx.Response, limit: int = 120) -> str:
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    problem = _json_object(response) if _is_json(response) else None
    if problem is not None and "title" in problem:
        text = f"{problem['title']}: {problem.get('detail')}"
        return f"{kind} {text[: limit - 1] + '…' if len(text) > limit else text}"
    text = " ".join(response.text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{kind} {text!r}" if text else kind


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text
