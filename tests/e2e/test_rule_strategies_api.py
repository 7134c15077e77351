"""Saved rule strategies and rule strategies in runs, through the real server process.

One SQLite server for the module; two users (the admin and another). Covers the
saved strategies' routes (create, list, read, new version, versions, export, import,
delete), the document routes (schema, validate with the JSON path, preview), backtests
of the SMA-cross rule (inline and saved) equal to the built-in ``sma_cross`` run, the
result embedding the exact rule, and other users' ids answered 404 everywhere.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server import ServerProcess, submit, wait_for

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"


def sma(period: str) -> dict[str, Any]:
    return {"indicator": "sma", "source": {"price": "close"}, "period": period}


SMA_CROSS: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "fast": {"type": "int", "default": 10, "min": 2, "max": 100},
        "slow": {"type": "int", "default": 30, "min": 5, "max": 300},
    },
    "long": {
        "entry": {"crosses_above": [sma("${fast}"), sma("${slow}")]},
        "exit": {"crosses_below": [sma("${fast}"), sma("${slow}")]},
    },
}
PERIOD = {"symbol": "AAPL", "start": "2009-01-01", "end": "2011-12-31"}
PARAMS = {"fast": 7, "slow": 25}


@pytest.fixture(scope="module")
def admin(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with module_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def other(module_server: ServerProcess) -> Iterator[httpx.Client]:
    token = module_server.create_user(f"other-{uuid.uuid4().hex[:8]}")
    with module_server.client(token) as client:
        yield client


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"], body
    if field is not None:
        assert body["field"] == field, body
    return body


def create(client: httpx.Client, name: str, document: dict[str, Any] = SMA_CROSS) -> dict[str, Any]:
    response = client.post(
        "/api/rule-strategies", json={"name": name, "description": "test", "document": document}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/api/rule-strategies/{created['id']}"
    return created


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def result_of(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job = submit(client, body)
    final = wait_for(client, job["id"], timeout=120)
    assert final["state"] == "succeeded", final
    response = client.get(f"/api/backtest/result/{job['id']}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


# ---------------------------------------------------------------- documents


def test_schema_and_validate(admin: httpx.Client) -> None:
    schema = admin.get("/api/rules/schema")
    assert schema.status_code == 200
    assert schema.json()["type"] == "object"

    valid = admin.post("/api/rules/validate", json={"document": SMA_CROSS})
    assert valid.status_code == 200, valid.text
    assert valid.json()["valid"] is True
    assert set(valid.json()["parameters"]) == {"fast", "slow"}

    bad = copy.deepcopy(SMA_CROSS)
    bad["long"]["entry"]["crosses_above"][1]["period"] = 5000
    body = problem(
        admin.post("/api/rules/validate", json={"document": bad}),
        422,
        "document.long.entry.crosses_above[1].period",
    )
    assert body["code"] == "out_of_range"
    assert body["params"]["path"] == "document.long.entry.crosses_above[1].period"
    assert body["detail"].startswith("document.long.entry.crosses_above[1].period")

    undeclared = copy.deepcopy(SMA_CROSS)
    del undeclared["parameters"]["slow"]
    problem(
        admin.post("/api/rules/validate", json={"document": undeclared}),
        422,
        "document.long.entry.crosses_above[1].period",
    )
    huge = {"schema": "privatetrade.rules/1", "padding": "x" * 40_000}
    assert (
        problem(admin.post("/api/rules/validate", json={"document": huge}), 422, "document")["code"]
        == "rule_document_too_large"
    )


def test_preview_returns_bars_signals_and_indicator_lines(admin: httpx.Client) -> None:
    body = {**PERIOD, "document": SMA_CROSS, "params": PARAMS}
    response = admin.post("/api/rules/preview", json=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    n = len(preview["time"])
    stored = admin.get(
        "/api/symbols/AAPL/bars", params={"start": PERIOD["start"], "end": PERIOD["end"]}
    ).json()
    assert preview["time"] == stored["time"]
    assert preview["close"] == stored["close"]
    for column in ("open", "high", "low", "close", "volume"):
        assert len(preview[column]) == n
    assert preview["entries"], preview["entries"]
    assert preview["exits"]
    assert all(0 <= i < n for i in preview["entries"] + preview["exits"])
    assert preview["short_entries"] == []
    assert not preview["truncated"]
    assert preview["params"] == PARAMS
    lines = preview["indicators"]["lines"]
    assert lines
    assert all(len(line["values"]) == n for line in lines)
    # An entry is a bar where the fast average crossed above the slow one.
    closes = preview["close"]
    first = preview["entries"][0]

    def mean(end: int, length: int) -> float:
        return sum(closes[end - length + 1 : end + 1]) / length

    assert mean(first, 7) > mean(first, 25)
    assert mean(first - 1, 7) <= mean(first - 1, 25)

    whole = admin.post("/api/rules/preview", json={"symbol": "AAPL", "document": SMA_CROSS})
    assert whole.status_code == 200
    assert len(whole.json()["time"]) == len(admin.get("/api/symbols/AAPL/bars").json()["time"])

    problem(admin.post("/api/rules/preview", json={**body, "symbol": "NOPE"}), 422, "symbol")
    problem(
        admin.post("/api/rules/preview", json={**body, "params": {"fast": 1}}), 422, "params.fast"
    )
    backwards = {**body, "start": "2014-01-01", "end": "2013-01-01"}
    problem(admin.post("/api/rules/preview", json=backwards), 422, "end")


# ---------------------------------------------------------------- saved strategies


def test_saved_strategy_lifecycle(admin: httpx.Client) -> None:
    name = unique("SMA cross")
    created = create(admin, name)
    strategy_id = created["id"]
    assert (created["version"], created["name"]) == (1, name)
    assert set(created["parameters"]) == {"fast", "slow"}

    listed = admin.get("/api/rule-strategies").json()
    assert strategy_id in [item["id"] for item in listed]

    problem(
        admin.post("/api/rule-strategies", json={"name": name.upper(), "document": SMA_CROSS}),
        409,
        "name",
    )

    changed = copy.deepcopy(SMA_CROSS)
    changed["parameters"]["fast"]["default"] = 12
    updated = admin.put(
        f"/api/rule-strategies/{strategy_id}", json={"document": changed, "description": "v2"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert [v["version"] for v in updated.json()["versions"]] == [1, 2]

    detail = admin.get(f"/api/rule-strategies/{strategy_id}").json()
    assert detail["document"]["parameters"]["fast"]["default"] == 12
    assert detail["description"] == "v2"
    first = admin.get(f"/api/rule-strategies/{strategy_id}/versions/1").json()
    assert first["document"]["parameters"]["fast"]["default"] == 10
    assert first["description"] == "test"
    problem(admin.get(f"/api/rule-strategies/{strategy_id}/versions/3"), 404)

    bad = copy.deepcopy(SMA_CROSS)
    bad["long"]["exit"] = {"crosses_sideways": []}
    problem(
        admin.put(f"/api/rule-strategies/{strategy_id}", json={"document": bad}),
        422,
        "document.long.exit",
    )
    assert admin.get(f"/api/rule-strategies/{strategy_id}").json()["version"] == 2

    exported = admin.get(f"/api/rule-strategies/{strategy_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    assert exported.json() == {"name": name, "description": "v2", "document": detail["document"]}
    imported = admin.post("/api/rule-strategies/import", json=exported.json())
    assert imported.status_code == 201, imported.text
    assert imported.json()["name"] == f"{name} (2)"  # the name is taken: numbered
    assert imported.json()["version"] == 1
    assert imported.json()["document"] == detail["document"]

    assert admin.delete(f"/api/rule-strategies/{strategy_id}").status_code == 204
    problem(admin.get(f"/api/rule-strategies/{strategy_id}"), 404)
    problem(admin.delete(f"/api/rule-strategies/{strategy_id}"), 404)
    assert strategy_id not in [item["id"] for item in admin.get("/api/rule-strategies").json()]
    again = create(admin, name)  # the name is free again
    assert again["id"] != strategy_id


# ---------------------------------------------------------------- runs


def test_rule_backtests_equal_the_built_in_and_embed_the_rule(admin: httpx.Client) -> None:
    built_in = result_of(admin, {**PERIOD, "strategy": "sma_cross", "params": PARAMS})
    inline = result_of(
        admin, {**PERIOD, "strategy": "rules", "params": PARAMS, "rules": {"document": SMA_CROSS}}
    )
    saved = create(admin, unique("saved SMA"))
    by_id = result_of(
        admin,
        {
            **PERIOD,
            "strategy": "rules",
            "params": PARAMS,
            "rules": {"saved": {"id": saved["id"], "version": None}},
        },
    )
    assert built_in["metrics"]["trade_count"] > 3
    for document in (inline, by_id):
        for key in ("metrics", "trades", "fills", "equity"):
            assert document[key] == built_in[key], key
        assert document["spec"]["strategy"] == "rules"
        assert document["spec"]["params"] == PARAMS
        assert document["spec"]["rules"]["document"] == saved["document"]
    assert inline["spec"]["rules"]["saved"] is None
    assert by_id["spec"]["rules"]["saved"] == {
        "id": saved["id"],
        "version": 1,
        "name": saved["name"],
    }
    assert "rules" not in built_in["spec"]
    # The stored request holds the exact document, not the reference alone.
    assert by_id["run"]["request"]["rules"]["document"] == saved["document"]

    # A later version does not change what an earlier run recorded; a run of version 1
    # still runs version 1.
    changed = copy.deepcopy(SMA_CROSS)
    changed["long"]["exit"] = None
    admin.put(f"/api/rule-strategies/{saved['id']}", json={"document": changed})
    pinned = result_of(
        admin,
        {
            **PERIOD,
            "strategy": "rules",
            "params": PARAMS,
            "rules": {"saved": {"id": saved["id"], "version": 1}},
        },
    )
    assert pinned["trades"] == built_in["trades"]
    latest = result_of(
        admin,
        {**PERIOD, "strategy": "rules", "params": PARAMS, "rules": {"saved": {"id": saved["id"]}}},
    )
    assert latest["spec"]["rules"]["saved"]["version"] == 2
    assert latest["trades"] != built_in["trades"]


def test_rule_specs_are_checked_at_submit(admin: httpx.Client) -> None:
    rules = {"document": SMA_CROSS}
    problem(admin.post("/api/backtests", json={**PERIOD, "strategy": "rules"}), 422, "rules")
    problem(
        admin.post("/api/backtests", json={**PERIOD, "strategy": "sma_cross", "rules": rules}),
        422,
        "rules",
    )
    problem(
        admin.post(
            "/api/backtests",
            json={**PERIOD, "strategy": "rules", "params": {"fast": 500}, "rules": rules},
        ),
        422,
        "params.fast",
    )
    bad = copy.deepcopy(SMA_CROSS)
    bad["long"]["entry"]["crosses_above"][0]["period"] = "${nope}"
    problem(
        admin.post(
            "/api/backtests", json={**PERIOD, "strategy": "rules", "rules": {"document": bad}}
        ),
        422,
        "rules.document.long.entry.crosses_above[0].period",
    )
    saved = create(admin, unique("mismatch"))
    other_document = copy.deepcopy(SMA_CROSS)
    other_document["long"]["exit"] = None
    mixed = {"document": other_document, "saved": {"id": saved["id"]}}
    problem(
        admin.post("/api/backtests", json={**PERIOD, "strategy": "rules", "rules": mixed}),
        422,
        "rules.document",
    )


def test_optimization_scan_and_portfolio_take_rule_strategies(admin: httpx.Client) -> None:
    saved = create(admin, unique("research SMA"))
    reference = {"saved": {"id": saved["id"]}}
    sweep = admin.post(
        "/api/sweeps",
        json={
            **PERIOD,
            "strategy": "rules",
            "rules": reference,
            "space": {"fast": [5, 7], "slow": [20, 25]},
        },
    )
    assert sweep.status_code == 202, sweep.text
    scan = admin.post(
        "/api/scans",
        json={
            "symbols": ["DEMO01", "DEMO02"],
            "strategy": "rules",
            "params": PARAMS,
            "rules": reference,
        },
    )
    assert scan.status_code == 202, scan.text
    portfolio = admin.post(
        "/api/portfolios",
        json={
            "symbols": ["DEMO01", "DEMO02"],
            "rule": {"rule": "signals", "strategy": "rules", "params": PARAMS},
            "rules": reference,
        },
    )
    assert portfolio.status_code == 202, portfolio.text
    problem(
        admin.post(
            "/api/portfolios",
            json={
                "symbols": ["DEMO01", "DEMO02"],
                "rule": {"rule": "signals", "strategy": "rules", "params": {"fast": 1}},
                "rules": reference,
            },
        ),
        422,
        "rule.params.fast",
    )
    jobs = {"sweep": sweep.json(), "scan": scan.json(), "portfolio": portfolio.json()}
    for kind, job in jobs.items():
        final = wait_for(admin, job["id"], timeout=180)
        assert final["state"] == "succeeded", (kind, final)
        assert final["spec"]["rules"]["document"] == saved["document"], kind
        assert final["spec"]["rules"]["saved"]["version"] == 1, kind
    best = admin.get(f"/api/jobs/{jobs['sweep']['id']}/artifacts/result.json").json()
    assert best["spec"]["rules"]["saved"]["id"] == saved["id"]
    ranking = admin.get(f"/api/scans/{jobs['scan']['id']}/ranking").json()
    assert [row["error"] for row in ranking["rows"]] == [None, None]


# ---------------------------------------------------------------- other users


def test_another_users_strategy_is_404_everywhere(admin: httpx.Client, other: httpx.Client) -> None:
    mine = create(admin, unique("private"))
    path = f"/api/rule-strategies/{mine['id']}"
    for response in (
        other.get(path),
        other.put(path, json={"document": SMA_CROSS}),
        other.delete(path),
        other.get(f"{path}/versions/1"),
        other.get(f"{path}/export"),
    ):
        body = problem(response, 404)
        assert body["code"] == "not_found"
    assert mine["id"] not in [item["id"] for item in other.get("/api/rule-strategies").json()]
    reference = {"saved": {"id": mine["id"], "version": None}}
    for route, body in (
        ("/api/backtests", {**PERIOD, "strategy": "rules", "rules": reference}),
        ("/api/sweeps", {**PERIOD, "strategy": "rules", "rules": reference}),
        ("/api/scans", {"symbols": ["DEMO01"], "strategy": "rules", "rules": reference}),
        (
            "/api/portfolios",
            {
                "symbols": ["DEMO01"],
                "rule": {"rule": "signals", "strategy": "rules"},
                "rules": reference,
            },
        ),
    ):
        problem(other.post(route, json=body), 404, "rules.saved.id")
    # The owner's strategy is unchanged, and the same names are free for the other user.
    assert admin.get(path).json()["version"] == 1
    assert create(other, mine["name"])["name"] == mine["name"]
