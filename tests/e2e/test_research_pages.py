"""The research pages over plain HTTP: the optimization form, a run's page, the history.

The form starts from what it is given (a backtest form's spec, an earlier run) and carries
each strategy's default grid for its script; a run page exists only for the caller's
optimizations and walk-forwards; the history lists every kind of run and filters by kind.
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
SMALL_SPACE = {"fast": [5, 10], "slow": [30, 60]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("research-pages") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = ServerProcess(data_dir).start()
    server.tokens = {name: server.create_user(name) for name in ("analyst", "stranger")}
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(site: Any) -> dict[str, dict[str, Any]]:
    """One finished backtest, optimization and walk-forward of ``analyst``."""
    with site.client(token=site.tokens["analyst"]) as client:
        backtest = submit(client, {"symbol": "DEMO01", "strategy": "ema_cross", "costs": "krx"})
        sweep = accepted(
            client.post("/api/sweeps", json={"symbol": "DEMO02", "space": SMALL_SPACE})
        )
        walk = accepted(
            client.post(
                "/api/walkforwards",
                json={
                    "symbol": "DEMO03",
                    "space": SMALL_SPACE,
                    "in_sample": "36m",
                    "out_of_sample": "12m",
                    "anchored": True,
                },
            )
        )
        return {
            "backtest": finished(client, backtest["id"]),
            "sweep": finished(client, sweep["id"]),
            "walkforward": finished(client, walk["id"]),
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


def browser(site: Any, username: str = "analyst", **headers: str) -> httpx.Client:
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
    with site.anonymous() as client:
        for path in ("/research/new", "/research/0123456789abcdef0123456789abcdef"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"


def test_the_form_in_english_and_korean_with_the_default_grids(site: Any) -> None:
    from privatetrade.engine.api import default_registry
    from privatetrade.research.space import default_axes

    with browser(site) as english, browser(site, **{"Accept-Language": "ko-KR"}) as korean:
        en_page, ko_page = english.get("/research/new"), korean.get("/research/new")
    assert en_page.status_code == ko_page.status_code == 200
    assert '<html lang="en"' in en_page.text
    assert "Optimize a strategy" in en_page.text
    assert "Run optimization" in en_page.text
    assert '<html lang="ko"' in ko_page.text
    assert "전략 최적화" in ko_page.text
    assert "Optimize a strategy" not in ko_page.text
    config = page_config(en_page.text)
    # The default grid the server searches when the space is empty (research/space.py).
    assert config["grids"]["sma_cross"] == {
        "fast": [2, 4, 6, 8, 12, 18, 27, 40],
        "slow": [8, 11, 17, 25, 37, 54, 81, 120],
    }
    registry = default_registry()
    for name, grid in config["grids"].items():
        assert grid == json.loads(json.dumps(default_axes(registry.get(name)))), name
    assert config["analysis"] == "sweep"
    assert config["initial"] == {}
    # The form's scripts and styles are served.
    with browser(site) as client:
        for reference in re.findall(r'(?:src|href)="(/static/[^"]+)"', en_page.text):
            assert client.get(reference).status_code == 200, reference


def test_the_form_starts_from_a_backtest_forms_spec_or_an_earlier_run(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    spec = {"symbol": "DEMO05", "strategy": "macd_cross", "params": {"fast": 8}, "costs": "zero"}
    with browser(site) as client:
        given = page_config(client.get("/research/new", params={"spec": json.dumps(spec)}).text)
        broken = client.get("/research/new", params={"spec": "{not json", "symbol": "demo04"})
        walk_form = page_config(client.get("/research/new?kind=walkforward").text)
        from_backtest = client.get(f"/research/new?from={runs['backtest']['id']}")
        from_walk = client.get(f"/research/new?from={runs['walkforward']['id']}")
    assert given["initial"] == spec
    assert broken.status_code == 200
    assert page_config(broken.text)["initial"] == {"symbol": "DEMO04"}
    assert walk_form["analysis"] == "walkforward"
    assert from_backtest.status_code == 200
    earlier = page_config(from_backtest.text)["initial"]
    assert (earlier["symbol"], earlier["strategy"], earlier["costs"]) == (
        "DEMO01",
        "ema_cross",
        "krx",
    )
    assert f'href="/backtests/{runs["backtest"]["id"]}"' in from_backtest.text
    walk = page_config(from_walk.text)
    assert walk["analysis"] == "walkforward"
    assert walk["initial"]["space"] == SMALL_SPACE
    assert walk["initial"]["in_sample"] == {"count": 36, "unit": "months"}
    assert walk["initial"]["anchored"] is True
    # Another user's run is not found, whatever its kind.
    with browser(site, "stranger") as stranger:
        for job in runs.values():
            answer = stranger.get(f"/research/new?from={job['id']}")
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")


def test_a_run_page_only_for_the_callers_optimizations_and_walk_forwards(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    sweep, walk, backtest = runs["sweep"], runs["walkforward"], runs["backtest"]
    with browser(site) as client:
        sweep_page = client.get(f"/research/{sweep['id']}")
        walk_page = client.get(f"/research/{walk['id']}")
        assert client.get(f"/research/{backtest['id']}").status_code == 404
        assert client.get("/research/0123456789abcdef0123456789abcdef").status_code == 404
    with browser(site, "stranger") as stranger:
        assert stranger.get(f"/research/{sweep['id']}").status_code == 404
    assert sweep_page.status_code == walk_page.status_code == 200
    # Plotly sets inline styles: the run page has the chart pages' policy.
    assert "style-src 'self' 'unsafe-inline'" in sweep_page.headers["content-security-policy"]
    config = page_config(sweep_page.text)
    assert config["job"]["id"] == sweep["id"]
    assert config["job"]["kind"] == "sweep"
    assert config["job"]["currency"] == "KRW"
    for name in ("result.json", "table.csv", "table.parquet"):
        assert f'href="/api/jobs/{sweep["id"]}/artifacts/{name}"' in sweep_page.text
    assert "Fast window 5, 10 · Slow window 30, 60" in sweep_page.text
    for name in ("result.json", "windows.csv", "equity.csv"):
        assert f'href="/api/jobs/{walk["id"]}/artifacts/{name}"' in walk_page.text
    assert page_config(walk_page.text)["job"]["kind"] == "walkforward"
    assert 'id="walkforward-chart"' in walk_page.text
    assert 'id="heatmap-chart"' not in walk_page.text


def test_history_lists_every_kind_of_run_and_filters_by_kind(
    site: Any, runs: dict[str, dict[str, Any]]
) -> None:
    def listed(html: str) -> dict[str, str]:
        """Each row's job id and the kind it says it is."""
        return dict(re.findall(r'<tr data-id="([0-9a-f]{32})" data-kind="(\w+)">', html))

    with browser(site) as client:
        every = client.get("/history").text
        kinds = {kind: listed(client.get(f"/history?kind={kind}").text) for kind in runs}
        unknown = client.get("/history?kind=nonsense")
    expected = {job["id"]: kind for kind, job in runs.items()}
    assert listed(every) == expected
    for kind, job in runs.items():
        assert kinds[kind] == {job["id"]: kind}
    assert unknown.status_code == 200
    assert listed(unknown.text) == expected
    # Optimizations and walk-forwards link to their own pages.
    assert f'href="/research/{runs["sweep"]["id"]}"' in every
    assert f'href="/research/{runs["walkforward"]["id"]}"' in every
    assert f'href="/backtests/{runs["backtest"]["id"]}"' in every
    best = runs["sweep"]["summary"]["best"]
    fast, slow = best["params"]["fast"], best["params"]["slow"]
    assert f"Fast window {fast}, Slow window {slow}" in every
