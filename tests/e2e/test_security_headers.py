"""Security headers over HTTP: every operation of the OpenAPI schema, every page, the
static files and assets, the docs, the report and the error answers.

Every answer carries nosniff, DENY and a referrer policy; HTML carries a strict
Content-Security-Policy (no inline scripts, no eval, no framing); everything else a
policy that allows nothing. Chromium checks that the pages work under them in
test_browser_csp.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server import ServerProcess, submit, wait_for

pytestmark = pytest.mark.e2e

# A made-up notification channel id (404: a real channel's test route would send a
# message) and the first version of the rule strategy the test saves.
PATH_VALUES = {"code": "AAPL", "name": "sma_cross", "channel_id": "0" * 32, "version": "1"}
RULE_DOCUMENT = {
    "schema": "privatetrade.rules/1",
    "long": {
        "entry": {"compare": "<", "left": {"price": "close"}, "right": 1000},
        "exit": {"compare": ">", "left": {"price": "close"}, "right": 2000},
    },
}
PAGES = ["/", "/stocks", "/stocks/AAPL", "/backtests/new", "/history", "/account", "/status"]
STATIC = ["/static/site.css", "/static/js/app.js", "/static/js/swagger.js", "/assets/plotly.min.js"]
DOCS_ASSETS = [
    "/static-offline-docs/swagger-ui-bundle.js",
    "/static-offline-docs/swagger-ui.css",
    "/static-offline-docs/redoc-offline.js",
]
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def directives(response: httpx.Response) -> dict[str, set[str]]:
    """The response's Content-Security-Policy as {directive: {sources}} (exactly one)."""
    (header,) = response.headers.get_list("content-security-policy")
    parsed: dict[str, set[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in parsed, header
        parsed[name] = set(sources)
    return parsed


def assert_common_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], where
    assert response.headers.get_list("x-frame-options") == ["DENY"], where
    assert response.headers.get_list("referrer-policy") == ["same-origin"], where
    policy = directives(response)
    assert policy["frame-ancestors"] == {"'none'"}, where
    scripts = policy.get("script-src", policy["default-src"])
    assert not scripts & {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "blob:"}, where


def assert_page_policy(response: httpx.Response, *, inline_styles: bool = False) -> None:
    assert_common_headers(response)
    assert response.headers["content-type"].startswith("text/html")
    policy = directives(response)
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert policy["base-uri"] == {"'none'"}
    assert policy["form-action"] == {"'self'"}
    expected_styles = {"'self'", "'unsafe-inline'"} if inline_styles else {"'self'"}
    assert policy["style-src"] == expected_styles


def assert_locked_down(response: httpx.Response) -> None:
    """A non-HTML answer: its policy allows nothing at all."""
    assert_common_headers(response)
    assert directives(response) == {"default-src": {"'none'"}, "frame-ancestors": {"'none'"}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("headers") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(site: Any) -> Iterator[httpx.Client]:
    with site.client() as client:
        yield client


@pytest.fixture(scope="module")
def job_id(api: httpx.Client) -> str:
    job = submit(api, {"symbol": "AAPL"})
    assert wait_for(api, job["id"], timeout=120)["state"] == "succeeded"
    return str(job["id"])


@pytest.fixture(scope="module")
def browser(site: Any) -> Iterator[httpx.Client]:
    """A cookie-authenticated client asking for HTML, as a browser does."""
    accounts = site.accounts()
    secret, _session = accounts.start_session(accounts.user("admin"))
    with httpx.Client(base_url=site.url, headers=HTML, timeout=30) as client:
        client.cookies.set("pt_session", secret)
        yield client


def operations(api: httpx.Client) -> list[tuple[str, str]]:
    schema = api.get("/openapi.json")
    assert schema.status_code == 200
    found = [
        (method.upper(), path)
        for path, item in schema.json()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(found) >= 15, found
    return found


def test_every_operation_in_the_schema_answers_with_the_headers(api: httpx.Client) -> None:
    job_id = submit(api, {"symbol": "MSFT"})["id"]  # its own: deleted at the end
    assert wait_for(api, job_id, timeout=120)["state"] == "succeeded"
    token = api.post("/api/tokens", json={"name": "headers"}).json()["id"]
    saved = api.post("/api/rule-strategies", json={"name": "headers", "document": RULE_DOCUMENT})
    assert saved.status_code == 201, saved.text
    values = {
        **PATH_VALUES,
        "job_id": job_id,
        "token_id": token,
        "strategy_id": saved.json()["id"],
    }
    found = operations(api)
    # Deleting last, so the job and the token exist for every other operation.
    for method, path in sorted(found, key=lambda operation: operation[0] == "DELETE"):
        url = re.sub(r"{(\w+)}", lambda match: values[match.group(1)], path)
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        response = api.request(method, url, json=body)
        assert response.status_code < 500, (method, url, response.text[:300])
        if response.headers.get("content-type", "").startswith("text/html"):
            assert path.endswith("/report.html"), path
            continue  # the report has its own policy (below)
        assert_locked_down(response)
    # The same answers to a caller without credentials (401s).
    with httpx.Client(base_url=api.base_url, timeout=30) as anonymous:
        for method, path in found:
            url = re.sub(r"{(\w+)}", lambda match: values[match.group(1)], path)
            assert_common_headers(anonymous.request(method, url))


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_a_strict_policy(site: Any, browser: httpx.Client, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 200, response.text[:300]
    # The stock page draws Plotly charts, which set inline styles (styles only).
    assert_page_policy(response, inline_styles=path == "/stocks/AAPL")
    assert "<script>" not in response.text  # every script is a file ('self')


def test_result_and_compare_pages_allow_plotly_styles(browser: httpx.Client, job_id: str) -> None:
    for path in (f"/backtests/{job_id}", f"/compare?id={job_id}"):
        response = browser.get(path)
        assert response.status_code == 200, response.text[:300]
        assert_page_policy(response, inline_styles=True)
        assert "<script>" not in response.text


def test_the_login_page_for_anonymous_visitors(site: Any) -> None:
    with httpx.Client(base_url=site.url, headers=HTML, timeout=30) as anonymous:
        assert_page_policy(anonymous.get("/login"))
        redirect = anonymous.get("/", follow_redirects=False)
        assert redirect.status_code == 303
        assert_locked_down(redirect)


def test_error_pages_and_problem_answers(site: Any, browser: httpx.Client) -> None:
    missing = browser.get("/no/such/page")
    assert missing.status_code == 404
    assert_page_policy(missing)
    with site.anonymous() as program:
        for response, status in (
            (program.get("/api/no-such-route"), 404),
            (program.get("/api/backtests"), 401),
            (program.delete("/api/health"), 405),
            (program.post("/api/backtests", content=b"x" * 100_000), 413),
        ):
            assert response.status_code == status, response.text[:200]
            assert_locked_down(response)


def test_static_files_and_assets_are_nosniff(site: Any) -> None:
    with site.anonymous() as client:
        for path in STATIC + DOCS_ASSETS:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_locked_down(response)
        etag = client.get("/assets/plotly.min.js").headers["etag"]
        cached = client.get("/assets/plotly.min.js", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert_locked_down(cached)


def test_docs_load_their_scripts_from_this_site(site: Any) -> None:
    with httpx.Client(base_url=site.url, headers=HTML, timeout=30) as client:
        swagger, redoc = client.get("/docs"), client.get("/redoc")
        assert swagger.status_code == redoc.status_code == 200
        assert_page_policy(swagger)
        assert_common_headers(redoc)
        policy = directives(redoc)
        assert policy["script-src"] == {"'self'"}
        assert policy["worker-src"] == {"'self'", "blob:"}  # ReDoc's search worker
        assert policy["style-src"] == {"'self'", "'unsafe-inline'"}
        for page in (swagger, redoc):
            assert "<script>" not in page.text
            assert "https://" not in page.text
        bundle = client.get("/static-offline-docs/redoc-offline.js").text
        assert "cdn.redoc.ly" not in bundle  # its one internet address is gone
        assert client.get("/docs/oauth2-redirect").status_code == 404


def test_the_report_allows_exactly_its_own_inline_scripts(api: httpx.Client, job_id: str) -> None:
    response = api.get(f"/api/backtests/{job_id}/report.html")
    assert response.status_code == 200
    assert_common_headers(response)
    policy = directives(response)
    assert policy["default-src"] == {"'none'"}
    html = response.text
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    # Plotly, its Korean locale, format.js, charts.js, price_chart.js, result_tables.js,
    # table_cards.js, report.js: every one inlined, none fetched.
    assert len(inline) == 8
    assert "plotly.js" in inline[0][:200]
    assert "<script src=" not in html
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline
    }
    assert policy["script-src"] == hashes
    # The same policy inside the document (for the file opened from disk), minus
    # frame-ancestors, which only a header may carry.
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert meta is not None
    assert html.index(meta.group(0)) < html.index("<style>") < html.index("<script")
    header = response.headers["content-security-policy"]
    assert meta.group(1).replace("&#39;", "'") + "; frame-ancestors 'none'" == header
