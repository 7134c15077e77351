"""The account pages in a real browser: one-time link, login form, API tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, Page
from server import ServerProcess

pytestmark = pytest.mark.browser

LINK = re.compile(r"log in as admin \(one-time link\): (\S+)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    yield opened
    context.close()
    # Pages answered 401/400 on purpose log "Failed to load resource"; nothing else may.
    assert [error for error in errors if not error.startswith("Failed to load resource")] == []


def test_first_login_link_then_a_token_that_works(
    data_dir: Path, browser: Browser, page: Page
) -> None:
    server = ServerProcess(data_dir).start()
    try:
        match = LINK.search(server.log_path.read_text())
        assert match is not None, server.log_tail()
        page.goto(match.group(1))
        assert page.url.endswith("/account")
        page.get_by_label("Name").fill("browser test")
        page.get_by_role("button", name="Create token").click()
        secret = page.locator("code.secret").inner_text().strip()
        assert secret.startswith("pt_")
        page.screenshot(path=screenshot_path("account-new-token"), full_page=True)
        me = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.json()["username"] == "admin"
        assert page.get_by_role("cell", name="browser test", exact=True).is_visible()

        # The link worked once; a second visit shows a message, not a session.
        other = browser.new_context().new_page()
        other.goto(match.group(1))
        assert "invalid, expired or already used" in other.locator("[role=alert]").inner_text()
        other.context.close()
    finally:
        server.stop()


def test_login_form_shows_errors_and_logs_in(server: ServerProcess, page: Page) -> None:
    server.accounts().create_user("carol", "correct horse battery")
    page.goto(f"{server.url}/account")
    assert "/login" in page.url
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    assert page.locator("[role=alert]").inner_text() == "Wrong username or password."
    page.screenshot(path=screenshot_path("login-error"), full_page=True)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    assert page.url.endswith("/account")
    assert "carol" in page.locator("main").inner_text()
    page.get_by_role("button", name="Log out").click()
    assert "/login" in page.url
