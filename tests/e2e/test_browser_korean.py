"""Every word of every page in Korean, read in Chromium against a real server.

One server serves the module, with a finished run of every kind (a backtest with few
trades, so it warns, and a second one to compare, an optimization, a walk-forward, a
portfolio and a scan). A Korean browser visits every page: the dashboard, the forms (the
backtest form also with the API's errors next to its fields), every run page, the
offline report, compare, history, the stock search (with and without results) and a
stock, the data pages, the account, the status page, the login page and the not-found
page. On each it reads what a reader meets (``visible_text.js``: the title, the visible
text with the charts' labels, tooltips, placeholders and accessible names) and lists
every word in Latin letters that is not allowed (``tests/korean_text.py``: market and
product names, units, standard abbreviations; data such as symbol codes and names, the
user's name, run ids). The test fails listing each such word with its page, element and
text. It also chooses every strategy, method and rule the forms offer, submits the backtest
form with values the API refuses, hovers a chart (Plotly's own words) and compares the
page's translation of a result's warnings with the server's. Screenshots of every page go
to test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from server import ServerProcess, submit

from korean_text import latin_words
from polling import poll
from privatetrade.domain.users import Role
from privatetrade.web.ui.i18n import Language, tell

pytestmark = pytest.mark.browser

USER = "hangul"
PASSWORD = "correct horse battery"
TOKEN_NAME = "노트북 스크립트"
TEXT = (Path(__file__).parent / "visible_text.js").read_text(encoding="utf-8")
FINAL = {"succeeded", "failed", "cancelled"}
DRAWN_MS = 60_000
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    # A year of DEMO01 with a benchmark and a stop-loss: few trades, so the result warns.
    "backtest": (
        "/api/backtests",
        {
            "symbol": "DEMO01",
            "strategy": "rsi_reversion",
            "start": "2022-01-01",
            "end": "2022-12-31",
            "benchmark": "DEMOIDX",
            "stops": {"stop_loss": 0.05},
        },
    ),
    "other": ("/api/backtests", {"symbol": "DEMO02", "strategy": "macd_cross"}),
    "sweep": ("/api/sweeps", {"symbol": "DEMO02", "space": {"fast": [5, 10], "slow": [30, 60]}}),
    "walkforward": (
        "/api/walkforwards",
        {
            "symbol": "DEMO03",
            "space": {"fast": [5, 10], "slow": [30, 60]},
            "in_sample": "36m",
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
# A saved rule strategy, named and described in Korean by its user; its parameters keep
# the names the rule gives them (shown as "${fast}") and have Korean labels.
RULE_STRATEGY: dict[str, Any] = {
    "name": "이동평균 교차 규칙",
    "description": "단기 이동평균이 장기 이동평균을 상향 돌파하면 매수",
    "document": {
        "schema": "privatetrade.rules/1",
        "parameters": {
            "fast": {"type": "int", "default": 10, "min": 5, "max": 50, "title": "단기 기간"},
            "slow": {"type": "int", "default": 30, "min": 10, "max": 200, "title": "장기 기간"},
        },
        "long": {
            "entry": {
                "all": [
                    {
                        "crosses_above": [
                            {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                            {"indicator": "sma", "source": {"price": "close"}, "period": "${slow}"},
                        ]
                    },
                    {
                        "within_bars": 3,
                        "condition": {
                            "between": {
                                "indicator": "rsi",
                                "source": {"price": "close"},
                                "period": 14,
                            },
                            "low": 30,
                            "high": 70,
                        },
                    },
                ]
            },
            "exit": {
                "crosses_below": [
                    {"indicator": "sma", "source": {"price": "close"}, "period": "${fast}"},
                    {
                        "indicator": "bollinger",
                        "source": {"price": "close"},
                        "period": 20,
                        "k": 2,
                        "band": "upper",
                    },
                ]
            },
        },
        "exits": {"stop_loss": 0.08, "max_bars_held": 60},
    },
}
RESULT_DRAWN = ("#equity-chart .main-svg", "#price-chart .main-svg", "#monthly-chart .main-svg")
# (name, path formatted with the runs' ids or "report", selectors that show it is drawn)
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("dashboard", "/", ("table.runs tbody tr",)),
    ("backtest form", "/backtests/new?symbol=DEMO01", ("#param-fast",)),
    ("backtest", "/backtests/{backtest}", (*RESULT_DRAWN, "ul.warnings li")),
    ("offline report", "report", (*RESULT_DRAWN, "ul.warnings li")),
    ("compare", "/compare?id={backtest}&id={other}", ("#compare-chart .main-svg",)),
    ("history", "/history", ("table.runs tbody tr",)),
    ("stock search", "/stocks?q=합성데모", ("#stock-results li",)),
    ("stock search without a match", "/stocks?q=NOPE99", ("#not-stored p",)),
    ("stock", "/stocks/DEMO01", ("#price-chart .main-svg",)),
    ("data", "/data", ("#data-table tbody tr",)),
    ("data of a symbol", "/data/symbols/DEMO01", ("#findings",)),
    ("data import", "/data/import", ("#import-file",)),
    ("optimization form", "/research/new?symbol=DEMO01", ("#search-fast-mode",)),
    ("walk-forward form", "/research/new?symbol=DEMO01&kind=walkforward", ("#f-in_sample",)),
    ("optimization", "/research/{sweep}", ("#heatmap-chart .main-svg", "#findings li")),
    ("walk-forward", "/research/{walkforward}", ("#walkforward-chart .main-svg",)),
    ("portfolio form", "/portfolios/new?symbols=DEMO01,DEMO03", ("#u-chips li",)),
    (
        "portfolio",
        "/portfolios/{portfolio}",
        ("#holdings-chart[data-drawn=true]", "#trades-table tbody tr"),
    ),
    ("scan form", "/scans/new?market=KOSDAQ", ("#param-fast",)),
    ("scan", "/scans/{scan}", ("#ranking-table tbody tr", ".main-svg")),
    ("my strategies", "/rules", ("#rules-table[aria-busy=false] tbody tr[data-id]",)),
    ("rule builder", "/rules/new", ("#rule-form[data-ready]",)),
    ("saved rule in the builder", "/rules/{rule}", ("#rule-form[data-ready]",)),
    ("backtest form with a rule strategy", "/backtests/new?rules={rule}", ("#param-fast",)),
    ("rule strategy's backtest", "/backtests/{rule_backtest}", RESULT_DRAWN),
    ("account", "/account", ("table",)),
    ("status", "/status", ("table",)),
    ("not found", "/backtests/0123456789abcdef0123456789abcdef", ("main h1",)),
]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("korean-pages") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    accounts = server.accounts()
    try:
        accounts.create_user(USER, PASSWORD, Role.ADMIN)  # the data controls and status too
    finally:
        accounts.repository.engine.dispose()
    server.user_token = server.create_token(USER, TOKEN_NAME)  # type: ignore[attr-defined]
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
        rules = {"saved": {"id": ids["rule"], "version": None}}
        ruled = submit(client, {"symbol": "DEMO01", "strategy": "rules", "rules": rules})
        job = poll(lambda: ended(client, ruled["id"]), 240.0, "the rule strategy's backtest")
        assert job["state"] == "succeeded", job
        ids["rule_backtest"] = ruled["id"]
    return ids


def ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job if job["state"] in FINAL else None


@pytest.fixture(scope="module")
def data_words(site: ServerProcess) -> set[str]:
    """Words of the data a page may show as they are: codes and names of stored symbols."""
    words = {USER}
    with api(site) as client:
        listed = client.get("/api/symbols", params={"limit": 100}).json()
    symbols = listed["items"] if isinstance(listed, dict) else listed
    assert len(symbols) > 10
    for symbol in symbols:
        for text in (symbol["code"], symbol.get("name") or "", symbol.get("name_en") or ""):
            words.update(re.findall(r"[A-Za-z0-9][A-Za-z0-9&'._+-]*", text))
    return {word.rstrip(".'_+-") for word in words}


@pytest.fixture(scope="module")
def korean(browser: Browser, site: ServerProcess) -> Iterator[Page]:
    """A Korean browser, signed in, that fails the test on any script error."""
    context: BrowserContext = browser.new_context(locale="ko-KR", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.goto(f"{site.url}/login")
    page.locator("#username").fill(USER)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{site.url}/")
    try:
        yield page
    finally:
        context.close()
    assert errors == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def report(
    site: ServerProcess, runs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The backtest's offline HTML report in Korean, saved as a file."""
    with api(site) as client:
        answer = client.get(
            f"/api/backtests/{runs['backtest']}/report.html", headers={"Accept-Language": "ko"}
        )
    assert answer.status_code == 200, answer.text
    path = tmp_path_factory.mktemp("korean-report") / "report.html"
    path.write_bytes(answer.content)
    return path


def english_words(page: Page, name: str, allowed: set[str]) -> list[str]:
    """Each word in Latin letters the page shows that is not allowed, as a line to read."""
    page.wait_for_load_state("networkidle")
    found = []
    for item in page.evaluate(TEXT):
        for word in latin_words(item["text"], allowed):
            text = " ".join(item["text"].split())[:100]
            found.append(f"{name}: {word!r} in {item['where']} of {item['element']}: {text!r}")
    return found


def open_page(page: Page, url: str, ready: tuple[str, ...], shot: str) -> None:
    page.goto(url)
    for selector in ready:
        expect(page.locator(selector).first).to_be_attached(timeout=DRAWN_MS)
    page.screenshot(path=screenshot_path(shot), full_page=True)


def test_every_page_in_korean_shows_no_english_word(
    korean: Page,
    site: ServerProcess,
    runs: dict[str, str],
    report: Path,
    data_words: set[str],
) -> None:
    # Besides the stored data: run ids, and the code searched for without a match.
    # ... and the names of the rule strategy's parameters (the user's words, as "${fast}").
    allowed = data_words | {run_id[:8] for run_id in runs.values()} | {"NOPE99"}
    allowed |= set(RULE_STRATEGY["document"]["parameters"])
    found: list[str] = []
    for name, path, ready in PAGES:
        url = report.as_uri() if path == "report" else site.url + path.format(**runs)
        open_page(korean, url, ready, "korean-" + name.replace(" ", "-"))
        found += english_words(korean, name, allowed)
    assert found == [], "English on Korean pages:\n" + "\n".join(found)


def test_the_forms_errors_and_times_are_korean(
    korean: Page, site: ServerProcess, runs: dict[str, str], data_words: set[str]
) -> None:
    """The API's 422 answers next to their fields, and the time left of a run.

    The user has a saved rule strategy (made with ``runs``): the picker, regrouped into
    built-ins and My strategies when those arrive, still shows the fields' strategy.
    """
    page = korean
    open_page(page, site.url + "/backtests/new?symbol=DEMO01", ("#param-fast",), "korean-form")
    picker = page.locator("#f-strategy")
    expect(picker).to_have_attribute("data-rule-strategies", "1")
    rule_option = picker.locator(f'option[value="rules:{runs["rule"]}"]')
    expect(rule_option).to_have_count(1)
    expect(picker).to_have_value("sma_cross")
    page.locator("#param-fast").fill("0")
    page.get_by_role("button", name="백테스트 실행").click()
    error = page.locator("[data-error-for='params.fast']")
    expect(error).to_have_text("1 이상이어야 합니다.")
    page.locator("#param-fast").fill("40")
    page.locator("#param-slow").fill("20")
    page.get_by_role("button", name="백테스트 실행").click()
    expect(error).to_have_text("단기 기간(40)은(는) 장기 기간(20)보다 작아야 합니다.")
    page.locator("#param-fast").fill("5")
    page.locator("#f-symbol").fill("NOPE99")
    page.get_by_role("button", name="백테스트 실행").click()
    expect(page.locator("[data-error-for='symbol']")).to_contain_text("‘NOPE99’ 종목이 없습니다.")
    page.screenshot(path=screenshot_path("korean-form-errors"), full_page=True)
    found = english_words(page, "backtest form with errors", data_words | {"NOPE99"})
    assert found == [], "\n".join(found)

    # A run's time left, as the run pages write it.
    left = page.evaluate("() => PT.t('run.time_left', { time: PT.fmt.seconds(3) })")
    assert left == "약 3초 남음"
    assert page.evaluate("() => PT.fmt.seconds(65)") == "1분 5초"


def test_the_results_warnings_read_as_the_server_tells_them(
    korean: Page, site: ServerProcess, runs: dict[str, str]
) -> None:
    """The page (format.js) and the server (i18n.tell) translate a sentence the same way."""
    with api(site) as client:
        stored = client.get(f"/api/backtest/result/{runs['backtest']}").json()["warnings"]
    assert stored, "the short backtest warns"
    expected = [tell(Language.KO, warning) for warning in stored]
    assert None not in expected
    open_page(
        korean, site.url + f"/backtests/{runs['backtest']}", ("ul.warnings li",), "korean-warnings"
    )
    expect(korean.locator("ul.warnings li")).to_have_text(expected)


def test_a_charts_hover_label_is_korean(korean: Page, site: ServerProcess) -> None:
    """Plotly's own words (a candle's open, high, low, close) and its dates, in Korean."""
    open_page(korean, site.url + "/stocks/DEMO01", ("#price-chart .main-svg",), "korean-hover")
    korean.evaluate("() => Plotly.Fx.hover('price-chart', [{curveNumber: 0, pointNumber: 10}])")
    label = korean.locator("#price-chart .hoverlayer")
    expect(label).to_contain_text("시가")
    text = " ".join(label.locator("text").all_text_contents())
    assert "종가" in text
    assert latin_words(text) == [], text


def choices(page: Page, select: str) -> list[str]:
    values: list[str] = page.locator(select).evaluate("s => Array.from(s.options, o => o.value)")
    return values


def test_every_strategy_rule_and_method_the_forms_offer_is_korean(
    korean: Page, site: ServerProcess, data_words: set[str]
) -> None:
    """Each choice shows its own fields, descriptions and hints: read them all."""
    page = korean
    found: list[str] = []
    open_page(page, site.url + "/backtests/new?symbol=DEMO01", ("#param-fast",), "korean-form")
    for strategy in choices(page, "#f-strategy"):
        page.locator("#f-strategy").select_option(strategy)
        found += english_words(page, f"backtest form, {strategy}", data_words)
    open_page(
        page, site.url + "/research/new?symbol=DEMO01", ("#search-fast-mode",), "korean-methods"
    )
    for method in choices(page, "#f-method"):
        page.locator("#f-method").select_option(method)
        found += english_words(page, f"optimization form, {method}", data_words)
    path = "/portfolios/new?symbols=DEMO01,DEMO03"
    open_page(page, site.url + path, ("#u-chips li",), "korean-portfolio-form")
    for rule in choices(page, "#f-rule"):
        page.locator("#f-rule").select_option(rule)
        found += english_words(page, f"portfolio form, {rule}", data_words)
    assert found == [], "\n".join(found)


def test_the_login_page_is_korean(browser: Browser, site: ServerProcess) -> None:
    context = browser.new_context(locale="ko-KR")
    try:
        page = context.new_page()
        open_page(page, site.url + "/login", ("#username",), "korean-login")
        found = english_words(page, "login", set())
        page.locator("#username").fill(USER)
        page.locator("#password").fill("wrong password")
        page.locator("#password").press("Enter")
        expect(page.locator(".error")).to_contain_text("사용자 이름 또는 비밀번호가 틀렸습니다.")
        found += english_words(page, "login with a wrong password", set())
    finally:
        context.close()
    assert found == [], "\n".join(found)
