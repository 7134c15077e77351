"""The result analysis route and the history list's new sorts and date filter, end to end.

A real ``privatetrade serve`` per database backend, on the sample data plus ``GAPPY``
(opens that gap through stops) and ``LONG`` (a run that takes seconds). Everything the
analysis says is checked against the engine's own functions on the stored bars.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from server import ServerProcess, submit, wait_for

from databases import postgres_database
from gap_data import GAP_BODY, write_gap_symbol
from privatetrade.data.market_data import MarketData
from privatetrade.engine.bars import prepare_bars
from privatetrade.engine.kernels.indicators import rsi_nb, sma_nb

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
SMA_BODY = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
    "stops": {"stop_loss": 0.05, "trailing_stop": 0.1},
    "benchmark": "MSFT",
}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, long_data_dir: Path
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp(f"analysis-{request.param}") / "data"
    shutil.copytree(long_data_dir, data)
    write_gap_symbol(data)
    with ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(postgres_database())
        server = stack.enter_context(ServerProcess(data, database_url=url, workers=1))
        server.tokens = {name: server.create_user(name) for name in ("alice", "bob")}
        yield server


@pytest.fixture(scope="module")
def alice(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client(api.tokens["alice"]) as client:
        yield client


@pytest.fixture(scope="module")
def bob(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client(api.tokens["bob"]) as client:
        yield client


@pytest.fixture(scope="module")
def runs(alice: httpx.Client) -> dict[str, dict[str, Any]]:
    """Alice's succeeded runs: name -> {"job", "document", "analysis"}."""
    bodies = {
        "sma": SMA_BODY,
        "gap": GAP_BODY,
        "rsi": {"symbol": "DEMO01", "strategy": "rsi_reversion", "params": {"period": 10}},
    }
    ids = {name: submit(alice, body)["id"] for name, body in bodies.items()}
    found = {}
    for name, job_id in ids.items():
        job = wait_for(alice, job_id, {"succeeded"})
        analysis = alice.get(f"/api/backtests/{job_id}/analysis")
        assert analysis.status_code == 200, analysis.text
        assert analysis.headers["content-type"] == "application/json"
        document = alice.get(f"/api/backtest/result/{job_id}").json()
        found[name] = {"job": job, "document": document, "analysis": analysis.json()}
    return found


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body.get("field") == field, body
    return body


def run_closes(api: ServerProcess, code: str, adjusted: bool) -> np.ndarray:
    frame = MarketData(api.data_dir).bars(code, None, None, adjusted=adjusted)
    return prepare_bars(frame).bars.close


def nulls(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


# ---------------------------------------------------------------- the analysis


def test_sma_lines_are_the_engines_averages_of_the_run_bars(
    api: ServerProcess, runs: dict[str, dict[str, Any]]
) -> None:
    analysis, document = runs["sma"]["analysis"], runs["sma"]["document"]
    assert analysis["schema_version"] == "1.0"
    assert analysis["bars_note"] is None
    assert analysis["bar_count"] == document["data"]["bar_count"]
    close = run_closes(api, "AAPL", document["data"]["adjusted"])
    lines = {line["name"]: line for line in analysis["indicators"]["lines"]}
    assert lines["sma_fast"]["values"] == nulls(sma_nb(close, 5))
    assert lines["sma_slow"]["values"] == nulls(sma_nb(close, 20))
    assert analysis["indicators"]["levels"] == []
    assert len(analysis["trades"]) == len(document["trades"])
    for trade, levels in zip(document["trades"], analysis["trades"], strict=True):
        assert levels["stop_loss"] == pytest.approx(trade["entry_price"] * 0.95, rel=1e-12)
        assert len(levels["trailing"]) == levels["exit_bar"] - levels["entry_bar"] + 1
        assert document["equity"]["time"][levels["entry_bar"]] == trade["entry_time"]


def test_rsi_pane_with_its_thresholds(api: ServerProcess, runs: dict[str, dict[str, Any]]) -> None:
    analysis, document = runs["rsi"]["analysis"], runs["rsi"]["document"]
    close = run_closes(api, "DEMO01", document["data"]["adjusted"])
    (line,) = analysis["indicators"]["lines"]
    assert (line["name"], line["pane"]) == ("rsi", "lower")
    assert line["values"] == nulls(rsi_nb(close, 10))
    assert analysis["indicators"]["levels"] == [
        {"name": "rsi_lower", "pane": "lower", "value": 30.0},
        {"name": "rsi_upper", "pane": "lower", "value": 70.0},
    ]


def test_drawdown_periods_and_years_agree_with_the_document(
    runs: dict[str, dict[str, Any]],
) -> None:
    analysis, document = runs["sma"]["analysis"], runs["sma"]["document"]
    metrics = document["metrics"]
    deepest = analysis["drawdowns"][0]
    assert (deepest["start"], deepest["trough"], deepest["recovery"]) == (
        metrics["max_drawdown_start_time"],
        metrics["max_drawdown_end_time"],
        metrics["max_drawdown_recovery_time"],
    )
    assert deepest["depth"] == metrics["max_drawdown"]
    assert [row["return"] for row in analysis["yearly"]] == [
        row["return"] for row in document["yearly_returns"]
    ]
    assert all(row["benchmark"] is not None for row in analysis["yearly"])


def test_gaps_through_the_stop_are_marked(runs: dict[str, dict[str, Any]]) -> None:
    analysis, document = runs["gap"]["analysis"], runs["gap"]["document"]
    gapped = [
        (trade, levels)
        for trade, levels in zip(document["trades"], analysis["trades"], strict=True)
        if levels["gap"]
    ]
    assert len(gapped) >= 2
    for trade, levels in gapped:
        assert trade["exit_reason"] == "stop_loss"
        assert levels["exit_open"] < levels["exit_stop"]
        assert trade["exit_price"] <= levels["exit_open"]
    touched = [
        levels
        for trade, levels in zip(document["trades"], analysis["trades"], strict=True)
        if trade["exit_reason"] == "stop_loss" and not levels["gap"]
    ]
    assert touched  # stops inside a bar are not called gaps


# ---------------------------------------------------------------- who may read it


def test_analysis_is_the_owners_only(
    runs: dict[str, dict[str, Any]], alice: httpx.Client, bob: httpx.Client
) -> None:
    job_id = runs["sma"]["job"]["id"]
    foreign = problem(bob.get(f"/api/backtests/{job_id}/analysis"), 404)
    unknown = problem(bob.get("/api/backtests/0123456789abcdef0123456789abcdef/analysis"), 404)
    assert foreign["title"] == unknown["title"] == "Not found"
    assert foreign.keys() == unknown.keys()
    # No existence leak: the same answer, but for the id asked for.
    assert foreign["detail"].replace(job_id, "ID") == unknown["detail"].replace(
        "0123456789abcdef" * 2, "ID"
    )
    problem(alice.get("/api/backtests/%20/analysis"), 404)
    with httpx.Client(base_url=alice.base_url) as anonymous:
        assert anonymous.get(f"/api/backtests/{job_id}/analysis").status_code == 401


def test_an_unfinished_run_has_no_analysis_yet(alice: httpx.Client) -> None:
    long_id = submit(alice, {"symbol": "LONG", "strategy": "sma_cross"})["id"]
    wait_for(alice, long_id, {"running", "succeeded"})
    response = alice.get(f"/api/backtests/{long_id}/analysis")
    # (the run takes seconds; on a very fast machine it may just have ended)
    if response.status_code == 200:
        assert wait_for(alice, long_id)["state"] == "succeeded"
    else:
        assert problem(response, 409)["state"] == "running"
    alice.post(f"/api/backtests/{long_id}/cancel")
    final = wait_for(alice, long_id)["state"]
    expected = 200 if final == "succeeded" else 409
    assert alice.get(f"/api/backtests/{long_id}/analysis").status_code == expected


# ---------------------------------------------------------------- the history list


def listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/backtests", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize("key", ["total_return", "sharpe", "max_drawdown"])
def test_list_sorts_by_summary_figures(
    runs: dict[str, dict[str, Any]], alice: httpx.Client, key: str
) -> None:
    for order in ("desc", "asc"):
        items = listed(alice, sort=key, order=order)
        figures = [
            item["summary"][key]
            for item in items
            if item["summary"] and item["summary"].get(key) is not None
        ]
        assert len(figures) >= 3
        assert figures == sorted(figures, reverse=order == "desc")
        with_figure = [
            bool(item["summary"] and item["summary"].get(key) is not None) for item in items
        ]
        assert with_figure == sorted(with_figure, reverse=True)  # runs without one come last


def test_list_filters_by_the_day_submitted_in_a_time_zone(
    runs: dict[str, dict[str, Any]], alice: httpx.Client
) -> None:
    job = runs["sma"]["job"]
    created = dt.datetime.fromisoformat(job["created_at"])
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Seoul", "UTC"):
        day = created.astimezone(ZoneInfo(zone)).date()
        on_the_day = {
            item["id"] for item in listed(alice, created_from=day, created_to=day, tz=zone)
        }
        assert job["id"] in on_the_day
        after = {
            item["id"] for item in listed(alice, created_from=day + dt.timedelta(days=1), tz=zone)
        }
        assert job["id"] not in after
        before = {
            item["id"] for item in listed(alice, created_to=day - dt.timedelta(days=1), tz=zone)
        }
        assert job["id"] not in before
    everything = {item["id"] for item in listed(alice)}
    assert {
        item["id"] for item in listed(alice, created_from="1900-01-01", created_to="2100-12-31")
    } == everything


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "bogus"}, "sort"),
        ({"sort": "return"}, "sort"),
        ({"created_from": "2026-02-30"}, "created_from"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "1899-12-31"}, "created_to"),
        ({"created_to": "2101-01-01"}, "created_to"),
        ({"created_from": "2026-05-02", "created_to": "2026-05-01"}, "created_to"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"tz": "A" * 65}, "tz"),
        ({"tz": ""}, "tz"),
    ],
)
def test_bad_list_queries_name_their_field(
    alice: httpx.Client, params: dict[str, str], field: str
) -> None:
    body = problem(alice.get("/api/backtests", params=params), 422, field)
    assert body["detail"]
