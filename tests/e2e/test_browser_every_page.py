"""Every page at 1440×900 and at 390×844, in English and in Korean, in Chromium.

One server serves the module, with a finished run of every kind (a backtest with trades
and a second one to compare, an optimization, a walk-forward, a portfolio and a scan);
each of the four tests (a width and a language) visits every page once: the dashboard,
the forms, every run page, the offline report, compare, history, the stocks and a stock,
the data pages, the account, the status page, the login page and the not-found page.
On each, layout_audit.js checks what a reader would hit: no sideways scrolling, no key
element drawn over another (buttons, inputs, labels, table headings, a chart's legend,
range buttons and toolbar), every figure inside the screen's width, no Korean word split
over two lines, no blank space under form fields, readable heatmap numbers; and the page
logged no console error and no failed request (404s included). A test lists every
problem of every page before it fails. Screenshots of every page go to test-artifacts/.

The site's icon is checked over HTTP, and the stock picker's race (an older or a
redundant search answering after the keyboard moved into the list) is forced with a
held-back answer and a paused clock.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    expect,
)
from server import ServerProcess, submit

from polling import poll
from privatetrade.domain.users import Role

pytestmark = pytest.mark.browser

USER = "auditor"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
AUDIT = (Path(__file__).parent / "layout_audit.js").read_text(encoding="utf-8")
FINAL = {"succeeded", "failed", "cancelled"}
DRAWN_MS = 60_000
BACKTEST = {
    "symbol": "DEMO01",
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
    "benchmark": "DEMO03",
}
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "backtest": ("/api/backtests", BACKTEST),
    "other": ("/api/backtests", {"symbol": "AAPL", "strategy": "rsi_reversion"}),
    "sweep": (
        "/api/sweeps",
        {
            "symbol": "DEMO01",
            "space": {
                "fast": {"start": 5, "stop": 40, "step": 5},
                "slow": {"start": 30, "stop": 140, "step": 10},
            },
        },
    ),
    "walkforward": (
        "/api/walkforwards",
        {
            "symbol": "DEMO01",
            "space": {"fast": [5, 10, 20], "slow": [30, 60, 120]},
            "in_sample": "24m",
            "out_of_sample": "12m",
        },
    ),
    "portfolio": (
        "/api/portfolios",
        {
            "symbols": ["DEMO01", "DEMO03", "DEMO05"],
            "start": "2018-01-01",
            "end": "2020-12-31",
            "rule": {"rule": "top_n_momentum", "top": 2, "lookback": 40},
            "benchmark": "DEMOIDX",
        },
    ),
    "scan": (
        "/api/scans",
        {"market": "KOSDAQ", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}},
    ),
}


RULE_STRATEGY: dict[str, Any] = {
    "name": "SMA cross rule",
    "description": "SMA(fast) crosses above SMA(slow); out on the opposite cross",
    "document": {
        "schema": "privatetrade.rules/1",
        "parameters": {
            "fast": {"type": "int", "default": 10, "min": 5, "max": 50},
            "slow": {"type": "int", "default": 30, "min": 10, "max": 200},
        },
        "long": {
            "entry": {
                "crosses_above": [
                    {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                    {"indicator": "sma", "source": {"price": "close"}, "period": "${slow}"},
                ]
            },
            "exit": {
                "crosses_below": [
                    {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                    {"indicator": "sma", "source": {"price": "close"}, "period": "${slow}"},
                ]
            },
        },
        "exits": {"stop_loss": 0.08},
    },
}


@dataclass(frozen=True, slots=True)
class PageCase:
    """One page to audit: where it is, what shows it is drawn, what it must contain."""

    name: str
    path: str  # formatted with the runs' ids; "report" is the offline report file
    ready: tuple[str, ...] = ("main h1",)
    figures: bool = False  # it shows figures (metric cards or numeric cells)
    fields: bool = False  # it is a form
    status: int = 200


RESULT_DRAWN = (
    "#trades-table tbody tr",
    "#equity-chart .main-svg",
    "#price-chart .main-svg",
    "#monthly-chart .main-svg",
)
PAGES = [
    PageCase("dashboard", "/", ("table.runs tbody tr",), figures=True),
    PageCase("backtest-form", "/backtests/new?symbol=DEMO01", ("#param-fast",), fields=True),
    PageCase("backtest", "/backtests/{backtest}", RESULT_DRAWN, figures=True),
    PageCase("report", "report", RESULT_DRAWN, figures=True),
    PageCase(
        "compare",
        "/compare?id={backtest}&id={other}",
        ("#compare-table tbody tr", "#compare-chart .main-svg"),
        figures=True,
    ),
    PageCase("history", "/history", ("table.runs tbody tr",), figures=True, fields=True),
    PageCase("stocks", "/stocks?q=합성데모", ("#stock-results li",), fields=True),
    PageCase("stock", "/stocks/DEMO01", ("#price-chart .main-svg",)),
    PageCase("data", "/data", ("#data-table tbody tr",), figures=True, fields=True),
    PageCase("data-symbol", "/data/symbols/DEMO01", ("#findings",)),
    PageCase("data-import", "/data/import", ("#import-file",), fields=True),
    PageCase("research-form", "/research/new?symbol=DEMO01", ("#search-fast-mode",), fields=True),
    PageCase(
        "sweep",
        "/research/{sweep}",
        ("#heatmap-chart[data-drawn] .main-svg", "#top-table tbody tr"),
        figures=True,
    ),
    PageCase(
        "walkforward",
        "/research/{walkforward}",
        ("#windows-table tbody tr", "#walkforward-chart .main-svg"),
        figures=True,
    ),
    PageCase(
        "portfolio-form", "/portfolios/new?symbols=DEMO01,DEMO03", ("#u-chips li",), fields=True
    ),
    PageCase(
        "portfolio",
        "/portfolios/{portfolio}",
        (
            "#holdings-chart[data-drawn=true]",
            "#contribution-table tbody tr",
            "#trades-table tbody tr",
        ),
        figures=True,
    ),
    PageCase("scan-form", "/scans/new?market=KOSDAQ", ("#param-fast",), fields=True),
    PageCase(
        "scan",
        "/scans/{scan}",
        ("#scan-scatter[data-points]", "#ranking-table tbody tr"),
        figures=True,
    ),
    PageCase("rules", "/rules", ("#rules-table[aria-busy=false] tbody tr[data-id]",), fields=True),
    PageCase("rule-builder", "/rules/new", ("#rule-form[data-ready]",), fields=True),
    PageCase(
        "rule-builder-saved",
        "/rules/{rule}",
        ("#rule-form[data-ready]", '[data-key="long.entry.crosses_above[1].period|from"]'),
        fields=True,
    ),
    PageCase("account", "/account"),
    PageCase("status", "/status"),
    PageCase("not-found", "/no-such-page", status=404),
]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("every-page") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    accounts = server.accounts()
    try:
        accounts.create_user(USER, PASSWORD, Role.ADMIN)  # the status and data controls too
    finally:
        accounts.repository.engine.dispose()
    server.user_token = server.create_token(USER)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def api(server: ServerProcess) -> httpx.Client:
    return server.client(token=server.user_token)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def runs(site: ServerProcess) -> dict[str, str]:
    """The id of a finished run of every kind (submitted together, run by 2 workers)."""
    with api(site) as client:
        ids = {}
        for name, (route, body) in RUNS.items():
            if route == "/api/backtests":
                ids[name] = submit(client, body)["id"]
            else:
                answer = client.post(route, json=body)
                assert answer.status_code == 202, answer.text
                ids[name] = answer.json()["id"]
        for name, job_id in ids.items():
            job = poll(lambda job_id=job_id: ended(client, job_id), 240.0, f"the {name} run")
            assert job["state"] == "succeeded", job
        saved = client.post("/api/rule-strategies", json=RULE_STRATEGY)  # the builder's pages
        assert saved.status_code == 201, saved.text
        ids["rule"] = saved.json()["id"]
    return ids


def ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job if job["state"] in FINAL else None


@pytest.fixture(scope="module")
def reports(
    site: ServerProcess, runs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The backtest's offline HTML report in each language, saved as a file."""
    folder = tmp_path_factory.mktemp("reports")
    saved = {}
    with api(site) as client:
        for language in ("en", "ko"):
            answer = client.get(
                f"/api/backtests/{runs['backtest']}/report.html",
                headers={"Accept-Language": language},
            )
            assert answer.status_code == 200, answer.text
            path = folder / f"report-{language}.html"
            path.write_bytes(answer.content)
            saved[language] = path
    return saved


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class Visitor:
    """A browser context at one size and language that records every error it meets."""

    def __init__(self, browser: Browser, server: ServerProcess, locale: str, viewport: Any):
        self.server = server
        self.context: BrowserContext = browser.new_context(locale=locale, viewport=viewport)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.expected_failure: str | None = None  # the not-found page's own 404
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)
        # The status page reloads itself every 10 s: audited once, without the reload (a
        # reload in the middle of the audit would end it on a loaded machine).
        self.context.route(f"{server.url}/status", self._without_reload)

    @staticmethod
    def _without_reload(route: Route) -> None:
        answer = route.fetch()
        body = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", answer.text())
        route.fulfill(response=answer, body=body)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if self.expected_failure and message.location.get("url") == self.expected_failure:
            return
        self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.url != self.expected_failure:
            self.errors.append(f"{response.status} {response.url}")

    def _failed(self, request: Request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" not in failure:
            self.errors.append(f"failed: {request.url} {failure}")

    def sign_in(self) -> None:
        self.page.goto(f"{self.server.url}/login")
        self.page.locator("#username").fill(USER)
        self.page.locator("#password").fill(PASSWORD)
        self.page.locator("#password").press("Enter")
        self.page.wait_for_url(f"{self.server.url}/")


def audit_page(visitor: Visitor, case: PageCase, url: str, shot: str) -> list[str]:
    """Open ``url``, wait until it is drawn, audit it; return its problems."""
    page = visitor.page
    visitor.errors.clear()
    visitor.expected_failure = url if case.status == 404 else None
    response = page.goto(url)
    problems = []
    if url.startswith("http") and (response is None or response.status != case.status):
        problems.append(f"answered {response.status if response else None}, not {case.status}")
    for selector in case.ready:
        expect(page.locator(selector).first).to_be_attached(timeout=DRAWN_MS)
    page.wait_for_load_state("networkidle")
    found: dict[str, Any] = page.evaluate(AUDIT)
    page.screenshot(path=screenshot_path(shot), full_page=True)
    if found["overflow"] > 0:
        problems.append(f"scrolls sideways by {found['overflow']} px")
    for kind in ("overlaps", "hiddenFigures", "brokenWords", "tallFields", "smallHeatmapText"):
        problems.extend(f"{kind}: {item}" for item in found[kind])
    if case.figures and found["figures"] == 0:
        problems.append("no figures shown")
    if case.fields and found["fields"] == 0:
        problems.append("no form fields shown")
    if url.startswith("http") and not (found["icon"] or "").startswith("/favicon.svg"):
        problems.append(f"links no site icon ({found['icon']})")
    problems.extend(visitor.errors)
    return problems


def page_url(case: PageCase, server: ServerProcess, ids: dict[str, str], report: Path) -> str:
    if case.path == "report":
        return report.as_uri()
    return server.url + case.path.format(**ids)


@pytest.mark.parametrize(
    ("locale", "viewport"),
    [("en-US", DESKTOP), ("ko-KR", DESKTOP), ("en-US", PHONE), ("ko-KR", PHONE)],
    ids=["english-desktop", "korean-desktop", "english-phone", "korean-phone"],
)
def test_every_page_fits_the_screen_and_logs_no_error(
    browser: Browser,
    site: ServerProcess,
    runs: dict[str, str],
    reports: dict[str, Path],
    locale: str,
    viewport: dict[str, int],
) -> None:
    language = locale[:2]
    size = f"{viewport['width']}x{viewport['height']}"
    visitor = Visitor(browser, site, locale, viewport)
    found: dict[str, list[str]] = {}
    try:
        login = PageCase("login", "/login", ("#username",))
        found["login"] = audit_page(
            visitor, login, f"{site.url}/login", f"every-page-login-{language}-{size}"
        )
        visitor.sign_in()
        for case in PAGES:
            url = page_url(case, site, runs, reports[language])
            problems = audit_page(visitor, case, url, f"every-page-{case.name}-{language}-{size}")
            if problems:
                found[case.name] = problems
    finally:
        visitor.context.close()
    found = {name: problems for name, problems in found.items() if problems}
    listing = "\n".join(f"{name}:\n  " + "\n  ".join(problems) for name, problems in found.items())
    # The whole list, next to the screenshots (an assertion message gets cut short).
    screenshot_path(f"every-page-{language}-{size}").with_suffix(".txt").write_text(
        listing or "no problems\n", encoding="utf-8"
    )
    assert found == {}, listing


# ------------------------------------------------------------------------ the site's icon


def test_the_site_icon_is_an_svg_that_every_page_may_load(site: ServerProcess) -> None:
    with site.anonymous() as anonymous:
        login = anonymous.get("/login")
        links = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', login.text)
        assert len(links) == 1, login.text[:500]
        policy = login.headers["content-security-policy"]
        images = re.search(r"img-src ([^;]+)", policy)
        assert images is not None, policy
        assert "'self'" in images.group(1).split(), policy
        icon = anonymous.get(links[0])
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.headers["cache-control"] == "public, max-age=86400"
        assert icon.content.startswith(b"<svg")
        assert icon.content.rstrip().endswith(b"</svg>")
        again = anonymous.get(links[0], headers={"If-None-Match": icon.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        # Where a browser looks when a page names no icon (a JSON answer opened in a tab).
        default = anonymous.get("/favicon.ico")
        assert default.status_code == 200
        assert default.headers["content-type"] == "image/svg+xml"
        assert default.content == icon.content


# ------------------------------------------------------------------------ the stock picker


@pytest.fixture
def stocks_page(browser: Browser, site: ServerProcess) -> Iterator[Page]:
    """The stocks page with its timers on a paused clock (the typed search waits 150 ms)."""
    visitor = Visitor(browser, site, "en-US", DESKTOP)
    try:
        visitor.sign_in()
        visitor.page.clock.install()
        visitor.page.goto(f"{site.url}/stocks")
        yield visitor.page
        assert visitor.errors == []
    finally:
        visitor.context.close()


def symbol_requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/symbols?" in r.url else None)
    return seen


def focus_in_results(page: Page) -> bool:
    inside: bool = page.evaluate("document.activeElement.closest('#stock-results') !== null")
    return inside


def test_an_older_search_answering_late_leaves_the_list_and_the_focus(stocks_page: Page) -> None:
    page = stocks_page
    results = page.locator("#stock-results")
    held: list[Route] = []

    def hold_the_typed_search(route: Route) -> None:
        if "market=" not in route.request.url and not held:
            held.append(route)  # answered after the market's search
        else:
            route.continue_()

    page.route("**/api/symbols?*", hold_the_typed_search)
    page.locator("#q").fill("합성데모")
    with page.expect_request(lambda r: "q=%ED%95%A9" in r.url and "market=" not in r.url):
        page.clock.run_for(200)  # the typed search starts; its answer is held back
    page.locator("#market").select_option("KOSDAQ")
    expect(results.locator("li")).to_have_count(3)
    page.locator("#q").press("ArrowDown")
    assert focus_in_results(page)

    assert len(held) == 1
    held[0].continue_()  # six stocks of every market, too late
    expect(results).to_have_attribute("data-ignored", "1")
    expect(results.locator("li")).to_have_count(3)
    for text in results.locator("li").all_inner_texts():
        assert "KOSDAQ" in text
    assert focus_in_results(page)
    page.unroute("**/api/symbols?*")


def test_a_typed_search_still_waiting_when_the_market_changes_never_runs(
    stocks_page: Page,
) -> None:
    """The flake of test_stock_picker_searches_hangul_and_english_names_as_you_type, forced."""
    page = stocks_page
    results = page.locator("#stock-results")
    page.locator("#q").fill("합성데모")  # the typed search waits on the paused clock
    page.locator("#market").select_option("KOSDAQ")  # searches at once
    expect(results.locator("li")).to_have_count(3)
    rendered = results.get_attribute("data-rendered")
    page.locator("#q").press("ArrowDown")
    assert focus_in_results(page)

    requests = symbol_requests(page)
    page.clock.run_for(1000)  # long past the typed search's 150 ms
    # The same search again (Enter): the answer equals the list, which is left alone.
    with page.expect_response(lambda r: "/api/symbols?" in r.url) as answer:
        page.evaluate("document.getElementById('stock-search').requestSubmit()")
    assert answer.value.ok
    assert len(requests) == 1, requests  # the typed search never ran
    expect(results.locator("li")).to_have_count(3)
    assert results.get_attribute("data-rendered") == rendered
    assert focus_in_results(page)


def test_a_changed_answer_keeps_the_focus_on_the_same_stock(stocks_page: Page) -> None:
    page = stocks_page
    results = page.locator("#stock-results")
    page.locator("#q").fill("합성데모")
    page.locator("#market").select_option("KOSDAQ")
    expect(results.locator("li")).to_have_count(3)
    page.locator("#q").press("ArrowDown")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    # Six stocks now, the focused one among them (the market changed without moving the focus).
    page.evaluate(
        "() => { const market = document.getElementById('market'); market.value = '';"
        " market.dispatchEvent(new Event('change')); }"
    )
    expect(results.locator("li")).to_have_count(6)
    assert page.evaluate("document.activeElement.getAttribute('href')") == focused
