"""A backtest's result in a real browser: charts that explain the trades, the run's settings,
yearly and drawdown tables, long trade lists a page at a time, gaps through stops, and the
history's sorts and date filter.

One server (SQLite, the sample data plus ``GAPPY``, whose opens gap through stops, and the
long ``LONG`` series) serves the module; runs are submitted through the API and read in
Chromium. Every figure on the page is compared with the result document, the analysis
route or the engine's own functions on the stored bars.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, Page, expect
from server import ServerProcess, submit, wait_for

from gap_data import GAP_BODY, write_gap_symbol
from polling import poll
from privatetrade.data.market_data import MarketData
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.kernels.indicators import sma_nb

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
TIMEOUT = 60_000
SMA_BODY = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
    "stops": {"stop_loss": 0.05, "trailing_stop": 0.1},
    "benchmark": "MSFT",
}
BREAKOUT_BODY = {"symbol": "AAPL", "strategy": "volatility_breakout", "params": {"k": 0.5}}
SETTINGS_BODY = {
    "symbol": "DEMO01",
    "strategy": "bollinger_reversion",
    "start": "2019-01-01",
    "end": "2024-06-30",
    "capital": 50_000_000,
    "costs": "krx",
    "sizing": {"mode": "fraction", "value": 0.5},
    "stops": {"stop_loss": 0.07, "take_profit": 0.2},
    "fill_at": "close",
    "benchmark": "DEMO03",
}


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def result_server(tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("result-ui") / "data"
    shutil.copytree(long_data_dir, data_dir)
    write_gap_symbol(data_dir)
    server = ServerProcess(data_dir).start()
    server.trader = server.create_user("trader", PASSWORD)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def runs(result_server: Any) -> dict[str, dict[str, Any]]:
    """The trader's succeeded runs: name -> {"id", "document", "analysis"}."""
    bodies = {
        "sma": SMA_BODY,
        "gap": GAP_BODY,
        "breakout": BREAKOUT_BODY,
        "settings": SETTINGS_BODY,
    }
    found: dict[str, dict[str, Any]] = {}
    with api(result_server) as client:
        ids = {name: submit(client, body)["id"] for name, body in bodies.items()}
        for name, job_id in ids.items():
            wait_for(client, job_id, {"succeeded"})
            found[name] = {
                "id": job_id,
                "document": client.get(f"/api/backtest/result/{job_id}").json(),
                "analysis": client.get(f"/api/backtests/{job_id}/analysis").json(),
            }
    return found


class Session:
    """A signed-in browser context that collects every console error."""

    def __init__(
        self, browser: Browser, server: Any, *, width: int = 1440, locale: str = "en-US"
    ) -> None:
        self.server = server
        self.context = browser.new_context(
            locale=locale,
            timezone_id="Asia/Seoul",
            viewport={"width": width, "height": 900},
            accept_downloads=True,
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.goto(f"{server.url}/login")
        self.page.locator("#username").fill("trader")
        self.page.locator("#password").fill(PASSWORD)
        self.page.locator("#password").press("Enter")
        self.page.wait_for_url(f"{server.url}/")

    def open_result(self, job_id: str) -> Page:
        self.page.goto(f"{self.server.url}/backtests/{job_id}")
        for chart in ("equity-chart", "price-chart"):
            expect(self.page.locator(f"#{chart} .main-svg").first).to_be_attached(timeout=TIMEOUT)
        expect(self.page.locator("#trades-table, #trades .empty").first).to_be_attached(
            timeout=TIMEOUT
        )
        return self.page


@pytest.fixture
def session(browser: Browser, result_server: Any) -> Iterator[Session]:
    opened = Session(browser, result_server)
    yield opened
    opened.context.close()
    assert [e for e in opened.errors if not e.startswith("Failed to load resource")] == []


def api(server: Any) -> httpx.Client:
    return server.client(token=server.trader)


def stored_bars(server: Any, code: str, adjusted: bool) -> Any:
    return prepare_bars(MarketData(server.data_dir).bars(code, None, None, adjusted=adjusted)).bars


def traces(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        """() => document.getElementById('price-chart').data.map(t => ({
            type: t.type, name: t.name, meta: t.meta || {}, yaxis: t.yaxis || 'y',
            visible: t.visible, x: Array.from(t.x || []), y: Array.from(t.y || [])}))"""
    )
    return found


def layout(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = page.evaluate(
        "() => JSON.parse(JSON.stringify(document.getElementById('price-chart').layout))"
    )
    return value


def nulls(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def box(page: Page, selector: str) -> dict[str, float]:
    found: dict[str, float] = page.evaluate(
        """s => { const b = document.querySelector(s).getBoundingClientRect();
                  return {left: b.left, top: b.top, right: b.right, bottom: b.bottom}; }""",
        selector,
    )
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def signed_pct(value: float) -> str:
    return "0.00%" if round(value * 100, 2) == 0 else f"{value * 100:+.2f}%"


def medium_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso[:10])
    return f"{day:%b} {day.day}, {day.year}"


def tone(value: float) -> str:
    return "up" if value > 0 else "down" if value < 0 else ""


# ------------------------------------------------------------------------ the price chart


def test_sma_cross_draws_both_averages_a_volume_pane_and_no_gaps(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["sma"]
    document = run["document"]
    page = session.open_result(run["id"])
    drawn = traces(page)
    by_meta = {next(iter(t["meta"].values()), None): t for t in drawn if t["meta"]}
    bars = stored_bars(session.server, "AAPL", document["data"]["adjusted"])

    # Both averages, exactly the engine's SMA of the run's closes, over the candles.
    assert by_meta["sma_fast"]["name"] == "SMA 5"
    assert by_meta["sma_slow"]["name"] == "SMA 20"
    assert by_meta["sma_fast"]["y"] == nulls(sma_nb(bars.close, 5))
    assert by_meta["sma_slow"]["y"] == nulls(sma_nb(bars.close, 20))
    assert by_meta["sma_fast"]["yaxis"] == "y"
    assert drawn[0]["type"] == "candlestick"

    # The volume pane: the bars' volumes on their own axis, under the prices.
    volume = next(t for t in drawn if t["meta"].get("volume"))
    assert volume["type"] == "bar"
    assert volume["yaxis"] == "y2"
    assert volume["y"] == bars.volume.tolist()
    chart = layout(page)
    assert chart["yaxis2"]["domain"][1] < chart["yaxis"]["domain"][0]

    # No weekend or holiday gaps: every weekday without a bar is a rangebreak, no bar is.
    breaks = chart["xaxis"]["rangebreaks"]
    assert {"bounds": ["sat", "mon"]} in [{"bounds": b.get("bounds")} for b in breaks]
    skipped = {value[:10] for b in breaks for value in b.get("values", [])}
    days = {time[:10] for time in document["equity"]["time"]}
    first, last = dt.date.fromisoformat(min(days)), dt.date.fromisoformat(max(days))
    weekdays = {
        (first + dt.timedelta(days=i)).isoformat()
        for i in range((last - first).days + 1)
        if (first + dt.timedelta(days=i)).weekday() < 5
    }
    assert skipped == weekdays - days
    assert "2012-12-25" in skipped
    assert not skipped & days
    page.screenshot(path=screenshot_path("result-price-sma"), full_page=False)


def test_range_buttons_rescale_the_price_axis_and_stay_clear_of_the_legend(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["sma"]
    page = session.open_result(run["id"])
    assert not overlap(
        box(page, "#price-chart g.legend"), box(page, "#price-chart g.rangeselector")
    )
    full = layout(page)["yaxis"]["range"]
    page.locator("#price-chart g.rangeselector g.button", has_text="1Y").click()

    def year_view() -> dict[str, Any] | None:
        shown = layout(page)
        start = str(shown["xaxis"]["range"][0])
        return shown if start.startswith("2012-03-01") and shown["yaxis"]["range"] != full else None

    shown = poll(year_view, 10, "the one-year view")
    bars = stored_bars(session.server, "AAPL", run["document"]["data"]["adjusted"])
    times = [t[:10] for t in run["document"]["equity"]["time"]]
    inside = [i for i, day in enumerate(times) if "2012-03-01" <= day <= "2013-03-01"]
    low = float(bars.low[inside].min())
    high = float(bars.high[inside].max())
    bottom, top = shown["yaxis"]["range"]
    span = high - low
    assert low - 0.2 * span <= bottom <= low  # the last year's prices fill the pane
    assert high <= top <= high + 0.2 * span
    assert top - bottom < 0.5 * (full[1] - full[0])
    volume_top = shown["yaxis2"]["range"][1]
    assert float(bars.volume[inside].max()) <= volume_top <= 1.2 * float(bars.volume[inside].max())


def test_a_selected_trade_shows_its_stop_levels(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["sma"]
    document, analysis = run["document"], run["analysis"]
    index = next(
        i
        for i, trade in enumerate(document["trades"][:50])
        if trade["exit_reason"] == "trailing_stop" and trade["holding_bars"] >= 3
    )
    page = session.open_result(run["id"])
    page.locator(f'#trades-table tr[data-trade="{index}"] button.trade-select').click()
    expect(page.locator(f'#trades-table tr[data-trade="{index}"]')).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#selected-trade")).to_be_visible()
    levels = analysis["trades"][index]

    def shown() -> dict[str, Any] | None:
        selected = {t["meta"]["selected"]: t for t in traces(page) if "selected" in t["meta"]}
        return (
            selected
            if selected["stop_loss"]["visible"] is True and selected["trailing_stop"]["visible"]
            else None
        )

    selected = poll(shown, 10, "the trade's levels")
    assert selected["stop_loss"]["y"] == [levels["stop_loss"], levels["stop_loss"]]
    assert selected["trailing_stop"]["y"] == levels["trailing"]
    assert selected["take_profit"]["visible"] is False  # the run has no take-profit
    trade = document["trades"][index]
    assert selected["trade"]["y"] == [trade["entry_price"], trade["exit_price"]]
    assert selected["trailing_stop"]["y"][-1] == pytest.approx(levels["exit_stop"])
    expect(page.locator("#selected-trade")).to_contain_text(f"${levels['stop_loss']:,.2f}")
    # The chart zoomed to the trade: its entry and exit are inside the x range.
    start, end = (str(v)[:10] for v in layout(page)["xaxis"]["range"])
    assert start <= trade["entry_time"][:10] <= trade["exit_time"][:10] <= end
    page.screenshot(path=screenshot_path("result-selected-trade"), full_page=False)


def test_breakout_target_is_the_engines_buy_level(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["breakout"]
    page = session.open_result(run["id"])
    target = next(t for t in traces(page) if t["meta"].get("indicator") == "breakout_target")
    bars = stored_bars(session.server, "AAPL", run["document"]["data"]["adjusted"])
    expected = np.full(len(bars), np.nan)
    expected[1:] = bars.open[1:] + 0.5 * (bars.high[:-1] - bars.low[:-1])
    assert target["y"][0] is None
    assert np.allclose(np.array(target["y"][1:], dtype=float), expected[1:], rtol=1e-12, atol=0)
    buys = [fill for fill in run["document"]["fills"] if fill["side"] == "buy"][:200]
    index = {time: i for i, time in enumerate(run["document"]["equity"]["time"])}
    for fill in buys:  # US ticks: the buy stop fills at its level rounded up to the cent
        bar = index[fill["time"]]
        assert fill["price"] >= min(target["y"][bar], bars.high[bar]) - 1e-9


# ------------------------------------------------------------------------ settings and tables


def test_settings_panel_shows_the_costs_and_orders_applied(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    document = runs["settings"]["document"]
    settings = document["spec"]["settings"]
    page = session.open_result(runs["settings"]["id"])

    def setting(key: str) -> str:
        return page.locator(f'#run-settings [data-setting="{key}"] dd').inner_text()

    assert setting("initial_cash") == "₩50,000,000"
    assert settings["initial_cash"] == 50_000_000
    assert setting("period") == "Jan 1, 2019 – Jun 30, 2024"
    assert setting("bars") == (
        f"{document['data']['bar_count']:,} bars, {medium_date(document['data']['first_bar'])} – "
        f"{medium_date(document['data']['last_bar'])}"
    )
    assert setting("preset") == "KRX (KOSPI)"
    assert settings["costs"]["commission_rate"] == 0.00015
    assert setting("commission_rate") == "0.015%"
    first = document["data"]["first_bar"][:10]
    last = document["data"]["last_bar"][:10]
    steps = sorted(settings["costs"]["sell_tax"], key=lambda step: step["since"])
    in_force = [
        step
        for i, step in enumerate(steps)
        if step["since"] <= last and (i == len(steps) - 1 or steps[i + 1]["since"] > first)
    ]
    expected_tax = " · ".join(
        f"{step['rate'] * 100:g}% from {medium_date(max(step['since'], first))}"
        for step in in_force
    )
    assert setting("sell_tax") == expected_tax
    assert setting("sell_tax").startswith("0.3% from Jan 2, 2019 · 0.25% from May 30, 2019")
    assert setting("slippage") == "None"
    assert setting("tick_table") == "KRX tick sizes by price band"
    assert (
        setting("price_limit")
        == f"±{settings['costs']['price_limit'] * 100:g}% of the previous close"
    )
    assert setting("lot_size") == "1"
    assert setting("sizing") == "50% of equity"
    assert setting("stops") == "Stop-loss 7% · Take-profit 20%"
    assert setting("fill_at") == "Same bar's close"
    assert setting("allow_short") == "No"
    assert setting("close_at_end") == "Yes"
    assert setting("benchmark") == "DEMO03"
    assert setting("prices") == "Adjusted for splits and dividends"
    page.locator("#run-settings").screenshot(path=screenshot_path("result-settings"))


def test_yearly_and_drawdown_tables_equal_the_documents(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["sma"]
    document, analysis = run["document"], run["analysis"]
    page = session.open_result(run["id"])
    rows = page.locator("#yearly-table tbody tr")
    expect(rows).to_have_count(len(document["yearly_returns"]))
    for i, year in enumerate(document["yearly_returns"]):
        row = rows.nth(i)
        expect(row.locator("th")).to_have_text(year["period"])
        cell = row.locator("td").nth(0)
        expect(cell).to_have_text(signed_pct(year["return"]))
        expect(cell).to_have_class(re.compile(rf"\b{tone(year['return'])}\b"))
        expect(row.locator("td").nth(1)).to_have_text(
            signed_pct(analysis["yearly"][i]["buy_and_hold"])
        )
        expect(row.locator("td").nth(2)).to_have_text(
            signed_pct(analysis["yearly"][i]["benchmark"])
        )

    periods = page.locator("#drawdowns-table tbody tr")
    expect(periods).to_have_count(len(analysis["drawdowns"]))
    first = periods.nth(0).locator("td")
    metrics = document["metrics"]
    expect(first.nth(1)).to_have_text(medium_date(metrics["max_drawdown_start_time"]))
    expect(first.nth(2)).to_have_text(medium_date(metrics["max_drawdown_end_time"]))
    recovery = metrics["max_drawdown_recovery_time"]
    expect(first.nth(3)).to_have_text(medium_date(recovery) if recovery else "Not yet")
    expect(first.nth(4)).to_have_text(signed_pct(metrics["max_drawdown"]))
    expect(first.nth(4)).to_have_class(re.compile(r"\bdown\b"))
    expect(first.nth(5)).to_have_text(f"{metrics['max_drawdown_duration_bars']:,}")
    for i, period in enumerate(analysis["drawdowns"]):
        expect(periods.nth(i).locator("td").nth(4)).to_have_text(signed_pct(period["depth"]))

    # The new figures, and no "-0.00": negative zero prints as 0.00.
    for key, text in (
        ("average_win", signed_pct(metrics["average_win"])),
        ("average_loss", signed_pct(metrics["average_loss"])),
        ("max_consecutive_losses", str(metrics["max_consecutive_losses"])),
        ("turnover", f"{metrics['turnover']:,.2f}"),
        ("total_slippage", f"${metrics['total_slippage']:,.2f}"),
    ):
        expect(page.locator(f'[data-metric="{key}"] dd')).to_have_text(text)
    expect(page.locator('[data-metric="average_loss"] dd')).to_have_class(re.compile(r"\bdown\b"))
    formatted = page.evaluate(
        """() => { const f = PTFormat('en-US');
            return [f.num(-0.001), f.num(-0.004, 2), f.pct(-0.00001), f.signedPct(-0.00001),
                    f.int(-0.2), f.money(-0.001, 'USD'), f.num(-0.006)]; }"""
    )
    assert formatted == ["0.00", "0.00", "0.00%", "0.00%", "0", "$0.00", "-0.01"]
    signed = page.locator("#trades-table tbody td.num.up, #trades-table tbody td.num.down")
    assert signed.count() > 0
    for cell, value in zip(
        page.locator("#trades-table tbody tr").all()[:5], document["trades"][:5], strict=True
    ):
        expect(cell.locator("td").nth(6)).to_have_class(
            re.compile(rf"\b{tone(value['net_pnl'])}\b")
        )


def test_a_long_trade_list_is_paged_50_at_a_time(
    session: Session, runs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    run = runs["breakout"]
    trades = run["document"]["trades"]
    assert len(trades) > 900
    page = session.open_result(run["id"])
    rows = page.locator("#trades-table tbody tr")
    expect(rows).to_have_count(50)
    pages = -(-len(trades) // 50)
    status = page.locator(".trades-pager .pager-status")
    expect(status).to_have_text(f"1–50 of {len(trades):,} (page 1 of {pages})")
    expect(rows.first.locator("td").first).to_have_text(medium_date(trades[0]["entry_time"]))
    assert page.evaluate("document.documentElement.scrollHeight") < 12_000

    # Keyboard: Tab to "Next", Enter; type a page number.
    next_button = page.get_by_role("button", name="Next")
    next_button.focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text(f"51–100 of {len(trades):,} (page 2 of {pages})")
    expect(rows.first.locator("td").first).to_have_text(medium_date(trades[50]["entry_time"]))
    page.get_by_label("Page", exact=True).fill(str(pages))
    page.get_by_label("Page", exact=True).press("Enter")
    expect(rows).to_have_count(len(trades) - 50 * (pages - 1))
    expect(next_button).to_be_disabled()
    expect(rows.last.locator("td").nth(1)).to_have_text(medium_date(trades[-1]["exit_time"]))

    # Sorting covers every trade, then starts again at page 1.
    page.get_by_role("button", name="Net P&L").click()
    expect(status).to_have_text(f"1–50 of {len(trades):,} (page 1 of {pages})")
    worst = sorted(trades, key=lambda trade: trade["net_pnl"])[0]
    expect(rows.first.locator("td").nth(6)).to_have_text(
        re.compile(re.escape(f"${abs(worst['net_pnl']):,.2f}"))
    )

    # The offline report pages its trades too.
    with page.expect_download() as download:
        page.get_by_role("link", name="Report (HTML)").click()
    report = tmp_path / "report.html"
    shutil.copy(download.value.path(), report)
    offline = page.context.browser.new_context(offline=True)  # type: ignore[union-attr]
    errors: list[str] = []
    view = offline.new_page()
    view.on("pageerror", lambda error: errors.append(str(error)))
    view.goto(report.as_uri())
    expect(view.locator("#trades-table tbody tr")).to_have_count(50, timeout=TIMEOUT)
    expect(view.locator(".trades-pager .pager-status")).to_have_text(
        f"1–50 of {len(trades):,} (page 1 of {pages})"
    )
    expect(view.locator("#run-settings")).to_be_visible()
    target = view.evaluate(
        """() => document.getElementById('price-chart').data
            .filter(t => t.meta && t.meta.indicator).map(t => t.meta.indicator)"""
    )
    assert target == ["breakout_target"]
    offline.close()
    assert errors == []


def test_a_gap_through_the_stop_is_marked_on_its_trade(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs["gap"]
    document, analysis = run["document"], run["analysis"]
    page = session.open_result(run["id"])
    gapped = [i for i, levels in enumerate(analysis["trades"]) if levels["gap"]]
    assert len(gapped) >= 2
    assert len(document["trades"]) <= 50
    badges = page.locator("#trades-table .badge.gap")
    expect(badges).to_have_count(len(gapped))
    marked = [
        int(row.get_attribute("data-trade") or -1)
        for row in page.locator("#trades-table tr:has(.badge.gap)").all()
    ]
    assert sorted(marked) == gapped
    first = gapped[0]
    trade, levels = document["trades"][first], analysis["trades"][first]
    title = (
        page.locator(f'#trades-table tr[data-trade="{first}"] .badge.gap').get_attribute("title")
        or ""
    )
    assert f"${levels['exit_open']:,.2f}" in title
    assert f"${levels['exit_stop']:,.2f}" in title
    assert f"${trade['exit_price']:,.2f}" in title
    assert "below the stop" in title
    # Keyboard users reach the explanation too (focusable, read out).
    page.locator(f'#trades-table tr[data-trade="{first}"] .badge.gap').focus()
    expect(
        page.locator(f'#trades-table tr[data-trade="{first}"] .badge.gap .sr-only')
    ).to_contain_text("Gap through the stop")
    # The exit marker of a gapped trade is outlined red on the chart.
    sells = next(t for t in traces(page) if t["meta"].get("fills") == "sell")
    outlined = page.evaluate(
        """() => document.getElementById('price-chart').data
            .find(t => t.meta && t.meta.fills === 'sell').marker.line.color"""
    )
    red = {sells["x"][i][:10] for i, color in enumerate(outlined) if color == "#dc2626"}
    assert red == {document["trades"][i]["exit_time"][:10] for i in gapped}
    page.screenshot(path=screenshot_path("result-gap-badge"), full_page=True)


def test_a_finished_run_drops_its_progress_block(session: Session, result_server: Any) -> None:
    with api(result_server) as client:
        job = submit(client, {"symbol": "LONG", "strategy": "sma_cross"})
    page = session.page
    page.goto(f"{result_server.url}/backtests/{job['id']}")
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=TIMEOUT)
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#progress-section")).to_be_hidden()
    page.reload()
    expect(page.locator("#progress-section")).to_be_hidden()


# ------------------------------------------------------------------------ history


def test_history_sorts_by_return_sharpe_drawdown_and_filters_by_day(
    session: Session, runs: dict[str, dict[str, Any]]
) -> None:
    page = session.page
    page.goto(f"{session.server.url}/history?kind=backtest")
    with api(session.server) as client:
        listed = client.get("/api/backtests", params={"limit": 200}).json()["items"]
    summaries = {item["id"]: item["summary"] or {} for item in listed}

    def shown_ids() -> list[str]:
        return [
            row.get_attribute("data-id") or "" for row in page.locator("table.runs tbody tr").all()
        ]

    for label, key in (
        ("Return", "total_return"),
        ("Sharpe", "sharpe"),
        ("Max drawdown", "max_drawdown"),
    ):
        page.locator(f'table.runs thead a[data-sort="{key}"]').click()
        page.wait_for_url(re.compile(rf"sort={key}&order=desc"))
        values = [summaries[i].get(key) for i in shown_ids()]
        figures = [v for v in values if v is not None]
        assert len(figures) >= 4, label
        assert figures == sorted(figures, reverse=True)
        assert values[: len(figures)] == figures  # runs without the figure come last
        page.locator(f'table.runs thead a[data-sort="{key}"]').click()
        page.wait_for_url(re.compile(rf"sort={key}&order=asc"))
        figures = [summaries[i].get(key) for i in shown_ids() if summaries[i].get(key) is not None]
        assert figures == sorted(figures)

    # The day filter works in the browser's time zone (Asia/Seoul here).
    expect(page.locator("#h-tz")).to_have_value("Asia/Seoul")
    created = dt.datetime.fromisoformat(
        next(i for i in listed if i["id"] == runs["sma"]["id"])["created_at"]
    )
    today = created.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    page.get_by_label("Submitted from").fill(today.isoformat())
    page.get_by_label("Submitted until").fill(today.isoformat())
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"created_from="))
    assert runs["sma"]["id"] in shown_ids()
    assert "tz=Asia%2FSeoul" in page.url
    # The sort links keep the filter.
    page.locator('table.runs thead a[data-sort="sharpe"]').click()
    page.wait_for_url(re.compile(r"created_from=.*sort=sharpe"))
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    page.get_by_label("Submitted from").fill(tomorrow)
    page.get_by_label("Submitted until").fill(tomorrow)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(rf"created_from={tomorrow}"))
    expect(page.locator("table.runs")).to_have_count(0)
    page.goto(f"{session.server.url}/history?created_from=2026-02-30")
    expect(page.locator("#history-filter-error")).to_contain_text("2026-02-30")
    expect(page.locator("table.runs tbody tr").first).to_be_visible()  # the filter was not applied
    page.screenshot(path=screenshot_path("history-sorted-filtered"), full_page=True)
