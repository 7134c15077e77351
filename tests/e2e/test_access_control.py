"""Access control end to end: the real ``privatetrade serve`` process and CLI.

One server per database backend (module scope) serves every test that only looks at
objects and users it created itself; first-start behaviour, short sessions and a
refused non-loopback bind need their own server processes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import (
    ServerProcess,
    free_port,
    submit,
    wait_for,
)

from databases import postgres_database

pytestmark = pytest.mark.e2e

BODY: dict[str, Any] = {
    "symbol": "AAPL",
    "strategy": "sma_cross",
    "params": {"fast": 10, "slow": 30},
}
PASSWORD = "correct horse battery"
PROBLEM_JSON = "application/problem+json"
WRONG_CREDENTIALS = "Wrong username or password."
# Path parameters naming an object that belongs to a user (filled with A's ids), and
# the ones naming shared catalog entries. A new path parameter must be added here.
OWNED_PARAMETERS = {
    "job_id": "job",
    "token_id": "token",
    "strategy_id": "rule strategy",
    "channel_id": "notification channel",
}
SHARED_PARAMETERS = {"code": "AAPL", "name": "sma_cross", "version": "1"}
RULE_DOCUMENT: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "long": {"entry": {"compare": ">", "left": {"price": "close"}, "right": 1}, "exit": None},
}
# Id-taking operations that need a body: the body sent (a valid one, so only the id decides).
BODIES: dict[str, dict[str, Any]] = {
    "PUT /api/rule-strategies/{strategy_id}": {"document": RULE_DOCUMENT},
    "PATCH /api/notification-channels/{channel_id}": {"name": "renamed by someone else"},
}
PUBLIC_PATHS = {"/api/health", "/metrics"}
LINK_LINE = re.compile(
    r"log in as admin \(one-time link\): (http://127\.0\.0\.1:(\d+)/login\?token=(\S+))"
)


# ---------------------------------------------------------------- helpers


@contextmanager
def running(process: ServerProcess) -> Iterator[ServerProcess]:
    process.start()
    try:
        yield process
    finally:
        process.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert a problem+json answer with ``status`` (and ``field``); return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status, body
    if field is not None:
        assert body.get("field") == field, body
    return body


def unauthorized(response: httpx.Response) -> dict[str, Any]:
    """Assert the 401 answer: problem+json with ``WWW-Authenticate: Bearer``."""
    body = problem(response, 401)
    assert body["title"] == "Unauthorized", body
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    return body


def bearer(server: ServerProcess, token: str) -> httpx.Client:
    return server.client(token)


def me(server: ServerProcess, token: str) -> httpx.Response:
    with bearer(server, token) as client:
        return client.get("/api/me")


def assert_token_works(server: ServerProcess, token: str, username: str) -> None:
    response = me(server, token)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == username


def hidden_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name!r} in: {html[:2000]}"
    return found.group(1)


def alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found is not None, f"no error message in: {html[:2000]}"
    return found.group(1).strip()


def set_cookies(response: httpx.Response, name: str) -> list[str]:
    """The ``Set-Cookie`` headers of ``response`` that set ``name`` to a value."""
    return [
        header
        for header in response.headers.get_list("set-cookie")
        if header.startswith(f"{name}=")
        and not header.startswith(f'{name}="";')
        and "max-age=0" not in header.lower()
    ]


def session_cookie(response: httpx.Response) -> tuple[str, str]:
    """The session secret set by ``response`` and its whole ``Set-Cookie`` header."""
    (header,) = set_cookies(response, "pt_session")
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert value
    return value, header


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def form_login(
    url: str,
    username: str,
    password: str,
    *,
    headers: Mapping[str, str] | None = None,
    csrf: str | None = None,
) -> httpx.Response:
    """Log in through the form like a browser, with the cookie sent by hand.

    (By hand since a jar would drop a ``Secure`` cookie on plain HTTP.) ``csrf``
    replaces the form's ``csrf_token`` field.
    """
    extra = dict(headers or {})
    with httpx.Client(base_url=url, timeout=30.0) as first:
        page = first.get("/login", headers=extra)
    assert page.status_code == 200, page.text
    token = hidden_field(page.text, "csrf_token")
    cookie = page.cookies.get("pt_login_csrf")
    assert cookie == token
    form = {
        "username": username,
        "password": password,
        "csrf_token": token if csrf is None else csrf,
        "next": "/",
    }
    with httpx.Client(base_url=url, timeout=30.0) as second:
        return second.post(
            "/login", data=form, headers={**extra, "Cookie": f"pt_login_csrf={cookie}"}
        )


def with_session(url: str, secret: str) -> httpx.Client:
    """A client sending the session cookie by hand (no jar, no expiry on our side)."""
    return httpx.Client(base_url=url, timeout=30.0, headers={"Cookie": f"pt_session={secret}"})


class Browser:
    """A browser-like client: a cookie jar, logging in through the login form."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30.0)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def login(self, username: str, password: str) -> httpx.Response:
        page = self.http.get("/login")
        assert page.status_code == 200, page.text
        form = {
            "username": username,
            "password": password,
            "csrf_token": hidden_field(page.text, "csrf_token"),
            "next": "/account",
        }
        response = self.http.post("/login", data=form)
        assert response.status_code == 303, (response.status_code, response.text)
        assert response.headers["location"] == "/account"
        return response

    def csrf(self) -> str:
        page = self.http.get("/account")
        assert page.status_code == 200, page.text
        return hidden_field(page.text, "csrf_token")

    def me(self) -> httpx.Response:
        return self.http.get("/api/me")


def history_total(client: httpx.Client) -> int:
    response = client.get("/api/backtests", params={"limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


def token_ids(client: httpx.Client) -> list[str]:
    response = client.get("/api/tokens")
    assert response.status_code == 200, response.text
    return [token["id"] for token in response.json()]


def cli(
    server: ServerProcess, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m privatetrade ARGS`` against the server's data and database."""
    env = server.environment()
    return subprocess.run(
        [sys.executable, "-m", "privatetrade", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def copy_sample_data(tmp_path_factory: pytest.TempPathFactory, sample: Path, name: str) -> Path:
    data = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(sample, data)
    return data


# ---------------------------------------------------------------- the shared server


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """One server per backend, shared by the tests that use only their own users."""
    data = copy_sample_data(tmp_path_factory, sample_data_dir, f"access-{request.param}")
    with ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(postgres_database())
        yield stack.enter_context(running(ServerProcess(data, database_url=url)))


@pytest.fixture(scope="module")
def alice(api: ServerProcess) -> Iterator[httpx.Client]:
    """User A: the admin, through the harness's API token."""
    with api.client() as client:
        yield client


@pytest.fixture(scope="module")
def a_job(alice: httpx.Client) -> str:
    """A's backtest, succeeded (so it has a result to download)."""
    job = submit(alice, BODY)
    assert wait_for(alice, job["id"], timeout=120)["state"] == "succeeded"
    return str(job["id"])


@pytest.fixture(scope="module")
def a_rule(alice: httpx.Client) -> str:
    """A's saved rule strategy."""
    body = {"name": unique("a's rule"), "document": RULE_DOCUMENT}
    response = alice.post("/api/rule-strategies", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def a_channel(alice: httpx.Client) -> str:
    """A's notification channel (a webhook nobody listens to: only its id matters)."""
    body = {"kind": "webhook", "target": "http://127.0.0.1:9/hook", "events": ["run_failed"]}
    response = alice.post("/api/notification-channels", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def a_token(alice: httpx.Client) -> dict[str, Any]:
    """An API token A created through the API (``id`` and secret ``token``)."""
    response = alice.post("/api/tokens", json={"name": "a's script"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["token"].startswith("pt_")
    return dict(created)


@pytest.fixture(scope="module")
def bob_name(api: ServerProcess) -> str:
    return unique("bob")


@pytest.fixture(scope="module")
def bob(api: ServerProcess, bob_name: str) -> Iterator[httpx.Client]:
    """User B: an ordinary user (with a password, for browser logins)."""
    with api.client(api.create_user(bob_name, PASSWORD)) as client:
        yield client


@pytest.fixture(scope="module")
def b_job(bob: httpx.Client) -> str:
    job = submit(bob, BODY)
    assert wait_for(bob, job["id"], timeout=120)["state"] == "succeeded"
    return str(job["id"])


def schema_operations(client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    operations = []
    for path, item in response.json()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                operations.append((method.upper(), path, operation))
    assert operations
    return operations


def path_parameters(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def fill(path: str, values: Mapping[str, str]) -> str:
    for name in path_parameters(path):
        assert name in values, f"the test does not know how to fill {{{name}}} in {path}"
        path = path.replace(f"{{{name}}}", values[name])
    return path


def owned_parameters(method: str, path: str, operation: Mapping[str, Any]) -> list[str]:
    """The path parameters of an operation that name a user's object.

    Fails for a path parameter the tests do not know, and for an id-taking operation
    that needs more than its path (the matrix would have to learn to fill it).
    """
    names = path_parameters(path)
    for name in names:
        assert name in OWNED_PARAMETERS or name in SHARED_PARAMETERS, (
            f"{method} {path}: unknown path parameter {{{name}}}; "
            "add it to OWNED_PARAMETERS or SHARED_PARAMETERS"
        )
    owned = [name for name in names if name in OWNED_PARAMETERS]
    if owned:
        required = [
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter.get("required") and parameter["in"] != "path"
        ]
        assert not required, f"{method} {path}: fill the required parameters {required}"
        body = operation.get("requestBody", {})
        needed = body.get("required") and f"{method} {path}" not in BODIES
        assert not needed, f"{method} {path}: send a body for it (BODIES)"
    return owned


def with_ids(owned: list[str], ids: Mapping[str, str]) -> dict[str, str]:
    return {**SHARED_PARAMETERS, **{name: ids[OWNED_PARAMETERS[name]] for name in owned}}


def masked(body: Mapping[str, Any], ids: Mapping[str, str]) -> str:
    detail = str(body["detail"])
    for value in ids.values():
        detail = detail.replace(value, "<id>")
    return detail


# ---------------------------------------------------------------- 1: ownership matrix


def test_other_users_get_404_for_every_operation_on_my_objects(
    api: ServerProcess,
    alice: httpx.Client,
    bob: httpx.Client,
    a_job: str,
    a_token: dict[str, Any],
    a_rule: str,
    a_channel: str,
) -> None:
    a_ids = {
        "job": a_job,
        "token": a_token["id"],
        "rule strategy": a_rule,
        "notification channel": a_channel,
    }
    unknown_ids = {name: uuid.uuid4().hex for name in a_ids}
    rule_before = alice.get(f"/api/rule-strategies/{a_rule}").json()
    channels_before = alice.get("/api/notification-channels").json()
    before = alice.get(f"/api/backtests/{a_job}").json()

    answers: dict[str, tuple[httpx.Response, httpx.Response]] = {}
    for method, path, operation in schema_operations(alice):
        owned = owned_parameters(method, path, operation)
        if not owned:
            continue
        body = BODIES.get(f"{method} {path}")
        foreign = bob.request(method, fill(path, with_ids(owned, a_ids)), json=body)
        unknown = bob.request(method, fill(path, with_ids(owned, unknown_ids)), json=body)
        answers[f"{method} {path}"] = (foreign, unknown)

    failures = [
        f"{operation} ({which}): {response.status_code} {response.text[:200]}"
        for operation, pair in answers.items()
        for which, response in zip(("A's id", "unknown id"), pair, strict=True)
        if response.status_code != 404
        or not response.headers.get("content-type", "").startswith(PROBLEM_JSON)
    ]
    assert not failures, "\n".join(failures)
    for foreign, unknown in answers.values():
        foreign_body, unknown_body = problem(foreign, 404), problem(unknown, 404)
        # No existence leak: the same answer whether the object is A's or does not exist.
        assert foreign_body["title"] == unknown_body["title"] == "Not found"
        assert foreign_body.keys() == unknown_body.keys()
        assert masked(foreign_body, a_ids) == masked(unknown_body, unknown_ids)

    # Every id-taking operation the API has today was tried.
    assert {
        "GET /api/backtests/{job_id}",
        "DELETE /api/backtests/{job_id}",
        "GET /api/backtests/{job_id}/events",
        "POST /api/backtests/{job_id}/cancel",
        "GET /api/backtest/result/{job_id}",
        "GET /api/backtests/{job_id}/trades.csv",
        "GET /api/backtests/{job_id}/equity.csv",
        "GET /api/backtests/{job_id}/report.html",
        "GET /api/backtests/{job_id}/analysis",
        "DELETE /api/tokens/{token_id}",
        "GET /api/scans/{job_id}/ranking",
        "POST /api/scans/{job_id}/backtests",
        "GET /api/rule-strategies/{strategy_id}",
        "PUT /api/rule-strategies/{strategy_id}",
        "DELETE /api/rule-strategies/{strategy_id}",
        "GET /api/rule-strategies/{strategy_id}/versions/{version}",
        "GET /api/rule-strategies/{strategy_id}/export",
        "PATCH /api/notification-channels/{channel_id}",
        "DELETE /api/notification-channels/{channel_id}",
        "POST /api/notification-channels/{channel_id}/test",
        "GET /api/notification-channels/{channel_id}/deliveries",
    } <= answers.keys(), list(answers)
    assert alice.get(f"/api/rule-strategies/{a_rule}").json() == rule_before
    assert alice.get("/api/notification-channels").json() == channels_before

    # A's objects are unchanged.
    after = alice.get(f"/api/backtests/{a_job}")
    assert after.status_code == 200
    assert after.json()["state"] == "succeeded"
    assert after.json()["cancel_requested"] is False
    assert after.json()["finished_at"] == before["finished_at"]
    assert alice.get(f"/api/backtest/result/{a_job}").status_code == 200
    assert_token_works(api, a_token["token"], "admin")
    listed = {token["id"]: token for token in alice.get("/api/tokens").json()}
    assert listed[a_token["id"]]["revoked_at"] is None


def test_other_users_cannot_revoke_my_token_through_the_account_page(
    api: ServerProcess, bob: httpx.Client, bob_name: str, a_token: dict[str, Any]
) -> None:
    with Browser(api.url) as browser:
        browser.login(bob_name, PASSWORD)
        response = browser.http.post(
            f"/account/tokens/{a_token['id']}/revoke", data={"csrf_token": browser.csrf()}
        )
        assert response.status_code == 404, response.text
        unknown = browser.http.post(
            f"/account/tokens/{uuid.uuid4().hex}/revoke", data={"csrf_token": browser.csrf()}
        )
        assert unknown.status_code == 404
        assert alert(response.text) == alert(unknown.text)
    assert_token_works(api, a_token["token"], "admin")


# ---------------------------------------------------------------- 2: lists


def test_lists_never_contain_another_users_objects(
    alice: httpx.Client,
    bob: httpx.Client,
    a_job: str,
    b_job: str,
    a_token: dict[str, Any],
) -> None:
    a_me, b_me = alice.get("/api/me").json(), bob.get("/api/me").json()
    assert a_me["id"] != b_me["id"]

    def jobs(client: httpx.Client, **params: Any) -> dict[str, Any]:
        response = client.get("/api/backtests", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        page = response.json()
        assert isinstance(page, dict)
        return page

    for params in ({}, {"state": "succeeded"}, {"symbol": "AAPL"}, {"order": "asc"}):
        a_page, b_page = jobs(alice, **params), jobs(bob, **params)
        a_ids = {item["id"] for item in a_page["items"]}
        b_ids = {item["id"] for item in b_page["items"]}
        assert a_job in a_ids
        assert b_job not in a_ids
        assert b_ids == {b_job}
        assert b_page["total"] == 1
        assert {item["owner"] for item in a_page["items"]} == {a_me["id"]}
        assert {item["owner"] for item in b_page["items"]} == {b_me["id"]}

    a_tokens, b_tokens = set(token_ids(alice)), set(token_ids(bob))
    assert a_token["id"] in a_tokens
    assert b_tokens
    assert not a_tokens & b_tokens


# ---------------------------------------------------------------- 3: 401


def test_every_api_operation_needs_credentials(api: ServerProcess, alice: httpx.Client) -> None:
    checked = []
    with api.anonymous() as anonymous:
        for method, path, _operation in schema_operations(alice):
            if path in PUBLIC_PATHS:
                continue
            values = {**SHARED_PARAMETERS, **{name: uuid.uuid4().hex for name in OWNED_PARAMETERS}}
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            unauthorized(anonymous.request(method, fill(path, values), json=body))
            checked.append(f"{method} {path}")
        assert {"GET /api/backtests", "POST /api/backtests", "GET /api/me"} <= set(checked)
        for public in ("/api/health", "/metrics", "/docs", "/openapi.json"):
            assert anonymous.get(public).status_code == 200, public


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWRtaW46Y29ycmVjdCBob3JzZQ==",
        "Bearer",
        "Bearer ,{token}",
        "Token {token}",
        "{token}",
        "Bearer {token} extra",
        "Bearer{token}",
    ],
)
def test_malformed_authorization_headers_are_401(
    api: ServerProcess, alice: httpx.Client, header: str
) -> None:
    assert api.token is not None
    value = header.format(token=api.token)
    with api.anonymous() as anonymous:
        unauthorized(anonymous.get("/api/me", headers={"Authorization": value}))
        unauthorized(anonymous.post("/api/backtests", json=BODY, headers={"Authorization": value}))
    assert alice.get("/api/me").status_code == 200  # the token itself is fine


def test_made_up_and_tampered_tokens_are_401(api: ServerProcess, alice: httpx.Client) -> None:
    name = unique("tamper")
    token = api.create_user(name)
    middle = len(token) // 2
    flipped = "A" if token[middle] != "A" else "B"
    tampered = [
        token[:middle] + flipped + token[middle + 1 :],
        token[:-1] + ("x" if token[-1] != "x" else "y"),
        token + "A",
        token[:-1],
        token.upper(),
        "pt_" + uuid.uuid4().hex + uuid.uuid4().hex,
        "pt_",
    ]
    for secret in tampered:
        assert secret != token
        unauthorized(me(api, secret))
    assert_token_works(api, token, name)


def test_a_token_revoked_through_the_api_is_401(api: ServerProcess) -> None:
    name = unique("revoke")
    first = api.create_user(name)
    with bearer(api, first) as client:
        created = client.post("/api/tokens", json={"name": "second"})
        assert created.status_code == 201, created.text
        second = created.json()
        assert_token_works(api, second["token"], name)
        assert client.delete(f"/api/tokens/{second['id']}").status_code == 204
        unauthorized(me(api, second["token"]))
        with bearer(api, second["token"]) as revoked:
            unauthorized(revoked.get("/api/backtests"))
            unauthorized(revoked.post("/api/tokens", json={"name": "again"}))
        listed = {token["id"]: token for token in client.get("/api/tokens").json()}
        assert listed[second["id"]]["revoked_at"] is not None
        # Revoking again, or an unknown id: 404; the other token keeps working.
        problem(client.delete(f"/api/tokens/{uuid.uuid4().hex}"), 404)
    assert_token_works(api, first, name)


# ---------------------------------------------------------------- 4: mass assignment


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner_id", "admin"),
        ("owner", "admin"),
        ("status", "succeeded"),
        ("state", "succeeded"),
        ("is_admin", True),
        ("id", "0" * 32),
    ],
)
def test_extra_fields_in_a_backtest_are_422(
    api: ServerProcess, alice: httpx.Client, field: str, value: object
) -> None:
    token = api.create_user(unique("mass"))
    admin_id = alice.get("/api/me").json()["id"]
    injected = admin_id if value == "admin" else value
    with bearer(api, token) as client:
        before = history_total(client)
        admin_before = history_total(alice)
        body = problem(client.post("/api/backtests", json={**BODY, field: injected}), 422, field)
        assert field in body["detail"]
        assert history_total(client) == before == 0
        assert history_total(alice) == admin_before
        # The same body without the field is fine (the field is the only problem).
        assert client.post("/api/backtests", json=BODY).status_code == 202


@pytest.mark.parametrize(("field", "value"), [("user_id", "admin"), ("is_admin", True)])
def test_extra_fields_in_a_token_are_422(
    api: ServerProcess, alice: httpx.Client, field: str, value: object
) -> None:
    token = api.create_user(unique("masstoken"))
    admin_id = alice.get("/api/me").json()["id"]
    injected = admin_id if value == "admin" else value
    admin_tokens = token_ids(alice)
    with bearer(api, token) as client:
        before = token_ids(client)
        body = problem(client.post("/api/tokens", json={"name": "x", field: injected}), 422, field)
        assert field in body["detail"]
        assert token_ids(client) == before
        assert client.get("/api/me").json()["role"] == "user"
    assert token_ids(alice) == admin_tokens


# ---------------------------------------------------------------- 5: CSRF and browser sessions


def test_login_form_without_a_valid_csrf_token_is_403(api: ServerProcess) -> None:
    name = unique("csrf")
    api.create_user(name, PASSWORD)
    for csrf in ("", "wrong-token", "x" * 43):
        response = form_login(api.url, name, PASSWORD, csrf=csrf)
        assert response.status_code == 403, (csrf, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert not set_cookies(response, "pt_session")
    # The form's token without the matching cookie (a forged cross-site form): 403.
    with httpx.Client(base_url=api.url, timeout=30.0) as first:
        token = hidden_field(first.get("/login").text, "csrf_token")
    with httpx.Client(base_url=api.url, timeout=30.0) as forged:
        form = {"username": name, "password": PASSWORD, "csrf_token": token}
        response = forged.post("/login", data=form)
        assert response.status_code == 403
        assert not set_cookies(response, "pt_session")
    # With everything right the same credentials work (the 403s were CSRF alone).
    ok = form_login(api.url, name, PASSWORD)
    assert ok.status_code == 303, ok.text
    session_cookie(ok)


def test_login_sets_a_http_only_same_site_session_cookie(api: ServerProcess) -> None:
    name = unique("cookie")
    api.create_user(name, PASSWORD)
    response = form_login(api.url, name, PASSWORD)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    secret, header = session_cookie(response)
    attributes = cookie_attributes(header)
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # plain HTTP, PRIVATETRADE_COOKIE_SECURE=auto
    with with_session(api.url, secret) as client:
        assert client.get("/api/me").json()["username"] == name
        assert client.get("/account").status_code == 200
    # X-Forwarded-Proto from a peer that is not a configured proxy changes nothing
    # (with PRIVATETRADE_TRUSTED_PROXIES it does: test_login_throttling.py).
    spoofed = form_login(api.url, name, PASSWORD, headers={"X-Forwarded-Proto": "https"})
    assert spoofed.status_code == 303, spoofed.text
    assert "secure" not in cookie_attributes(session_cookie(spoofed)[1])


def test_cookie_sessions_need_the_csrf_header_for_api_writes(
    api: ServerProcess, bob: httpx.Client
) -> None:
    name = unique("browser")
    api.create_user(name, PASSWORD)
    with Browser(api.url) as browser:
        browser.login(name, PASSWORD)
        assert browser.me().json()["username"] == name  # GET: no header needed
        csrf = browser.csrf()
        total = history_total(browser.http)
        tokens = token_ids(browser.http)  # the harness's token

        missing = browser.http.post("/api/backtests", json=BODY)
        problem(missing, 403)
        wrong = browser.http.post("/api/backtests", json=BODY, headers={"X-CSRF-Token": "nope"})
        problem(wrong, 403)
        other = browser.http.post(
            "/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf + "x"}
        )
        problem(other, 403)
        assert history_total(browser.http) == total == 0
        assert token_ids(browser.http) == tokens

        accepted = browser.http.post("/api/backtests", json=BODY, headers={"X-CSRF-Token": csrf})
        assert accepted.status_code == 202, accepted.text
        assert history_total(browser.http) == 1
        # Bearer-token requests need no CSRF header (no ambient credentials).
        assert bob.post("/api/tokens", json={"name": "no csrf"}).status_code == 201


def test_account_page_forms_need_the_session_csrf_token(api: ServerProcess) -> None:
    name = unique("forms")
    api.create_user(name, PASSWORD)
    with Browser(api.url) as browser:
        browser.login(name, PASSWORD)
        csrf = browser.csrf()
        tokens = token_ids(browser.http)  # the harness's token
        for data in ({"name": "forged"}, {"name": "forged", "csrf_token": "wrong"}):
            response = browser.http.post("/account/tokens", data=data)
            assert response.status_code == 403, response.text
            assert '<code class="secret">' not in response.text
        assert token_ids(browser.http) == tokens

        created = browser.http.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf})
        assert created.status_code == 200, created.text
        secret = re.search(r'<code class="secret">(pt_[^<]+)</code>', created.text)
        assert secret is not None, created.text
        assert_token_works(api, secret.group(1), name)
        assert secret.group(1) not in browser.http.get("/account").text  # shown once
        (token_id,) = set(token_ids(browser.http)) - set(tokens)

        forged = browser.http.post(f"/account/tokens/{token_id}/revoke", data={})
        assert forged.status_code == 403
        assert_token_works(api, secret.group(1), name)
        revoked = browser.http.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 303
        unauthorized(me(api, secret.group(1)))


def test_logout_needs_the_csrf_token(api: ServerProcess) -> None:
    name = unique("logout")
    api.create_user(name, PASSWORD)
    with Browser(api.url) as browser:
        response = browser.login(name, PASSWORD)
        secret, _ = session_cookie(response)
        csrf = browser.csrf()
        for data in ({}, {"csrf_token": "wrong"}):
            forged = browser.http.post("/logout", data=data)
            assert forged.status_code == 403, forged.text
            assert browser.me().status_code == 200
        with with_session(api.url, secret) as client:
            assert client.get("/api/me").status_code == 200

        done = browser.http.post("/logout", data={"csrf_token": csrf})
        assert done.status_code == 303
        assert done.headers["location"] == "/login"
    with with_session(api.url, secret) as client:  # the old cookie, replayed
        unauthorized(client.get("/api/me"))
        page = client.get("/account")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


def test_pages_redirect_to_login_without_a_session(api: ServerProcess) -> None:
    with api.anonymous() as anonymous:
        for path in ("/", "/account"):
            response = anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login"), response.headers
        # A Bearer token is for programs: pages still want a browser session.
        assert api.token is not None
        page = anonymous.get("/account", headers={"Authorization": f"Bearer {api.token}"})
        assert page.status_code == 303
        login = anonymous.get("/login")
        assert login.status_code == 200
        assert set_cookies(login, "pt_login_csrf")


# ---------------------------------------------------------------- 6: login rate limit


def test_failed_logins_are_rate_limited_and_do_not_reveal_usernames(api: ServerProcess) -> None:
    name = unique("limited")
    api.create_user(name, PASSWORD)
    ghost = unique("ghost")

    wrong = form_login(api.url, name, "not the password")
    unknown = form_login(api.url, ghost, "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert alert(wrong.text) == alert(unknown.text) == WRONG_CREDENTIALS

    def normalized(response: httpx.Response, username: str) -> str:
        text = response.text.replace(username, "<user>")
        return text.replace(hidden_field(response.text, "csrf_token"), "<csrf>")

    assert normalized(wrong, name) == normalized(unknown, ghost)
    assert not set_cookies(wrong, "pt_session")

    for _ in range(4):  # five wrong passwords in all
        again = form_login(api.url, name, "still not the password")
        assert again.status_code == 401
        assert alert(again.text) == WRONG_CREDENTIALS
    limited = form_login(api.url, name, PASSWORD)
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many failed logins" in alert(limited.text)
    assert not set_cookies(limited, "pt_session")
    # Only this user is limited.
    other = unique("unlimited")
    api.create_user(other, PASSWORD)
    assert form_login(api.url, other, PASSWORD).status_code == 303


# ---------------------------------------------------------------- 9: CLI (and 3: CLI revocation)


def test_cli_creates_lists_and_rejects_duplicate_users(api: ServerProcess) -> None:
    name, boss = unique("carol"), unique("boss")
    created = succeeded(cli(api, "users", "create", name, "--password-stdin", stdin=PASSWORD))
    assert name in created
    assert succeeded(
        cli(api, "users", "create", boss, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    )

    for spelling in (name, name.upper()):
        duplicate = cli(api, "users", "create", spelling, "--password-stdin", stdin=PASSWORD)
        one_line_error(duplicate, 2, "already exists")
    one_line_error(
        cli(api, "users", "create", unique("short"), "--password-stdin", stdin="short\n"),
        2,
        "8 characters",
    )

    listed = {
        line.split()[0]: line.split()[1:]
        for line in succeeded(cli(api, "users", "list")).splitlines()
    }
    assert listed[name] == ["user", "active"]
    assert listed[boss] == ["admin", "active"]
    assert listed["admin"][0] == "admin"

    # The password came from stdin: the form login works with it (the trailing
    # newline is not part of the password).
    assert form_login(api.url, name, PASSWORD).status_code == 303
    assert form_login(api.url, boss, PASSWORD).status_code == 303


def test_cli_tokens_work_against_the_server_until_revoked(api: ServerProcess) -> None:
    name = unique("dora")
    succeeded(cli(api, "users", "create", name, "--password-stdin", stdin=PASSWORD))
    secret = succeeded(cli(api, "tokens", "create", name, "--name", "deploy")).strip()
    assert re.fullmatch(r"pt_[A-Za-z0-9_-]{40,}", secret), secret
    assert_token_works(api, secret, name)
    with bearer(api, secret) as client:
        job = submit(client, BODY)
        assert client.get(f"/api/backtests/{job['id']}").status_code == 200

    listing = succeeded(cli(api, "tokens", "list", name))
    assert secret not in listing
    (line,) = listing.splitlines()
    token_id = line.split()[0]
    assert "deploy" in line
    assert "valid" in line
    assert secret[:10] in line

    one_line_error(cli(api, "tokens", "revoke", name, uuid.uuid4().hex), 2)
    one_line_error(cli(api, "tokens", "revoke", "admin", token_id), 2)  # not admin's token
    assert_token_works(api, secret, name)
    succeeded(cli(api, "tokens", "revoke", name, token_id))
    unauthorized(me(api, secret))
    assert "revoked" in succeeded(cli(api, "tokens", "list", name))
    one_line_error(cli(api, "tokens", "create", unique("nobody")), 2, "no user")


def test_cli_disable_and_enable_a_user(api: ServerProcess) -> None:
    name = unique("eve")
    token = api.create_user(name, PASSWORD)
    login = form_login(api.url, name, PASSWORD)
    session, _ = session_cookie(login)

    succeeded(cli(api, "users", "disable", name))
    unauthorized(me(api, token))
    with with_session(api.url, session) as client:
        unauthorized(client.get("/api/me"))
    listed = succeeded(cli(api, "users", "list"))
    assert re.search(rf"^{re.escape(name)}\s+user\s+disabled$", listed, re.M), listed

    succeeded(cli(api, "users", "enable", name))
    assert_token_works(api, token, name)
    with with_session(api.url, session) as client:  # disabling ended the session for good
        unauthorized(client.get("/api/me"))
    one_line_error(cli(api, "users", "disable", unique("nobody")), 2, "no user")


def test_cli_reset_password(api: ServerProcess) -> None:
    name = unique("fred")
    api.create_user(name, PASSWORD)
    session, _ = session_cookie(form_login(api.url, name, PASSWORD))
    new_password = "a brand new password"
    result = cli(api, "users", "reset-password", name, "--password-stdin", stdin=new_password)
    succeeded(result)
    assert new_password not in result.stdout + result.stderr
    with with_session(api.url, session) as client:
        unauthorized(client.get("/api/me"))
    assert form_login(api.url, name, PASSWORD).status_code == 401
    assert form_login(api.url, name, new_password).status_code == 303
    one_line_error(
        cli(api, "users", "reset-password", name, "--password-stdin", stdin="short"),
        2,
        "8 characters",
    )


# ---------------------------------------------------------------- 7: first start


def admin_link(server: ServerProcess, timeout: float = 10.0) -> tuple[str, str]:
    """The one-time login link the server printed, and its token."""
    deadline = time.monotonic() + timeout
    while True:
        found = LINK_LINE.search(server.log_path.read_text(errors="replace"))
        if found is not None:
            assert int(found.group(2)) == server.port
            return found.group(1), found.group(3)
        assert time.monotonic() < deadline, f"no login link in the log: {server.log_tail()}"
        time.sleep(0.1)


def test_first_start_prints_a_one_time_login_link(data_dir: Path, database_url: str | None) -> None:
    assert not (data_dir / "privatetrade.db").exists()
    server = ServerProcess(data_dir, database_url=database_url, env={"PRIVATETRADE_WORKERS": "1"})
    with running(server):
        link, token = admin_link(server)
        assert len(token) >= 32
        with httpx.Client(timeout=30.0) as browser:
            used = browser.get(link)
            assert used.status_code == 303, used.text
            assert used.headers["location"] == "/account"
            secret, header = session_cookie(used)
            assert {"httponly", "samesite=lax"} <= cookie_attributes(header)
            account = browser.get(f"{server.url}/account")
            assert account.status_code == 200
            assert "admin" in account.text
        with with_session(server.url, secret) as client:
            response = client.get("/api/me")
            assert response.status_code == 200, response.text
            assert (response.json()["username"], response.json()["role"]) == ("admin", "admin")

        with httpx.Client(timeout=30.0) as other:
            again = other.get(link)
            assert again.status_code == 400, again.text
            assert not set_cookies(again, "pt_session")
            assert "already used" in alert(again.text)
            made_up = other.get(f"{server.url}/login", params={"token": token[:-1] + "x"})
            assert made_up.status_code == 400
            assert not set_cookies(made_up, "pt_session")


@pytest.fixture(scope="module")
def password_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """First start with PRIVATETRADE_ADMIN_PASSWORD, 14-second sessions, Secure cookies."""
    data = copy_sample_data(tmp_path_factory, sample_data_dir, "admin-password")
    env = {
        "PRIVATETRADE_ADMIN_PASSWORD": "the admin password",
        "PRIVATETRADE_SESSION_HOURS": "0.004",
        "PRIVATETRADE_COOKIE_SECURE": "always",
        "PRIVATETRADE_WORKERS": "1",
    }
    with running(ServerProcess(data, env=env)) as server:
        yield server


def test_first_start_with_an_admin_password_prints_no_link(
    password_server: ServerProcess,
) -> None:
    log = password_server.log_path.read_text(errors="replace")
    assert "privatetrade serving on" in log
    assert "one-time link" not in log
    assert "/login?token=" not in log
    assert "the admin password" not in log

    wrong = form_login(password_server.url, "admin", "not the admin password")
    assert wrong.status_code == 401
    response = form_login(password_server.url, "admin", "the admin password")
    assert response.status_code == 303, response.text
    secret, header = session_cookie(response)
    assert {"httponly", "samesite=lax", "secure"} <= cookie_attributes(header)
    with with_session(password_server.url, secret) as client:
        assert client.get("/api/me").json()["username"] == "admin"


def test_an_expired_session_cookie_is_401(password_server: ServerProcess) -> None:
    response = form_login(password_server.url, "admin", "the admin password")
    assert response.status_code == 303, response.text
    started = time.monotonic()
    secret, _ = session_cookie(response)
    with with_session(password_server.url, secret) as client:
        assert client.get("/api/me").status_code == 200
        deadline = started + 90.0
        while True:
            current = client.get("/api/me")
            if current.status_code != 200:
                break
            assert time.monotonic() < deadline, "the session did not expire"
            time.sleep(0.5)
        unauthorized(current)
        assert time.monotonic() - started > 12.0  # expired by its lifetime, not earlier
        page = client.get("/account")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


# ---------------------------------------------------------------- 8: non-loopback bind


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("key", [None, "too-short-key"])
def test_a_non_loopback_bind_without_a_secret_key_refuses_to_start(
    tmp_path: Path, key: str | None
) -> None:
    port = free_port()
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("PRIVATETRADE_")
    }
    env["PRIVATETRADE_DATA_DIR"] = str(tmp_path / "data")
    if key is not None:
        env["PRIVATETRADE_SECRET_KEY"] = key
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "privatetrade", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    elapsed = time.monotonic() - started
    assert process.returncode not in (0, None), (process.returncode, stdout, stderr)
    assert elapsed < 30.0, elapsed
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "PRIVATETRADE_SECRET_KEY" in lines[0]
    assert not listening(port)
    assert not (tmp_path / "data" / "secret_key").exists()
