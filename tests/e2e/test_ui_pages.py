"""The pages over plain HTTP: sign-in redirects, languages, errors as pages, assets, report."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from server import ServerProcess, submit, wait_for

WEB = Path(__file__).resolve().parents[2] / "src" / "privatetrade" / "web"
PAGES = ["/", "/stocks", "/stocks/DEMO01", "/backtests/new", "/history", "/compare", "/account"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("pages") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.trader_token = server.create_user("trader")
    try:
        yield server
    finally:
        server.stop()


def browser(site: Any, username: str = "trader", **headers: str) -> httpx.Client:
    """A cookie-authenticated client, as a browser would be."""
    accounts = site.accounts()
    secret, _session = accounts.start_session(accounts.user(username))
    accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    client = httpx.Client(base_url=site.url, headers={**accept, **headers}, timeout=30)
    client.cookies.set("pt_session", secret)
    return client


@pytest.mark.parametrize("path", [*PAGES, "/history?symbol=DEMO01&sort=symbol"])
def test_anonymous_visitors_are_sent_to_login_and_back(site: Any, path: str) -> None:
    with site.anonymous() as client:
        answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_in_english_and_korean(site: Any, path: str) -> None:
    with browser(site) as english, browser(site, **{"Accept-Language": "ko-KR,ko;q=0.9"}) as ko:
        en_page, ko_page = english.get(path), ko.get(path)
    for answer, lang in ((en_page, "en"), (ko_page, "ko")):
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"].startswith("text/html")
        assert f'<html lang="{lang}"' in answer.text
    assert "Log out" in en_page.text
    assert "로그아웃" in ko_page.text
    assert "Log out" not in ko_page.text


def test_bad_page_addresses_answer_pages_not_json(site: Any) -> None:
    with browser(site) as client:
        for path, status in [
            ("/history?offset=-5", 422),
            ("/history?sort=nonsense", 422),
            ("/stocks/NOPE99", 404),
            ("/backtests/0123456789abcdef0123456789abcdef", 404),
            ("/no-such-page", 404),
            ("/preferences?lang=xx", 422),
        ]:
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == status, path
            assert answer.headers["content-type"].startswith("text/html"), path
            assert 'role="alert"' in answer.text
        # Empty choices from a form's "any" option are not errors.
        assert client.get("/history?state=&strategy=&symbol=").status_code == 200
        assert client.get("/stocks?q=&market=").status_code == 200
        # The API keeps answering problem JSON, and so does every path for a program.
        api = client.get("/api/backtests?offset=-5")
        assert api.status_code == 422
        assert api.headers["content-type"].startswith("application/problem+json")
        program = client.get("/no-such-page", headers={"Accept": "application/json"})
        assert program.status_code == 404
        assert program.headers["content-type"].startswith("application/problem+json")


def test_preferences_set_cookies_and_only_redirect_inside_the_site(site: Any) -> None:
    with site.anonymous() as client:
        answer = client.get(
            "/preferences?lang=ko&colors=green-up&next=/history?x=1", follow_redirects=False
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/history?x=1"
        assert client.cookies["pt_lang"] == "ko"
        assert client.cookies["pt_colors"] == "green-up"
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            away = client.get(f"/preferences?lang=en&next={quote(target)}", follow_redirects=False)
            assert away.headers["location"] == "/"
        login = client.get("/login")
        assert '<html lang="en" data-colors="green-up">' in login.text


def test_plotly_is_served_from_the_installed_package(site: Any) -> None:
    spec = importlib.util.find_spec("plotly")
    assert spec is not None
    assert spec.origin is not None
    plotly = (Path(spec.origin).parent / "package_data" / "plotly.min.js").read_bytes()
    # Plotly as the package ships it, then our Korean locale for it.
    locale = (WEB / "static" / "js" / "plotly_locale.js").read_bytes()
    shipped = plotly + b"\n;\n" + locale
    with site.anonymous() as client:
        packed = client.get("/assets/plotly.min.js", headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.content == shipped  # httpx decompressed it
        assert "immutable" in packed.headers["cache-control"]
        plain = client.get("/assets/plotly.min.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert hashlib.sha256(plain.content).digest() == hashlib.sha256(shipped).digest()
        again = client.get(
            "/assets/plotly.min.js", headers={"If-None-Match": packed.headers["etag"]}
        )
        assert again.status_code == 304
    assert len(gzip.compress(shipped)) < len(shipped) / 2


def test_every_page_script_and_style_is_served_locally(site: Any) -> None:
    with browser(site) as client:
        for path in PAGES:
            html = client.get(path).text
            for reference in re.findall(r'(?:src|href)="([^"]+\.(?:js|css)[^"]*)"', html):
                assert reference.startswith("/"), (path, reference)
                assert client.get(reference).status_code == 200, reference


def test_the_report_is_one_self_contained_html_file(site: Any) -> None:
    with site.client(token=site.trader_token) as client:
        job = submit(client, {"symbol": "DEMO05", "strategy": "macd_cross"})
        wait_for(client, job["id"], {"succeeded"})
        report = client.get(
            f"/api/backtests/{job['id']}/report.html", headers={"Accept-Language": "ko"}
        )
        document = client.get(f"/api/backtest/result/{job['id']}").json()
    assert report.status_code == 200
    assert report.headers["content-type"] == "text/html; charset=utf-8"
    disposition = report.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.endswith('-report.html"')
    html = report.text
    assert '<html lang="ko"' in html
    assert "<script src=" not in html
    assert "<link " not in html
    assert job["id"] in html
    assert len(html) > len(document["equity"]["time"]) * 10  # the series are inside
    assert "합성데모금융지주" in html
    embedded = re.search(
        r'<script id="report-document" type="application/json">(.*?)</script>', html
    )
    assert embedded is not None
    import json

    assert json.loads(embedded.group(1))["metrics"] == document["metrics"]


def test_a_run_page_embeds_its_state_for_the_script(site: Any) -> None:
    with site.client(token=site.trader_token) as client:
        job = submit(client, {"symbol": "IBM", "strategy": "buy_and_hold"})
        wait_for(client, job["id"], {"succeeded"})
    with browser(site) as client:
        html = client.get(f"/backtests/{job['id']}").text
    assert f'href="/api/backtest/result/{job["id"]}"' in html
    assert f'href="/api/backtests/{job["id"]}/report.html"' in html
    config = re.search(r'<script id="pt-config" type="application/json">(.*?)</script>', html)
    assert config is not None
    import json

    parsed = json.loads(config.group(1))
    assert parsed["job"]["id"] == job["id"]
    assert parsed["job"]["state"] == "succeeded"
    assert parsed["job"]["currency"] == "USD"
    assert len(parsed["csrf"]) >= 20
