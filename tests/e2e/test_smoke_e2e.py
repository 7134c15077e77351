"""The seed's path through the service: submit, follow, download."""

from __future__ import annotations

import re

from server import ServerProcess, submit, wait_for


def test_minimal_body_runs_to_a_downloadable_result(server: ServerProcess) -> None:
    with server.client() as client:
        job = submit(
            client, {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}
        )
        done = wait_for(client, job["id"])
        assert done["state"] == "succeeded", done
        response = client.get(f"/api/backtest/result/{job['id']}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-disposition"].startswith("attachment; filename=")
        document = response.json()
        assert document["run"]["id"] == job["id"]
        assert document["spec"]["params"] == {"fast": 10, "slow": 30}


def test_api_docs_are_served_without_a_cdn(server: ServerProcess) -> None:
    with server.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        scripts = re.findall(r"url: ?'([^']+)'", page.text)
        assert assets, page.text[:500]
        for asset in assets:
            assert not asset.startswith(("http://", "https://", "//")), asset
            assert client.get(asset).status_code == 200, asset
        assert client.get("/openapi.json").json()["info"]["title"] == "privatetrade"
        assert scripts == [] or all(not s.startswith("http") for s in scripts)
