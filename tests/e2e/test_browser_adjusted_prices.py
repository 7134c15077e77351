"""The backtest form's price choice and the result page's data warnings, in Chromium.

One real server on the sample data plus ``RAWAAPL`` (AAPL stored with raw prices only).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, Page, expect
from server import ServerProcess, submit, wait_for

from privatetrade.data.market_data import MarketData
from privatetrade.data.sample import load_sample_bars
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
JOB_URL = re.compile(r"/backtests/[0-9a-f]{32}$")
SPLIT_WARNING = "possible 2:1 split on 2005-02-28 in raw prices"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("prices-ui") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    raw_only = SymbolInfo(
        code="RAWAAPL", name="AAPL raw only", market=Market.NASDAQ, currency="USD",
        tick_table="us", source="import",
    )  # fmt: skip
    MarketData(data_dir).save_bars(raw_only, load_sample_bars("AAPL"), kind=PriceKind.RAW)
    server = ServerProcess(data_dir).start()
    server.token = server.create_user("trader", PASSWORD)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, ui_server: Any) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{ui_server.url}/login")
    opened.locator("#username").fill("trader")
    opened.locator("#password").fill(PASSWORD)
    opened.locator("#password").press("Enter")
    opened.wait_for_url(f"{ui_server.url}/")
    yield opened
    context.close()
    assert errors == []


def fill_the_split_run(page: Page, server: Any, symbol: str = "AAPL") -> None:
    page.goto(f"{server.url}/backtests/new?symbol={symbol}")
    expect(page.locator("#symbol-info")).to_contain_text("NASDAQ")
    page.get_by_label("Strategy", exact=True).select_option("buy_and_hold")
    page.get_by_label("From", exact=True).fill("2005-01-03")
    page.get_by_label("To", exact=True).fill("2005-12-30")
    page.get_by_label("Stop-loss").fill("20")


def submitted_request(server: Any, page: Page) -> dict[str, Any]:
    page.wait_for_url(JOB_URL)
    with server.client(token=server.token) as client:
        job = client.get(f"/api/backtests/{page.url.rsplit('/', 1)[1]}").json()
    return dict(job["spec"])


def test_the_form_offers_adjusted_prices_first(page: Page, ui_server: Any) -> None:
    fill_the_split_run(page, ui_server)
    choice = page.get_by_role("group", name="Prices")
    expect(choice.get_by_label("Adjusted for splits and dividends")).to_be_checked()
    expect(choice.get_by_label("Raw, as traded")).not_to_be_checked()
    page.get_by_role("button", name="Run backtest").click()
    assert submitted_request(ui_server, page)["adjusted"] is True
    expect(page.locator(".prices-used")).to_have_text(
        "Prices: adjusted for splits and dividends", timeout=60_000
    )
    expect(page.locator("ul.warnings")).not_to_contain_text("split")


def test_a_raw_run_lists_the_split_warning(page: Page, ui_server: Any) -> None:
    fill_the_split_run(page, ui_server)
    page.get_by_label("Raw, as traded").check()
    page.get_by_role("button", name="Run backtest").click()
    assert submitted_request(ui_server, page)["adjusted"] is False
    warnings = page.get_by_role("list", name="Warnings")
    expect(warnings).to_contain_text(SPLIT_WARNING, timeout=60_000)
    expect(warnings.get_by_role("listitem").first).to_contain_text("2005-02-28")
    expect(page.locator(".prices-used")).to_contain_text("Prices: raw, as traded")
    page.screenshot(path=screenshot_path("ui-raw-split-warning"), full_page=True)


def test_a_stock_with_only_raw_prices_says_so_before_the_run(page: Page, ui_server: Any) -> None:
    fill_the_split_run(page, ui_server, "RAWAAPL")
    expect(page.locator("#hint-prices")).to_contain_text("Only raw prices are stored")
    page.locator("#f-symbol").fill("AAPL")
    page.locator("#f-symbol").dispatch_event("change")
    expect(page.locator("#hint-prices")).to_contain_text("a split looks like a crash")


def test_a_rerun_keeps_the_raw_choice(page: Page, ui_server: Any) -> None:
    with ui_server.client(token=ui_server.token) as client:
        job = submit(client, {"symbol": "AAPL", "adjusted": False, "end": "2001-12-31"})
        assert wait_for(client, job["id"], {"succeeded"}, timeout=120)["state"] == "succeeded"
    page.goto(f"{ui_server.url}/backtests/new?from={job['id']}")
    expect(page.get_by_label("Raw, as traded")).to_be_checked()
    expect(page.get_by_label("Adjusted for splits and dividends")).not_to_be_checked()
