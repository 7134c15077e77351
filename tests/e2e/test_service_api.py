"""The HTTP API end to end: the real ``privatetrade serve`` process on SQLite and PostgreSQL.

Most tests share one server per database backend (module scope) and only assert on jobs
they created; tests that need a clean history, other settings or a broken database start
their own server.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from server import ServerProcess, submit, wait_for

from databases import PG_ADMIN_URL, postgres_database
from privatetrade.ops.smoke.sse import parse_sse

pytestmark = pytest.mark.e2e

BODY: dict[str, Any] = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
}
LONG_BODY: dict[str, Any] = {
    "symbol": "LONG",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
}
RESULT_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "result-schema.md"
PROBLEM_JSON = "application/problem+json"
RUN_FIELDS = {
    "id",
    "owner",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "attempt",
    "app_version",
    "request",
}
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
# The Hangul name of a synthetic KRX demo symbol (privatetrade.data.synthetic).
HANGUL_NAME, HANGUL_CODE = "합성데모바이오", "DEMO02"


# ---------------------------------------------------------------- helpers


def result_paths(job_id: str) -> list[str]:
    return [
        f"/api/backtest/result/{job_id}",
        f"/api/backtests/{job_id}/trades.csv",
        f"/api/backtests/{job_id}/equity.csv",
        f"/api/backtests/{job_id}/analysis",
    ]


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert a problem+json answer with ``status`` (and ``field``); return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status, body
    for key in ("title", "detail"):
        assert isinstance(body[key], str), body
        assert body[key], body
    if field is not None:
        assert body.get("field") == field, body
    return body


def history(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/backtests", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert isinstance(page, dict)
    return page


def history_total(client: httpx.Client, **params: Any) -> int:
    return int(history(client, limit=1, **params)["total"])


def wait_until(
    condition: Callable[[], bool], timeout: float, message: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {message}")


def read_events(client: httpx.Client, job_id: str, timeout: float = 60.0) -> list[tuple[str, Any]]:
    """Follow the job's Server-Sent Events to the end of the stream: ``[(event, data)]``."""
    deadline = time.monotonic() + timeout
    with client.stream("GET", f"/api/backtests/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        def lines() -> Iterator[str]:
            for line in response.iter_lines():
                assert time.monotonic() < deadline, f"event stream still open after {timeout}s"
                yield line

        return [(event, json.loads(data)) for event, data in parse_sse(lines())]


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def metric_samples(client: httpx.Client) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def metric_value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float | None:
    for sample_labels, value in samples.get(name, []):
        if all(sample_labels.get(key) == wanted for key, wanted in labels.items()):
            return value
    return None


def log_lines(server: ServerProcess) -> list[str]:
    return server.log_path.read_text(errors="replace").splitlines()


def json_log_records(server: ServerProcess) -> list[dict[str, Any]]:
    records = []
    for line in log_lines(server):
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def logged(server: ServerProcess, fields: dict[str, Any], what: str) -> dict[str, Any]:
    """Wait (10 s at most) for the server's first log record with these fields; return it."""

    def found() -> dict[str, Any] | None:
        records = json_log_records(server)
        return next((r for r in records if fields.items() <= r.items()), None)

    wait_until(lambda: found() is not None, 10, what)
    record = found()
    assert record is not None
    return record


# ---------------------------------------------------------------- result-schema.md


def schema_tables() -> list[tuple[list[str], list[str], list[list[str]]]]:
    """The tables of docs/result-schema.md: ``(object paths, header cells, rows)``.

    The object paths come from the section heading (``## `spec` `` -> ``spec``,
    ``## Top level`` -> the document itself) or from a line such as
    ``` `spec.settings`: ``` right before a table; ``[]`` marks "each element of".
    """
    tables: list[tuple[list[str], list[str], list[list[str]]]] = []
    context: list[str] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    fenced = False

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    for line in [*RESULT_SCHEMA.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("|"):
            if header is None:
                header = cells(line)
            elif not set(line.replace("|", "").strip()) <= set("-: "):
                rows.append(cells(line))
            continue
        if header is not None:
            tables.append((context, header, rows))
            header, rows = None, []
        if line.startswith("## "):
            title = line[3:]
            context = [""] if title.strip() == "Top level" else re.findall(r"`([^`]+)`", title)
        elif sub := re.match(r"^`([^`]+)`[^|`]*:\s*$", line):
            context = [sub.group(1)]
    return tables


def documented_fields(*, optional: bool = False) -> dict[str, set[str]]:
    """Object path -> the keys result-schema.md documents for that object.

    With ``optional``, only the keys documented as present for some runs only (a type
    reading "..., only for ..."); else every key.
    """
    fields: dict[str, set[str]] = {}
    for contexts, header, rows in schema_tables():
        if not header or header[0] != "key":
            continue
        for context in contexts:
            for row in rows:
                if optional and (len(row) < 2 or "only for" not in row[1]):
                    continue
                for key in re.findall(r"`([^`]+)`", row[0]):
                    if "[" not in key:  # `buy_and_hold[i]` explains elements, not a key
                        fields.setdefault(context, set()).add(key)
    return fields


def documented_csv_columns() -> dict[str, list[str]]:
    """Export name (``trades``, ``equity``) -> its columns, from the CSV exports table."""
    columns: dict[str, list[str]] = {}
    for _contexts, header, rows in schema_tables():
        if header and header[0] == "export":
            where = header.index("columns")
            for row in rows:
                names = re.findall(r"`([^`]+)`", row[where])[0]
                columns[row[0]] = [name.strip() for name in names.split(",")]
    return columns


def documented_request_keys() -> set[str]:
    """The spec fields the ``run.request`` row of result-schema.md lists."""
    for contexts, header, rows in schema_tables():
        if contexts == ["run"] and header and header[0] == "key":
            for row in rows:
                if row[0] == "`request`":
                    return set(re.findall(r"`([a-z_]+)`", row[header.index("meaning")]))
    return set()


def objects_at(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The objects a documented path refers to (``trades[]`` -> every trade)."""
    nodes: list[Any] = [document]
    for part in [part for part in path.split(".") if part]:
        key = part.removesuffix("[]")
        nodes = [node[key] for node in nodes]
        if part.endswith("[]"):
            assert all(isinstance(node, list) and node for node in nodes), (
                f"{key} is empty: cannot check the fields of its elements"
            )
            nodes = [item for node in nodes for item in node]
    assert all(isinstance(node, dict) for node in nodes), path
    return nodes


def has_key_path(node: dict[str, Any], key: str) -> bool:
    for part in key.split("."):  # `sizing.mode` in spec.settings
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# ---------------------------------------------------------------- servers


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """One server per backend, shared by the tests that only look at their own jobs."""
    data = tmp_path_factory.mktemp(f"api-{request.param}") / "data"
    shutil.copytree(sample_data_dir, data)
    with ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(postgres_database())
        yield stack.enter_context(ServerProcess(data, database_url=url))


@pytest.fixture(scope="module")
def client(api: ServerProcess) -> Iterator[httpx.Client]:
    with api.client() as shared:
        yield shared


@pytest.fixture(scope="module")
def accepted(client: httpx.Client) -> httpx.Response:
    """The answer to submitting the minimal body (the job runs in the background)."""
    response = client.post("/api/backtests", json=BODY)
    assert response.status_code == 202, response.text
    return response


@pytest.fixture(scope="module")
def job_id(accepted: httpx.Response) -> str:
    return str(accepted.json()["id"])


@pytest.fixture(scope="module")
def document(client: httpx.Client, job_id: str) -> dict[str, Any]:
    assert wait_for(client, job_id)["state"] == "succeeded"
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 200, response.text
    parsed = response.json()
    assert isinstance(parsed, dict)
    return parsed


# ---------------------------------------------------------------- 1-3: submit, follow, download


def test_submit_answers_202_with_location_and_events_follow_the_job(
    client: httpx.Client, accepted: httpx.Response, job_id: str
) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert accepted.headers["location"] == f"/api/backtests/{job_id}"
    job = accepted.json()
    assert job["state"] == "queued"
    assert job["spec"]["symbol"] == "AAPL"
    assert job["spec"]["params"] == BODY["params"]
    assert job["links"]["self"] == accepted.headers["location"]
    assert client.get(accepted.headers["location"]).json()["id"] == job_id

    events = read_events(client, job_id)
    assert len(events) >= 2, events
    assert all(name in {"state", "progress"} for name, _ in events), events
    assert all(data["id"] == job_id for _, data in events)
    progress = [data["progress"] for _, data in events]
    assert progress == sorted(progress), progress
    assert progress[0] < progress[-1] == 1.0
    states = [data["state"] for name, data in events if name == "state"]
    assert states == sorted(set(states), key=STATES.index), states  # each state once, in order
    assert events[-1][0] == "state"
    assert events[-1][1]["state"] == "succeeded"

    # A finished job's stream is one state event, then the end.
    again = read_events(client, job_id)
    assert [(name, data["state"]) for name, data in again] == [("state", "succeeded")]


def test_result_document_has_every_documented_field_and_consistent_numbers(
    client: httpx.Client, job_id: str, document: dict[str, Any]
) -> None:
    response = client.get(f"/api/backtest/result/{job_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="?[\w.-]+\.json"?', disposition), disposition
    assert "AAPL" in disposition
    assert "sma_cross" in disposition

    fields = documented_fields()
    assert {"", "spec", "spec.settings", "data", "metrics", "trades[]", "equity"} <= set(fields)
    assert sum(len(keys) for keys in fields.values()) > 100, fields
    assert fields.get("run", RUN_FIELDS) == RUN_FIELDS
    fields.setdefault("", set()).add("run")
    fields["run"] = RUN_FIELDS
    optional = documented_fields(optional=True)
    assert "rules" in optional["spec"]  # a rule strategy's rule, absent for built-ins
    for path, keys in fields.items():
        for node in objects_at(document, path):
            required = keys - optional.get(path, set())
            missing = sorted(key for key in required if not has_key_path(node, key))
            assert not missing, f"{path or 'top level'}: documented but missing: {missing}"
            undocumented = sorted(set(node) - {key.split(".")[0] for key in keys})
            assert not undocumented, f"{path or 'top level'}: not documented: {undocumented}"
    assert list(document)[:2] == ["schema_version", "run"]

    run = document["run"]
    job = client.get(f"/api/backtests/{job_id}").json()
    assert run["id"] == job_id
    assert run["status"] == "succeeded"
    assert run["owner"] == job["owner"]
    assert run["attempt"] == job["attempt"] == 1
    assert run["request"] == job["spec"]
    assert set(run["request"]) == documented_request_keys()
    assert run["request"]["params"] == BODY["params"]
    assert (
        run["app_version"] == document["app_version"] == client.get("/api/health").json()["version"]
    )
    created, started, finished = (
        parse_time(run[key]) for key in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished
    assert run["duration_seconds"] == pytest.approx((finished - started).total_seconds(), abs=1e-3)

    spec, data, metrics = document["spec"], document["data"], document["metrics"]
    assert spec["strategy"] == "sma_cross"
    assert spec["params"] == BODY["params"]
    assert data["symbol"] == "AAPL"
    assert re.fullmatch(r"[0-9a-f]{64}", data["sha256"])
    equity, trades = document["equity"], document["trades"]
    bars = data["bar_count"]
    symbol = client.get("/api/symbols/AAPL").json()
    assert bars == symbol["bar_count"] > 1000  # the whole stored range by default
    assert all(len(column) == bars for column in equity.values())
    assert len(document["buy_and_hold"]) == bars
    assert equity["time"][0] == data["first_bar"]
    assert equity["time"][-1] == data["last_bar"]
    assert metrics["trade_count"] == len(trades) > 0
    assert len(document["fills"]) == 2 * len(trades)  # close_at_end: every entry is closed
    assert metrics["final_equity"] == equity["equity"][-1]
    cash = spec["settings"]["initial_cash"]
    assert metrics["final_equity"] == pytest.approx(cash + sum(t["net_pnl"] for t in trades))
    assert metrics["total_return"] == pytest.approx(metrics["final_equity"] / cash - 1.0)
    assert equity["position"][-1] == 0.0
    assert job["summary"]["trades"] == len(trades)
    assert job["summary"]["bars"] == bars
    assert job["summary"]["final_equity"] == metrics["final_equity"]


def test_csv_exports_match_the_document(
    client: httpx.Client, job_id: str, document: dict[str, Any]
) -> None:
    columns = documented_csv_columns()
    assert set(columns) == {"trades", "equity"}
    for export, expected_rows in (
        ("trades", document["trades"]),
        ("equity", document["equity"]["time"]),
    ):
        response = client.get(f"/api/backtests/{job_id}/{export}.csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        disposition = response.headers["content-disposition"]
        assert re.fullmatch(r'attachment; filename="?[\w.-]+\.csv"?', disposition), disposition
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == columns[export]
        assert len(rows) - 1 == len(expected_rows)
    trades = list(
        csv.DictReader(io.StringIO(client.get(f"/api/backtests/{job_id}/trades.csv").text))
    )
    assert [float(row["net_pnl"]) for row in trades] == [t["net_pnl"] for t in document["trades"]]
    equity = list(
        csv.DictReader(io.StringIO(client.get(f"/api/backtests/{job_id}/equity.csv").text))
    )
    assert len(equity) == document["data"]["bar_count"]
    assert float(equity[-1]["equity"]) == document["metrics"]["final_equity"]
    assert equity[0]["time"] == document["equity"]["time"][0]


# ---------------------------------------------------------------- 4: history


def test_history_pages_filters_and_sorts(server: ServerProcess) -> None:
    bodies = [
        BODY,
        {"symbol": "MSFT", "strategy": "sma_cross"},
        {"symbol": "AAPL", "strategy": "buy_and_hold"},
        {"symbol": "IBM", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}},
        {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 5, "slow": 50}},
    ]
    with server.client() as client:
        assert history(client) == {"items": [], "total": 0, "offset": 0, "limit": 50}
        ids = [submit(client, body)["id"] for body in bodies]
        for job_id in ids:
            assert wait_for(client, job_id)["state"] == "succeeded"

        everything = history(client)
        assert everything["total"] == 5
        assert [item["id"] for item in everything["items"]] == ids[::-1]  # newest first
        created = [parse_time(item["created_at"]) for item in everything["items"]]
        assert created == sorted(created, reverse=True)
        ascending = history(client, sort="created_at", order="asc")
        assert [item["id"] for item in ascending["items"]] == ids
        descending = history(client, sort="created_at", order="desc")
        assert [item["id"] for item in descending["items"]] == ids[::-1]

        pages = [history(client, order="asc", offset=offset, limit=2) for offset in (0, 2, 4, 6)]
        assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
        assert all(page["total"] == 5 and page["limit"] == 2 for page in pages)
        assert [page["offset"] for page in pages] == [0, 2, 4, 6]
        assert [item["id"] for page in pages for item in page["items"]] == ids

        def listed(**params: Any) -> set[str]:
            page = history(client, **params)
            assert page["total"] == len(page["items"])
            return {item["id"] for item in page["items"]}

        assert listed(symbol="AAPL") == {ids[0], ids[2], ids[4]}
        assert listed(symbol="MSFT") == {ids[1]}
        assert listed(symbol="GOOG") == set()
        assert listed(strategy="buy_and_hold") == {ids[2]}
        assert listed(symbol="AAPL", strategy="sma_cross") == {ids[0], ids[4]}
        assert listed(state="succeeded") == set(ids)
        assert listed(state="queued") == set()
        # `state` repeats: any of the given states (whichever comes first or last).
        assert listed(state=["queued", "succeeded"]) == set(ids)
        assert listed(state=["succeeded", "queued"]) == set(ids)
        assert listed(state=["failed", "cancelled"]) == set()
        problem(client.get("/api/backtests", params={"state": "bogus"}), 422, "state.0")
        problem(client.get("/api/backtests", params={"limit": 0}), 422, "limit")

        # Only existing jobs are listed.
        assert client.delete(f"/api/backtests/{ids[1]}").status_code == 204
        remaining = history(client)
        assert remaining["total"] == 4
        assert [item["id"] for item in remaining["items"]] == [ids[4], ids[3], ids[2], ids[0]]
        for item in remaining["items"]:
            assert client.get(f"/api/backtests/{item['id']}").status_code == 200
        assert listed(symbol="MSFT") == set()


# ---------------------------------------------------------------- 5: unknown ids


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/api/backtests/{id}"),
        ("GET", "/api/backtests/{id}/events"),
        ("POST", "/api/backtests/{id}/cancel"),
        ("DELETE", "/api/backtests/{id}"),
        ("GET", "/api/backtest/result/{id}"),
        ("GET", "/api/backtests/{id}/trades.csv"),
        ("GET", "/api/backtests/{id}/equity.csv"),
    ],
)
def test_unknown_job_id_is_404_problem(client: httpx.Client, method: str, template: str) -> None:
    unknown = uuid.uuid4().hex
    body = problem(client.request(method, template.format(id=unknown)), 404)
    assert unknown in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/nothing-here", None),
        ("GET", "/nothing", None),
        ("POST", "/api/backtest/result/x", {"GET"}),
        ("PUT", "/api/backtests", {"GET", "POST"}),
        ("PATCH", "/api/backtests/0123456789abcdef0123456789abcdef", {"GET", "DELETE"}),
        ("DELETE", "/api/symbols", {"GET"}),
    ],
)
def test_unknown_route_and_wrong_method_are_problems(
    client: httpx.Client, method: str, path: str, allowed: set[str] | None
) -> None:
    response = client.request(method, path)
    problem(response, 404 if allowed is None else 405)
    assert "<html" not in response.text.lower()
    if allowed is not None:
        assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed


# ---------------------------------------------------------------- 6: unfinished jobs


def test_results_of_unfinished_jobs_are_409_with_their_state(
    database_url: str | None, long_data_dir_copy: Path
) -> None:
    process = ServerProcess(
        long_data_dir_copy, database_url=database_url, env={"PRIVATETRADE_WORKERS": "1"}
    )
    with process, process.client() as client:
        long_id = submit(client, LONG_BODY)["id"]
        wait_for(client, long_id, {"running"})
        for path in result_paths(long_id):
            assert problem(client.get(path), 409)["state"] == "running"

        aapl_id = submit(client, BODY)["id"]  # waits: the only worker is busy
        assert client.get(f"/api/backtests/{aapl_id}").json()["state"] == "queued"
        for path in result_paths(aapl_id):
            assert problem(client.get(path), 409)["state"] == "queued"
        assert client.get(f"/api/backtests/{long_id}").json()["state"] == "running"

        def ids(**params: Any) -> list[str]:
            return [item["id"] for item in history(client, **params)["items"]]

        assert ids(state="running") == [long_id]
        assert ids(state="queued") == [aapl_id]
        assert ids(state=["running", "queued"], order="asc") == [long_id, aapl_id]
        assert ids(state=["succeeded", "failed", "cancelled"]) == []

        cancelled = client.post(f"/api/backtests/{aapl_id}/cancel")
        assert cancelled.status_code == 202
        assert cancelled.json()["state"] == "cancelled"  # a queued job is cancelled at once
        stopping = client.post(f"/api/backtests/{long_id}/cancel")
        assert stopping.status_code == 202
        assert stopping.json()["cancel_requested"] is True
        assert wait_for(client, long_id)["state"] == "cancelled"
        for job_id in (long_id, aapl_id):
            for path in result_paths(job_id):
                assert problem(client.get(path), 409)["state"] == "cancelled"
            problem(client.post(f"/api/backtests/{job_id}/cancel"), 409)


# ---------------------------------------------------------------- 7: idempotency


def test_idempotency_key_replays_the_same_job(client: httpx.Client) -> None:
    key = f"e2e-{uuid.uuid4().hex}"
    before = history_total(client)
    first = client.post("/api/backtests", json=BODY, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    second = client.post("/api/backtests", json=BODY, headers={"Idempotency-Key": key})
    assert second.status_code == 202, second.text
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    assert history_total(client) == before + 1

    other = {**BODY, "params": {"fast": 5, "slow": 30}}
    conflict = client.post("/api/backtests", json=other, headers={"Idempotency-Key": key})
    problem(conflict, 422, "Idempotency-Key")
    assert history_total(client) == before + 1
    # A new key with the same body is a new job.
    fresh = client.post("/api/backtests", json=BODY, headers={"Idempotency-Key": f"{key}-2"})
    assert fresh.status_code == 202
    assert fresh.json()["id"] != first.json()["id"]
    assert history_total(client) == before + 2
    for job_id in (first.json()["id"], fresh.json()["id"]):
        assert wait_for(client, job_id)["state"] == "succeeded"


# ---------------------------------------------------------------- 8: limits


def test_body_and_bar_limits_are_answered_before_queueing(
    database_url: str | None, data_dir: Path
) -> None:
    env = {"PRIVATETRADE_MAX_BODY_BYTES": "2048", "PRIVATETRADE_MAX_BARS": "1000"}
    process = ServerProcess(data_dir, database_url=database_url, env=env)
    with process, process.client() as client:
        big = json.dumps({**BODY, "padding": "x" * 3000}).encode()
        declared = client.post(
            "/api/backtests", content=big, headers={"content-type": "application/json"}
        )
        assert "2048" in problem(declared, 413)["detail"]

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(big), 512):
                yield big[start : start + 512]

        chunked = client.post(
            "/api/backtests", content=chunks(), headers={"content-type": "application/json"}
        )
        problem(chunked, 413)
        assert history_total(client) == 0

        whole = problem(client.post("/api/backtests", json=BODY), 422, "start")
        assert "1,000" in whole["detail"], whole  # the limit
        assert "3,270" in whole["detail"], whole  # AAPL's stored bars
        assert history_total(client) == 0

        # Under both limits (a chunked body too), the same backtest is accepted.
        one_year = {**BODY, "start": "2010-01-01", "end": "2010-12-31"}
        job = submit(client, one_year)
        small = json.dumps({**one_year, "params": {"fast": 5, "slow": 30}}).encode()
        accepted = client.post(
            "/api/backtests",
            content=iter([small[:10], small[10:]]),
            headers={"content-type": "application/json"},
        )
        assert accepted.status_code == 202, accepted.text
        assert history_total(client) == 2
        assert wait_for(client, job["id"])["summary"]["bars"] == 252


def test_active_job_limit_answers_429_with_retry_after(
    database_url: str | None, long_data_dir_copy: Path
) -> None:
    env = {"PRIVATETRADE_WORKERS": "1", "PRIVATETRADE_MAX_ACTIVE_JOBS": "1"}
    process = ServerProcess(long_data_dir_copy, database_url=database_url, env=env)
    with process, process.client() as client:
        long_id = submit(client, LONG_BODY)["id"]
        wait_for(client, long_id, {"running"})
        refused = client.post("/api/backtests", json=BODY)
        problem(refused, 429)
        assert refused.headers["retry-after"].isdigit()
        assert int(refused.headers["retry-after"]) >= 1
        assert history_total(client) == 1

        # The limit counts active jobs: once the running one ends, submitting works again.
        assert client.post(f"/api/backtests/{long_id}/cancel").status_code == 202
        assert wait_for(client, long_id)["state"] == "cancelled"
        assert submit(client, BODY)["state"] == "queued"
        assert history_total(client) == 2


# ---------------------------------------------------------------- 9: validation


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({**BODY, "params": {"fast": 30, "slow": 10}}, "params.fast", id="fast>slow"),
        pytest.param({**BODY, "params": {"fast": 20, "slow": 20}}, "params.fast", id="fast=slow"),
        pytest.param({**BODY, "strategy": "no_such_strategy"}, "strategy", id="strategy"),
        pytest.param({**BODY, "symbol": "NOSUCH"}, "symbol", id="symbol"),
        pytest.param({"strategy": "sma_cross"}, "symbol", id="no-symbol"),
        pytest.param({**BODY, "owner_id": "someone-else"}, "owner_id", id="extra-field"),
        pytest.param({**BODY, "start": "2010-06-01", "end": "2010-01-01"}, "end", id="start>end"),
        pytest.param({**BODY, "start": "2030-01-01"}, "start", id="no-bars-in-range"),
        pytest.param({**BODY, "end": "1990-01-01"}, "end", id="no-bars-before-end"),
        pytest.param({**BODY, "start": "not-a-date"}, "start", id="bad-date"),
        pytest.param({**BODY, "capital": -5}, "capital", id="negative-capital"),
        pytest.param([BODY], "body", id="array"),
    ],
)
def test_invalid_submissions_are_422_naming_the_field(
    client: httpx.Client, body: Any, field: str
) -> None:
    before = history_total(client)
    problem(client.post("/api/backtests", json=body), 422, field)
    assert history_total(client) == before


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"symbol": "AAPL",', "application/json"),
        (b"not json at all", "application/json"),
        (b"symbol=AAPL", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_malformed_bodies_are_422_problems(
    client: httpx.Client, content: bytes, content_type: str
) -> None:
    before = history_total(client)
    response = client.post(
        "/api/backtests", content=content, headers={"content-type": content_type}
    )
    problem(response, 422)
    assert history_total(client) == before


def test_malformed_json_names_the_body(client: httpx.Client) -> None:
    response = client.post(
        "/api/backtests", content=b"{bad", headers={"content-type": "application/json"}
    )
    problem(response, 422, "body")


# ---------------------------------------------------------------- 10: cancel and delete


def test_cancel_of_a_finished_job_is_409_and_delete_removes_it(client: httpx.Client) -> None:
    job_id = submit(client, {**BODY, "params": {"fast": 8, "slow": 30}})["id"]
    assert wait_for(client, job_id)["state"] == "succeeded"
    total = history_total(client)

    conflict = problem(client.post(f"/api/backtests/{job_id}/cancel"), 409)
    assert conflict["state"] == "succeeded"
    assert client.get(f"/api/backtests/{job_id}").json()["state"] == "succeeded"

    deleted = client.delete(f"/api/backtests/{job_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    problem(client.get(f"/api/backtests/{job_id}"), 404)
    for path in result_paths(job_id):
        problem(client.get(path), 404)
    problem(client.delete(f"/api/backtests/{job_id}"), 404)
    assert history_total(client) == total - 1
    assert job_id not in {item["id"] for item in history(client, limit=200)["items"]}


# ---------------------------------------------------------------- 11: symbols, strategies


def test_symbol_search_details_and_bars(client: httpx.Client) -> None:
    found = client.get("/api/symbols", params={"q": "MSFT"})
    assert found.status_code == 200
    assert found.json()[0]["code"] == "MSFT"

    hangul = client.get("/api/symbols", params={"q": HANGUL_NAME}).json()
    assert hangul[0]["code"] == HANGUL_CODE
    assert hangul[0]["name"] == HANGUL_NAME
    assert hangul[0]["synthetic"] is True
    partial = client.get("/api/symbols", params={"q": HANGUL_NAME[:4]}).json()
    assert {f"DEMO0{n}" for n in range(1, 7)} <= {hit["code"] for hit in partial}

    symbol = client.get("/api/symbols/MSFT")
    assert symbol.status_code == 200
    described = symbol.json()
    assert described["code"] == "MSFT"
    assert described["currency"] == "USD"
    assert described["first_bar"] <= "2010-01-01"
    assert described["last_bar"] >= "2010-12-31"

    bars = client.get("/api/symbols/MSFT/bars", params={"start": "2010-01-01", "end": "2010-12-31"})
    assert bars.status_code == 200
    columns = bars.json()
    times = columns["time"]
    assert 240 <= len(times) <= 253
    assert all(
        len(columns[key]) == len(times) for key in ("open", "high", "low", "close", "volume")
    )
    assert all(time_.startswith("2010-") for time_ in times)
    assert times == sorted(times)
    assert all(
        low <= min(open_, close) and max(open_, close) <= high
        for open_, high, low, close in zip(
            columns["open"], columns["high"], columns["low"], columns["close"], strict=True
        )
    )
    korean = client.get(
        f"/api/symbols/{HANGUL_CODE}/bars", params={"start": "2020-01-01", "end": "2020-01-31"}
    ).json()
    assert korean["timezone"] == "Asia/Seoul"
    assert korean["time"]
    assert all(stamp.endswith("+09:00") for stamp in korean["time"])

    # Without a choice the chart gets the prices backtests use: adjusted where stored.
    assert columns["adjusted"] is True
    raw = client.get(
        "/api/symbols/MSFT/bars",
        params={"start": "2010-01-01", "end": "2010-12-31", "adjusted": "false"},
    ).json()
    assert raw["adjusted"] is False
    assert raw["time"] == times
    assert raw["close"] != columns["close"]  # the sample's dividends adjust MSFT's closes

    problem(client.get("/api/symbols/NOSUCH"), 404)
    problem(client.get("/api/symbols/NOSUCH/bars"), 404)
    problem(
        client.get("/api/symbols/MSFT/bars", params={"start": "2011-01-01", "end": "2010-01-01"}),
        422,
    )
    assert client.get("/api/symbols", params={"q": "zzzz-no-such-thing"}).json() == []


def test_strategies_list_sma_cross_with_its_parameter_schema(client: httpx.Client) -> None:
    response = client.get("/api/strategies")
    assert response.status_code == 200
    strategies = {entry["name"]: entry for entry in response.json()}
    assert "sma_cross" in strategies
    sma = strategies["sma_cross"]
    schema = sma["parameters_schema"]
    assert schema["type"] == "object"
    assert {"fast", "slow"} <= set(schema["properties"])
    assert schema["properties"]["fast"]["type"] == "integer"
    assert sma["defaults"] == {"fast": 10, "slow": 30}
    assert client.get("/api/strategies/sma_cross").json() == sma
    problem(client.get("/api/strategies/no_such_strategy"), 404)


# ---------------------------------------------------------------- 12: health


def test_health_reports_the_service(api: ServerProcess, client: httpx.Client) -> None:
    first = client.get("/api/health")
    assert first.status_code == 200
    health = first.json()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert health["database_backend"] == ("sqlite" if api.database_url is None else "postgresql")
    assert re.match(r"\d+\.\d+", health["version"])
    assert health["executor"]["kind"] == "local"
    assert health["executor"]["healthy"] is True
    assert health["executor"]["workers"] == 2
    assert health["uptime_seconds"] > 0
    wait_until(
        lambda: client.get("/api/health").json()["uptime_seconds"] > health["uptime_seconds"],
        5,
        "uptime grows",
    )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_health_is_503_while_the_database_is_unreachable(server: ServerProcess) -> None:
    assert server.database_url is not None
    name = sa.engine.make_url(server.database_url).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def allow_connections(allowed: bool) -> None:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
            )
            if not allowed:
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )

    with server.client() as client:
        assert client.get("/api/health").status_code == 200
        try:
            allow_connections(False)
            wait_until(lambda: client.get("/api/health").status_code == 503, 30, "health 503")
            down = client.get("/api/health")
            assert down.json()["status"] == "unavailable"
            assert down.json()["database"] == "unreachable"
            listing = problem(client.get("/api/backtests"), 503)
            assert "database" in listing["detail"]
            problem(client.post("/api/backtests", json=BODY), 503)
        finally:
            allow_connections(True)
        wait_until(lambda: client.get("/api/health").status_code == 200, 30, "health 200 again")
        assert client.get("/api/health").json()["status"] == "ok"
        # The whole service recovers: API, dispatcher and workers.
        job = submit(client, BODY)
        assert wait_for(client, job["id"])["state"] == "succeeded"
    admin.dispose()


# ---------------------------------------------------------------- 13: metrics


def test_metrics_expose_requests_jobs_queue_disk_and_memory(client: httpx.Client) -> None:
    # At least one succeeded job of our own, whichever tests ran on this server before.
    own = submit(client, {"symbol": "IBM", "strategy": "buy_and_hold"})
    assert wait_for(client, own["id"])["state"] == "succeeded"

    def quiet() -> bool:
        return history_total(client, state=["queued", "running"]) == 0

    wait_until(quiet, 60, "all jobs of the shared server finished")

    def durations_observed() -> bool:
        # A job's duration is observed by the dispatcher just after its row says succeeded.
        samples = metric_samples(client)
        count = metric_value(samples, "privatetrade_job_duration_seconds_count", state="succeeded")
        return (count or 0) >= history_total(client, state="succeeded")

    wait_until(durations_observed, 30, "every finished job's duration observed")
    assert client.get("/api/symbols/IBM").status_code == 200
    samples = metric_samples(client)
    health_before = metric_value(
        samples, "privatetrade_http_requests_total", method="GET", route="/api/health", status="200"
    )
    for _ in range(2):
        assert client.get("/api/health").status_code == 200
    problem(client.get("/api/symbols/NOSUCH"), 404)
    samples = metric_samples(client)

    text = client.get("/metrics").text
    for name in (
        "privatetrade_http_requests_total{",
        "privatetrade_http_request_duration_seconds_bucket{",
        "privatetrade_jobs{",
        "privatetrade_queue_depth",
        "privatetrade_data_dir_free_bytes",
        "privatetrade_process_resident_memory_bytes{",
    ):
        assert name in text, name
    health_after = metric_value(
        samples, "privatetrade_http_requests_total", method="GET", route="/api/health", status="200"
    )
    assert health_before is not None
    assert health_after == health_before + 2
    # Routes are path templates, never raw paths (bounded label values).
    routes = {labels["route"] for labels, _ in samples["privatetrade_http_requests_total"]}
    assert {"/api/symbols/{code}", "/api/backtests", "/api/backtests/{job_id}"} <= routes
    assert not any("IBM" in route or "NOSUCH" in route for route in routes), routes
    assert metric_value(
        samples, "privatetrade_http_requests_total", route="/api/symbols/{code}", status="404"
    )
    latency = metric_value(
        samples, "privatetrade_http_request_duration_seconds_count", route="/api/health"
    )
    assert latency is not None
    assert latency >= 2

    for state in STATES:
        assert metric_value(samples, "privatetrade_jobs", state=state) == history_total(
            client, state=state
        ), state
    assert (metric_value(samples, "privatetrade_jobs", state="succeeded") or 0) >= 1
    assert metric_value(samples, "privatetrade_queue_depth") == 0
    finished = metric_value(samples, "privatetrade_job_duration_seconds_count", state="succeeded")
    assert finished is not None
    assert finished >= history_total(client, state="succeeded")
    assert (metric_value(samples, "privatetrade_data_dir_free_bytes") or 0) > 0
    assert (
        metric_value(samples, "privatetrade_process_resident_memory_bytes", role="server") or 0
    ) > 0
    assert (
        metric_value(samples, "privatetrade_process_resident_memory_bytes", role="workers") or 0
    ) > 0


# ---------------------------------------------------------------- 14: request ids, logs


def test_every_response_has_a_request_id_and_logs_are_json_lines(
    api: ServerProcess, client: httpx.Client, job_id: str
) -> None:
    responses = [
        client.get("/api/health"),
        client.get("/metrics"),
        client.get("/api/backtests"),
        client.get(f"/api/backtests/{job_id}"),
        client.get(f"/api/backtests/{job_id}/trades.csv"),
        client.get("/api/symbols", params={"q": "AAPL"}),
        client.get("/api/nothing-here"),
        client.put("/api/backtests"),
        client.post("/api/backtests", json={"symbol": "NOSUCH"}),
        client.post("/api/backtests", content=b"x" * 70_000),
    ]
    with client.stream("GET", f"/api/backtests/{job_id}/events") as stream:
        responses.append(stream)
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids), [(r.request.url, r.status_code) for r in responses]
    assert len(set(ids)) == len(ids)  # a fresh id per request

    mine = f"e2e-{uuid.uuid4().hex[:12]}"
    echoed = client.get("/api/backtests/0000/trades.csv", headers={"X-Request-ID": mine})
    assert echoed.headers["x-request-id"] == mine
    assert problem(echoed, 404).get("request_id") == mine

    request = {"event": "http.request", "request_id": mine}
    line = logged(api, request, f"an http.request log line with request_id {mine}")
    assert line["path"] == "/api/backtests/0000/trades.csv"
    assert line["route"] == "/api/backtests/{job_id}/trades.csv"
    assert line["status"] == 404
    assert line["level"] == "info"
    assert "timestamp" in line

    assert wait_for(client, job_id)["state"] == "succeeded"
    worker = {"event": "job.succeeded", "job_id": job_id}
    worker_line = logged(api, worker, f"the worker's job.succeeded line for {job_id}")
    assert worker_line["attempt"] == 1
    assert worker_line["seconds"] >= 0

    lines = [line for line in log_lines(api) if line.strip()]
    not_json = [line for line in lines if not line.startswith("{")]
    banner = ("privatetrade serving on", "log in as admin (one-time link): ")
    assert not_json == [line for line in not_json if line.startswith(banner)]
    for record in json_log_records(api):
        assert {"event", "level", "timestamp"} <= record.keys(), record
    assert len(lines) - len(not_json) > 10
