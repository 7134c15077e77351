"""Web UI figures: page answer times, and how long a browser takes to draw a result.

Starts the real server (SQLite, 2 local workers, sample data), runs a 10-year daily AAPL
backtest and a 10-year KRX demo backtest, then measures with headless Chromium (Debian's
``/usr/bin/chromium`` through Playwright):

- server time of each page (median of 20 GETs over HTTP with a session cookie);
- result page: navigation start → all four charts drawn and the trades table filled
  (median of 5 loads, browser cache warm as for a returning user);
- the HTML report's size, and the time to open it offline until its charts are drawn.

Run: ``./dev bench`` or ``.venv/bin/python benchmarks/bench_ui.py``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.server import ServerProcess, submit, wait_for

CHROMIUM = os.environ.get("PRIVATETRADE_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = ["equity-chart", "drawdown-chart", "price-chart", "monthly-chart"]
DRAWN = "ids => ids.every(id => document.querySelector('#' + id + ' .main-svg'))"


def run_job(server: ServerProcess, body: dict[str, object]) -> str:
    with server.client() as client:
        job_id = str(submit(client, body)["id"])
        assert wait_for(client, job_id)["state"] == "succeeded"
    return job_id


def session_cookie(server: ServerProcess) -> str:
    accounts = server.accounts()
    try:
        secret, _session = accounts.start_session(accounts.user("admin"))
    finally:
        accounts.repository.engine.dispose()
    return str(secret)


def page_times(server: ServerProcess, cookie: str, paths: list[str]) -> None:
    print("server time per page (median of 20, ms):")
    headers = {"Accept": "text/html"}
    with httpx.Client(base_url=server.url, headers=headers, cookies={"pt_session": cookie}) as web:
        for path in paths:
            samples = []
            for _ in range(20):
                started = time.perf_counter()
                answer = web.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            print(
                f"   {path:<52} {statistics.median(samples):6.1f}   ({len(answer.content):,} bytes)"
            )


def draw_time(page: Page, url: str, loads: int = 5) -> float:
    samples = []
    for _ in range(loads):
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function(DRAWN, arg=CHARTS, timeout=60_000)
        page.wait_for_selector("#trades-table tbody tr, .result-part .empty")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="privatetrade-bench-ui-") as folder:
        root = Path(folder)
        server = ServerProcess(
            root / "data", workers=2, log_path=root / "server.log", end_with_parent=True
        )
        (root / "data").mkdir()
        with server.start(timeout=120):
            server.wait_workers_ready()
            us = run_job(server, {"symbol": "AAPL", "start": "2003-01-02", "end": "2012-12-31"})
            kr = run_job(server, {"symbol": "DEMO01", "strategy": "sma_cross", "costs": "krx"})
            cookie = session_cookie(server)
            page_times(
                server,
                cookie,
                [
                    "/",
                    "/stocks?q=합성",
                    "/stocks/AAPL",
                    "/backtests/new",
                    f"/backtests/{us}",
                    "/history",
                ],
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                context = browser.new_context()
                host = server.url.split("//")[1].split(":")[0]
                context.add_cookies(
                    [{"name": "pt_session", "value": cookie, "domain": host, "path": "/"}]
                )
                page = context.new_page()
                for label, job_id in (("AAPL 10 years daily", us), ("DEMO01 10 years, KRX", kr)):
                    millis = draw_time(page, f"{server.url}/backtests/{job_id}")
                    print(f"result page drawn ({label}): median {millis:.0f} ms of 5 loads")
                with server.client() as client:
                    report = client.get(f"/api/backtests/{us}/report.html")
                path = root / "report.html"
                path.write_bytes(report.content)
                offline = browser.new_context(offline=True)
                report_page = offline.new_page()
                started = time.perf_counter()
                report_page.goto(path.as_uri())
                report_page.wait_for_function(DRAWN, arg=CHARTS, timeout=60_000)
                print(
                    f"HTML report: {len(report.content) / 1e6:.2f} MB, opened offline and drawn "
                    f"in {(time.perf_counter() - started) * 1000:.0f} ms"
                )
                browser.close()


if __name__ == "__main__":
    main()
