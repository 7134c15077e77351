"""The rule builder and My strategies in Chromium, against the real server.

The builder flow a trader goes through: build "SMA(fast) crosses above SMA(slow), exit on
the opposite cross" with two parameters, see a browser check's message next to a bad
period, preview the signals on a stock's chart (the markers are the API's signals), save
(version 1), backtest it from the builder (the form picks the saved strategy with its
parameter fields; the run names it and its version), reopen it, edit it (version 2), and
see the API's message next to the part it names. Also: another user gets the Not found
page for the builder's address and never sees the strategy; the list exports, deletes and
imports; on a phone, in Korean, a nested rule is built with the keyboard and the page does
not scroll sideways.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, BrowserContext, Page, expect
from server import ServerProcess

from polling import poll

pytestmark = pytest.mark.browser

MAKER = "rulemaker"
OTHER = "someoneelse"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
AUDIT = (Path(__file__).parent / "layout_audit.js").read_text(encoding="utf-8")
WAIT_MS = 60_000
SMA_CROSS: dict[str, Any] = {
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
}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("rule-builder") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.tokens = {user: server.create_user(user, PASSWORD) for user in (MAKER, OTHER)}  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def api(server: ServerProcess, user: str = MAKER) -> httpx.Client:
    return server.client(token=server.tokens[user])  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class Visit:
    """A signed-in browser context that records script errors and failed API calls."""

    def __init__(
        self, browser: Browser, server: ServerProcess, user: str, locale: str, viewport: Any
    ):
        self.context: BrowserContext = browser.new_context(
            locale=locale, viewport=viewport, accept_downloads=True
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(message.text)
                if message.type == "error" and "status of 4" not in message.text
                else None
            ),
        )
        self.page.goto(f"{server.url}/login")
        self.page.locator("#username").fill(user)
        self.page.locator("#password").fill(PASSWORD)
        self.page.locator("#password").press("Enter")
        self.page.wait_for_url(f"{server.url}/")

    def close(self) -> None:
        self.context.close()


def control(page: Page, key: str) -> Any:
    """The builder's control with data-key ``key`` (its JSON path and role)."""
    return page.locator(f'[data-key="{key}"]')


def problem(page: Page, path: str) -> Any:
    """The message slot next to the part at ``path``."""
    return page.locator(f'#rule-page [data-error-for="{path}"]')


def add_parameter(page: Page, index: int, name: str, default: int, low: int, high: int) -> None:
    page.locator("#add-param").click()
    control(page, f"parameters[{index}]|name").fill(name)
    control(page, f"parameters[{index}]|name").press("Tab")  # a change renames
    expect(control(page, f"parameters[{index}]|name")).to_have_value(name)
    for part, value in (("default", default), ("min", low), ("max", high)):
        control(page, f"parameters[{index}]|{part}").fill(str(value))


def sma_of(page: Page, path: str, parameter: str) -> None:
    """Make the operand at ``path`` an SMA of the close over ``${parameter}`` bars."""
    control(page, f"{path}|kind").select_option("indicator.sma")
    control(page, f"{path}.period|from").select_option(parameter)
    expect(control(page, f"{path}.source|kind")).to_have_value("price.close")


def saved_id(page: Page) -> str:
    found = re.search(r"/rules/([0-9a-f]{32})$", page.url)
    assert found, page.url
    return found.group(1)


def test_build_preview_save_backtest_reopen_and_edit(browser: Browser, site: ServerProcess) -> None:
    visit = Visit(browser, site, MAKER, "en-US", DESKTOP)
    page = visit.page
    try:
        page.goto(f"{site.url}/rules")
        expect(page.locator("#rules-table")).to_have_attribute("aria-busy", "false")
        page.locator("#new-rule").click()
        page.wait_for_url(f"{site.url}/rules/new")
        expect(page.locator("#rule-form")).to_have_attribute("data-ready", "true")
        page.locator("#r-name").fill("SMA cross from rules")
        add_parameter(page, 0, "fast", 10, 5, 50)
        add_parameter(page, 1, "slow", 30, 10, 200)

        # The entry: a comparison made a cross keeps its operands; each becomes an SMA.
        control(page, "long.entry|kind").select_option("crosses_above")
        entry = "long.entry.crosses_above"
        control(page, f"{entry}[0]|kind").select_option("indicator.sma")
        # A period of 0 is told next to the field, before anything is sent.
        control(page, f"{entry}[0].period|num").fill("0")
        page.locator("#rule-save").click()
        expect(problem(page, f"{entry}[0].period")).to_have_text("At least 1.")
        expect(control(page, f"{entry}[0].period|num")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#rule-saved")).to_be_hidden()
        sma_of(page, f"{entry}[0]", "fast")
        sma_of(page, f"{entry}[1]", "slow")
        # The exit: from none to the opposite cross.
        control(page, "long.exit|kind").select_option("crosses_below")
        sma_of(page, "long.exit.crosses_below[0]", "fast")
        sma_of(page, "long.exit.crosses_below[1]", "slow")

        # Preview: the markers are the API's signals for this very document.
        page.locator("#p-symbol").fill("DEMO01")
        page.locator("#preview-button").click()
        chart = page.locator("#preview-chart")
        expect(chart).to_have_attribute("data-drawn", "true", timeout=WAIT_MS)
        with api(site) as client:
            answer = client.post(
                "/api/rules/preview", json={"symbol": "DEMO01", "document": SMA_CROSS}
            )
        assert answer.status_code == 200, answer.text
        expected = answer.json()
        assert expected["entries"]
        assert expected["exits"]
        drawn = page.evaluate(
            """() => Object.fromEntries(document.getElementById("preview-chart").data
                 .filter((trace) => trace.meta && trace.meta.signals)
                 .map((trace) => [trace.meta.signals, trace.x.length]))"""
        )
        assert drawn == {"entries": len(expected["entries"]), "exits": len(expected["exits"])}
        indicator_lines = page.evaluate(
            """() => document.getElementById("preview-chart").data
                 .filter((trace) => trace.meta && trace.meta.indicator).length"""
        )
        assert indicator_lines == len(expected["indicators"]["lines"]) >= 2
        expect(page.locator("#preview-summary")).to_contain_text(
            f"{len(expected['entries'])} entry signals"
        )
        page.screenshot(path=screenshot_path("rules-builder-preview"), full_page=True)

        # Save: version 1, the address becomes the strategy's.
        page.locator("#rule-save").click()
        expect(page.locator("#rule-saved")).to_have_text("Saved as version 1.")
        expect(page.locator("#rule-version")).to_have_attribute("data-version", "1")
        rule_id = saved_id(page)
        with api(site) as client:
            stored = client.get(f"/api/rule-strategies/{rule_id}").json()
        assert stored["name"] == "SMA cross from rules"
        assert stored["version"] == 1
        assert stored["document"]["parameters"] == SMA_CROSS["parameters"]
        assert stored["document"]["long"] == SMA_CROSS["long"]

        # Backtest it: the form picks it from My strategies with its parameter fields.
        page.locator("#rule-backtest").click()
        page.wait_for_url(re.compile(r"/backtests/new\?rules="))
        expect(page.locator("#f-strategy")).to_have_value(f"rules:{rule_id}")
        expect(page.locator("#param-fast")).to_have_value("10")
        expect(page.locator("#param-slow")).to_have_value("30")
        page.locator("#f-symbol").fill("DEMO01")
        page.locator("#param-fast").fill("12")
        page.locator("#submit").click()
        page.wait_for_url(re.compile(r"/backtests/[0-9a-f]{32}$"))
        expect(page.locator("#trades-table tbody tr").first).to_be_attached(timeout=WAIT_MS)
        expect(page.locator("#run-strategy")).to_contain_text("SMA cross from rules, version 1")
        job_id = page.url.rsplit("/", 1)[1]
        with api(site) as client:
            job = client.get(f"/api/jobs/{job_id}").json()
        assert job["spec"]["strategy"] == "rules"
        assert job["spec"]["params"] == {"fast": 12, "slow": 30}
        assert job["spec"]["rules"]["saved"] == {
            "id": rule_id,
            "version": 1,
            "name": "SMA cross from rules",
        }

        # Reopen: the builder shows what was saved.
        page.goto(f"{site.url}/rules/{rule_id}")
        expect(page.locator("#rule-form")).to_have_attribute("data-ready", "true")
        expect(page.locator("#r-name")).to_have_value("SMA cross from rules")
        expect(control(page, "parameters[1]|name")).to_have_value("slow")
        expect(control(page, "long.entry|kind")).to_have_value("crosses_above")
        expect(control(page, f"{entry}[1].period|from")).to_have_value("slow")
        expect(control(page, "long.exit|kind")).to_have_value("crosses_below")
        expect(page.locator("#rule-version")).to_have_text("Version 1")

        # Edit: saving again is version 2; the first is kept.
        control(page, "parameters[1]|default").fill("40")
        expect(page.locator("#rule-version")).to_contain_text("Changed since it was saved")
        page.locator("#rule-save").click()
        expect(page.locator("#rule-saved")).to_have_text("Saved as version 2.")
        expect(page.locator("#rule-version")).to_have_text("Version 2")
        with api(site) as client:
            edited = client.get(f"/api/rule-strategies/{rule_id}").json()
            first = client.get(f"/api/rule-strategies/{rule_id}/versions/1").json()
        assert edited["version"] == 2
        assert edited["document"]["parameters"]["slow"]["default"] == 40
        assert first["document"]["parameters"]["slow"]["default"] == 30

        # A problem only the API finds (a band width above 10) is told next to its field.
        control(page, f"{entry}[1]|kind").select_option("indicator.bollinger")
        control(page, f"{entry}[1].k|num").fill("50")
        page.locator("#rule-save").click()
        slot = problem(page, f"{entry}[1].k")
        expect(slot).to_be_visible()
        expect(slot).not_to_be_empty()
        expect(control(page, f"{entry}[1].k|num")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#rule-version")).to_contain_text("Version 2")
        page.screenshot(path=screenshot_path("rules-builder-api-error"), full_page=True)
        assert visit.errors == []
    finally:
        visit.close()


def test_another_user_gets_not_found_and_never_sees_the_strategy(
    browser: Browser, site: ServerProcess
) -> None:
    with api(site) as client:
        created = client.post(
            "/api/rule-strategies",
            json={"name": "Private rule", "description": "", "document": SMA_CROSS},
        )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    visit = Visit(browser, site, OTHER, "en-US", DESKTOP)
    page = visit.page
    try:
        answer = page.goto(f"{site.url}/rules/{rule_id}")
        assert answer is not None
        assert answer.status == 404
        expect(page.locator("main h1")).to_have_text("Not found")
        expect(page.locator("#rule-form")).to_have_count(0)
        page.goto(f"{site.url}/rules")
        expect(page.locator("#rules-table")).to_have_attribute("data-count", "0")
        expect(page.locator("#rules-table")).not_to_contain_text("Private rule")
        page.goto(f"{site.url}/backtests/new?rules={rule_id}")
        expect(page.locator("#f-strategy")).to_have_attribute("data-rule-strategies", "0")
        expect(page.locator(f'#f-strategy option[value="rules:{rule_id}"]')).to_have_count(0)
        expect(page.locator("#f-strategy")).to_have_value("sma_cross")
    finally:
        visit.close()
    owner = Visit(browser, site, MAKER, "en-US", DESKTOP)
    try:
        answer = owner.page.goto(f"{site.url}/rules/{rule_id}")
        assert answer is not None
        assert answer.status == 200
    finally:
        owner.close()


def test_the_list_exports_deletes_and_imports(
    browser: Browser, site: ServerProcess, tmp_path: Path
) -> None:
    with api(site) as client:
        created = client.post(
            "/api/rule-strategies",
            json={"name": "Round trip", "description": "exported and back", "document": SMA_CROSS},
        )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    visit = Visit(browser, site, MAKER, "en-US", DESKTOP)
    page = visit.page
    try:
        page.goto(f"{site.url}/rules")
        row = page.locator(f'#rules-table tr[data-id="{rule_id}"]')
        expect(row).to_contain_text("Round trip")
        expect(row).to_contain_text("${fast}, ${slow}")
        with page.expect_download() as download:
            row.get_by_role("link", name="Export Round trip").click()
        exported = tmp_path / "round-trip.json"
        download.value.save_as(exported)
        content = json.loads(exported.read_text(encoding="utf-8"))
        assert content["name"] == "Round trip"
        assert content["document"]["long"] == SMA_CROSS["long"]

        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Delete Round trip").click()
        expect(page.locator("#rules-status")).to_have_text("Deleted “Round trip”.")
        expect(row).to_have_count(0)

        page.locator("#import-file").set_input_files(str(exported))
        page.locator("#import-button").click()
        expect(page.locator("#rules-status")).to_contain_text("Imported")
        imported = page.locator("#rules-table tbody tr", has_text="Round trip")
        expect(imported).to_have_count(1)
        new_id = imported.get_attribute("data-id")
        assert new_id
        assert new_id != rule_id

        not_json = tmp_path / "broken.json"
        not_json.write_text("{ not json", encoding="utf-8")
        page.locator("#import-file").set_input_files(str(not_json))
        page.locator("#import-button").click()
        expect(page.locator("#err-import")).to_have_text("The file is not JSON.")
        assert visit.errors == []
    finally:
        visit.close()


@pytest.mark.parametrize(
    ("locale", "viewport"),
    [("ko-KR", PHONE), ("en-US", PHONE)],
    ids=["korean-phone", "english-phone"],
)
def test_a_nested_rule_built_with_the_keyboard_fits_a_phone(
    browser: Browser, site: ServerProcess, locale: str, viewport: dict[str, int]
) -> None:
    visit = Visit(browser, site, MAKER, locale, viewport)
    page = visit.page
    korean = locale.startswith("ko")
    try:
        page.goto(f"{site.url}/rules/new")
        expect(page.locator("#rule-form")).to_have_attribute("data-ready", "true")
        kind = control(page, "long.entry|kind")
        crosses_above = kind.locator('option[value="crosses_above"]')
        expect(crosses_above).to_have_text("상향 돌파" if korean else "crosses above")
        expect(kind.locator('option[value="crosses_below"]')).to_have_text(
            "하향 돌파" if korean else "crosses below"
        )
        # All of: the comparison becomes the group's first member.
        kind.focus()
        kind.select_option("all")
        expect(control(page, "long.entry.all[0]|kind")).to_have_value("gt")
        # The keyboard adds a member: Enter on the button, the focus on the new member.
        add = control(page, "long.entry.all|add")
        add.focus()
        page.keyboard.press("Enter")
        expect(control(page, "long.entry.all[1]|kind")).to_be_focused()
        # ...and makes it "RSI between 30 and 70 within the last 5 bars".
        control(page, "long.entry.all[1]|kind").select_option("between")
        between = control(page, "long.entry.all[1].between|kind")
        expect(between).to_have_value("price.close")  # the comparison's left operand, kept
        between.select_option("indicator.rsi")
        expect(control(page, "long.entry.all[1].between.period|num")).to_have_value("14")
        control(page, "long.entry.all[1]|kind").select_option("within_bars")
        expect(control(page, "long.entry.all[1].condition|kind")).to_have_value("between")
        control(page, "long.entry.all[1].within_bars|num").fill("5")
        group = control(page, "long.entry.all|group")
        group.focus()
        page.keyboard.press("Enter")
        expect(control(page, "long.entry.all[2]|kind")).to_be_focused()
        expect(control(page, "long.entry.all[2]|kind")).to_have_value("any")
        # Removing a member with the keyboard moves the focus to its neighbour.
        control(page, "long.entry.all[2].any[0]|remove").focus()
        page.keyboard.press("Enter")
        expect(control(page, "long.entry.all[2].any[0]|kind")).to_have_count(0)
        expect(control(page, "long.entry.all[2].any|add")).to_be_focused()
        page.locator("#r-name").fill("중첩 규칙" if korean else "Nested rule")
        page.locator("#rule-save").click()
        # An empty group is refused in the browser, next to that group.
        empty = problem(page, "long.entry.all[2].any")
        expect(empty).to_have_text(
            "이 그룹에 조건을 하나 이상 넣으세요."
            if korean
            else "Add at least one condition to this group."
        )
        control(page, "long.entry.all[2]|remove").click()
        page.locator("#rule-save").click()
        expect(page.locator("#rule-version")).to_have_attribute("data-version", "1")
        rule_id = saved_id(page)
        with api(site) as client:
            stored = client.get(f"/api/rule-strategies/{rule_id}").json()
        entry = stored["document"]["long"]["entry"]
        assert list(entry) == ["all"]
        assert entry["all"][1]["within_bars"] == 5
        assert set(entry["all"][1]["condition"]) == {"between", "low", "high"}

        page.wait_for_load_state("networkidle")
        found = page.evaluate(AUDIT)
        page.screenshot(path=screenshot_path(f"rules-nested-{locale}"), full_page=True)
        assert found["overflow"] == 0, found
        assert found["overlaps"] == [], found["overlaps"]
        assert found["brokenWords"] == [], found["brokenWords"]
        assert visit.errors == []
    finally:
        visit.close()


def test_the_optimization_form_searches_a_rule_strategys_parameters(
    browser: Browser, site: ServerProcess
) -> None:
    with api(site) as client:
        created = client.post(
            "/api/rule-strategies",
            json={"name": "To optimize", "description": "", "document": SMA_CROSS},
        )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    visit = Visit(browser, site, MAKER, "en-US", DESKTOP)
    page = visit.page
    try:
        page.goto(f"{site.url}/research/new?symbol=DEMO01&rules={rule_id}")
        expect(page.locator("#f-strategy")).to_have_value(f"rules:{rule_id}")
        # Each declared parameter is searched from its minimum to its maximum.
        expect(page.locator("#search-fast-start")).to_have_value("5")
        expect(page.locator("#search-fast-stop")).to_have_value("50")
        expect(page.locator("#search-slow-stop")).to_have_value("200")
        page.locator("#submit").click()
        page.wait_for_url(re.compile(r"/research/[0-9a-f]{32}$"))
        job_id = page.url.rsplit("/", 1)[1]
        expect(page.locator("#run-strategy")).to_contain_text("To optimize, version 1")
        with api(site) as client:
            job = poll(lambda: ended(client, job_id), 240.0, "the optimization")
        assert job["state"] == "succeeded", job
        assert job["spec"]["rules"]["saved"]["id"] == rule_id
        assert set(job["spec"]["space"]) == {"fast", "slow"}
        assert visit.errors == []
    finally:
        visit.close()


def ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job if job["state"] in ("succeeded", "failed", "cancelled") else None
