"""Login limits and forwarded headers end to end: real ``privatetrade serve`` processes.

Two servers: one that believes ``X-Forwarded-For`` from 127.0.0.1 (as behind nginx on
the same machine; the tests play the proxy and name the client in the header), and one
with the default setting, where the same header is a spoof that must change nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
WRONG = "not the password"
ATTACKER, OWNER = "198.51.100.7", "203.0.113.20"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def form_login(
    url: str, username: str, password: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """Log in through the form like a browser (the login CSRF cookie sent by hand)."""
    extra = dict(headers or {})
    with httpx.Client(base_url=url, timeout=30.0, headers=extra) as client:
        page = client.get("/login")
        assert page.status_code == 200, page.text[:300]
        token = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        assert token is not None
        form = {"username": username, "password": password, "csrf_token": token.group(1)}
        return client.post(
            "/login", data=form, headers={"Cookie": f"pt_login_csrf={token.group(1)}"}
        )


def from_client(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


def session_cookie_flags(response: httpx.Response) -> set[str]:
    """The attributes of the session cookie ``response`` sets (``httponly``, ``secure``...)."""
    cookies = response.headers.get_list("set-cookie")
    (header,) = [cookie for cookie in cookies if cookie.startswith("pt_session=")]
    return {part.strip().lower() for part in header.split(";")[1:]}


def alert(response: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', response.text, re.S)
    assert found is not None, response.text[:1000]
    return found.group(1).strip()


def assert_limited(response: httpx.Response) -> int:
    """A 429 login form without a session; return its Retry-After."""
    assert response.status_code == 429, (response.status_code, response.text[:300])
    assert "Too many failed logins" in alert(response)
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("pt_session=")]
    return int(response.headers["retry-after"])


def failed_clients(server: ServerProcess, username: str) -> list[str | None]:
    """The clients of the stored failures of ``username``, oldest first."""
    return [failure.client for failure in reversed(server.accounts().attempts.failures(username))]


def logged_failures(server: ServerProcess, username: str) -> list[dict[str, Any]]:
    events = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "auth.login_failed" and event.get("username") == username:
                events.append(event)
    return events


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    """A server behind a (pretend) proxy on 127.0.0.1."""
    data = tmp_path_factory.mktemp("proxied") / "data"
    shutil.copytree(sample_data_dir, data)
    server = ServerProcess(data, env={"PRIVATETRADE_TRUSTED_PROXIES": "127.0.0.1,::1"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    """A server with the default setting: no proxy is believed."""
    data = tmp_path_factory.mktemp("direct") / "data"
    shutil.copytree(sample_data_dir, data)
    server = ServerProcess(data).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- behind a trusted proxy


def test_an_attacker_is_slowed_while_the_owner_logs_in_from_another_client(proxied: Any) -> None:
    name = unique("victim")
    proxied.create_user(name, PASSWORD)
    for _ in range(5):
        assert form_login(proxied.url, name, WRONG, from_client(ATTACKER)).status_code == 401
    waited = assert_limited(form_login(proxied.url, name, PASSWORD, from_client(ATTACKER)))
    assert 1 <= waited <= 5
    started = time.monotonic()
    owner = form_login(proxied.url, name, PASSWORD, from_client(OWNER))
    assert owner.status_code == 303, owner.text[:300]
    assert time.monotonic() - started < 5
    assert "httponly" in session_cookie_flags(owner)

    # After the wait the attacker has one more guess, then waits twice as long.
    deadline = time.monotonic() + 30
    while (
        answer := form_login(proxied.url, name, WRONG, from_client(ATTACKER))
    ).status_code == 429:
        assert time.monotonic() < deadline, "still limited long after Retry-After"
        time.sleep(0.2)
    assert answer.status_code == 401
    assert 5 < assert_limited(form_login(proxied.url, name, WRONG, from_client(ATTACKER))) <= 10
    assert form_login(proxied.url, name, PASSWORD, from_client(OWNER)).status_code == 303

    # The audit log: every failure in the database with its client, and one log event each.
    assert failed_clients(proxied, name) == [ATTACKER] * 6
    events = logged_failures(proxied, name)
    assert [(event["client"], event["count"]) for event in events] == [
        (ATTACKER, count) for count in range(1, 7)
    ]


def test_one_client_trying_many_accounts_is_capped(proxied: Any) -> None:
    stuffer, name = "192.0.2.50", unique("bystander")
    proxied.create_user(name, PASSWORD)
    for index in range(20):  # one guess on each of twenty accounts
        answer = form_login(proxied.url, unique(f"guess{index}"), WRONG, from_client(stuffer))
        assert answer.status_code == 401, index
    waited = assert_limited(form_login(proxied.url, name, PASSWORD, from_client(stuffer)))
    assert 14 * 60 < waited <= 15 * 60  # until the oldest failure leaves the window
    assert form_login(proxied.url, name, PASSWORD, from_client("192.0.2.51")).status_code == 303


def test_the_client_is_the_rightmost_address_the_proxy_did_not_add(proxied: Any) -> None:
    name = unique("chain")
    proxied.create_user(name, PASSWORD)
    chains = [
        "10.9.9.9, 198.51.100.30",  # the client wrote the first address itself
        "198.51.100.31, 127.0.0.1",  # a second proxy on loopback passed it on
    ]
    for chain in chains:
        assert form_login(proxied.url, name, WRONG, from_client(chain)).status_code == 401
    assert failed_clients(proxied, name) == ["198.51.100.30", "198.51.100.31"]
    https = form_login(
        proxied.url, name, PASSWORD, from_client(OWNER, **{"X-Forwarded-Proto": "https"})
    )
    assert https.status_code == 303
    assert "secure" in session_cookie_flags(https)


# ---------------------------------------------------------------- no proxy configured


def test_a_spoofed_forwarded_for_does_not_make_a_new_client(direct: Any) -> None:
    name = unique("spoofed")
    direct.create_user(name, PASSWORD)
    for index in range(5):  # a new "client" every time, as far as the header says
        spoof = from_client(f"203.0.113.{100 + index}")
        assert form_login(direct.url, name, WRONG, spoof).status_code == 401
    assert_limited(form_login(direct.url, name, PASSWORD, from_client("203.0.113.200")))
    assert failed_clients(direct, name) == ["127.0.0.1"] * 5


def test_a_spoofed_forwarded_proto_does_not_mark_cookies_secure(direct: Any) -> None:
    name = unique("proto")
    direct.create_user(name, PASSWORD)
    answer = form_login(direct.url, name, PASSWORD, {"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303
    assert "secure" not in session_cookie_flags(answer)
