"""Security headers on a small app (every kind of answer, the 500 handler's included) and
the client address rules for X-Forwarded-For. The real server: tests/e2e."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient

from privatetrade.web.clients import TrustedProxies
from privatetrade.web.security import (
    API_POLICY,
    CSP_HEADER,
    PAGE_POLICY,
    SecuredFastAPI,
    report_policy,
    script_hash,
)

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def app() -> SecuredFastAPI:
    made = SecuredFastAPI()

    @made.get("/page")
    def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @made.get("/own-policy")
    def own_policy() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={CSP_HEADER: "default-src 'none'"})

    @made.get("/data")
    def data() -> JSONResponse:
        return JSONResponse({"ok": True})

    @made.get("/broken")
    def broken() -> None:
        raise RuntimeError("boom")

    @made.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("internal error", status_code=500)

    return made


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "status", "policy"),
    [
        ("/page", 200, PAGE_POLICY),
        ("/own-policy", 200, "default-src 'none'"),  # a route's own policy is kept
        ("/data", 200, API_POLICY),
        ("/missing", 404, API_POLICY),
        ("/broken", 500, API_POLICY),  # the outermost 500 handler's answer too
    ],
)
def test_every_answer_gets_the_headers(
    client: TestClient, path: str, status: int, policy: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    for name, value in COMMON.items():
        assert response.headers.get_list(name) == [value]
    assert response.headers.get_list(CSP_HEADER) == [policy]


def test_the_page_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(part.split(" ", 1) for part in PAGE_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in PAGE_POLICY


def test_script_hashes_are_what_browsers_compute() -> None:
    source = "console.log('hi');\n"
    expected = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
    assert script_hash(source) == f"'sha256-{expected}'"
    assert script_hash("한국어") != script_hash("")


def test_the_report_policy_names_exactly_its_scripts() -> None:
    hashes = [script_hash("a"), script_hash("b")]
    meta, header = report_policy(hashes, header=False), report_policy(hashes, header=True)
    assert f"script-src {' '.join(hashes)}" in meta
    assert "frame-ancestors" not in meta  # not allowed in a <meta> policy
    assert header == f"{meta}; frame-ancestors 'none'"
    assert "'self'" not in header  # a file opened from disk has no origin to trust


# ---------------------------------------------------------------- client addresses


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # nobody is believed
        (["10.0.0.0/8"], "203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy
        (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        (["10.0.0.0/8"], "10.1.2.3", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # spoof left
        (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1, 10.4.4.4"], "198.51.100.1"),  # 2 proxies
        (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1", "10.4.4.4"], "198.51.100.1"),  # 2 headers
        (["10.0.0.0/8"], "10.1.2.3", ["198.51.100.1:4711"], "198.51.100.1"),
        (["10.0.0.0/8"], "10.1.2.3", ["[2001:db8::1]:4711"], "2001:db8::1"),
        (["10.0.0.0/8"], "10.1.2.3", ["garbage"], "10.1.2.3"),  # nothing usable
        (["10.0.0.0/8"], "10.1.2.3", [], "10.1.2.3"),
        (["10.0.0.0/8"], "10.1.2.3", ["10.7.7.7"], "10.7.7.7"),  # only proxies: leftmost
        (["::1"], "::1", ["2001:db8::5"], "2001:db8::5"),
        (["127.0.0.1"], None, ["198.51.100.1"], "unknown"),
        (["127.0.0.1"], "testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_forwarded_for_counts_only_from_trusted_proxies(
    trusted: list[str], peer: str | None, forwarded: list[str], client: str
) -> None:
    assert TrustedProxies(trusted).client(peer, forwarded) == client


def test_a_bad_proxy_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        TrustedProxies(["not-an-address"])
