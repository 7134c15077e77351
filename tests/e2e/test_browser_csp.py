"""Every kind of page works in Chromium under its Content-Security-Policy.

The browser reports each blocked script, style, image, worker or form target as a
``securitypolicyviolation`` event and a console error; this test listens for both on
every page type (login, the trader's pages with their Plotly charts, account, status,
error pages, Swagger UI, ReDoc) and on the offline report opened from a file, and
checks that each page did its work (charts drawn, docs rendered).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from server import ServerProcess, submit, wait_for

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
# Installed before any page script: every violation is kept on window and logged.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const text = `${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`;
  window.__cspViolations.push(text);
  console.error("CSP violation: " + text);
});
"""
CSP_MESSAGE = re.compile(r"Content.Security.Policy|CSP violation", re.I)


class Watched:
    """A browser context whose pages' CSP violations and script errors are collected."""

    def __init__(self, browser: Browser, *, offline: bool = False) -> None:
        self.context: BrowserContext = browser.new_context(offline=offline, accept_downloads=True)
        self.context.add_init_script(WATCH_VIOLATIONS)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if CSP_MESSAGE.search(message.text) or (
            message.type == "error" and not message.text.startswith("Failed to load resource")
        ):
            self.problems.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str) -> Page:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def assert_clean(self, where: str) -> None:
        """No violation reached the console nor the page's own list."""
        seen: list[str] = self.page.evaluate("window.__cspViolations || []")
        assert seen == [], (where, seen)
        assert self.problems == [], (where, self.problems)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("csp") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.accounts().set_password("admin", PASSWORD)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def runs(site: Any) -> list[str]:
    with site.client() as client:
        ids = [submit(client, {"symbol": symbol})["id"] for symbol in ("AAPL", "MSFT")]
        for job_id in ids:
            assert wait_for(client, job_id, timeout=120)["state"] == "succeeded"
    return ids


@pytest.fixture
def admin(browser: Browser, site: Any) -> Iterator[Watched]:
    """Signed in as admin through the login form (its form-action and redirect included)."""
    watched = Watched(browser)
    page = watched.visit(f"{site.url}/login")
    watched.assert_clean("/login")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{site.url}/")
    try:
        yield watched
    finally:
        watched.context.close()


def charts_drawn(page: Page, at_least: int) -> None:
    expect(page.locator(".main-svg").nth(at_least - 1)).to_be_attached(timeout=60_000)


def test_pages_without_charts(admin: Watched, site: Any, runs: list[str]) -> None:
    for path in ("/", "/stocks", "/stocks?q=AAPL", "/history", "/account", "/status"):
        page = admin.visit(site.url + path)
        expect(page.locator("main")).to_be_visible()
        admin.assert_clean(path)
    # A form post (token created) and an error page.
    page = admin.visit(f"{site.url}/account")
    # The token form's field (the notification channel form has a "name" field too).
    token_form = page.locator("form[action='/account/tokens']")
    token_form.locator("#token-name").fill("csp")
    token_form.locator("button[type=submit]").click()
    expect(page.locator("code.secret")).to_be_visible()
    admin.assert_clean("/account/tokens")
    page = admin.visit(f"{site.url}/no/such/page")
    expect(page.locator("main")).to_be_visible()
    admin.assert_clean("404 page")


def test_pages_with_plotly_charts(admin: Watched, site: Any, runs: list[str]) -> None:
    page = admin.visit(f"{site.url}/stocks/AAPL")
    charts_drawn(page, 1)
    admin.assert_clean("/stocks/AAPL")
    page = admin.visit(f"{site.url}/backtests/{runs[0]}")
    charts_drawn(page, 4)
    admin.assert_clean("/backtests/{id}")
    page = admin.visit(f"{site.url}/compare?id={runs[0]}&id={runs[1]}")
    charts_drawn(page, 1)
    admin.assert_clean("/compare")


def test_a_run_from_the_form_streams_its_progress(admin: Watched, site: Any) -> None:
    page = admin.visit(f"{site.url}/backtests/new?symbol=MSFT")
    admin.assert_clean("/backtests/new")
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url(re.compile(r"/backtests/[0-9a-f]{32}$"))
    # (expect, not wait_for_function: the page's CSP allows no eval, which that uses)
    expect(page.locator("#progress-bar")).to_have_js_property("value", 100, timeout=60_000)
    charts_drawn(page, 4)  # drawn in place from the live events (EventSource)
    admin.assert_clean("live run page")


def test_swagger_ui_and_redoc(browser: Browser, site: Any) -> None:
    watched = Watched(browser)
    try:
        page = watched.visit(f"{site.url}/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        page.locator(".opblock-summary").first.click()
        expect(page.locator(".try-out__btn").first).to_be_visible()
        watched.assert_clean("/docs")
        page = watched.visit(f"{site.url}/redoc")
        expect(page.locator("h1").first).to_contain_text("privatetrade", timeout=30_000)
        expect(page.locator("[data-section-id]").nth(10)).to_be_attached()
        watched.assert_clean("/redoc")
    finally:
        watched.context.close()


def test_the_offline_report_opened_from_a_file(
    browser: Browser, site: Any, runs: list[str], tmp_path: Path
) -> None:
    with site.client() as client:
        response = client.get(f"/api/backtests/{runs[0]}/report.html")
    assert response.status_code == 200
    report = tmp_path / "report.html"
    report.write_bytes(response.content)
    watched = Watched(browser, offline=True)
    try:
        page = watched.visit(report.as_uri())
        charts_drawn(page, 4)
        expect(page.locator("#report-error")).to_be_hidden()
        watched.assert_clean("report from file")
        # The policy inside the file is the one in force: an injected inline script is
        # refused (and reported), so the check above could have failed.
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = true'; document.body.append(s); }"
        )
        assert page.evaluate("window.injected === undefined")
        assert page.evaluate("window.__cspViolations.length") == 1
    finally:
        watched.context.close()
