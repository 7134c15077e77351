"""Portfolio backtests and universe scans in Chromium against a real server.

A trader picks three sample stocks by typing their Korean names (keyboard only: arrows,
Enter, Backspace), runs a top-N momentum rotation, gets a bad value named next to its
field first, then reads the result: metric cards, the stacked holdings chart, the
contribution table, the trades of one symbol, the rebalances and the downloads — each
checked against the result document. A Korean trader on a phone scans a whole market,
sorts the ranking by keyboard and opens a row's full backtest; on a desktop a dot of the
scatter opens another. The picker shows only the latest search's matches when an older
answer arrives late, and refuses more than 2,000 symbols with a message.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, Page, Route, expect
from server import ServerProcess
from test_browser_ui import PASSWORD, UNLABELLED, Session

pytestmark = pytest.mark.browser

USER = "rotator"
PORTFOLIO_URL = re.compile(r"/portfolios/[0-9a-f]{32}$")
SCAN_URL = re.compile(r"/scans/[0-9a-f]{32}$")
BACKTEST_URL = re.compile(r"/backtests/[0-9a-f]{32}$")
JOB_MS = 120_000  # a loaded 2-core machine runs other tests' jobs too
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
KOREAN_NAMES = {"DEMO01": "합성데모전자", "DEMO02": "합성데모바이오", "DEMO03": "합성데모화학"}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("portfolio-ui") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.user_token = server.create_user(USER, PASSWORD)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def sessions(browser: Browser, site: ServerProcess) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(locale: str = "en-US", viewport: dict[str, int] = DESKTOP) -> Session:
        session = Session(browser, site, USER, locale)
        session.page.set_viewport_size(viewport)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.context.close()
    for session in opened:
        assert session.script_errors() == []


def api(server: ServerProcess) -> httpx.Client:
    return server.client(token=server.user_token)  # type: ignore[attr-defined]


def sideways_overflow(page: Page) -> int:
    overflow: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return overflow


def row_keys(page: Page, selector: str, key: str = "symbol") -> list[str]:
    """The ``data-<key>`` of every element ``selector`` finds, in page order."""
    keys: list[str] = page.locator(selector).evaluate_all(
        f"nodes => nodes.map(n => n.dataset.{key})"
    )
    return keys


def chips(page: Page) -> list[str]:
    return row_keys(page, "#u-chips li", "code")


def pick_by_korean_name(page: Page, code: str) -> None:
    """Type the stock's Korean name, wait for its match highlighted, press Enter."""
    search = page.locator("#u-search")
    search.fill(KOREAN_NAMES[code])
    option = page.locator(f"#u-options li[data-code='{code}']")
    expect(option).to_be_visible()
    expect(option).to_have_class(re.compile(r"\bactive\b"))
    search.press("Enter")


def money_text(value: float) -> str:
    """₩1,234,567 as the English page writes KRW (no decimals)."""
    sign = "-" if value < 0 else ""
    return f"{sign}₩{abs(value):,.0f}"


# ------------------------------------------------------------------------ portfolio


def test_a_momentum_rotation_of_three_stocks_picked_by_their_korean_names(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    session.goto("/portfolios/new")
    expect(page.get_by_role("heading", name="New portfolio backtest")).to_be_visible()

    # Keyboard only: a Korean name and Enter, twice; the third with the arrows from six.
    search = page.get_by_label("Add symbols by code or name")
    search.focus()
    pick_by_korean_name(page, "DEMO01")
    pick_by_korean_name(page, "DEMO02")
    search.fill("합성데모")
    options = page.locator("#u-options li[role=option]")
    expect(options).to_have_count(6)
    codes = row_keys(page, "#u-options li[role=option]", "code")
    assert sorted(codes) == [f"DEMO0{n}" for n in range(1, 7)]
    for code in codes:  # the chosen ones are marked
        selected = "true" if code in ("DEMO01", "DEMO02") else "false"
        expect(page.locator(f"#u-options li[data-code={code}]")).to_have_attribute(
            "aria-selected", selected
        )
    for _ in range(codes.index("DEMO03")):
        search.press("ArrowDown")
    target = options.nth(codes.index("DEMO03"))
    expect(target).to_have_class(re.compile(r"\bactive\b"))
    assert search.get_attribute("aria-activedescendant") == target.get_attribute("id")
    search.press("Enter")
    expect(page.locator("#u-options")).to_be_hidden()
    assert chips(page) == ["DEMO01", "DEMO02", "DEMO03"]
    # Backspace in the empty search removes the last chip.
    search.press("Backspace")
    assert chips(page) == ["DEMO01", "DEMO02"]
    pick_by_korean_name(page, "DEMO03")
    expect(page.locator("#u-count")).to_have_text("3 chosen (at most 2,000)")
    assert chips(page) == ["DEMO01", "DEMO02", "DEMO03"]
    expect(page.locator("#u-chips li[data-code=DEMO01]")).to_contain_text("합성데모전자")

    # The rule shows only the fields it reads.
    page.get_by_label("Rule", exact=True).select_option("top_n_momentum")
    for label in (
        "How many to hold (N)",
        "Lookback (bars)",
        "Rebalance",
        "Weighting of the chosen",
    ):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    for hidden in ("#f-strategy", "#f-max-positions", "#weights-table", "#f-threshold"):
        expect(page.locator(hidden)).to_be_hidden()
    page.get_by_label("Absolute momentum filter (dual momentum)").check()
    expect(page.get_by_label("Return to beat (%)")).to_be_visible()
    page.get_by_label("Absolute momentum filter (dual momentum)").uncheck()
    assert page.evaluate(UNLABELLED) == []
    assert sideways_overflow(page) <= 0

    # A value the API refuses: nothing queued, its message next to the field.
    page.get_by_label("How many to hold (N)").fill("0")
    page.get_by_role("button", name="Run portfolio backtest").click()
    error = page.locator("[data-error-for='rule.top']")
    expect(error).to_be_visible()
    expect(error).to_have_text("Input should be greater than or equal to 1")
    expect(page.locator("#f-top")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_be_visible()
    with api(session.server) as client:
        assert client.get("/api/portfolios").json()["total"] == 0
    page.screenshot(path=screenshot_path("portfolio-form-error"), full_page=True)

    page.get_by_label("How many to hold (N)").fill("2")
    page.get_by_label("Lookback (bars)").fill("20")
    page.locator("#f-start").fill("2016-01-01")
    page.locator("#f-end").fill("2019-12-31")
    # The benchmark is the market's index (the synthetic one while no KRX index is stored).
    page.locator("details summary").click()
    expect(page.get_by_label("Benchmark")).to_have_value("DEMOIDX")
    expect(page.locator("#benchmark-default")).to_contain_text("DEMOIDX, the market's index")
    page.get_by_role("button", name="Run portfolio backtest").click()
    page.wait_for_url(PORTFOLIO_URL)
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_MS)
    expect(page.locator("#result-loading")).to_be_hidden(timeout=60_000)
    expect(page.locator("#holdings-chart")).to_have_attribute("data-drawn", "true", timeout=60_000)

    with api(session.server) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        document = client.get(f"/api/jobs/{job_id}/artifacts/result.json").json()
        links = page.locator("#downloads a[data-artifact]")
        names = links.evaluate_all("nodes => nodes.map(n => n.dataset.artifact)")
        for link in links.all():
            href = link.get_attribute("href")
            assert href is not None
            assert client.get(href).status_code == 200, href
    assert job["spec"]["symbols"] == ["DEMO01", "DEMO02", "DEMO03"]
    assert job["spec"]["rule"]["rule"] == "top_n_momentum"
    assert (job["spec"]["rule"]["top"], job["spec"]["rule"]["lookback"]) == (2, 20)
    assert job["spec"]["benchmark"] == "DEMOIDX"
    assert "result.json" in names
    assert any(name.endswith(".csv") for name in names)
    check_portfolio_result(page, document)
    assert sideways_overflow(page) <= 0
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=screenshot_path("portfolio-result"), full_page=True)

    # The history lists it, linked to its page.
    session.goto("/history?kind=portfolio")
    row = page.locator(f"tr[data-id='{job_id}']")
    expect(row).to_contain_text("Top N by momentum")
    row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(f"/portfolios/{job_id}$"))


def check_portfolio_result(page: Page, document: dict[str, Any]) -> None:
    """The page shows the document's figures: cards, charts, tables."""
    metrics = document["metrics"]
    total = page.locator("[data-metric=total_return] dd")
    expect(total).to_have_text(f"{metrics['total_return'] * 100:+.2f}%".replace("+-", "-"))
    expect(page.locator("[data-metric=max_drawdown] dd")).to_be_visible()

    # Equity against the benchmark; the holdings stacked, one band per held symbol + cash.
    equity = page.evaluate(
        "() => document.getElementById('equity-chart').data.map(t => t.y.length)"
    )
    assert equity == [len(document["equity"]["time"])] * 2  # portfolio and benchmark
    held = [
        code
        for j, code in enumerate(document["holdings"]["symbols"])
        if any(row[j] > 0 for row in document["holdings"]["weights"])
    ]
    assert held  # a rotation of the top 2 holds something
    stacked = page.evaluate(
        "() => document.getElementById('holdings-chart').data.map(t => ({name: t.name,"
        " group: t.stackgroup, n: t.y.length, last: t.y[t.y.length - 1]}))"
    )
    assert len(stacked) == len(held) + 1
    assert all(trace["group"] == "weights" for trace in stacked)
    assert all(trace["n"] == len(document["equity"]["time"]) for trace in stacked)
    assert stacked[-1]["name"] == "Cash"
    assert sum(trace["last"] for trace in stacked) == pytest.approx(1.0, abs=1e-6)

    # The contribution table: one row per symbol with the document's P&L, largest first.
    contribution = sorted(document["contribution"], key=lambda row: -row["pnl"])
    rows = page.locator("#contribution-table tbody tr")
    expect(rows).to_have_count(len(contribution))
    for row, expected in zip(rows.all(), contribution, strict=True):
        assert row.get_attribute("data-symbol") == expected["symbol"]
        expect(row.locator("td").first).to_have_text(money_text(expected["pnl"]))
    # Sorting by the largest weight (a click on its heading, then again: ascending).
    heading = page.locator("#contribution-table th[data-key=max_weight]")
    heading.get_by_role("button").click()
    expect(heading).to_have_attribute("aria-sort", "descending")
    by_weight = [
        r["symbol"] for r in sorted(document["contribution"], key=lambda r: -r["max_weight"])
    ]
    assert row_keys(page, "#contribution-table tbody tr") == by_weight

    # Trades of one symbol.
    trades = document["trades"]
    assert trades
    expect(page.locator("#trades-table tbody tr")).to_have_count(len(trades))
    symbol = trades[0]["symbol"]
    page.get_by_label("Trades of").select_option(symbol)
    mine = [trade for trade in trades if trade["symbol"] == symbol]
    expect(page.locator("#trades-table tbody tr")).to_have_count(len(mine))
    expect(page.locator("#trades-count")).to_have_text(f"{len(mine)} trades")
    page.get_by_label("Trades of").select_option("")

    # The rebalances.
    rebalances = document["rebalances"]
    assert rebalances
    expect(page.locator("#rebalances-table tbody tr")).to_have_count(min(len(rebalances), 500))


def test_fixed_weights_per_chosen_symbol_and_a_sum_over_100_named_at_the_weights(
    sessions: Callable[..., Session],
) -> None:
    session = sessions(locale="ko-KR", viewport=PHONE)
    page = session.page
    session.goto("/portfolios/new?symbols=DEMO01,DEMO03,DEMO05")
    assert chips(page) == ["DEMO01", "DEMO03", "DEMO05"]
    page.get_by_label("규칙", exact=True).select_option("fixed_weights")
    weights = page.locator("#weights-table input")
    expect(weights).to_have_count(3)
    for hidden in ("#f-top", "#f-lookback", "#f-strategy"):
        expect(page.locator(hidden)).to_be_hidden()
    # Removing a chip removes its weight row.
    page.get_by_role("button", name="DEMO05 합성데모금융지주 빼기").click()
    expect(weights).to_have_count(2)
    page.get_by_label("합성데모전자 비중", exact=False).fill("70")
    page.get_by_label("합성데모화학 비중", exact=False).fill("50")
    expect(page.locator("#weights-sum")).to_contain_text("120")
    page.get_by_role("button", name="포트폴리오 백테스트 실행").click()
    error = page.locator("[data-error-for='rule.weights']")
    expect(error).to_be_visible()
    expect(error).to_have_text("비중 합계가 1.2입니다. 1(100%) 이하여야 합니다.")  # in Korean
    assert sideways_overflow(page) <= 0
    page.screenshot(path=screenshot_path("portfolio-weights-ko-phone"), full_page=True)

    page.get_by_role("button", name="똑같이 나누기").click()
    expect(page.locator("#weights-sum")).to_contain_text("100")
    page.get_by_role("button", name="포트폴리오 백테스트 실행").click()
    page.wait_for_url(PORTFOLIO_URL)
    expect(page.locator("#state-badge")).to_have_text("완료", timeout=JOB_MS)
    expect(page.locator("#holdings-chart")).to_have_attribute("data-drawn", "true", timeout=60_000)
    job_id = page.url.rsplit("/", 1)[1]
    with api(session.server) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["spec"]["rule"]["weights"] == {"DEMO01": 0.5, "DEMO03": 0.5}
    expect(page.locator("#contribution-table caption")).to_have_text("종목별 기여도")
    assert sideways_overflow(page) <= 0
    page.screenshot(path=screenshot_path("portfolio-result-ko-phone"), full_page=True)


def test_strategy_signals_over_a_whole_market_and_a_rerun_with_the_same_fields(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    session.goto("/portfolios/new?market=KOSPI")
    expect(page.get_by_label("All symbols of a market")).to_be_checked()
    expect(page.get_by_label("Market", exact=True)).to_have_value("KOSPI")
    expect(page.locator("#u-market-hint")).to_contain_text("3 stocks of KOSPI are stored")
    page.get_by_label("Rule", exact=True).select_option("signals")
    for hidden in ("#f-rebalance", "#f-top", "#f-band", "#f-lookback", "#f-position-value"):
        expect(page.locator(hidden)).to_be_hidden()
    page.get_by_label("Strategy", exact=True).select_option("sma_cross")
    page.locator("#param-fast").fill("10")
    page.locator("#param-slow").fill("40")
    page.get_by_label("Most open positions").fill("2")
    page.get_by_label("Position size").select_option("fraction")
    page.get_by_label("Size of each entry").fill("0.4")
    page.get_by_label("When too many entries fire at once").select_option("momentum")
    expect(page.get_by_label("Lookback (bars)")).to_be_visible()  # momentum needs a window
    page.get_by_label("Lookback (bars)").fill("30")
    page.get_by_label("Stop-loss").fill("8")
    assert page.evaluate(UNLABELLED) == []
    page.get_by_role("button", name="Run portfolio backtest").click()
    page.wait_for_url(PORTFOLIO_URL)
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_MS)
    expect(page.locator("#holdings-chart")).to_have_attribute("data-drawn", "true", timeout=60_000)
    expect(page.locator("#rebalances-section")).to_be_hidden()  # signals do not rebalance
    job_id = page.url.rsplit("/", 1)[1]
    with api(session.server) as client:
        spec = client.get(f"/api/jobs/{job_id}").json()["spec"]
    assert spec["market"] == "KOSPI"
    assert spec["symbols"] is None
    rule = spec["rule"]
    assert (rule["rule"], rule["strategy"], rule["params"]) == (
        "signals",
        "sma_cross",
        {"fast": 10, "slow": 40},
    )
    assert (rule["max_positions"], rule["position_size"], rule["position_value"]) == (
        2,
        "fraction",
        0.4,
    )
    assert (rule["entry_priority"], rule["lookback"]) == ("momentum", 30)
    assert spec["stops"]["stop_loss"] == pytest.approx(0.08)

    # Re-run with edits: the form comes back as it was sent.
    page.get_by_role("link", name="Re-run with edits").click()
    page.wait_for_url(re.compile(r"/portfolios/new\?from="))
    expect(page.get_by_label("Rule", exact=True)).to_have_value("signals")
    expect(page.get_by_label("Market", exact=True)).to_have_value("KOSPI")
    expect(page.locator("#param-slow")).to_have_value("40")
    expect(page.get_by_label("Most open positions")).to_have_value("2")
    expect(page.get_by_label("Size of each entry")).to_have_value("0.4")
    expect(page.get_by_label("Lookback (bars)")).to_have_value("30")
    expect(page.get_by_label("Stop-loss")).to_have_value("8")
    expect(page.locator("#f-top")).to_be_hidden()


# ------------------------------------------------------------------------ scans


def test_a_korean_scan_of_a_market_on_a_phone_sorted_by_keyboard_opens_a_row(
    sessions: Callable[..., Session],
) -> None:
    session = sessions(locale="ko-KR", viewport=PHONE)
    page = session.page
    session.goto("/scans/new")
    expect(page.get_by_role("heading", name="종목 스캔")).to_be_visible()
    page.get_by_label("시장 전체 종목").check()
    expect(page.locator("#u-symbols-part")).to_be_hidden()
    page.get_by_label("시장", exact=True).select_option("KOSDAQ")
    expect(page.locator("#u-market-hint")).to_contain_text("3")
    page.locator("#param-fast").fill("5")
    page.locator("#param-slow").fill("20")
    assert sideways_overflow(page) <= 0
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=screenshot_path("scan-form-ko-phone"), full_page=True)
    page.get_by_role("button", name="스캔 실행").click()
    page.wait_for_url(SCAN_URL)
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("완료", timeout=JOB_MS)
    expect(page.locator("#scan-scatter")).to_have_attribute("data-points", "3", timeout=60_000)

    with api(session.server) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        ranking = client.get(f"/api/scans/{job_id}/ranking").json()
    assert job["spec"]["market"] == "KOSDAQ"
    assert job["spec"]["params"] == {"fast": 5, "slow": 20}
    rows = ranking["rows"]
    assert sorted(row["symbol"] for row in rows) == ["DEMO02", "DEMO04", "DEMO06"]
    assert row_keys(page, "#ranking-table tbody tr") == [row["symbol"] for row in rows]

    # Sort by return with the keyboard: the heading's button and Enter; Enter again flips.
    heading = page.locator("#ranking-table th[data-key=total_return]")
    heading.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(heading).to_have_attribute("aria-sort", "descending")
    by_return = sorted(rows, key=lambda row: -row["total_return"])
    assert row_keys(page, "#ranking-table tbody tr") == [row["symbol"] for row in by_return]
    page.keyboard.press("Enter")
    expect(heading).to_have_attribute("aria-sort", "ascending")
    assert row_keys(page, "#ranking-table tbody tr") == [
        row["symbol"] for row in reversed(by_return)
    ]
    expect(page.locator("#ranking-sort")).to_contain_text("오름차순")
    assert sideways_overflow(page) <= 0
    page.screenshot(path=screenshot_path("scan-result-ko-phone"), full_page=True)

    # A row opens that symbol's full backtest with the scan's settings.
    chosen = by_return[-1]
    page.locator(f"#ranking-table tbody tr[data-symbol={chosen['symbol']}] td").first.click()
    page.wait_for_url(BACKTEST_URL)
    backtest_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_contain_text(chosen["symbol"])
    expect(page.locator("#state-badge")).to_have_text(re.compile("대기|실행 중|완료"))
    with api(session.server) as client:
        backtest = client.get(f"/api/jobs/{backtest_id}").json()
    assert backtest["kind"] == "backtest"
    assert backtest["spec"]["symbol"] == chosen["symbol"]
    assert backtest["spec"]["params"] == {"fast": 5, "slow": 20}


def test_a_dot_of_the_scatter_opens_its_symbols_backtest(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    with api(session.server) as client:
        answer = client.post(
            "/api/scans",
            json={
                "symbols": ["DEMO01", "DEMO03", "DEMO05"],
                "strategy": "sma_cross",
                "params": {"fast": 10, "slow": 40},
            },
        )
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
    session.goto(f"/scans/{job_id}")
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_MS)
    scatter = page.locator("#scan-scatter")
    expect(scatter).to_have_attribute("data-points", "3", timeout=60_000)
    assert sideways_overflow(page) <= 0
    page.screenshot(path=screenshot_path("scan-result"), full_page=True)

    # Where Plotly drew the dot of DEMO03, clicked with the mouse.
    scatter.scroll_into_view_if_needed()
    point = page.evaluate(
        """() => {
          const div = document.getElementById('scan-scatter');
          const trace = div.data[0];
          const i = trace.customdata.indexOf('DEMO03');
          const layout = div._fullLayout;
          const box = div.querySelector('.nsewdrag').getBoundingClientRect();
          return {x: box.left + layout.xaxis.l2p(trace.x[i]),
                  y: box.top + layout.yaxis.l2p(trace.y[i])};
        }"""
    )
    page.mouse.move(point["x"], point["y"])
    expect(page.locator(".hoverlayer")).to_contain_text("DEMO03")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(BACKTEST_URL)
    backtest_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_MS)
    with api(session.server) as client:
        backtest = client.get(f"/api/jobs/{backtest_id}").json()
        ranking = client.get(f"/api/scans/{job_id}/ranking").json()
        result = client.get(f"/api/backtest/result/{backtest_id}").json()
    assert backtest["spec"]["symbol"] == "DEMO03"
    row = next(row for row in ranking["rows"] if row["symbol"] == "DEMO03")
    assert result["metrics"]["total_return"] == pytest.approx(row["total_return"])

    # The same row again: the backtest made before is reused.
    session.goto(f"/scans/{job_id}")
    expect(scatter).to_have_attribute("data-points", "3", timeout=60_000)
    page.get_by_role("button", name=re.compile(r"Open the full backtest of .*\(DEMO03\)")).click()
    page.wait_for_url(re.compile(f"/backtests/{backtest_id}$"))


# ------------------------------------------------------------------------ the picker


def test_the_picker_shows_only_the_latest_searchs_matches(sessions: Callable[..., Session]) -> None:
    """An answer to an older query that arrives after the newer one's is ignored."""
    session = sessions()
    page = session.page
    session.goto("/scans/new")
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if "q=MSFT" in route.request.url and not held:
            held.append(route)  # answered later, after the newer query's answer
        else:
            route.continue_()

    page.route("**/api/symbols?*", hold_the_first)
    search = page.locator("#u-search")
    with page.expect_request(lambda request: "q=MSFT" in request.url):
        search.fill("MSFT")
    search.fill("합성데모전자")
    options = page.locator("#u-options")
    expect(options).to_have_attribute("data-query", "합성데모전자")
    expect(options.locator("li[role=option]")).to_have_count(1)
    assert len(held) == 1
    held[0].continue_()
    expect(options).to_have_attribute("data-ignored", "1")
    expect(options.locator("li[role=option]")).to_have_count(1)
    expect(options.locator("li").first).to_have_attribute("data-code", "DEMO01")
    expect(options).to_have_attribute("data-query", "합성데모전자")
    page.unroute("**/api/symbols?*")


def test_the_picker_refuses_more_than_2000_symbols_with_a_message(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    session.goto("/portfolios/new")
    page.evaluate(
        "() => window.PTPortfolioForm.picker.set({symbols: Array.from({length: 2000},"
        " (_, i) => ({code: 'X' + String(i).padStart(4, '0')}))})"
    )
    expect(page.locator("#u-count")).to_have_text("2,000 chosen (at most 2,000)")
    expect(page.locator("#u-limit")).to_be_hidden()
    search = page.get_by_label("Add symbols by code or name")
    search.fill("합성데모전자")
    expect(page.locator("#u-options li[data-code=DEMO01]")).to_be_visible()
    search.press("Enter")
    limit = page.locator("#u-limit")
    expect(limit).to_be_visible()
    expect(limit).to_have_text(
        "At most 2,000 symbols. Remove some, or use all symbols of a market."
    )
    assert "DEMO01" not in chips(page)
    assert len(chips(page)) == 2000
    # Making room lets it in, and the message goes.
    page.get_by_role("button", name="Remove X1999").click()
    pick_by_korean_name(page, "DEMO01")
    expect(limit).to_be_hidden()
    assert chips(page)[-1] == "DEMO01"
