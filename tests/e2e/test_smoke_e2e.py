"""The seed's path through the service: submit, follow, download."""

from __future__ import annotations

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
