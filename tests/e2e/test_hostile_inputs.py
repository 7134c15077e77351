"""Hostile input against one real server: a 4xx naming the field, never a 5xx or a lost connection.

Every request goes over one HTTP/1.1 keep-alive connection (``http.client``), and
after every request the test checks that the server kept that very socket open and
still answers on it: a 5xx from an unhandled error used to close it.

Three kinds of cases:

* the defects a probe found (a table below), each with the status and field expected;
* every number and date field of ``POST /api/backtests``, found by walking the body
  schema in the server's own OpenAPI document (so a new field is covered without
  touching this file), sent NaN, infinities, 1e400, ±1e308, 10^30 (each must be a
  422 naming that field), and zero, negative and tiny values (never a 5xx; a 422 must
  name the field);
* every query parameter of every GET operation, sent malformed and extreme values;
  plus bodies that are not JSON, not UTF-8, deeply nested, of the wrong content type
  or 50 MB.
"""

from __future__ import annotations

import copy
import http.client
import json
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SUBMIT = "/api/backtests"
PROBLEM_JSON = "application/problem+json"
# A short window keeps every accepted job cheap.
BASE_BODY: dict[str, Any] = {"symbol": "AAPL", "start": "2010-01-04", "end": "2010-03-31"}
# Where an object takes arbitrary keys (strategy parameters), the key to use.
SAMPLE_KEY = "fast"
# JSON number tokens no field may accept (written raw: some are not valid Python floats).
REJECTED_NUMBERS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e308",
    "-1e308",
    "1" + "0" * 30,
    "-1" + "0" * 30,
)
# Tokens a field may accept or refuse, but never with a 5xx.
EDGE_NUMBERS = ("0", "-0.0", "-1", "1e-320", "0.5", "1")
REJECTED_DATES = (
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "2101-01-01",
    "4257-01-15",
    "2020-02-30",
    "2020-13-01",
    "20200101",
    "2020-1-1",
    "0",
    "2020-01-01T00:00:00",
    " 2020-01-01",
    "",
)
REJECTED_DATE_TOKENS = ("0", "-1", "1e400", "NaN", "true", "[]", "{}")
_PLACEHOLDER = "\u0000value\u0000"


def _sma(period: int | str) -> dict[str, Any]:
    return {"indicator": "sma", "source": {"price": "close"}, "period": period}


@dataclass(frozen=True)
class Reply:
    """One answer, and whether the connection survived it."""

    status: int
    content_type: str
    body: bytes
    kept_alive: bool

    def problem(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


class KeepAliveConnection:
    """One authenticated HTTP/1.1 connection that must stay open across requests."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.http = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {server.token}"}
        self.send("GET", "/api/health")

    def send(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        socket_before = self.http.sock
        try:
            self.http.request(
                method, target, body=body, headers={**self.headers, **(headers or {})}
            )
            response = self.http.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.http.close()  # the server dropped it: the next request reconnects
            return Reply(0, "", b"", False)
        kept = (
            socket_before is not None
            and self.http.sock is socket_before
            and not response.will_close
        )
        return Reply(response.status, response.getheader("content-type", ""), data, kept)

    def post_json(
        self, body: str | bytes, content_type: str = "application/json", path: str = SUBMIT
    ) -> Reply:
        raw = body.encode() if isinstance(body, str) else body
        return self.send("POST", path, raw, {"Content-Type": content_type})

    def still_alive(self) -> bool:
        """Whether the same socket still answers."""
        reply = self.send("GET", "/api/health")
        return reply.status == 200 and reply.kept_alive

    def forget(self, reply: Reply) -> None:
        """Delete a job a case got accepted, so the queue stays short."""
        if reply.status == 202:
            self.send("DELETE", f"{SUBMIT}/{reply.problem()['id']}")

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    process = ServerProcess(
        data_dir,
        env={
            "PRIVATETRADE_WORKERS": "1",
            "PRIVATETRADE_LOG_LEVEL": "warning",
            "PRIVATETRADE_MAX_ACTIVE_JOBS": "1000",
        },
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def connection(hostile_server: ServerProcess) -> Iterator[KeepAliveConnection]:
    keep_alive = KeepAliveConnection(hostile_server)
    try:
        yield keep_alive
    finally:
        keep_alive.close()


# A rule strategy the hostile server's admin saves: the ``rules.saved`` of the bodies
# whose leaf is under ``rules`` (a run's rule; a made-up id would be a 404 naming
# ``rules.saved.id`` whatever the leaf's value).
RULE_DOCUMENT: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {"fast": {"type": "int", "default": 5, "min": 2, "max": 50}},
    "long": {
        "entry": {"crosses_above": [{"price": "close"}, _sma("${fast}")]},
        "exit": {
            "any": [
                {"crosses_below": [{"price": "close"}, _sma(20)]},
                {"compare": "<", "left": {"price": "close"}, "right": 1},
            ]
        },
    },
    "exits": {"stop_loss": 0.1, "max_bars_held": 50},
}
# Numbers inside a run's rule document (free-form JSON in the OpenAPI document, so the
# schema walk does not see them): where each is, and the field under ``rules.document`` a
# 422 must name (a parameter's bounds are checked together: the parameter or a member).
DOCUMENT_NUMBERS: list[tuple[tuple[str | int, ...], str]] = [
    (("parameters", "fast", "default"), "parameters.fast"),
    (("parameters", "fast", "max"), "parameters.fast"),
    (
        ("long", "exit", "any", 0, "crosses_below", 1, "period"),
        "long.exit.any[0].crosses_below[1].period",
    ),
    (("long", "exit", "any", 1, "right"), "long.exit.any[1].right"),
    (("exits", "stop_loss"), "exits.stop_loss"),
    (("exits", "max_bars_held"), "exits.max_bars_held"),
]


@pytest.fixture(scope="module")
def saved_rule_id(connection: KeepAliveConnection) -> str:
    body = json.dumps({"name": "hostile", "document": RULE_DOCUMENT})
    reply = connection.post_json(body, path="/api/rule-strategies")
    assert reply.status == 201, reply.body
    return str(reply.problem()["id"])


def with_rule_strategy(base: Mapping[str, Any], saved_id: str) -> dict[str, Any]:
    """``base`` running the saved rule strategy (a portfolio's rule names the strategy)."""
    body = {**base, "rules": {"saved": {"id": saved_id}}}
    if "rule" in base:
        body["rule"] = {**base["rule"], "strategy": "rules"}
    else:
        body["strategy"] = "rules"
    return body


@pytest.fixture(scope="module")
def openapi(connection: KeepAliveConnection) -> dict[str, Any]:
    reply = connection.send("GET", "/openapi.json")
    assert reply.status == 200
    return dict(json.loads(reply.body))


def verdict(
    reply: Reply, connection: KeepAliveConnection, statuses: set[int], field: str | None
) -> str | None:
    """Return what is wrong with a reply (None if nothing), checking the connection too."""
    if reply.status == 0:
        return "the server dropped the connection"
    if not reply.kept_alive or not connection.still_alive():
        return f"{reply.status}, but the keep-alive connection did not survive"
    if reply.status >= 500 or reply.status not in statuses:
        return f"status {reply.status} (expected {sorted(statuses)}): {reply.body[:300]!r}"
    if reply.status >= 400:
        if not reply.content_type.startswith(PROBLEM_JSON):
            return f"{reply.status} as {reply.content_type!r}, not problem+json"
        named = reply.problem().get("field")
        if field is not None and named != field and not str(named).startswith(f"{field}."):
            return f"{reply.status} names field {named!r}, not {field!r}: {reply.problem()}"
    return None


def body_with(
    base: Mapping[str, Any], trail: list[tuple[str | int, dict[str, Any]]], token: str
) -> str:
    """JSON of ``base`` with the raw JSON ``token`` placed at the end of ``trail``."""
    body = copy.deepcopy(dict(base))
    container: Any = body
    for index, (key, _schema) in enumerate(trail):
        last = index == len(trail) - 1
        value: Any = _PLACEHOLDER if last else _new_container(trail[index + 1][1])
        if isinstance(container, list):
            container.append(value)
        else:
            existing = container.get(key)
            container[key] = existing if isinstance(existing, dict) and not last else value
        container = container[-1] if isinstance(container, list) else container[key]
    return json.dumps(body).replace(json.dumps(_PLACEHOLDER), token)


def _new_container(schema: dict[str, Any]) -> Any:
    """A new object (its required fields filled with valid samples) or array."""
    if schema.get("type") == "array":
        return []
    return {name: _sample(schema["properties"][name]) for name in schema.get("required", [])}


def _sample(schema: dict[str, Any]) -> Any:
    if schema.get("format") == "date":
        return "2000-01-02"
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") in ("number", "integer"):
        return schema.get("minimum", 1)
    return "x"


@dataclass(frozen=True)
class Leaf:
    """A number or date field of the body: its path and the containers leading to it."""

    trail: list[tuple[str | int, dict[str, Any]]]
    kind: str  # "number" or "date"
    siblings: dict[str, Any]

    @property
    def field(self) -> str:
        return ".".join(str(key) for key, _schema in self.trail)


def body_leaves(openapi: dict[str, Any], path: str = SUBMIT) -> list[Leaf]:
    """Every number and date field of a ``POST`` body (a backtest's), from the OpenAPI."""
    content = openapi["paths"][path]["post"]["requestBody"]["content"]
    leaves: dict[str, Leaf] = {}
    _walk(openapi, content["application/json"]["schema"], [], {}, leaves)
    return list(leaves.values())


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi["components"]["schemas"][name]
    return schema


def _walk(
    openapi: dict[str, Any],
    schema: dict[str, Any],
    trail: list[tuple[str | int, dict[str, Any]]],
    siblings: dict[str, Any],
    leaves: dict[str, Leaf],
) -> None:
    schema = _resolve(openapi, schema)
    for member in schema.get("anyOf", []) + schema.get("oneOf", []):
        _walk(openapi, member, trail, siblings, leaves)
    kind = schema.get("type")
    if kind in ("number", "integer") or (kind == "string" and schema.get("format") == "date"):
        leaf = Leaf(list(trail), "date" if kind == "string" else "number", siblings)
        leaves.setdefault(f"{leaf.field}:{leaf.kind}", leaf)
    elif kind == "array" and "items" in schema:
        _walk(openapi, schema["items"], [*trail, (0, schema)], siblings, leaves)
    elif kind == "object":
        properties = {
            name: _resolve(openapi, sub) for name, sub in schema.get("properties", {}).items()
        }
        for name, sub in properties.items():
            _walk(openapi, sub, [*trail, (name, schema)], properties, leaves)
        for sub in schema.get("patternProperties", {}).values():
            _walk(openapi, sub, [*trail, (SAMPLE_KEY, schema)], {}, leaves)


def variants(leaf: Leaf, saved_id: str) -> list[dict[str, Any]]:
    """Base bodies for a leaf: one per value of a ``mode`` next to it (sizing modes);
    a leaf under ``rules`` (``rules.saved.version``) in a run of the saved rule strategy."""
    if leaf.field.startswith("rules."):
        return [with_rule_strategy(BASE_BODY, saved_id)]
    mode = leaf.siblings.get("mode", {})
    if not mode.get("enum") or len(leaf.trail) < 2:
        return [BASE_BODY]
    parent = leaf.trail[-2][0]
    return [{**BASE_BODY, str(parent): {"mode": value}} for value in mode["enum"]]


# ----------------------------------------------------------------- the probe's table

PROBE_CASES = [
    # (case, raw JSON body, expected status, field)
    ("shares 1e300", '{"sizing":{"mode":"shares","value":1e300}}', 422, "sizing.value"),
    ("shares Infinity", '{"sizing":{"mode":"shares","value":Infinity}}', 422, "sizing.value"),
    ("shares above 10^12", '{"sizing":{"mode":"shares","value":1e13}}', 422, "sizing.value"),
    ("amount NaN", '{"sizing":{"mode":"amount","value":NaN}}', 422, "sizing.value"),
    ("min_commission 1e400", '{"costs":{"min_commission":1e400}}', 422, "costs.min_commission"),
    ("sell_fee_rate Infinity", '{"costs":{"sell_fee_rate":Infinity}}', 422, "costs.sell_fee_rate"),
    (
        "sell_fee_per_share Infinity",
        '{"costs":{"sell_fee_per_share":Infinity}}',
        422,
        "costs.sell_fee_per_share",
    ),
    (
        "sell_fee_per_share_max 1e400",
        '{"costs":{"sell_fee_per_share_max":1e400}}',
        422,
        "costs.sell_fee_per_share_max",
    ),
    (
        "NaN tax rate",
        '{"costs":{"sell_tax":[{"since":"2000-01-01","rate":NaN}]}}',
        422,
        "costs.sell_tax.0.rate",
    ),
    (
        "tax step in year 1",
        '{"costs":{"sell_tax":[{"since":"0001-01-01","rate":0.001}]}}',
        422,
        "costs.sell_tax.0.since",
    ),
    ("lot size 10^29", '{"costs":{"lot_size":1' + "0" * 29 + "}}", 422, "costs.lot_size"),
    ("costs a number", '{"costs":5}', 422, "costs"),
    ("start in year 1", '{"start":"0001-01-01","end":null}', 422, "start"),
    ("end in year 9999", '{"end":"9999-12-31"}', 422, "end"),
    ("start as a number", '{"start":0}', 422, "start"),
    ("start as digits", '{"start":"0"}', 422, "start"),
    ("start after the data", '{"start":"2030-01-01","end":null}', 422, "start"),
    ("end before the data", '{"start":null,"end":"1950-01-01"}', 422, "end"),
    ("range after the data", '{"start":"2030-01-01","end":"2030-12-31"}', 422, "start"),
    ("start after end", '{"start":"2010-03-01","end":"2010-01-04"}', 422, "end"),
    ("param NaN", '{"params":{"fast":NaN}}', 422, "params.fast"),
    ("param 1e400", '{"params":{"fast":1e400}}', 422, "params.fast"),
    ("capital NaN", '{"capital":NaN}', 422, "capital"),
    ("risk-free rate Infinity", '{"risk_free_rate":Infinity}', 422, "risk_free_rate"),
]


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [pytest.param(body, status, field, id=case) for case, body, status, field in PROBE_CASES],
)
def test_probe_findings_are_422_naming_the_field(
    connection: KeepAliveConnection, fields: str, status: int, field: str
) -> None:
    base = json.dumps(BASE_BODY)
    body = base[:-1] + ", " + fields[1:]  # the case's fields after the base's (later keys win)
    reply = connection.post_json(body)
    connection.forget(reply)
    assert verdict(reply, connection, {status}, field) is None


QUERY_CASES = [
    ("/api/symbols/IBM/bars?end=4257-01-15", "end"),
    ("/api/symbols/IBM/bars?start=0", "start"),
    ("/api/symbols/IBM/bars?start=0001-01-01", "start"),
    ("/api/symbols/IBM/bars?start=2020-03-01&end=2020-01-01", "start"),
    ("/api/backtests?offset=1e400", "offset"),
    ("/api/backtests?limit=NaN", "limit"),
    ("/api/symbols?limit=99999999999999999999999", "limit"),
]


@pytest.mark.parametrize(("target", "field"), QUERY_CASES)
def test_probe_query_findings_are_422_naming_the_parameter(
    connection: KeepAliveConnection, target: str, field: str
) -> None:
    reply = connection.send("GET", target)
    assert verdict(reply, connection, {422}, field) is None


def test_a_huge_share_count_does_not_pin_a_worker(connection: KeepAliveConnection) -> None:
    """The largest share count allowed, on the full history: it finishes like any job."""
    body = {"symbol": "AAPL", "sizing": {"mode": "shares", "value": 1e12}}
    reply = connection.post_json(json.dumps(body))
    assert reply.status == 202, reply.body
    job_id = reply.problem()["id"]
    deadline = time.monotonic() + 120
    state = "queued"
    while time.monotonic() < deadline:
        state = json.loads(connection.send("GET", f"{SUBMIT}/{job_id}").body)["state"]
        if state in {"succeeded", "failed", "cancelled"}:
            break
        time.sleep(0.1)
    assert state == "succeeded"
    result = json.loads(connection.send("GET", f"/api/backtest/result/{job_id}").body)
    assert result["trades"], "the run traded"


# ----------------------------------------------------------- every field of the schema


def test_the_schema_walk_finds_the_known_fields(openapi: dict[str, Any]) -> None:
    fields = {leaf.field for leaf in body_leaves(openapi)}
    assert {
        "capital",
        "risk_free_rate",
        "start",
        "end",
        "params.fast",
        "sizing.value",
        "stops.stop_loss",
        "costs.min_commission",
        "costs.lot_size",
        "costs.sell_tax.0.rate",
        "costs.sell_tax.0.since",
        "rules.saved.version",
    } <= fields


def test_every_number_field_refuses_non_finite_and_huge_values(
    connection: KeepAliveConnection, openapi: dict[str, Any], saved_rule_id: str
) -> None:
    failures = []
    for leaf in (leaf for leaf in body_leaves(openapi) if leaf.kind == "number"):
        for base in variants(leaf, saved_rule_id):
            for token in REJECTED_NUMBERS:
                reply = connection.post_json(body_with(base, leaf.trail, token))
                connection.forget(reply)
                problem = verdict(reply, connection, {422}, leaf.field)
                if problem:
                    failures.append(f"{leaf.field}={token} ({base}): {problem}")
    assert failures == []


def test_every_number_field_takes_edge_values_without_a_5xx(
    connection: KeepAliveConnection, openapi: dict[str, Any], saved_rule_id: str
) -> None:
    failures = []
    for leaf in (leaf for leaf in body_leaves(openapi) if leaf.kind == "number"):
        for base in variants(leaf, saved_rule_id):
            for token in EDGE_NUMBERS:
                reply = connection.post_json(body_with(base, leaf.trail, token))
                connection.forget(reply)
                problem = verdict(reply, connection, {202, 422}, leaf.field)
                if problem:
                    failures.append(f"{leaf.field}={token} ({base}): {problem}")
    assert failures == []


def document_with(position: tuple[str | int, ...], token: str) -> str:
    """A backtest of ``RULE_DOCUMENT`` with the raw JSON ``token`` at ``position``."""
    document = copy.deepcopy(RULE_DOCUMENT)
    container: Any = document
    for key in position[:-1]:
        container = container[key]
    container[position[-1]] = _PLACEHOLDER
    body = {**BASE_BODY, "strategy": "rules", "rules": {"document": document}}
    return json.dumps(body).replace(json.dumps(_PLACEHOLDER), token)


def test_every_number_of_a_rule_document_is_checked(connection: KeepAliveConnection) -> None:
    valid = connection.post_json(document_with(("exits", "stop_loss"), "0.1"))
    connection.forget(valid)
    assert valid.status == 202, valid.body
    failures = []
    for position, named in DOCUMENT_NUMBERS:
        field = f"rules.document.{named}"
        cases = [(token, {422}) for token in REJECTED_NUMBERS]
        cases += [(token, {202, 422}) for token in EDGE_NUMBERS]
        for token, statuses in cases:
            reply = connection.post_json(document_with(position, token))
            connection.forget(reply)
            problem = verdict(reply, connection, statuses, field)
            if problem:
                failures.append(f"{field}={token}: {problem}")
    assert failures == []


def test_every_date_field_refuses_extreme_and_malformed_dates(
    connection: KeepAliveConnection, openapi: dict[str, Any]
) -> None:
    failures = []
    tokens = [json.dumps(text) for text in REJECTED_DATES] + list(REJECTED_DATE_TOKENS)
    for leaf in (leaf for leaf in body_leaves(openapi) if leaf.kind == "date"):
        for token in tokens:
            base = {key: value for key, value in BASE_BODY.items() if key != leaf.field}
            reply = connection.post_json(body_with(base, leaf.trail, token))
            connection.forget(reply)
            problem = verdict(reply, connection, {422}, leaf.field)
            if problem:
                failures.append(f"{leaf.field}={token}: {problem}")
    assert failures == []


# Universe scans and portfolios: their own bodies (a universe, a portfolio rule), walked
# the same way. A short window keeps every accepted job cheap. The portfolio's rule is
# ``signals``, which reads ``params`` and ``stops``: a field the rule does not read is
# refused naming that field (``rule.top: only the top_n_* rules take top``).
UNIVERSE = {"symbols": ["AAPL", "IBM"], "start": "2010-01-04", "end": "2010-03-31"}
UNIVERSE_BODIES: dict[str, dict[str, Any]] = {
    "/api/scans": UNIVERSE,
    "/api/portfolios": {**UNIVERSE, "rule": {"rule": "signals", "strategy": "sma_cross"}},
}


@pytest.mark.parametrize("path", sorted(UNIVERSE_BODIES))
def test_every_number_and_date_field_of_scans_and_portfolios_is_checked(
    connection: KeepAliveConnection, openapi: dict[str, Any], saved_rule_id: str, path: str
) -> None:
    base = UNIVERSE_BODIES[path]
    leaves = body_leaves(openapi, path)
    fields = {leaf.field for leaf in leaves}
    assert {"capital", "start", "end", "costs.lot_size"} <= fields
    if path == "/api/portfolios":
        assert {"rule.top", "rule.band", "rule.lookback", "rule.position_value"} <= fields
    failures = []
    for leaf in leaves:
        if leaf.kind == "date":
            cases = [(json.dumps(text), {422}) for text in REJECTED_DATES]
            cases += [(token, {422}) for token in REJECTED_DATE_TOKENS]
            body = {key: value for key, value in base.items() if key != leaf.field}
        else:
            cases = [(token, {422}) for token in REJECTED_NUMBERS]
            cases += [(token, {202, 422}) for token in EDGE_NUMBERS]
            body = base
            if leaf.field.startswith("rules."):
                body = with_rule_strategy(base, saved_rule_id)
        for token, statuses in cases:
            reply = connection.post_json(body_with(body, leaf.trail, token), path=path)
            connection.forget(reply)
            problem = verdict(reply, connection, statuses, leaf.field)
            if problem:
                failures.append(f"{path} {leaf.field}={token}: {problem}")
    assert failures == []


# ------------------------------------------------------------------ query parameters

REJECTED_QUERY = {
    "integer": ["-1e400", "1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 30, "1.5", "0x10"],
    "date": [*REJECTED_DATES[:-1], "-1", "NaN", "1e400"],
    "boolean": ["maybe", "2", "NaN"],
    "enum": ["bogus", "NaN", "0"],
}
ANY_QUERY = ["", "0", "-1", "x" * 5000, "\x00", "%", "NaN", "1e400", "null"]
# Made-up ids (and a version of the made-up rule strategy): 404 once the query is valid.
MADE_UP_IDS = ("job_id", "token_id", "strategy_id", "channel_id")
PATH_VALUES = {
    "code": "IBM",
    "name": "sma_cross",
    "version": "1",
    **dict.fromkeys(MADE_UP_IDS, "0" * 32),
}


def query_kind(openapi: dict[str, Any], schema: dict[str, Any]) -> str:
    schema = _resolve(openapi, schema)
    for member in schema.get("anyOf", []):
        if member.get("type") != "null":
            return query_kind(openapi, member)
    if schema.get("type") == "array":
        return query_kind(openapi, schema["items"])
    if "enum" in schema:
        return "enum"
    if schema.get("format") == "date":
        return "date"
    return str(schema.get("type", "string"))


def _named(path: str, reply: Reply, name: str) -> str | None:
    """The field an error must name: none for the 404 of a made-up id in the path (a
    value the parameter accepts gets as far as looking the job, channel... up)."""
    made_up = any(f"{{{parameter}}}" in path for parameter in MADE_UP_IDS)
    return None if made_up and reply.status == 404 else name


def test_every_query_parameter_refuses_extreme_values(
    connection: KeepAliveConnection, openapi: dict[str, Any]
) -> None:
    failures = []
    checked = 0
    for path, operations in openapi["paths"].items():
        operation = operations.get("get", {})
        target = path.format(**PATH_VALUES)
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            kind = query_kind(openapi, parameter["schema"])
            cases = [(value, {422}) for value in REJECTED_QUERY.get(kind, [])]
            cases += [(value, set(range(200, 500))) for value in ANY_QUERY]
            for value, statuses in cases:
                reply = connection.send("GET", f"{target}?{name}={quote(value)}")
                checked += 1
                problem = verdict(reply, connection, statuses, _named(path, reply, name))
                if problem:
                    failures.append(f"GET {target}?{name}={value[:40]!r}: {problem}")
            # The parameter 2,000 times over.
            for value in ("1", "bogus"):
                reply = connection.send("GET", f"{target}?" + "&".join([f"{name}={value}"] * 2_000))
                checked += 1
                problem = verdict(
                    reply, connection, set(range(200, 500)), _named(path, reply, name)
                )
                if problem:
                    failures.append(f"GET {target}?{name}={value}x2000: {problem}")
    assert checked > 100
    assert failures == []


UI_QUERIES = [
    "/history?offset=1e400",
    "/history?offset=-1",
    "/history?state=NaN",
    "/stocks?q=" + "x" * 5000,
    "/stocks?market=%00",
    "/backtests/new?symbol=" + "A" * 100,
    "/compare?" + "&".join(["id=x"] * 50),
    "/login?next=" + "x" * 3000,
]


@pytest.mark.parametrize("target", UI_QUERIES)
def test_pages_take_extreme_queries_without_a_5xx(
    connection: KeepAliveConnection, target: str
) -> None:
    reply = connection.send("GET", target, headers={"Accept": "text/html"})
    assert 0 < reply.status < 500, reply.body[:300]
    assert reply.kept_alive
    assert connection.still_alive()


# -------------------------------------------------------------------- malformed bodies

MALFORMED_BODIES = [
    # (case, raw body, content type)
    ("deep arrays", "[" * 20_000 + "]" * 20_000, "application/json"),
    (
        "deep objects in params",
        '{"symbol":"AAPL","params":' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}",
        "application/json",
    ),
    ("not UTF-8", b'{"symbol":"\xff\xfe\xfd"}', "application/json"),
    ("truncated", '{"symbol":', "application/json"),
    ("empty", "", "application/json"),
    ("null", "null", "application/json"),
    ("array", "[]", "application/json"),
    ("string", '"AAPL"', "application/json"),
    ("bare 1e400", "1e400", "application/json"),
    ("10,000 digits", '{"symbol":"AAPL","capital":' + "1" * 10_000 + "}", "application/json"),
    ("long symbol", '{"symbol":"' + "A" * 60_000 + '"}', "application/json"),
    (
        "many params",
        '{"symbol":"AAPL","params":{' + ",".join(f'"p{i}":1' for i in range(5_000)) + "}}",
        "application/json",
    ),
    ("unknown field", '{"symbol":"AAPL","bogus":1}', "application/json"),
    ("NUL in symbol", '{"symbol":"AA\\u0000PL"}', "application/json"),
    ("lone surrogate", '{"symbol":"\\ud800"}', "application/json"),
    ("text/plain", '{"symbol":"AAPL"}', "text/plain"),
    ("form", "symbol=AAPL", "application/x-www-form-urlencoded"),
    ("multipart", "--x\r\n\r\nAAPL\r\n--x--", "multipart/form-data; boundary=x"),
    ("xml", "<symbol>AAPL</symbol>", "application/xml"),
    ("no content type", '{"symbol":"AAPL"}', ""),
]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [pytest.param(body, kind, id=case) for case, body, kind in MALFORMED_BODIES],
)
def test_malformed_bodies_are_4xx(
    connection: KeepAliveConnection, body: str | bytes, content_type: str
) -> None:
    reply = connection.post_json(body, content_type)
    connection.forget(reply)
    assert verdict(reply, connection, set(range(400, 500)), None) is None


def test_a_50_mb_body_is_413_and_the_connection_survives(
    connection: KeepAliveConnection,
) -> None:
    reply = connection.post_json(b" " * 50_000_000)
    assert verdict(reply, connection, {413}, None) is None
    problem = reply.problem()
    assert problem["code"] == "too_large"
    assert problem["params"]["limit"] > 0
