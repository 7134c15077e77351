"""The data API against the real server: stored symbols and their quality, uploads, deletes.

Everyone signed in lists what is stored; only administrators preview, import and delete.
Bad uploads answer 4xx with a problem naming the field, never 500; an upload leaves no
file behind; a stored symbol needs an explicit replace or merge.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess

from polling import poll
from privatetrade.data.market_data import MarketData
from privatetrade.data.quality import quality_report
from privatetrade.data.store import PriceKind
from privatetrade.web.api.data_imports import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
HEADER = "date,open,high,low,close,volume"
# Nine KRX sessions of January 2024 (the 1st is a holiday) ...
SESSIONS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
            "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"]  # fmt: skip
SATURDAY = "2024-01-06"
OFF_TICK_CLOSE = 10_005  # prices of 5,000-20,000 won trade in steps of 10 won


def bar_line(day: str, close: float = 10_050, volume: int = 1_000) -> str:
    return f"{day},10000,10200,9900,{close},{volume}"


def krx_csv(days: list[str] | None = None, *, off_tick_on: str | None = None) -> bytes:
    """Daily KRX bars; one close off the tick grid on ``off_tick_on``."""
    lines = [HEADER]
    for day in days or SESSIONS:
        lines.append(bar_line(day, OFF_TICK_CLOSE if day == off_tick_on else 10_050))
    return ("\n".join(lines) + "\n").encode()


def upload(
    client: httpx.Client,
    path: str,
    content: bytes,
    *,
    filename: str = "bars.csv",
    **fields: Any,
) -> httpx.Response:
    data = {key: value for key, value in fields.items() if value is not None}
    return client.post(path, files={"file": (filename, content, "text/csv")}, data=data)


def preview(client: httpx.Client, content: bytes, **fields: Any) -> httpx.Response:
    return upload(client, "/api/data/imports/preview", content, **fields)


def commit(client: httpx.Client, content: bytes, **fields: Any) -> httpx.Response:
    return upload(client, "/api/data/imports", content, **fields)


def problem(response: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body.get("field") == field, body
    return body


@pytest.fixture(scope="module")
def admin(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with module_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def user(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with module_server.client(module_server.create_user("datauser")) as client:
        yield client


def listing(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/data/symbols", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def checked_listing(client: httpx.Client, **params: Any) -> dict[str, Any]:
    """The listing once every symbol's quality check is done."""
    return poll(
        lambda: body if (body := listing(client, **params))["pending"] == 0 else None,
        120,
        "every stored symbol's quality check",
    )


# ---------------------------------------------------------------------- reading


def test_everyone_sees_each_stored_symbol_with_coverage_and_quality(
    module_server: ServerProcess, user: httpx.Client
) -> None:
    body = checked_listing(user)
    items = {item["code"]: item for item in body["items"]}
    assert body["total"] == len(body["items"])
    assert {"AAPL", "MSFT", "DEMO01"} <= items.keys()

    aapl = items["AAPL"]
    described = user.get("/api/symbols/AAPL").json()
    for key in ("first_bar", "last_bar", "bar_count", "market", "source"):
        assert aapl[key] == described[key], key
    assert aapl["series"] == ["raw", "adjusted"]
    assert aapl["updated_at"] is not None
    assert aapl["deletable"] is False  # sample data is reinstalled, so not deletable

    # The flags are the quality report of the stored raw prices.
    bars = MarketData(module_server.data_dir).store.read("AAPL", kind=PriceKind.RAW)
    report = quality_report(bars, "NASDAQ", symbol="AAPL")
    assert aapl["quality"]["series"] == "raw"
    assert aapl["quality"]["problems"] == list(report.problems)
    assert aapl["quality"]["ok"] is report.ok
    assert aapl["quality"]["counts"]["jumps"] == report.jumps.count


def test_the_listing_filters_by_text_market_and_problems(user: httpx.Client) -> None:
    everything = checked_listing(user)["items"]
    by_name = listing(user, q="합성데모")["items"]
    assert by_name
    assert all(item["code"].startswith("DEMO") for item in by_name)
    nasdaq = listing(user, market="NASDAQ")["items"]
    assert {item["code"] for item in nasdaq} == {
        item["code"] for item in everything if item["market"] == "NASDAQ"
    }
    flagged = listing(user, problems="true")["items"]
    assert {item["code"] for item in flagged} == {
        item["code"] for item in everything if not item["quality"]["ok"]
    }
    assert "AAPL" in {item["code"] for item in flagged}
    page = listing(user, offset=1, limit=2)
    assert [item["code"] for item in page["items"]] == [item["code"] for item in everything[1:3]]


def test_a_symbols_quality_report(module_server: ServerProcess, user: httpx.Client) -> None:
    response = user.get("/api/data/symbols/AAPL/quality")
    assert response.status_code == 200, response.text
    body = response.json()
    bars = MarketData(module_server.data_dir).store.read("AAPL", kind=PriceKind.RAW)
    assert body["series"] == "raw"
    assert body["report"] == quality_report(bars, "NASDAQ", symbol="AAPL").to_dict()
    one = user.get("/api/data/symbols/aapl")
    assert one.status_code == 200
    assert one.json()["code"] == "AAPL"
    for path in ("/api/data/symbols/NOPE", "/api/data/symbols/NOPE/quality"):
        problem(user.get(path), 404, None)


# ---------------------------------------------------------------------- who may


def test_only_administrators_upload_or_delete(
    module_server: ServerProcess, user: httpx.Client
) -> None:
    content = krx_csv()
    problem(preview(user, content, symbol="USERUP"), 403, None)
    problem(commit(user, content, symbol="USERUP", market="KOSDAQ"), 403, None)
    problem(user.delete("/api/data/symbols/AAPL", params={"confirm": "AAPL"}), 403, None)
    with module_server.anonymous() as anonymous:
        problem(preview(anonymous, content, symbol="USERUP"), 401, None)
        problem(anonymous.get("/api/data/symbols"), 401, None)
    assert user.get("/api/data/symbols/USERUP").status_code == 404


# ---------------------------------------------------------------------- uploads


def test_preview_shows_mapping_rows_and_quality_and_stores_nothing(admin: httpx.Client) -> None:
    content = krx_csv([*SESSIONS[:4], SATURDAY, *SESSIONS[4:]], off_tick_on=SESSIONS[2])
    response = preview(admin, content, symbol="kq1", market="KOSDAQ")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["symbol"] == "KQ1"
    assert body["file"] == {"name": "bars.csv", "size": len(content)}
    assert body["columns"] == HEADER.split(",")
    assert body["mapping"] == {
        "time": "date", "open": "open", "high": "high", "low": "low", "close": "close",
        "volume": "volume",
    }  # fmt: skip
    assert body["bar_count"] == len(SESSIONS) + 1
    assert (body["first_bar"], body["last_bar"]) == (SESSIONS[0], SESSIONS[-1])
    assert body["head"][0] == bar_line(SESSIONS[0]).split(",")
    findings = {finding["name"]: finding for finding in body["findings"]}
    assert findings["non_session_bars"]["count"] == 1
    assert findings["non_session_bars"]["examples"] == [SATURDAY]
    assert findings["off_grid"]["count"] == 1
    assert findings["off_grid"]["examples"] == [SESSIONS[2]]
    assert (body["symbol_exists"], body["needs_mode"]) == (False, False)
    # Nothing was stored.
    assert admin.get("/api/data/symbols/KQ1").status_code == 404


def test_import_then_reimport_needs_replace_or_merge(admin: httpx.Client) -> None:
    first = commit(admin, krx_csv(SESSIONS[:5]), symbol="KQ2", market="KOSDAQ", name="Mine")
    assert first.status_code == 200, first.text
    stored = first.json()
    assert stored["mode"] == "new"
    assert stored["symbol"]["code"] == "KQ2"
    assert stored["symbol"]["name"] == "Mine"
    assert stored["symbol"]["bar_count"] == 5
    assert stored["symbol"]["source"] == "import"
    assert stored["symbol"]["quality"]["ok"] is True
    assert stored["result"]["file_bars"] == 5

    later = krx_csv(SESSIONS[3:])  # two dates stored already, four new
    refused = commit(admin, later, symbol="KQ2")
    problem(refused, 409, "mode")
    assert admin.get("/api/data/symbols/KQ2").json()["bar_count"] == 5  # unchanged
    again = preview(admin, later, symbol="KQ2").json()
    assert (again["symbol_exists"], again["needs_mode"]) == (True, True)
    assert again["stored"]["bar_count"] == 5

    merged = commit(admin, later, symbol="KQ2", mode="merge")
    assert merged.status_code == 200, merged.text
    assert merged.json()["mode"] == "merge"
    assert merged.json()["symbol"]["bar_count"] == len(SESSIONS)
    assert merged.json()["result"]["overwritten"] == 2

    replaced = commit(admin, krx_csv(SESSIONS[6:]), symbol="KQ2", mode="replace")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["mode"] == "replace"
    symbol = admin.get("/api/data/symbols/KQ2").json()
    assert (symbol["bar_count"], symbol["first_bar"]) == (3, SESSIONS[6])


def test_columns_can_be_mapped_by_hand(admin: httpx.Client) -> None:
    content = (
        "Tag,Eroeffnung,Hoch,Tief,Schluss\n"
        + "\n".join(f"{day},10000,10200,9900,10050" for day in SESSIONS[:3])
        + "\n"
    ).encode()
    unmapped = preview(admin, content, symbol="KQ3", market="KOSPI").json()
    assert unmapped["ok"] is False
    assert set(unmapped["missing_fields"]) == {"time", "open", "high", "low", "close", "volume"}
    columns = ["time=Tag", "open=Eroeffnung", "high=Hoch", "low=Tief", "close=Schluss"]
    mapped = preview(admin, content, symbol="KQ3", market="KOSPI", column=columns)
    assert mapped.status_code == 200, mapped.text
    body = mapped.json()
    assert body["ok"] is True
    assert body["mapping"]["close"] == "Schluss"
    assert body["missing_fields"] == ["volume"]
    assert body["bar_count"] == 3


def test_a_file_with_a_bad_row_is_refused_with_its_line(admin: httpx.Client) -> None:
    rows = [HEADER, bar_line(SESSIONS[0]), f"{SESSIONS[1]},10000,9000,9900,10050,1000"]
    content = ("\n".join(rows) + "\n").encode()  # line 3: high below the open
    shown = preview(admin, content, symbol="KQ4", market="KOSPI").json()
    assert shown["ok"] is False
    assert [error["line"] for error in shown["errors"]] == [3]
    refused = problem(commit(admin, content, symbol="KQ4", market="KOSPI"), 422, "file")
    assert refused["errors"][0]["line"] == 3
    assert "line 3" in refused["detail"]
    assert "uploads" not in refused["detail"]  # the server's own path stays private
    assert admin.get("/api/data/symbols/KQ4").status_code == 404


def parquet_bytes(rows: int) -> bytes:
    import pandas as pd

    days = pd.date_range("2000-01-03", periods=rows, freq="B").strftime("%Y-%m-%d")
    prices = dict.fromkeys(["open", "high", "low", "close", "volume"], 1.0)
    frame = pd.DataFrame({"date": days, **prices})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def test_a_parquet_file_is_imported(admin: httpx.Client) -> None:
    content = parquet_bytes(30)
    shown = upload(admin, "/api/data/imports/preview", content, filename="b.parquet", symbol="PQ1")
    assert shown.status_code == 200, shown.text
    assert shown.json()["bar_count"] == 30
    done = upload(admin, "/api/data/imports", content, filename="b.parquet", symbol="PQ1")
    assert done.status_code == 200, done.text
    assert done.json()["symbol"]["bar_count"] == 30


def test_large_uploads_pass_the_body_limit_other_routes_keep(admin: httpx.Client) -> None:
    import pandas as pd

    days = [f"{day.date()}" for day in pd.bdate_range("2000-01-03", periods=4000)]
    content = ("date,open,high,low,close\n" + "\n".join(f"{d},1,1,1,1" for d in days)).encode()
    assert len(content) > 65_536  # the limit of every other request body
    shown = preview(admin, content, symbol="BIG1", market="OTHER")
    assert shown.status_code == 200, shown.text
    assert shown.json()["bar_count"] == 4000
    big_json = {"symbol": "AAPL", "padding": "x" * 70_000}
    problem(admin.post("/api/backtests", json=big_json), 413, None)


CSV = ("bars.csv", b"date\n")
BAD_UPLOADS = {
    # id: (text fields, the file part or None, status, field named)
    "no file": ({"symbol": "X1"}, None, 422, "file"),
    "file as text": ({"symbol": "X1", "file": "text"}, None, 422, "file"),
    "no symbol": ({}, CSV, 422, "symbol"),
    "bad code": ({"symbol": "../x"}, CSV, 422, "symbol"),
    "unsupported type": ({"symbol": "X1"}, ("run.exe", b"MZ"), 422, "file"),
    "no suffix": ({"symbol": "X1"}, ("bars", b"date\n"), 422, "file"),
    "unknown market": ({"symbol": "X1", "market": "MOON"}, CSV, 422, "market"),
    "bad flag": ({"symbol": "X1", "adjusted": "maybe"}, CSV, 422, "adjusted"),
    "column without a name": ({"symbol": "X1", "column": "close"}, CSV, 422, "column"),
    "unknown field": ({"symbol": "X1", "column": "price=close"}, CSV, 422, "column"),
    "unknown zone": ({"symbol": "X1", "tz": "Mars/Olympus"}, CSV, 422, "tz"),
    "long format": ({"symbol": "X1", "date_format": "%Y" * 40}, CSV, 422, "date_format"),
    "broken parquet": ({"symbol": "X1"}, ("b.parquet", b"not parquet"), 422, "file"),
    "too many rows": ({"symbol": "X1"}, ("b.csv", b"\n" * (MAX_UPLOAD_ROWS + 2)), 422, "file"),
    "too large": ({"symbol": "X1"}, ("b.csv", b"0" * (MAX_UPLOAD_BYTES + 1)), 413, "file"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
@pytest.mark.parametrize("path", ["/api/data/imports/preview", "/api/data/imports"])
def test_bad_uploads_answer_4xx_naming_the_field(admin: httpx.Client, path: str, case: str) -> None:
    fields, file, status, field = BAD_UPLOADS[case]
    parts: list[tuple[str, tuple[str | None, bytes]]] = [
        (name, (None, value.encode())) for name, value in fields.items()
    ]
    if file is not None:
        parts.append(("file", file))
    problem(admin.post(path, files=parts), status, field)


def test_the_import_checks_its_own_fields(admin: httpx.Client) -> None:
    problem(commit(admin, krx_csv(), symbol="X2", mode="overwrite"), 422, "mode")
    problem(commit(admin, krx_csv(), symbol="X2", name="n" * 201), 422, "name")
    assert admin.get("/api/data/symbols/X2").status_code == 404


NOT_A_FORM = {
    "json": ("application/json", b"{}", 415),
    "no boundary": ("multipart/form-data", b"x", 422),
    "cut off": ("multipart/form-data; boundary=zz", b"--zz\r\nbroken", 422),
}


@pytest.mark.parametrize("case", NOT_A_FORM)
def test_a_body_that_is_no_form_names_the_body(admin: httpx.Client, case: str) -> None:
    content_type, content, status = NOT_A_FORM[case]
    response = admin.post(
        "/api/data/imports/preview", content=content, headers={"Content-Type": content_type}
    )
    problem(response, status, "body")


def test_uploads_leave_no_file_behind(module_server: ServerProcess, admin: httpx.Client) -> None:
    assert preview(admin, krx_csv(), symbol="X3").status_code == 200
    problem(preview(admin, krx_csv(), symbol="X3", market="MOON"), 422, "market")
    folder = Path(module_server.data_dir) / "uploads"
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


# ---------------------------------------------------------------------- deleting


def test_delete_needs_the_code_repeated_and_spares_the_samples(admin: httpx.Client) -> None:
    assert commit(admin, krx_csv(), symbol="GONE1", market="KOSPI").status_code == 200
    problem(admin.delete("/api/data/symbols/GONE1"), 422, "confirm")
    problem(admin.delete("/api/data/symbols/GONE1", params={"confirm": "GONE2"}), 422, "confirm")
    assert admin.get("/api/data/symbols/GONE1").status_code == 200

    deleted = admin.delete("/api/data/symbols/gone1", params={"confirm": "gone1"})
    assert deleted.status_code == 204, deleted.text
    assert admin.get("/api/data/symbols/GONE1").status_code == 404
    assert admin.get("/api/symbols/GONE1").status_code == 404
    assert "GONE1" not in {item["code"] for item in listing(admin, q="GONE")["items"]}
    problem(admin.delete("/api/data/symbols/GONE1", params={"confirm": "GONE1"}), 404, None)

    problem(admin.delete("/api/data/symbols/DEMO01", params={"confirm": "DEMO01"}), 409, None)
    assert admin.get("/api/data/symbols/DEMO01").status_code == 200
