"""The run page follows a job through a server restart on its event stream.

The browser's ``EventSource`` reconnects by itself with ``Last-Event-ID``; the page must
let it, rather than give up on the stream and poll.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Page, expect
from server import ServerProcess, submit

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
LONG_BODY = {"symbol": "LONG", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{url}/")


def test_the_run_page_reconnects_its_event_stream_after_a_server_restart(
    long_data_dir_copy: Path, tmp_path: Path
) -> None:
    server = ServerProcess(long_data_dir_copy, workers=1).start()
    # The same port after the restart, so the browser's reconnection reaches it.
    restarted = ServerProcess(long_data_dir_copy, workers=1, log_path=tmp_path / "again.log")
    restarted.port, restarted.url = server.port, server.url
    try:
        token = server.create_user("trader", PASSWORD)
        with server.client(token) as client:
            job_id = submit(client, LONG_BODY)["id"]
        with chromium() as browser:
            context = browser.new_context(locale="en-US")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, server.url, "trader")
            page.goto(f"{server.url}/backtests/{job_id}")
            expect(page.locator("#state-badge")).to_have_text("Running", timeout=60_000)

            server.kill()  # the stream breaks; the job runs again after the restart
            restarted.start()
            expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=120_000)
            expect(page.locator("#progress-bar")).to_have_js_property("value", 100)
            expect(page.locator("#run-error")).to_be_hidden()
            page.screenshot(path=screenshot_path("ui-run-reconnected"), full_page=True)
            context.close()
    finally:
        server.stop()
        restarted.stop()
    assert errors == []
    requests = {
        (record["method"], record["path"]) for record in restarted.log_events("http.request")
    }
    assert ("GET", f"/api/backtests/{job_id}/events") in requests
    assert ("GET", f"/api/backtests/{job_id}") not in requests  # followed, not polled
