"""The data pages in Chromium against a real server: coverage, upload, delete, search help.

An administrator uploads a CSV, sees how its columns are read and what the quality check
finds, imports it, sees the symbol's coverage, re-imports it with an explicit merge and
deletes it after typing its code. A user sees the same facts without any of the
controls. A search for a code that is not stored explains how to get it: ask an
administrator (users), import a file (administrators, no provider configured), or fetch
it (administrators, provider configured) with the job's progress and each symbol's outcome.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser import chromium, screenshot_path
from playwright.sync_api import Browser, expect
from server import ServerProcess
from test_browser_ui import PASSWORD, Session

from privatetrade.domain.users import Role

pytestmark = pytest.mark.browser

ADMIN = "dataadmin"
USER = "datareader"
HEADER = "date,open,high,low,close,volume"
SESSIONS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
            "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"]  # fmt: skip
SATURDAY = "2024-01-06"
UP_TO_DATE = "UPTD"


def csv_file(folder: Path, name: str, days: list[str], header: str = HEADER) -> Path:
    """KRX daily bars on ``days`` (prices on the tick grid)."""
    path = folder / name
    rows = [header] + [f"{day},10000,10200,9900,10050,1000" for day in days]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def add_accounts(server: ServerProcess) -> None:
    accounts = server.accounts()
    try:
        accounts.create_user(ADMIN, PASSWORD, Role.ADMIN)
        accounts.create_user(USER, PASSWORD)
    finally:
        accounts.repository.engine.dispose()


def store_up_to_date_symbol(data_dir: Path) -> None:
    """``UPTD``: bars "from yfinance" whose last bar lies beyond any closed session.

    An update has nothing to fetch for it (no network), so it ends ``up_to_date``.
    """
    import pandas as pd

    from privatetrade.data.market_data import MarketData
    from privatetrade.data.symbols import Market, SymbolInfo

    days = pd.bdate_range("2099-11-02", periods=20, tz="America/New_York", name="time")
    frame = pd.DataFrame(
        {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 100.0}, index=days
    )
    symbol = SymbolInfo(
        code=UP_TO_DATE, name="Up to date", market=Market.NYSE, currency="USD",
        tick_table="us", source="yfinance",
    )  # fmt: skip
    MarketData(data_dir).save_bars(symbol, frame)


@pytest.fixture(scope="module")
def data_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """No data provider configured (the default)."""
    data_dir = tmp_path_factory.mktemp("data-pages") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    add_accounts(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def provider_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """A data provider configured (yfinance), and a symbol it has nothing new for."""
    data_dir = tmp_path_factory.mktemp("data-pages-provider") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    store_up_to_date_symbol(data_dir)
    server = ServerProcess(data_dir, env={"PRIVATETRADE_DATA_PROVIDER": "yfinance"}).start()
    add_accounts(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def sessions(browser: Browser) -> Iterator[Callable[..., Session]]:
    opened: list[Session] = []

    def open_session(server: ServerProcess, username: str, locale: str = "en-US") -> Session:
        session = Session(browser, server, username, locale)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.context.close()
    for session in opened:
        assert session.script_errors() == []


# ---------------------------------------------------------------------- upload


def test_admin_uploads_a_csv_previews_it_and_imports_it(
    data_server: ServerProcess, sessions: Callable[..., Session], tmp_path: Path
) -> None:
    admin = sessions(data_server, ADMIN)
    page = admin.page
    admin.goto("/data")
    page.get_by_role("link", name="Import a file").click()
    expect(page.get_by_role("heading", name="Import a file of bars")).to_be_visible()

    # A file whose columns are not found by name, with a Saturday bar.
    header = "Tag,Eroeffnung,Hoch,Tief,Schluss,Umsatz"
    days = [*SESSIONS[:4], SATURDAY, *SESSIONS[4:]]
    page.get_by_label("File", exact=True).set_input_files(
        csv_file(tmp_path, "mine.csv", days, header)
    )
    page.get_by_label("Symbol code").fill("up1")
    page.get_by_label("Market").select_option("KOSDAQ")
    page.get_by_role("button", name="Preview").click()

    # The preview: nothing mapped yet, the file's problems named.
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#preview-errors")).to_be_visible()
    expect(page.locator("#commit-button")).to_be_disabled()
    expect(page.locator("#preview-rows thead tr").first).to_contain_text("Schluss")
    # Map each field to its column: every choice reads the file again.
    for field, column in [("Date", "Tag"), ("Open", "Eroeffnung"), ("High", "Hoch"),
                          ("Low", "Tief"), ("Close", "Schluss"), ("Volume", "Umsatz")]:  # fmt: skip
        page.get_by_label(field, exact=True).select_option(column)
        expect(page.get_by_label(field, exact=True)).to_have_value(column)
    # (The server's first quality check of a KRX file builds the KRX calendar: seconds.)
    expect(page.locator("#commit-button")).to_be_enabled(timeout=60_000)
    expect(page.locator("#preview-errors")).to_be_hidden()
    expect(page.locator("#preview-rows thead tr").nth(1)).to_contain_text("→ Close")
    expect(page.locator("#preview-rows tbody tr")).to_have_count(len(days))
    expect(page.locator("#preview-facts")).to_contain_text(str(len(days)))
    # The quality report before anything is stored: the Saturday bar is named.
    saturday = page.locator("[data-finding=non_session_bars]")
    expect(saturday).to_contain_text("1")
    expect(saturday).to_contain_text("Jan 6, 2024")
    expect(page.locator("#quality-summary")).to_contain_text("problem")
    expect(page.locator("#mode-box")).to_be_hidden()
    page.screenshot(path=screenshot_path("data-import-preview"), full_page=True)
    assert admin.server.client().get("/api/data/symbols/UP1").status_code == 404

    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/data/symbols/UP1\?imported=new$"))
    expect(page.locator("#imported-notice")).to_contain_text(f"{len(days)} bars")
    facts = page.locator("#coverage-facts")
    expect(facts).to_contain_text("KOSDAQ")
    expect(facts).to_contain_text("Jan 2, 2024")
    expect(facts).to_contain_text("Jan 12, 2024")
    expect(facts).to_contain_text("Imported file")  # the source, named
    expect(page.locator("#findings [data-finding=non_session_bars]")).to_contain_text("Jan 6, 2024")
    page.screenshot(path=screenshot_path("data-symbol-imported"), full_page=True)

    # The coverage list has it, flagged.
    admin.goto("/data?q=UP1")
    row = page.locator("#data-table tbody tr[data-code=UP1]")
    expect(row).to_be_visible()
    expect(row.locator("td.quality")).to_contain_text("Bars on non-trading days 1")


def test_reimporting_a_stored_symbol_asks_replace_or_merge(
    data_server: ServerProcess, sessions: Callable[..., Session], tmp_path: Path
) -> None:
    with data_server.client() as api:
        first = csv_file(tmp_path, "first.csv", SESSIONS[:4])
        with first.open("rb") as handle:
            stored = api.post(
                "/api/data/imports",
                files={"file": ("first.csv", handle, "text/csv")},
                data={"symbol": "UP2", "market": "KOSPI"},
            )
        assert stored.status_code == 200, stored.text
    admin = sessions(data_server, ADMIN)
    page = admin.page
    admin.goto("/data/import?symbol=UP2")
    expect(page.get_by_label("Symbol code")).to_have_value("UP2")
    page.get_by_label("File", exact=True).set_input_files(
        csv_file(tmp_path, "more.csv", SESSIONS[2:])
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#mode-box")).to_be_visible()
    expect(page.locator("#mode-legend")).to_contain_text("UP2 already has 4 raw bars")

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#error-mode")).to_have_text("Choose replace or merge.")
    page.get_by_label("Merge", exact=False).check()
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/data/symbols/UP2\?imported=merge$"))
    expect(page.locator("#imported-notice")).to_contain_text(f"{len(SESSIONS)} bars")


def test_a_bad_field_is_shown_next_to_it(
    data_server: ServerProcess, sessions: Callable[..., Session], tmp_path: Path
) -> None:
    admin = sessions(data_server, ADMIN)
    page = admin.page
    admin.goto("/data/import")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#error-file")).to_have_text("Choose a file first.")
    page.get_by_label("File", exact=True).set_input_files(csv_file(tmp_path, "x.csv", SESSIONS))
    page.get_by_label("Symbol code").fill("no/slash")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#error-symbol")).to_contain_text("symbol code")
    expect(page.get_by_label("Symbol code")).to_have_attribute("aria-invalid", "true")


# ---------------------------------------------------------------------- delete


def test_admin_deletes_a_symbol_after_typing_its_code(
    data_server: ServerProcess, sessions: Callable[..., Session], tmp_path: Path
) -> None:
    with data_server.client() as api:
        content = csv_file(tmp_path, "gone.csv", SESSIONS).read_bytes()
        response = api.post(
            "/api/data/imports",
            files={"file": ("gone.csv", content, "text/csv")},
            data={"symbol": "GONE", "market": "KOSPI"},
        )
        assert response.status_code == 200, response.text
    admin = sessions(data_server, ADMIN)
    page = admin.page
    admin.goto("/data/symbols/GONE")
    page.get_by_text("Delete this symbol…").click()
    page.get_by_label("Type GONE to confirm").fill("GON")
    page.get_by_role("button", name="Delete for good").click()
    expect(page.locator("#delete-error")).to_have_text("Type GONE exactly to confirm.")
    page.get_by_label("Type GONE to confirm").fill("gone")
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url(re.compile(r"/data\?deleted=GONE$"))
    expect(page.locator("#deleted-notice")).to_have_text("GONE was deleted.")
    expect(page.locator("#data-table tbody tr[data-code=GONE]")).to_have_count(0)
    with data_server.client() as api:
        assert api.get("/api/data/symbols/GONE").status_code == 404

    # The offline sample data cannot be deleted: no control, a note instead.
    admin.goto("/data/symbols/DEMO01")
    expect(page.locator("#sample-note")).to_be_visible()
    expect(page.locator("#delete-box")).to_have_count(0)


# ---------------------------------------------------------------------- users


def test_a_user_sees_coverage_and_quality_without_admin_controls(
    data_server: ServerProcess, sessions: Callable[..., Session]
) -> None:
    user = sessions(data_server, USER)
    page = user.page
    user.goto("/stocks")
    page.get_by_role("link", name="Data", exact=True).click()
    expect(page.get_by_role("heading", name="Market data")).to_be_visible()
    row = page.locator("#data-table tbody tr[data-code=AAPL]")
    expect(row).to_contain_text("raw, adjusted")
    expect(row.locator("td.quality")).to_contain_text("Jumps beyond the daily limit")
    for control in ("#import-link", "#update-all", ".admin-controls"):
        expect(page.locator(control)).to_have_count(0)

    # Filter as you type: a Hangul name, then only symbols with problems.
    page.get_by_label("Code or name").fill("합성데모")
    visible = page.locator("#data-table tbody tr:visible")
    expect(visible.first).to_be_visible()
    for code in visible.evaluate_all("rows => rows.map(row => row.dataset.code)"):
        assert code.startswith("DEMO")
    assert "q=%ED%95%A9" in page.url  # the filter is in the address
    page.get_by_label("Code or name").fill("")
    page.get_by_label("Only with problems").check()
    expect(page.locator("#data-table tbody tr[data-code=AAPL]")).to_be_visible()
    expect(page.locator("#data-table tbody tr[data-code=DEMO01]")).to_be_hidden()

    row = page.locator("#data-table tbody tr[data-code=AAPL]")
    row.get_by_role("link", name="AAPL").click()
    expect(page.locator("#findings [data-finding=jumps]")).to_contain_text("problem")
    expect(page.locator("#findings [data-finding=detected_splits]")).to_contain_text("2:1")
    for control in ("#delete-box", "#fetch-symbol", ".admin-controls"):
        expect(page.locator(control)).to_have_count(0)
    page.screenshot(path=screenshot_path("data-symbol-user"), full_page=True)

    response = user.goto("/data/import")
    assert response.status == 403
    expect(page.locator("[role=alert]")).to_have_text("Only administrators can import data.")


def test_the_pages_speak_korean(
    data_server: ServerProcess, sessions: Callable[..., Session]
) -> None:
    user = sessions(data_server, USER, locale="ko-KR")
    page = user.page
    user.goto("/data")
    expect(page.get_by_role("heading", name="시세 데이터")).to_be_visible()
    expect(page.locator("#data-table tbody tr[data-code=DEMO01] td.quality")).to_have_text("정상")
    user.goto("/data/symbols/AAPL")
    expect(page.locator("#findings [data-finding=detected_splits] th")).to_contain_text(
        "감지된 액면분할"
    )
    page.screenshot(path=screenshot_path("data-symbol-ko"), full_page=True)


# ---------------------------------------------------------------------- search help


def test_a_user_searching_a_code_that_is_not_stored_is_told_how_to_get_it(
    data_server: ServerProcess, sessions: Callable[..., Session]
) -> None:
    user = sessions(data_server, USER)
    page = user.page
    user.goto("/stocks")
    help_box = page.locator("#not-stored")
    expect(help_box).to_be_hidden()
    page.get_by_label("Code or name").fill("NVDA")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("“NVDA” is not stored here.")
    expect(help_box).to_contain_text("Ask an administrator")
    expect(help_box.get_by_role("button")).to_have_count(0)
    page.get_by_label("Code or name").fill("MSFT")
    expect(help_box).to_be_hidden()
    # The address keeps the search: the help is there on a fresh load too.
    user.goto("/stocks?q=005930")
    expect(help_box).to_contain_text("“005930” is not stored here.")


def test_an_admin_without_a_provider_is_pointed_to_an_import(
    data_server: ServerProcess, sessions: Callable[..., Session]
) -> None:
    admin = sessions(data_server, ADMIN)
    page = admin.page
    admin.goto("/stocks")
    page.get_by_label("Code or name").fill("NVDA")
    help_box = page.locator("#not-stored")
    expect(help_box).to_contain_text("No data provider is configured")
    expect(help_box.get_by_role("button")).to_have_count(0)
    help_box.get_by_role("link", name="Import a file").click()
    page.wait_for_url(re.compile(r"/data/import\?symbol=NVDA$"))
    expect(page.get_by_label("Symbol code")).to_have_value("NVDA")


def test_an_admin_with_a_provider_fetches_and_sees_each_symbols_outcome(
    provider_server: ServerProcess, sessions: Callable[..., Session]
) -> None:
    admin = sessions(provider_server, ADMIN)
    page = admin.page
    admin.goto("/stocks")
    page.get_by_label("Code or name").fill("NVDA")
    expect(page.locator("#not-stored").get_by_role("button", name="Fetch NVDA")).to_be_visible()
    page.get_by_label("Code or name").fill("ZZ~")
    expect(page.locator("#not-stored")).to_contain_text("search for its code")

    # The symbol's page starts an update of it and shows the job's outcome per symbol.
    admin.goto(f"/data/symbols/{UP_TO_DATE}")
    page.get_by_role("button", name="Fetch new bars from the provider").click()
    outcome = page.locator(f"#update-box tr[data-code={UP_TO_DATE}]")
    expect(outcome).to_contain_text("up to date", timeout=60_000)
    expect(page.locator("#update-summary")).to_have_text(
        "Update finished: 0 updated, 1 up to date, 0 failed."
    )
    page.screenshot(path=screenshot_path("data-update-outcome"), full_page=True)

    # The data list offers "update all" to administrators when a provider is configured.
    admin.goto("/data")
    expect(page.get_by_role("button", name="Update all from the provider")).to_be_visible()
    user = sessions(provider_server, USER)
    user.goto("/data")
    expect(user.page.get_by_role("button", name="Update all from the provider")).to_have_count(0)
