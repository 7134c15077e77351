"""The trader's web UI in a real browser against a real server.

One server (SQLite, 2 local workers, the sample data plus the long ``LONG`` series) serves
the whole module; each test has its own browser context (cookies, language). Screenshots
of every page go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from server import ServerProcess, submit, wait_for

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
JOB_URL = re.compile(r"/backtests/[0-9a-f]{32}$")
CHARTS = ["equity-chart", "drawdown-chart", "price-chart", "monthly-chart"]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("ui") / "data"
    shutil.copytree(long_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.tokens = {name: server.create_user(name, PASSWORD) for name in ("trader", "other")}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class Session:
    """A browser context signed in as one user, collecting every console error."""

    def __init__(self, browser: Browser, server: Any, username: str, locale: str) -> None:
        self.server = server
        self.context: BrowserContext = browser.new_context(locale=locale, accept_downloads=True)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.goto(f"{server.url}/login")
        self.page.locator("#username").fill(username)
        self.page.locator("#password").fill(PASSWORD)
        self.page.locator("#password").press("Enter")
        self.page.wait_for_url(f"{server.url}/")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def script_errors(self) -> list[str]:
        """Errors other than the browser's note about an HTTP error answer."""
        return [e for e in self.errors if not e.startswith("Failed to load resource")]


@pytest.fixture
def session_factory(browser: Browser, ui_server: Any) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(username: str = "trader", locale: str = "en-US") -> Session:
        session = Session(browser, ui_server, username, locale)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.context.close()
    for session in opened:
        assert session.script_errors() == []


@pytest.fixture
def trader(session_factory: Callable[..., Session]) -> Session:
    return session_factory()


def api(server: Any, user: str = "trader") -> httpx.Client:
    return server.client(token=server.tokens[user])


def finished_run(server: Any, body: dict[str, Any], user: str = "trader") -> dict[str, Any]:
    with api(server, user) as client:
        job = submit(client, body)
        return wait_for(client, job["id"], {"succeeded"})


def charts_drawn(page: Page, ids: list[str]) -> None:
    for chart in ids:
        expect(page.locator(f"#{chart} .main-svg").first).to_be_attached(timeout=60_000)


def trace_types(page: Page, chart: str) -> list[str]:
    types: list[str] = page.evaluate(
        "id => document.getElementById(id).data.map(t => t.type + ':' + (t.name || ''))", chart
    )
    return types


# ------------------------------------------------------------------------ stock picker


def test_stock_picker_searches_hangul_and_english_names_as_you_type(trader: Session) -> None:
    page = trader.page
    trader.goto("/stocks")
    page.get_by_label("Code or name").fill("합성데모전자")
    expect(page.locator("#stock-results li").first).to_contain_text("DEMO01")
    expect(page.locator("#stock-results li")).to_have_count(1)
    page.screenshot(path=screenshot_path("ui-stocks-hangul"), full_page=True)

    page.get_by_label("Code or name").fill("Microsoft")
    expect(page.locator("#stock-results li").first).to_contain_text("MSFT")
    assert "q=Microsoft" in page.url  # the search is in the address, so it can be shared

    page.get_by_label("Code or name").fill("합성데모")
    page.get_by_label("Market").select_option("KOSDAQ")
    expect(page.locator("#stock-results li")).to_have_count(3)
    for text in page.locator("#stock-results li").all_inner_texts():
        assert "KOSDAQ" in text

    # Keyboard: arrow down from the search box walks the results.
    page.get_by_label("Code or name").press("ArrowDown")
    assert page.evaluate("document.activeElement.closest('#stock-results') !== null")

    page.get_by_label("Market").select_option("")
    page.get_by_label("Code or name").fill("Microsoft")
    page.locator("#stock-results a", has_text="MSFT").click()
    expect(page.locator("h1")).to_contain_text("Microsoft")
    charts_drawn(page, ["price-chart"])
    assert trace_types(page, "price-chart") == ["candlestick:Price"]
    bars = page.evaluate("document.getElementById('price-chart').data[0].x.length")
    symbol = api(trader.server).get("/api/symbols/MSFT").json()
    assert bars == symbol["bar_count"]
    expect(page.locator(".facts")).to_contain_text("NASDAQ")
    page.screenshot(path=screenshot_path("ui-stock-msft"), full_page=True)
    page.get_by_role("link", name="Backtest this").click()
    expect(page.locator("#f-symbol")).to_have_value("MSFT")


# ------------------------------------------------------------------------ the main flow


def test_run_a_backtest_watch_it_finish_and_read_the_result(trader: Session) -> None:
    page = trader.page
    trader.goto("/stocks/DEMO01")
    page.get_by_role("link", name="Backtest this").click()
    expect(page.locator("#f-symbol")).to_have_value("DEMO01")
    expect(page.locator("#symbol-info")).to_contain_text("KOSPI")
    expect(page.get_by_label("Strategy", exact=True)).to_have_value("sma_cross")
    page.get_by_label("Fast window").fill("5")
    page.get_by_label("Slow window").fill("20")
    page.get_by_label("Stop-loss").fill("8")
    page.get_by_label("Costs").select_option("krx")
    expect(page.locator("#cost-details")).to_contain_text("0.015%")
    page.get_by_text("More settings").click()
    page.get_by_label("Benchmark").fill("DEMO03")
    page.screenshot(path=screenshot_path("ui-form"), full_page=True)
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url(JOB_URL)
    job_id = page.url.rsplit("/", 1)[1]

    # Progress reaches 100% and the result appears without a reload.
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    # (expect, not wait_for_function: the page's CSP allows no eval, which that uses)
    expect(page.locator("#progress-bar")).to_have_js_property("value", 100, timeout=60_000)
    expect(page.locator("#progress-text")).to_contain_text("100%")
    expect(page.locator("#state-badge")).to_have_text("Succeeded")
    charts_drawn(page, CHARTS)
    assert navigations == []

    with api(trader.server) as client:
        document = client.get(f"/api/backtest/result/{job_id}").json()
    assert document["run"]["request"]["stops"]["stop_loss"] == 0.08
    assert document["run"]["request"]["params"] == {"fast": 5, "slow": 20}
    assert document["spec"]["settings"]["costs"]["preset"] == "krx"

    # Metric cards show the document's numbers in the page's locale.
    total = document["metrics"]["total_return"]
    expected = f"{total * 100:+.2f}%"
    expect(page.locator("[data-metric=total_return] dd")).to_have_text(expected)
    final = document["metrics"]["final_equity"]
    expect(page.locator("[data-metric=final_equity] dd")).to_have_text(f"₩{final:,.0f}")
    # The engine version that made the result is stated under the figures.
    engine = document["engine_version"]
    expect(page.locator(".engine-version")).to_have_text(f"Computed by engine version {engine}")

    # Price chart: candles, volume, both averages, the fills as buy and sell markers (then
    # the hidden levels of a selected trade).
    assert trace_types(page, "price-chart")[:6] == [
        "candlestick:Price",
        "bar:Volume",
        "scatter:SMA 5",
        "scatter:SMA 20",
        "scatter:Buy",
        "scatter:Sell",
    ]
    buys = page.evaluate(
        "document.getElementById('price-chart').data.find(t => t.name === 'Buy').y"
    )
    assert buys == [f["price"] for f in document["fills"] if f["side"] == "buy"]
    assert trace_types(page, "equity-chart") == [
        "scatter:Strategy",
        "scatter:Buy and hold",
        "scatter:Benchmark DEMO03",
    ]
    assert document["metrics"]["beta"] is not None
    beta = f"{document['metrics']['beta']:.2f}"
    expect(page.locator("[data-metric=beta] dd")).to_have_text(beta.replace("-0.00", "0.00"))
    months = page.evaluate(
        "document.getElementById('monthly-chart').data[0].z.flat().filter(v => v !== null).length"
    )
    assert months == len(document["monthly_returns"])

    # The trades table has every trade and sorts by a column.
    rows = page.locator("#trades-table tbody tr")
    expect(rows).to_have_count(min(50, len(document["trades"])))  # 50 a page
    page.get_by_role("button", name="Net P&L").click()
    expect(page.locator("#trades-table th[aria-sort=ascending]")).to_have_text("Net P&L")
    worst = min(trade["net_pnl"] for trade in document["trades"])
    expect(rows.first.locator("td").nth(6)).to_have_text(re.compile(rf"₩{abs(worst):,.0f}"))
    page.screenshot(path=screenshot_path("ui-result"), full_page=True)

    # Downloads: the JSON parses and is the same result; the report opens offline.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Result (JSON)").click()
    downloaded = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert downloaded["run"]["id"] == job_id
    assert downloaded["metrics"] == document["metrics"]
    assert download_info.value.suggested_filename.endswith(".json")

    with page.expect_download() as report_info:
        page.get_by_role("link", name="Report (HTML)").click()
    report = Path(report_info.value.path())
    assert report_info.value.suggested_filename.endswith("-report.html")
    offline_report_renders(page.context.browser, report, document)


def offline_report_renders(browser: Browser | None, report: Path, document: dict[str, Any]) -> None:
    assert browser is not None
    assert "<script src=" not in report.read_text(encoding="utf-8")
    local = report.with_name("report.html")
    shutil.copy(report, local)
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    errors: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(local.as_uri())
    charts_drawn(page, CHARTS)
    expect(page.locator("#trades-table tbody tr")).to_have_count(min(50, len(document["trades"])))
    expect(page.locator("h1")).to_contain_text("DEMO01")
    page.screenshot(path=screenshot_path("ui-report-offline"), full_page=True)
    context.close()
    assert errors == []
    assert [url for url in requests if not url.startswith("file:")] == []


def test_validation_errors_appear_next_to_their_fields(trader: Session) -> None:
    with api(trader.server) as client:
        jobs_before = client.get("/api/backtests").json()["total"]
    page = trader.page
    trader.goto("/backtests/new?symbol=DEMO01")
    page.get_by_label("Fast window").fill("0")
    page.get_by_role("button", name="Run backtest").click()
    error = page.locator("[data-error-for='params.fast']")
    expect(error).to_be_visible()
    expect(error).to_contain_text("fast")
    expect(page.get_by_label("Fast window")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.activeElement.id") == "param-fast"
    expect(page.locator("#form-error")).to_have_text("Please correct the marked fields.")
    page.screenshot(path=screenshot_path("ui-form-field-error"), full_page=True)

    # A corrected form clears the old message; a wrong symbol is marked on its own field.
    page.get_by_label("Fast window").fill("5")
    page.get_by_label("Stock code").fill("NOPE99")
    page.get_by_role("button", name="Run backtest").click()
    expect(page.locator("[data-error-for='symbol']")).to_be_visible()
    expect(page.locator("[data-error-for='params.fast']")).to_be_hidden()

    page.get_by_label("Stock code").fill("DEMO01")
    page.get_by_label("From", exact=True).fill("2020-01-10")
    page.get_by_label("To", exact=True).fill("2019-01-10")
    page.get_by_role("button", name="Run backtest").click()
    expect(page.locator("[data-error-for='end']")).to_contain_text("start must not be after end")
    with api(trader.server) as client:
        assert client.get("/api/backtests").json()["total"] == jobs_before  # nothing queued
    assert page.url.endswith("/backtests/new?symbol=DEMO01")


def test_rerun_with_edits_starts_from_the_earlier_spec(trader: Session) -> None:
    earlier = finished_run(
        trader.server,
        {
            "symbol": "AAPL",
            "strategy": "ema_cross",
            "params": {"fast": 8, "slow": 40},
            "stops": {"trailing_stop": 0.1},
            "start": "2005-01-03",
            "end": "2010-12-31",
        },
    )
    page = trader.page
    trader.goto(f"/backtests/{earlier['id']}")
    charts_drawn(page, ["equity-chart"])
    page.get_by_role("link", name="Re-run with edits").click()
    expect(page.get_by_label("Strategy", exact=True)).to_have_value("ema_cross")
    expect(page.get_by_label("Fast span")).to_have_value("8")
    expect(page.get_by_label("Trailing stop")).to_have_value("10")
    expect(page.get_by_label("From", exact=True)).to_have_value("2005-01-03")
    page.get_by_label("Slow span").fill("60")
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url(JOB_URL)
    assert page.url.rsplit("/", 1)[1] != earlier["id"]
    with api(trader.server) as client:
        rerun = client.get(f"/api/backtests/{page.url.rsplit('/', 1)[1]}").json()
    assert rerun["spec"]["params"] == {"fast": 8, "slow": 60}
    assert rerun["spec"]["stops"]["trailing_stop"] == 0.1
    assert rerun["spec"]["start"] == "2005-01-03"


def test_cancel_a_running_backtest(trader: Session) -> None:
    with api(trader.server) as client:
        job = submit(client, {"symbol": "LONG", "strategy": "sma_cross"})
    page = trader.page
    trader.goto(f"/backtests/{job['id']}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#state-badge")).to_have_text("Cancelled", timeout=60_000)
    expect(page.locator("#cancelled-section")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    page.screenshot(path=screenshot_path("ui-run-cancelled"), full_page=True)


def test_a_run_that_fails_shows_why(trader: Session) -> None:
    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    server = trader.server
    data = MarketData(server.data_dir)
    gone = SymbolInfo("GONE01", "사라질종목", Market.KOSPI, source="test", synthetic=True)
    data.save_bars(gone, data.bars("DEMO06"))
    with api(server) as client:
        blockers = [submit(client, {"symbol": "LONG", "strategy": "sma_cross"}) for _ in range(2)]
        for blocker in blockers:
            wait_for(client, blocker["id"], {"running"})
        doomed = submit(client, {"symbol": "GONE01", "strategy": "sma_cross"})
        assert client.get(f"/api/backtests/{doomed['id']}").json()["state"] == "queued"
    page = trader.page
    trader.goto(f"/backtests/{doomed['id']}")
    expect(page.locator("#progress-text")).to_contain_text("waiting for a worker")
    # The stock's data disappears while the run waits; it fails when it starts.
    assert data.delete("GONE01")
    with api(server) as client:
        for blocker in blockers:
            client.post(f"/api/backtests/{blocker['id']}/cancel")
    expect(page.locator("#state-badge")).to_have_text("Failed", timeout=60_000)
    expect(page.locator("#failed-section")).to_be_visible()
    expect(page.locator("#failed-reason")).not_to_be_empty()
    expect(page.locator("#failed-error")).to_contain_text("GONE01")
    expect(page.locator("#result")).to_be_hidden()
    page.screenshot(path=screenshot_path("ui-run-failed"), full_page=True)


# ------------------------------------------------------------------------ history, compare


def test_history_filters_compares_and_deletes(trader: Session) -> None:
    server = trader.server
    first = finished_run(server, {"symbol": "DEMO02", "strategy": "sma_cross"})
    second = finished_run(server, {"symbol": "DEMO02", "strategy": "momentum"})
    page = trader.page
    trader.goto("/history?symbol=DEMO02")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    page.screenshot(path=screenshot_path("ui-history"), full_page=True)

    page.get_by_role("link", name="Strategy").click()  # sort by strategy, newest page first
    expect(rows.first).to_contain_text("SMA crossover")
    page.get_by_role("link", name=re.compile("Strategy")).click()
    expect(rows.first).to_contain_text("Momentum")

    for job in (first, second):
        page.locator(f"tr[data-id='{job['id']}'] input[type=checkbox]").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    charts_drawn(page, ["compare-chart"])
    names = page.evaluate("document.getElementById('compare-chart').data.map(t => t.name)")
    assert sorted(name.split(" (")[0] for name in names) == [
        "합성데모바이오 · Momentum",
        "합성데모바이오 · SMA crossover",
    ]
    header = page.locator("#compare-table thead th")
    expect(header).to_have_count(3)
    compared = parse_qs(urlparse(page.url).query)["id"]
    assert sorted(compared) == sorted([first["id"], second["id"]])
    with api(server) as client:
        sharpes = [
            client.get(f"/api/backtest/result/{job_id}").json()["metrics"]["sharpe"]
            for job_id in compared
        ]
    cells = page.locator("#compare-table tr[data-metric=sharpe] td").all_inner_texts()
    assert cells == [f"{value:.2f}" for value in sharpes]
    page.screenshot(path=screenshot_path("ui-compare"), full_page=True)

    trader.goto("/history?symbol=DEMO02")
    page.locator(f"tr[data-id='{first['id']}'] input[type=checkbox]").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected").click()
    expect(rows).to_have_count(1)
    with api(server) as client:
        assert client.get(f"/api/backtests/{first['id']}").status_code == 404
        assert client.get(f"/api/backtests/{second['id']}").status_code == 200


def test_dashboard_lists_recent_runs_with_their_figures(trader: Session) -> None:
    job = finished_run(trader.server, {"symbol": "GOOG", "strategy": "rsi_reversion"})
    page = trader.page
    trader.goto("/")
    row = page.locator("table.runs tbody tr", has_text="RSI")
    expect(row.first).to_contain_text("Succeeded")
    expected = f"{job['summary']['total_return'] * 100:+.2f}%"
    expect(row.first).to_contain_text(expected)
    page.screenshot(path=screenshot_path("ui-dashboard"), full_page=True)
    row.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(job["id"]))


# ------------------------------------------------------------------------ languages, privacy


def test_korean_from_the_browser_switchable_with_korean_colours(
    session_factory: Callable[..., Session],
) -> None:
    session = session_factory(locale="ko-KR")
    page = session.page
    job = finished_run(session.server, {"symbol": "DEMO03", "strategy": "buy_and_hold"})
    session.goto(f"/backtests/{job['id']}")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("html")).to_have_attribute("data-colors", "red-up")
    expect(page.get_by_role("link", name="기록")).to_be_visible()
    charts_drawn(page, ["equity-chart"])
    expect(page.locator("[data-metric=total_return] dt")).to_have_text("총수익률")
    capital = page.locator("[data-metric=final_equity] dd").inner_text()
    assert re.fullmatch(r"₩[\d,]+", capital), capital  # won: no decimals
    gain = page.locator("[data-metric=total_return] dd")
    color = gain.evaluate("node => getComputedStyle(node).color")
    assert job["summary"]["total_return"] != 0
    assert color == (
        "rgb(208, 2, 27)" if job["summary"]["total_return"] > 0 else "rgb(26, 95, 208)"
    )
    page.screenshot(path=screenshot_path("ui-result-korean"), full_page=True)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # The page is loaded anew: its result is read and drawn again (slow on a loaded machine).
    total = page.locator("[data-metric=total_return] dt")
    expect(total).to_have_text("Total return", timeout=60_000)
    assert page.url.endswith(f"/backtests/{job['id']}")
    page.get_by_role("link", name="한국어").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    # Gains green instead (switchable), and it sticks.
    page.get_by_role("link", name="수익을 초록색으로 보기").click()
    expect(page.locator("html")).to_have_attribute("data-colors", "green-up")
    session.goto("/history")
    expect(page.locator("html")).to_have_attribute("data-colors", "green-up")
    expect(page.locator("h1")).to_have_text("기록")


def test_us_stocks_show_dollars_with_cents(trader: Session) -> None:
    job = finished_run(trader.server, {"symbol": "MSFT", "strategy": "sma_cross"})
    trader.goto(f"/backtests/{job['id']}")
    charts_drawn(trader.page, ["equity-chart"])
    text = trader.page.locator("[data-metric=final_equity] dd").inner_text()
    assert re.fullmatch(r"\$[\d,]+\.\d\d", text), text
    assert text == f"${job['summary']['final_equity']:,.2f}"


def test_the_forms_capital_placeholder_is_the_plans_default(trader: Session) -> None:
    """Left empty, the capital is the run plan's default: the form shows that number."""
    for symbol, shown in (("AAPL", "$100,000.00"), ("DEMO02", "₩10,000,000")):
        trader.goto(f"/backtests/new?symbol={symbol}")
        expect(trader.page.locator("#f-capital")).to_have_attribute("placeholder", shown)
        job = finished_run(trader.server, {"symbol": symbol})
        with api(trader.server, "trader") as client:
            result = client.get(f"/api/backtest/result/{job['id']}").json()
        capital = float(shown.strip("$₩").replace(",", ""))
        assert result["spec"]["settings"]["initial_cash"] == capital


def test_another_users_run_is_a_not_found_page(
    session_factory: Callable[..., Session], ui_server: Any
) -> None:
    job = finished_run(ui_server, {"symbol": "DEMO01"})
    other = session_factory("other")
    for path in (
        f"/backtests/{job['id']}",
        f"/backtests/new?from={job['id']}",
        f"/compare?id={job['id']}&id={job['id']}",
    ):
        response = other.goto(path)
        assert response is not None
        assert response.status == 404, path
        expect(other.page.locator("h1")).to_have_text("Not found")
    other.page.screenshot(path=screenshot_path("ui-not-found"), full_page=True)
    result = other.page.request.get(f"{other.server.url}/api/backtest/result/{job['id']}")
    assert result.status == 404
    owner = session_factory("trader")
    assert owner.goto(f"/backtests/{job['id']}").status == 200


# ------------------------------------------------------------------------ phone, accessibility


def test_phone_width_has_no_sideways_scrolling(session_factory: Callable[..., Session]) -> None:
    session = session_factory()
    page = session.page
    page.set_viewport_size({"width": 390, "height": 844})
    job = finished_run(session.server, {"symbol": "DEMO04", "strategy": "donchian_breakout"})
    for name, path in [
        ("dashboard", "/"),
        ("stocks", "/stocks?q=합성"),
        ("form", "/backtests/new?symbol=DEMO04"),
        ("result", f"/backtests/{job['id']}"),
        ("history", "/history"),
        ("account", "/account"),
    ]:
        session.goto(path)
        if name == "result":
            charts_drawn(page, CHARTS)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, overflow)
        page.screenshot(path=screenshot_path(f"ui-phone-{name}"), full_page=True)


UNLABELLED = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select'))
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.name || e.id)"""


def test_every_control_has_a_label_and_the_keyboard_reaches_it(trader: Session) -> None:
    page = trader.page
    for path in ("/", "/stocks", "/backtests/new", "/history", "/account"):
        trader.goto(path)
        assert page.evaluate(UNLABELLED) == [], path
    trader.goto("/backtests/new?symbol=DEMO01")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    for _ in range(3):
        page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused in {"f-symbol", "f-start", "f-end"}, focused
