"""The operators' status report moves with the load it reports."""

from __future__ import annotations

from pathlib import Path

from server import ServerProcess, submit, wait_for


def test_status_figures_move_when_load_is_applied(data_dir: Path) -> None:
    server = ServerProcess(data_dir).start()
    try:
        with server.client() as admin:
            before = admin.get("/api/status")
            assert before.status_code == 200, before.text
            first = before.json()
            assert first["version"] == admin.get("/api/health").json()["version"]
            assert first["disk"]["data_dir_bytes"] > 0
            assert first["executor"]["workers"] == 2

            for _ in range(200):
                assert admin.get("/api/health").status_code == 200
            for _ in range(7):
                assert admin.get("/api/backtests/" + "0" * 32).status_code == 404
            ids = [
                submit(admin, {"symbol": symbol, "params": {"fast": 5, "slow": 20}})["id"]
                for symbol in ("AAPL", "MSFT")
            ]
            assert [wait_for(admin, job_id)["state"] for job_id in ids] == ["succeeded"] * 2
            after = admin.get("/api/status").json()

        recent, hour = after["api"]["last_5_minutes"], after["api"]["last_60_minutes"]
        old = first["api"]["last_5_minutes"]
        assert recent["requests"] >= old["requests"] + 209
        assert recent["not_found"] >= old["not_found"] + 7
        assert recent["client_errors"] >= recent["not_found"]
        assert recent["server_errors"] == 0
        assert 0 < recent["p50_ms"] <= recent["p95_ms"] <= recent["p99_ms"]
        assert hour["requests"] >= recent["requests"]
        assert after["jobs"]["by_state"]["succeeded"] == first["jobs"]["by_state"]["succeeded"] + 2
        assert after["jobs"]["queue_depth"] == 0
        assert after["cpu"]["service_percent"] is not None
        assert after["cpu"]["service_percent"] > 0
        assert after["memory"]["server_rss_bytes"] > 10_000_000
        assert after["memory"]["workers_rss_bytes"] > 10_000_000
    finally:
        server.stop()


def test_status_is_for_administrators_only(server: ServerProcess) -> None:
    token = server.create_user("bob")
    with server.client(token) as bob:
        denied = bob.get("/api/status")
        assert denied.status_code == 403
        assert denied.headers["content-type"].startswith("application/problem+json")
    with server.anonymous() as anonymous:
        assert anonymous.get("/api/status").status_code == 401
        page = anonymous.get("/status")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login")


def test_status_page_renders_for_an_admin_session(server: ServerProcess) -> None:
    accounts = server.accounts()
    secret, _session = accounts.start_session(accounts.user("admin"))
    with server.anonymous() as browser:
        browser.cookies.set("pt_session", secret)
        page = browser.get("/status")
        assert page.status_code == 200, page.text[:300]
        assert "text/html" in page.headers["content-type"]
        for text in ("Status", "last 5 minutes", "last 60 minutes", "queue depth", "Memory"):
            assert text in page.text
        version = browser.get("/api/health").json()["version"]
        assert f"<footer>privatetrade {version} ·" in page.text
