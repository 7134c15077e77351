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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx

from privatetrade.ops.smoke.checks import (
    EQUITY_CSV_HEADER,
    REQUIRED_METRICS,
    REQUIRED_RESULT_FIELDS,
    TRADES_CSV_HEADER,
    StepFailedError,
    describe_error,
    format_number,
    is_json,
    json_body,
    json_object,
    require_attachment,
    require_object,
    require_succeeded,
    require_time_left,
    snippet,
)
from privatetrade.ops.smoke.report import (
    STEP_TITLES,
    SmokeReport,
    SmokeUnreachableError,
    Status,
    StepResult,
)
from privatetrade.ops.smoke.sse import parse_sse

__all__ = ["run_smoke"]

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


@dataclass
class _Smoke:
    """Runs the steps in order, timing each and skipping those whose needs failed."""

    client: httpx.Client
    report: SmokeReport
    symbol: str
    timeout: float
    has_token: bool
    on_step: Callable[[StepResult], None] | None
    job_id: str | None = None

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
        except StepFailedError as exc:
            detail, outcome = str(exc), "fail"
        except httpx.ConnectError as exc:
            if name == "health":
                self._unreachable(f"cannot connect to {self.report.url}: {describe_error(exc)}")
            detail, outcome = f"connection failed: {describe_error(exc)}", "fail"
        except httpx.TimeoutException as exc:
            if name == "health" and isinstance(exc, httpx.ConnectTimeout):
                self._unreachable(f"cannot connect to {self.report.url}: connect timed out")
            detail, outcome = f"timed out after {self.timeout:g} s ({type(exc).__name__})", "fail"
        except httpx.HTTPError as exc:
            detail, outcome = f"HTTP error: {type(exc).__name__}: {describe_error(exc)}", "fail"
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
        raise StepFailedError(f"{detail}: {snippet(response)}")

    def health(self) -> str:
        response = self.client.get("/api/health")
        body = json_object(response) if is_json(response) else None
        if body is not None and isinstance(body.get("version"), str):
            self.report.version = body["version"]
        self._expect(response, 200)
        if body is None:
            raise StepFailedError(f"not a JSON object: {snippet(response)}")
        if body.get("status") != "ok":
            raise StepFailedError(f"status is {body.get('status')!r}, not 'ok'")
        executor = body.get("executor")
        kind = executor.get("kind") if isinstance(executor, dict) else None
        return f"version {body.get('version')}, database {body.get('database')}, executor {kind}"

    def search(self) -> str:
        response = self.client.get("/api/symbols", params={"q": self.symbol})
        self._expect(response, 200)
        hits = json_body(response)
        if not isinstance(hits, list):
            raise StepFailedError(f"expected a list of symbols: {snippet(response)}")
        codes = [hit.get("code") for hit in hits if isinstance(hit, dict)]
        if not any(str(code).upper() == self.symbol.upper() for code in codes):
            shown = ", ".join(str(code) for code in codes[:5]) or "nothing"
            raise StepFailedError(f"{self.symbol} not found (got {shown})")
        return f"{self.symbol} found among {len(hits)} match(es)"

    def submit(self) -> str:
        body = {"symbol": self.symbol, "strategy": _STRATEGY, "params": _PARAMS}
        response = self.client.post("/api/backtests", json=body)
        self._expect(response, 202)
        job = json_object(response)
        job_id = job.get("id") if job is not None else None
        if not isinstance(job_id, str) or not job_id:
            raise StepFailedError(f"no job id in the answer: {snippet(response)}")
        self.job_id = self.report.backtest_id = job_id
        location = response.headers.get("location", "")
        if not location.endswith(f"/api/backtests/{job_id}"):
            raise StepFailedError(f"job {job_id}: Location header is {location!r}")
        return f"job {job_id}, state {job.get('state') if job else None}"

    def progress(self) -> str:
        deadline = time.monotonic() + self.timeout
        try:
            events, final = self._follow_events(deadline)
        except (_SseUnavailableError, httpx.TransportError) as exc:
            reason = exc if isinstance(exc, _SseUnavailableError) else describe_error(exc)
            job, polls = self._poll(deadline, f"SSE failed ({reason})")
            require_succeeded(job)
            return f"SSE failed ({reason}); polled instead: succeeded after {polls} poll(s)"
        require_succeeded(final)
        kinds = [kind for kind, _ in events]
        values = [job.get("progress") for _, job in events]
        progresses = [float(v) for v in values if isinstance(v, int | float) and 0 <= v <= 1]
        if not progresses or len(progresses) != len(values):
            raise StepFailedError(f"progress missing or outside 0..1 in the events: {values}")
        if final.get("progress") != 1:
            raise StepFailedError(f"final progress is {final.get('progress')!r}, not 1")
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
            StepFailedError: The job was deleted meanwhile, or the deadline passed.
        """
        path = f"/api/backtests/{self.job_id}/events"
        read = max(min(self.timeout, deadline - time.monotonic()), 0.1)
        timeout = httpx.Timeout(self.timeout, read=read)
        events: list[tuple[str, dict[str, Any]]] = []
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        with self.client.stream("GET", path, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                raise _SseUnavailableError(f"{response.status_code}: {snippet(response)}")
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                raise _SseUnavailableError(f"content type {kind!r}")
            try:
                for event, data in parse_sse(response.iter_lines()):
                    if event == "deleted":
                        raise StepFailedError("the job was deleted while it ran")
                    try:
                        job = json.loads(data)
                    except ValueError as exc:
                        raise _SseUnavailableError(f"bad event data {data[:80]!r}") from exc
                    if isinstance(job, dict):
                        events.append((event, job))
                        if job.get("state") in _FINAL_STATES:
                            return events, job
                    state = job.get("state") if isinstance(job, dict) else None
                    require_time_left(
                        deadline, f"not finished after {self.timeout:g} s (state {state})"
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
            job = json_object(response) or {}
            if job.get("state") in _FINAL_STATES:
                return job, polls
            require_time_left(
                deadline,
                f"{why}; polling saw no final state after {self.timeout:g} s "
                f"(state {job.get('state')}, progress {job.get('progress')})",
            )
            time.sleep(_POLL_S)

    def download(self) -> str:
        response = self.client.get(f"/api/backtest/result/{self.job_id}")
        self._expect(response, 200)
        require_attachment(response, "application/json")
        document = require_object(response)
        missing = [key for key in REQUIRED_RESULT_FIELDS if key not in document]
        if missing:
            raise StepFailedError(f"missing top-level field(s): {', '.join(missing)}")
        run = document["run"]
        run_id = run.get("id") if isinstance(run, dict) else None
        if run_id != self.job_id:
            raise StepFailedError(f"run.id is {run_id!r}, not {self.job_id}")
        metrics = document["metrics"]
        if not isinstance(metrics, dict):
            raise StepFailedError("metrics is not an object")
        absent = [name for name in REQUIRED_METRICS if name not in metrics]
        if absent:
            raise StepFailedError(f"metrics lack {', '.join(absent)}")
        trades = document["trades"]
        return (
            f"{len(response.content):,} bytes, {len(trades) if isinstance(trades, list) else '?'}"
            f" trade(s), total_return {format_number(metrics['total_return'])}, "
            f"sharpe {format_number(metrics['sharpe'])}, "
            f"max_drawdown {format_number(metrics['max_drawdown'])}"
        )

    def trades_csv(self) -> str:
        return self._csv("trades.csv", TRADES_CSV_HEADER)

    def equity_csv(self) -> str:
        return self._csv("equity.csv", EQUITY_CSV_HEADER)

    def _csv(self, name: str, header: tuple[str, ...]) -> str:
        response = self.client.get(f"/api/backtests/{self.job_id}/{name}")
        self._expect(response, 200)
        require_attachment(response, "text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        if not rows:
            raise StepFailedError("empty file (no header row)")
        if tuple(rows[0]) != header:
            raise StepFailedError(
                f"header is {','.join(rows[0])[:120]!r}, not {','.join(header)!r}"
            )
        return f"{len(rows) - 1} row(s), header {header[0]},…,{header[-1]}"

    def not_found(self) -> str:
        response = self.client.get(f"/api/backtests/{_UNKNOWN_ID}")
        self._expect(response, 404)
        kind = response.headers.get("content-type", "")
        if not kind.startswith("application/problem+json"):
            raise StepFailedError(f"content type {kind!r}, not application/problem+json")
        problem = require_object(response)
        absent = [key for key in _PROBLEM_KEYS if key not in problem]
        if absent:
            raise StepFailedError(f"problem lacks {', '.join(absent)}")
        if problem["status"] != 404:
            raise StepFailedError(f"problem status is {problem['status']!r}, not 404")
        return f"404 problem: {problem['title']}"

    def cleanup(self) -> str:
        response = self.client.delete(f"/api/backtests/{self.job_id}")
        self._expect(response, 204)
        after = self.client.get(f"/api/backtests/{self.job_id}")
        if after.status_code != 404:
            raise StepFailedError(f"deleted, but GET still answers {after.status_code}")
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
