"""``privatetrade smoke`` end to end: the real CLI against a real ``privatetrade serve``.

Failures the product never makes on purpose (a broken download route, a broken event
stream) come from a small reverse proxy in front of the real server that answers 500
with an HTML page for the chosen paths and forwards everything else, streams included.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from server import ServerProcess, free_port
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from privatetrade.ops.smoke import (
    EQUITY_CSV_HEADER,
    REQUIRED_METRICS,
    REQUIRED_RESULT_FIELDS,
    STEP_TITLES,
    TRADES_CSV_HEADER,
)

pytestmark = pytest.mark.e2e

STEPS = [
    "health",
    "search",
    "submit",
    "progress",
    "download",
    "trades_csv",
    "equity_csv",
    "not_found",
    "cleanup",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
    "accept-encoding",
    "content-encoding",
}


def run_smoke(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180.0
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PRIVATETRADE_TOKEN"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "privatetrade", "smoke", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def steps_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in report["steps"]}


def history_total(server: ServerProcess) -> int:
    with server.client() as client:
        return int(client.get("/api/backtests").json()["total"])


class BreakingProxy:
    """A reverse proxy on a free port: 500 (HTML) for paths ``breaks`` picks, else forward."""

    def __init__(self, upstream: str, breaks: Callable[[str], bool]) -> None:
        self.upstream = upstream.rstrip("/")
        self.breaks = breaks
        self.broken_hits = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._client: httpx.AsyncClient | None = None
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self.forward,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                )
            ],
            lifespan=self._lifespan,
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=None) as client:
            self._client = client
            yield

    async def forward(self, request: Request) -> Response:
        if self.breaks(request.url.path):
            self.broken_hits += 1
            page = "<html><body><h1>500 Internal Server Error</h1><hr>nginx</body></html>"
            return HTMLResponse(page, status_code=500)
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        upstream = self._client.build_request(
            request.method,
            httpx.URL(self.upstream + request.url.path, query=request.url.query.encode()),
            headers=headers,
            content=await request.body(),
        )
        answer = await self._client.send(upstream, stream=True)
        out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(
                answer.aiter_raw(),
                status_code=answer.status_code,
                headers=out_headers,
                background=BackgroundTask(answer.aclose),
            )
        body = await answer.aread()
        await answer.aclose()
        return Response(body, status_code=answer.status_code, headers=out_headers)

    def __enter__(self) -> BreakingProxy:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test proxy did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(15)


@pytest.fixture(scope="module")
def sqlite_server(module_server: ServerProcess) -> ServerProcess:
    """One SQLite server for the failure tests (each smoke run deletes its backtest)."""
    return module_server


def test_smoke_passes_against_a_healthy_server(server: ServerProcess) -> None:
    assert server.token is not None
    result = run_smoke("--url", server.url, "--token", server.token, "--json", "-")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)  # with --json - stdout is the JSON report alone
    assert report["url"] == server.url
    assert report["passed"] is True
    assert report["failed_step"] is None
    assert isinstance(report["version"], str)
    assert report["version"]
    assert [step["name"] for step in report["steps"]] == STEPS
    for step in report["steps"]:
        assert step["passed"] is True, step
        assert step["skipped"] is False, step
        assert isinstance(step["ms"], int | float), step
        assert not isinstance(step["ms"], bool), step
        assert step["ms"] >= 0, step
        assert isinstance(step["detail"], str), step
    steps = steps_by_name(report)
    assert "polled" not in steps["progress"]["detail"]  # the event stream was used
    assert re.fullmatch(r"[0-9a-f]{32}", report["backtest_id"])
    # The table went to stderr and names every step.
    for name in STEPS:
        assert name in result.stderr
    assert "PASS: all 9 steps passed" in result.stderr
    # Nothing left behind: the smoke backtest was deleted.
    assert history_total(server) == 0
    with server.client() as client:
        assert client.get(f"/api/backtests/{report['backtest_id']}").status_code == 404


def test_broken_download_fails_the_download_step(
    sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    assert sqlite_server.token is not None
    out = tmp_path / "smoke.json"
    with BreakingProxy(
        sqlite_server.url, lambda path: path.startswith("/api/backtest/result/")
    ) as proxy:
        result = run_smoke(
            "--url",
            proxy.url,
            "--json",
            str(out),
            env={"PRIVATETRADE_TOKEN": sqlite_server.token},  # the token from the environment
        )

    assert result.returncode == 1, result.stdout + result.stderr
    assert proxy.broken_hits >= 1
    assert "FAIL: step download failed" in result.stdout
    assert "500" in result.stdout
    report = json.loads(out.read_text())
    assert report["passed"] is False
    assert report["failed_step"] == "download"
    assert report["failed_steps"] == ["download"]
    steps = steps_by_name(report)
    assert steps["download"]["passed"] is False
    assert steps["download"]["skipped"] is False
    assert "500" in steps["download"]["detail"]
    assert "text/html" in steps["download"]["detail"]
    # Everything else works through the proxy, the event stream included.
    for name in ("health", "search", "submit", "progress", "trades_csv", "equity_csv"):
        assert steps[name]["passed"] is True, steps[name]
    assert "polled" not in steps["progress"]["detail"]
    assert steps["not_found"]["passed"] is True
    assert steps["cleanup"]["passed"] is True
    assert history_total(sqlite_server) == 0


def test_broken_event_stream_falls_back_to_polling(sqlite_server: ServerProcess) -> None:
    assert sqlite_server.token is not None
    with BreakingProxy(sqlite_server.url, lambda path: path.endswith("/events")) as proxy:
        result = run_smoke("--url", proxy.url, "--token", sqlite_server.token, "--json", "-")

    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy.broken_hits == 1
    report = json.loads(result.stdout)
    assert report["passed"] is True
    detail = steps_by_name(report)["progress"]["detail"]
    assert "SSE failed" in detail
    assert "polled instead" in detail
    assert "500" in detail
    assert history_total(sqlite_server) == 0


def test_wrong_token_fails_the_first_authenticated_step(sqlite_server: ServerProcess) -> None:
    result = run_smoke("--url", sqlite_server.url, "--token", "pt_not-a-real-token", "--json", "-")

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is False
    assert report["failed_step"] == "search"
    steps = steps_by_name(report)
    assert steps["health"]["passed"] is True  # /api/health needs no token
    assert steps["search"]["passed"] is False
    assert "401" in steps["search"]["detail"]
    for name in ("submit", "progress", "download", "trades_csv", "equity_csv", "cleanup"):
        assert steps[name]["skipped"] is True, steps[name]
        assert steps[name]["passed"] is False, steps[name]
    assert "FAIL: step search failed" in result.stderr
    assert history_total(sqlite_server) == 0


def test_nothing_listening_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_smoke("--url", url, "--token", "whatever", "--timeout", "5")

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot connect to {url}")
    assert "refused" in lines[0]


def test_bad_url_is_one_line_and_exit_1() -> None:
    result = run_smoke("--url", "localhost:8000")

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: bad URL 'localhost:8000'")


def _table_keys(markdown: str, heading: str) -> list[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_required_fields_mirror_the_result_schema_docs() -> None:
    schema = (DOCS / "result-schema.md").read_text(encoding="utf-8")
    top = _table_keys(schema, "## Top level")
    assert top[0] == "schema_version"
    assert ("schema_version", "run", *top[1:]) == REQUIRED_RESULT_FIELDS
    metrics = _table_keys(schema, "## `metrics`")
    assert set(REQUIRED_METRICS) <= set(metrics)
    trades = re.search(r"^\| trades \|.*?\| `([^`]+)`", schema, flags=re.MULTILINE)
    equity = re.search(r"^\| equity \|.*?\| `([^`]+)`", schema, flags=re.MULTILINE)
    assert trades is not None
    assert equity is not None
    assert tuple(trades.group(1).split(", ")) == TRADES_CSV_HEADER
    assert tuple(equity.group(1).split(", ")) == EQUITY_CSV_HEADER
    assert list(STEP_TITLES) == STEPS
