"""In Chromium: a chosen stock gets its market's index as the benchmark; an index is no stock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Page, expect
from server import ServerProcess

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def page(module_server: ServerProcess) -> Iterator[Page]:
    module_server.create_user("trader", PASSWORD)
    with chromium() as browser:
        context = browser.new_context(locale="en-US")
        errors: list[str] = []
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{module_server.url}/login")
        page.locator("#username").fill("trader")
        page.locator("#password").fill(PASSWORD)
        page.locator("#password").press("Enter")
        page.wait_for_url(f"{module_server.url}/")
        yield page
        context.close()
        assert errors == []


def choose(page: Page, code: str) -> None:
    symbol = page.locator("#f-symbol")
    symbol.fill(code)
    symbol.dispatch_event("change")


def test_the_form_offers_the_market_index_until_the_user_picks_one(
    page: Page, module_server: ServerProcess
) -> None:
    page.goto(f"{module_server.url}/backtests/new?symbol=DEMO01")
    benchmark, note = page.locator("#f-benchmark"), page.locator("#benchmark-default")
    expect(benchmark).to_have_value("DEMOIDX")
    expect(note).to_be_visible()
    expect(note).to_contain_text("DEMOIDX")
    page.screenshot(path=screenshot_path("ui-form-default-benchmark"), full_page=True)

    choose(page, "AAPL")  # no US index stored: nothing to offer
    expect(benchmark).to_have_value("")
    expect(note).to_be_hidden()

    choose(page, "DEMO04")
    expect(benchmark).to_have_value("DEMOIDX")

    page.get_by_text("More settings", exact=True).click()
    benchmark.fill("DEMO03")  # the user's own choice stays
    choose(page, "DEMO02")
    expect(page.locator("#symbol-info")).to_contain_text("KOSDAQ")
    expect(benchmark).to_have_value("DEMO03")

    choose(page, "DEMOIDX")
    expect(note).to_contain_text("DEMOIDX is a market index")


def test_an_index_page_offers_no_backtest(page: Page, module_server: ServerProcess) -> None:
    page.goto(f"{module_server.url}/stocks/DEMOIDX")
    expect(page.locator("#index-note")).to_contain_text("benchmark")
    expect(page.get_by_role("link", name="Backtest this")).to_have_count(0)
    page.goto(f"{module_server.url}/stocks?q=DEMOIDX")
    expect(page.locator("#stock-results li").first).to_contain_text("index")
