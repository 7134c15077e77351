"""Optimizations and walk-forwards in Chromium against a real server.

A trader opens the optimization form from the backtest form (its settings carried over),
gets a bad range named next to its field, runs a 4 × 4 grid, reads the overfitting report,
the heatmap and the top combinations, and backtests one of them in full. A walk-forward
in Korean on a phone shows its stitched out-of-sample equity, its windows and the findings
in Korean. A long optimization shows its progress and best combination live, and stops
when cancelled. Every figure on the page is checked against the API's documents.
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
from playwright.sync_api import Browser, Page, expect
from server import ServerProcess
from test_browser_ui import PASSWORD, UNLABELLED, Session

pytestmark = pytest.mark.browser

USER = "researcher"
RESEARCH_URL = re.compile(r"/research/[0-9a-f]{32}$")
BACKTEST_URL = re.compile(r"/backtests/[0-9a-f]{32}$")
JOB_SECONDS = 120_000  # ms: a loaded 2-core machine runs other tests' jobs too


@pytest.fixture(scope="module")
def research_site(
    tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path
) -> Iterator[ServerProcess]:
    """The sample data plus ``LONG`` (400,000 minute bars), for an optimization that lasts."""
    data_dir = tmp_path_factory.mktemp("research-ui") / "data"
    shutil.copytree(long_data_dir, data_dir)
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
def sessions(browser: Browser, research_site: ServerProcess) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(locale: str = "en-US") -> Session:
        session = Session(browser, research_site, USER, locale)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.context.close()
    for session in opened:
        assert session.script_errors() == []


def api(server: ServerProcess) -> httpx.Client:
    return server.client(token=server.user_token)  # type: ignore[attr-defined]


def fill_range(page: Page, name: str, start: int, stop: int, step: int) -> None:
    page.locator(f"#search-{name}-mode").select_option("range")
    page.locator(f"#search-{name}-start").fill(str(start))
    page.locator(f"#search-{name}-stop").fill(str(stop))
    page.locator(f"#search-{name}-step").fill(str(step))


def fill_values(page: Page, name: str, values: str) -> None:
    page.locator(f"#search-{name}-mode").select_option("list")
    page.locator(f"#search-{name}-list").fill(values)


# The moving-average crossover's parameters as the pages name them, by language.
PARAM_NAMES = {
    "en": {"fast": "Fast window", "slow": "Slow window"},
    "ko": {"fast": "단기 기간", "slow": "장기 기간"},
}


def named_params(text: str, language: str) -> str:
    """A finding as the page shows it: parameters by their names ("Fast window = 5")."""
    for key, name in PARAM_NAMES[language].items():
        text = re.sub(rf"(^|\W){key} = ", rf"\g<1>{name} = ", text)
    return text


def params_text(params: dict[str, Any], language: str = "en") -> str:
    names = PARAM_NAMES[language]
    return ", ".join(f"{names[name]} {value}" for name, value in params.items())


def sideways_overflow(page: Page) -> int:
    overflow: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return overflow


def drawn_heatmap(page: Page) -> dict[str, Any]:
    drawn: dict[str, Any] = page.evaluate(
        "() => { const t = document.getElementById('heatmap-chart').data[0];"
        " return {x: t.x, y: t.y, z: t.z}; }"
    )
    return drawn


def test_optimize_from_the_backtest_form_then_backtest_a_top_combination(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    session.goto("/backtests/new?symbol=DEMO01")
    expect(page.locator("#symbol-info")).to_contain_text("KOSPI")
    page.get_by_label("Costs").select_option("krx")
    page.get_by_label("Stop-loss").fill("12")
    page.get_by_role("link", name="Optimize these settings").click()
    page.wait_for_url(re.compile(r"/research/new\?spec="))

    # The backtest form's settings came along.
    expect(page.get_by_role("heading", name="Optimize a strategy")).to_be_visible()
    expect(page.locator("#f-symbol")).to_have_value("DEMO01")
    expect(page.get_by_label("Costs")).to_have_value("krx")
    expect(page.get_by_label("Stop-loss")).to_have_value("12")
    expect(page.get_by_label("Strategy", exact=True)).to_have_value("sma_cross")
    assert page.evaluate(UNLABELLED) == []

    # A range that ends below its start: nothing is queued, the error is at the field.
    fill_range(page, "fast", 20, 5, 5)
    fill_range(page, "slow", 30, 60, 10)
    expect(page.locator("#combination-count")).to_contain_text("complete every searched")
    page.get_by_role("button", name="Run optimization").click()
    error = page.locator("[data-error-for='space.fast']")
    expect(error).to_be_visible()
    expect(error).to_contain_text("stop must not be below start")
    expect(page.locator("fieldset[data-param=fast]")).to_contain_text(error.inner_text())
    expect(page.locator("#search-fast-mode")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_be_visible()
    page.screenshot(path=screenshot_path("research-form-error"), full_page=True)
    with api(session.server) as client:
        assert client.get("/api/sweeps").json()["total"] == 0

    # 4 fast × 4 slow windows, every pair with fast < slow.
    fill_range(page, "fast", 5, 20, 5)
    expect(page.locator("#combination-count")).to_have_text("16 combinations")
    page.get_by_role("button", name="Run optimization").click()
    page.wait_for_url(RESEARCH_URL)
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_SECONDS)
    expect(page.locator("#result-loading")).to_be_hidden(timeout=60_000)
    expect(page.locator("#progress-section")).to_be_hidden()

    with api(session.server) as client:
        document = client.get(f"/api/jobs/{job_id}/artifacts/result.json").json()
        heatmaps = {
            metric: client.get(
                f"/api/sweeps/{job_id}/heatmap", params={"x": "fast", "y": "slow", "metric": metric}
            ).json()
            for metric in ("sharpe", "total_return")
        }
        for link in page.locator("a[data-artifact]").all():
            href = link.get_attribute("href")
            assert href is not None
            assert client.get(href).status_code == 200, href
    assert document["spec"]["costs"] == "krx"
    assert document["spec"]["stops"]["stop_loss"] == pytest.approx(0.12)
    assert document["space"]["axes"] == {"fast": [5, 10, 15, 20], "slow": [30, 40, 50, 60]}
    assert document["combinations"] == 16

    # The report cards and the findings in English.
    report = document["report"]
    cards = page.locator("#report-cards")
    expect(cards.locator("[data-card=deflated_sharpe] dd").first).to_have_text(
        f"{report['deflated_sharpe']:.2f}"
    )
    expect(cards.locator("[data-card=pbo] dd").first).to_have_text(
        f"{report['pbo']['pbo'] * 100:.0f}%"
    )
    expect(cards.locator("[data-card=expected_max_sharpe] dd").first).to_have_text(
        f"{report['expected_max_sharpe']:.2f}"
    )
    expect(cards.locator("[data-card=combinations] dd").first).to_have_text("16")
    best = document["best"]
    expect(cards.locator("[data-card=best]")).to_contain_text(params_text(best["params"]))
    findings = report["findings"]
    assert findings  # a 4 × 4 grid on one stock: at least the deflated Sharpe warns
    items = page.locator("#findings li")
    expect(items).to_have_count(len(findings))
    for item, finding in zip(items.all(), findings, strict=True):
        expect(item).to_contain_text(named_params(finding["message_en"], "en"))
    expect(page.locator("#best-params")).to_contain_text(str(best["params"]["fast"]))

    # The heatmap: the API's cells, the searched values on its axes; another metric redraws.
    heatmap = page.locator("#heatmap-chart")
    expect(heatmap).to_have_attribute("data-drawn", "fast:slow:sharpe:best", timeout=60_000)
    assert drawn_heatmap(page) == {
        "x": ["5", "10", "15", "20"],
        "y": ["30", "40", "50", "60"],
        "z": heatmaps["sharpe"]["z"],
    }
    best_cell = drawn_heatmap(page)["z"][[30, 40, 50, 60].index(best["params"]["slow"])][
        [5, 10, 15, 20].index(best["params"]["fast"])
    ]
    assert best_cell == pytest.approx(best["metrics"]["sharpe"])
    page.get_by_label("Figure").select_option("total_return")
    expect(heatmap).to_have_attribute("data-drawn", "fast:slow:total_return:best")
    assert drawn_heatmap(page)["z"] == heatmaps["total_return"]["z"]

    # The top combinations; the second one backtested in full.
    rows = page.locator("#top-table tbody tr")
    expect(rows).to_have_count(16)
    expect(rows.first.locator("td").nth(1)).to_have_text(str(best["params"]["fast"]))
    expect(rows.first.locator("td").nth(2)).to_have_text(str(best["params"]["slow"]))
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=screenshot_path("research-sweep"), full_page=True)
    second = document["top"][1]
    page.get_by_role("button", name=f"Backtest rank 2 ({params_text(second['params'])})").click()
    page.wait_for_url(BACKTEST_URL)
    backtest_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("Succeeded", timeout=JOB_SECONDS)
    expect(page.locator("#equity-chart .main-svg").first).to_be_attached(timeout=60_000)
    with api(session.server) as client:
        result = client.get(f"/api/backtest/result/{backtest_id}").json()
    assert result["run"]["request"]["params"] == second["params"]
    assert result["spec"]["settings"]["costs"]["preset"] == "krx"
    assert result["metrics"]["sharpe"] == pytest.approx(second["metrics"]["sharpe"])
    assert result["metrics"]["trade_count"] == second["metrics"]["trade_count"]


def test_a_walk_forward_in_korean_shows_its_windows_and_findings_in_korean(
    sessions: Callable[..., Session],
) -> None:
    session = sessions(locale="ko-KR")
    page = session.page
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    session.goto("/research/new?symbol=DEMO01")
    page.get_by_label("워크포워드", exact=True).check()
    expect(page.locator("#walkforward-settings")).to_be_visible()
    assert sideways_overflow(page) <= 0
    fill_values(page, "fast", "5, 10, 20")
    fill_values(page, "slow", "30, 60, 120")
    expect(page.locator("#f-in_sample")).to_have_value("24")
    page.locator("#f-out_of_sample").fill("12")
    expect(page.locator("#combination-count")).to_have_text("조합 9개 · 학습 구간마다")
    page.get_by_role("button", name="워크포워드 실행").click()
    page.wait_for_url(RESEARCH_URL)
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#state-badge")).to_have_text("완료", timeout=JOB_SECONDS)
    expect(page.locator("#walkforward-chart .main-svg").first).to_be_attached(timeout=60_000)

    with api(session.server) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        document = client.get(f"/api/jobs/{job_id}/artifacts/result.json").json()
    assert job["kind"] == "walkforward"
    assert job["spec"]["out_of_sample"] == {"count": 12, "unit": "months"}
    windows = document["windows"]
    rows = page.locator("#windows-table tbody tr")
    expect(rows).to_have_count(len(windows))
    for row, window in zip(rows.all(), windows, strict=True):
        expect(row.locator("td").nth(3)).to_have_text(params_text(window["params"], "ko"))

    # The stitched out-of-sample equity, a dotted line where each later window starts.
    chart = page.evaluate(
        "() => { const c = document.getElementById('walkforward-chart');"
        " const lines = c.layout.shapes.filter(s => s.type === 'line');"
        " return {bars: c.data[0].x.length, lines: lines.length}; }"
    )
    assert chart == {"bars": len(document["equity"]["times"]), "lines": len(windows) - 1}
    wfe = document["report"]["walk_forward_efficiency"]
    expect(page.locator("[data-card=walk_forward_efficiency] dd").first).to_have_text(f"{wfe:.2f}")

    # Findings in Korean, never in English.
    findings = document["report"]["findings"]
    assert findings
    items = page.locator("#findings li")
    expect(items).to_have_count(len(findings))
    for item, finding in zip(items.all(), findings, strict=True):
        expect(item).to_contain_text(named_params(finding["message_ko"], "ko"))
        expect(item).not_to_contain_text(finding["message_en"][:30])
    assert sideways_overflow(page) <= 0
    page.screenshot(path=screenshot_path("research-walkforward-ko"), full_page=True)

    # The history's kind filter finds it, linked to its page.
    session.goto("/history?kind=walkforward")
    row = page.locator(f"tr[data-id='{job_id}']")
    expect(row).to_contain_text("워크포워드")
    row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(f"/research/{job_id}$"))


def test_a_long_optimization_shows_live_progress_and_stops_when_cancelled(
    sessions: Callable[..., Session],
) -> None:
    session = sessions()
    page = session.page
    # fast 1..200, slow 2..400, fast < slow: sum over fast of (400 - fast) = 59,900 pairs,
    # each a backtest of 400,000 bars: a minute or more of work.
    space = {
        "fast": {"start": 1, "stop": 200, "step": 1},
        "slow": {"start": 2, "stop": 400, "step": 1},
    }
    with api(session.server) as client:
        response = client.post("/api/sweeps", json={"symbol": "LONG", "space": space})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
    session.goto(f"/research/{job_id}")
    count = page.locator("#progress-count")
    expect(count).to_contain_text("of 59,900 combinations tested", timeout=JOB_SECONDS)
    expect(page.locator("#best-so-far-text")).to_contain_text("Fast window", timeout=60_000)
    expect(page.locator("#best-so-far-text")).to_contain_text("trades")
    done = int(count.get_attribute("data-done") or "0")
    assert 0 < done < 59_900
    page.screenshot(path=screenshot_path("research-progress"), full_page=True)

    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#cancelled-section")).to_be_visible(timeout=60_000)
    expect(page.locator("#state-badge")).to_have_text("Cancelled")
    expect(page.locator("#progress-section")).to_be_hidden()
    expect(page.locator("#result")).to_be_hidden()
    with api(session.server) as client:
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == "cancelled"
