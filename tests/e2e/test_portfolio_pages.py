"""The portfolio and scan pages over plain HTTP: forms, a run's page, the history.

A form starts from what it is given (``?symbols=``, ``?market=``, an earlier run of the
same kind), with the names of its symbols for the chips and each market's count of
stored stocks; a run page exists only for the caller's portfolio or scan (another
user's, another kind or a made-up id is the not-found page); the history lists
portfolios and scans with links to their pages and filters them by kind.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from server import ServerProcess, submit

from polling import poll

pytestmark = pytest.mark.e2e

FINAL = {"succeeded", "failed", "cancelled"}
PORTFOLIO = {
    "symbols": ["DEMO01", "DEMO03", "DEMO05"],
    "start": "2018-01-01",
    "end": "2020-12-31",
    "rule": {"rule": "top_n_momentum", "top": 2, "lookback": 40},
    "benchmark": "DEMOIDX",
}
SCAN = {"market": "KOSDAQ", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}}
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("portfolio-pages") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.tokens = {name: server.create_user(name) for name in ("owner", "stranger")}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(site: Any) -> dict[str, dict[str, Any]]:
    """One finished portfolio, scan and backtest of ``owner``."""
    with site.client(token=site.tokens["owner"]) as client:
        portfolio = accepted(client.post("/api/portfolios", json=PORTFOLIO))
        scan = accepted(client.post("/api/scans", json=SCAN))
        backtest = submit(client, {"symbol": "DEMO01", "strategy": "sma_cross"})
        return {
            "portfolio": finished(client, portfolio["id"]),
            "scan": finished(client, scan["id"]),
            "backtest": finished(client, backtest["id"]),
        }


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    return dict(response.json())


def finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        return job if job["state"] in FINAL else None

    job = poll(ended, 120.0, f"job {job_id} to end")
    assert job["state"] == "succeeded", job
    return job


def browser(site: Any, username: str = "owner", **headers: str) -> httpx.Client:
    """A cookie-authenticated client, as a browser would be."""
    accounts = site.accounts()
    secret, _session = accounts.start_session(accounts.user(username))
    accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    client = httpx.Client(base_url=site.url, headers={**accept, **headers}, timeout=30)
    client.cookies.set("pt_session", secret)
    return client


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="pt-config" type="application/json">(.*?)</script>', html)
    assert found is not None
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def test_anonymous_visitors_are_sent_to_login(site: Any) -> None:
    paths = ["/portfolios/new", "/scans/new", f"/portfolios/{UNKNOWN_ID}", f"/scans/{UNKNOWN_ID}"]
    with site.anonymous() as client:
        for path in paths:
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"


def test_the_forms_in_english_and_korean_with_what_the_picker_needs(site: Any) -> None:
    with browser(site) as english, browser(site, **{"Accept-Language": "ko-KR"}) as korean:
        pages = {
            ("portfolio", "en"): english.get("/portfolios/new"),
            ("portfolio", "ko"): korean.get("/portfolios/new"),
            ("scan", "en"): english.get("/scans/new"),
            ("scan", "ko"): korean.get("/scans/new"),
        }
        for answer in pages.values():
            assert answer.status_code == 200
            for reference in re.findall(r'(?:src|href)="(/static/[^"]+)"', answer.text):
                assert english.get(reference).status_code == 200, reference
    assert "New portfolio backtest" in pages["portfolio", "en"].text
    assert "Run portfolio backtest" in pages["portfolio", "en"].text
    assert "새 포트폴리오 백테스트" in pages["portfolio", "ko"].text
    assert "New portfolio backtest" not in pages["portfolio", "ko"].text
    assert "Scan a universe" in pages["scan", "en"].text
    assert "종목 스캔" in pages["scan", "ko"].text
    # Every rule is offered, and the nav links to both forms.
    portfolio_page = pages["portfolio", "en"].text
    for rule in ("equal_weight", "fixed_weights", "inverse_volatility", "top_n_momentum"):
        assert f'<option value="{rule}">' in portfolio_page
    assert 'href="/portfolios/new" aria-current="page"' in portfolio_page
    assert 'href="/scans/new"' in portfolio_page
    config = page_config(portfolio_page)
    # The sample data: three synthetic KOSPI and three KOSDAQ stocks.
    assert config["marketCounts"]["KOSPI"] == 3
    assert config["marketCounts"]["KOSDAQ"] == 3
    assert config["universe"] == {"symbols": []}
    assert config["initial"] == {}
    assert {s["name"] for s in config["strategies"]} >= {"sma_cross", "rsi_reversion"}
    assert 'data-limit="2000"' in portfolio_page


def test_the_forms_start_from_the_address_or_an_earlier_run(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    with browser(site) as client:
        listed = page_config(client.get("/portfolios/new?symbols=demo01, DEMO02,demo01,NOPE").text)
        market = page_config(client.get("/scans/new?market=kosdaq").text)
        nonsense = page_config(client.get("/scans/new?market=MOON").text)
        again = client.get(f"/portfolios/new?from={runs['portfolio']['id']}")
        scan_again = page_config(client.get(f"/scans/new?from={runs['scan']['id']}").text)
        wrong_kind = client.get(f"/portfolios/new?from={runs['scan']['id']}")
        backtest = client.get(f"/scans/new?from={runs['backtest']['id']}")
    assert listed["universe"]["symbols"] == [
        {"code": "DEMO01", "name": "합성데모전자", "name_en": "Synthetic Demo Electronics",
         "market": "KOSPI"},
        {"code": "DEMO02", "name": "합성데모바이오", "name_en": "Synthetic Demo Bio",
         "market": "KOSDAQ"},
        {"code": "NOPE", "name": "", "name_en": "", "market": ""},
    ]  # fmt: skip
    assert market["universe"] == {"market": "KOSDAQ"}
    assert nonsense["universe"] == {"symbols": []}
    assert again.status_code == 200
    earlier = page_config(again.text)
    assert earlier["initial"]["rule"]["top"] == 2
    assert earlier["initial"]["benchmark"] == "DEMOIDX"
    assert [chip["code"] for chip in earlier["universe"]["symbols"]] == PORTFOLIO["symbols"]
    assert f'href="/portfolios/{runs["portfolio"]["id"]}"' in again.text
    assert scan_again["universe"] == {"market": "KOSDAQ"}
    assert scan_again["initial"]["params"] == SCAN["params"]
    assert wrong_kind.status_code == backtest.status_code == 404
    # Another user's run is not found, whatever its kind.
    with browser(site, "stranger") as stranger:
        for path in ("/portfolios/new", "/scans/new"):
            for job in runs.values():
                answer = stranger.get(f"{path}?from={job['id']}")
                assert answer.status_code == 404
                assert answer.headers["content-type"].startswith("text/html")


def test_a_run_page_only_for_the_callers_portfolio_or_scan(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    portfolio, scan, backtest = runs["portfolio"], runs["scan"], runs["backtest"]
    with browser(site) as client:
        portfolio_page = client.get(f"/portfolios/{portfolio['id']}")
        scan_page = client.get(f"/scans/{scan['id']}")
        wrong = [
            client.get(f"/portfolios/{scan['id']}"),
            client.get(f"/scans/{portfolio['id']}"),
            client.get(f"/portfolios/{backtest['id']}"),
            client.get(f"/scans/{UNKNOWN_ID}"),
        ]
    with browser(site, "stranger") as stranger:
        wrong += [
            stranger.get(f"/portfolios/{portfolio['id']}"),
            stranger.get(f"/scans/{scan['id']}"),
        ]
    for answer in wrong:
        assert answer.status_code == 404
        assert "Not found" in answer.text
    assert portfolio_page.status_code == scan_page.status_code == 200
    for answer in (portfolio_page, scan_page):
        # Plotly sets inline styles: the run pages have the chart pages' policy.
        assert "style-src 'self' 'unsafe-inline'" in answer.headers["content-security-policy"]
    config = page_config(portfolio_page.text)
    assert config["job"]["id"] == portfolio["id"]
    assert config["job"]["kind"] == "portfolio"
    assert config["job"]["currency"] == "KRW"
    assert config["names"] == {"DEMO01": "합성데모전자", "DEMO03": "합성데모화학",
                               "DEMO05": "합성데모금융지주"}  # fmt: skip
    assert "Top N by momentum" in portfolio_page.text
    assert 'id="holdings-chart"' in portfolio_page.text
    assert f'href="/portfolios/new?from={portfolio["id"]}"' in portfolio_page.text
    scan_config = page_config(scan_page.text)
    assert scan_config["job"]["kind"] == "scan"
    assert set(scan_config["names"]) == {"DEMO02", "DEMO04", "DEMO06"}
    assert "All of KOSDAQ" in scan_page.text
    assert 'id="scan-scatter"' in scan_page.text


def test_history_lists_portfolios_and_scans_and_filters_them_by_kind(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    def listed(html: str) -> dict[str, str]:
        """Each row's job id and the kind it says it is."""
        return dict(re.findall(r'<tr data-id="([0-9a-f]{32})" data-kind="(\w+)">', html))

    with browser(site) as client:
        every = client.get("/history")
        portfolios = client.get("/history?kind=portfolio")
        scans = client.get("/history?kind=scan")
        korean = client.get("/history", headers={"Accept-Language": "ko-KR"})
    assert every.status_code == korean.status_code == 200
    assert listed(every.text) == {job["id"]: kind for kind, job in runs.items()}
    assert listed(portfolios.text) == {runs["portfolio"]["id"]: "portfolio"}
    assert listed(scans.text) == {runs["scan"]["id"]: "scan"}
    assert f'href="/portfolios/{runs["portfolio"]["id"]}"' in every.text
    assert f'href="/scans/{runs["scan"]["id"]}"' in every.text
    assert "DEMO01, DEMO03, DEMO05" in every.text
    assert "All of KOSDAQ" in every.text
    # The scan's best symbol by its sort (Sharpe), from the job's summary.
    best = runs["scan"]["summary"]["best"][0]
    assert best["name"] in every.text
    assert "모멘텀 상위 종목" in korean.text
    assert "Top N by momentum" not in korean.text
    assert "KOSDAQ 전체" in korean.text
