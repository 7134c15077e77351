"""The account page's notifications in Chromium: add a webhook, see it masked, test, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import chromium, screenshot_path
from notification_receivers import http_receiver, verify_signature
from server import ServerProcess

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def test_add_test_and_delete_a_webhook_channel_in_korean(data_dir: Path) -> None:
    server = ServerProcess(data_dir, workers=1).start()
    try:
        server.create_user("dana", PASSWORD)
        with http_receiver() as receiver, chromium() as browser:
            context = browser.new_context(locale="ko-KR")
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.url}/login")
            page.locator("#username").fill("dana")
            page.locator("#password").fill(PASSWORD)
            page.locator("#password").press("Enter")
            page.wait_for_url(f"{server.url}/")
            page.goto(f"{server.url}/account")
            assert page.get_by_role("heading", name="알림").is_visible()

            page.get_by_label("채널", exact=True).select_option("webhook")
            hook_path = "/hook/browser-s3cret"
            page.get_by_label("주소", exact=True).fill(receiver.url(hook_path))
            page.get_by_label("채널 이름").fill("내 서버")
            page.get_by_role("button", name="채널 추가").click()
            secret = page.locator("#channel-secret").inner_text().strip()
            assert secret.startswith("whsec_")
            row = page.locator("#channels tbody tr", has_text="내 서버")
            assert row.locator("code.masked").inner_text() == f"http://127.0.0.1:{receiver.port}/…"
            assert hook_path not in page.content()
            page.screenshot(path=screenshot_path("account-notifications-ko"), full_page=True)

            row.get_by_role("button", name="테스트 메시지 보내기 내 서버").click()
            assert page.locator("#test-outcome").inner_text() == "테스트 메시지를 전달했습니다."
            posted = receiver.wait_for(1)[0]
            assert posted.path == hook_path
            assert verify_signature(secret, posted)
            assert json.loads(posted.body)["event"] == "test"
            row = page.locator("#channels tbody tr", has_text="내 서버")
            assert "전달됨" in row.locator(".delivery").first.inner_text()
            page.goto(f"{server.url}/account")  # the secret is shown once only
            assert page.locator("#channel-secret").count() == 0
            assert secret not in page.content()

            row = page.locator("#channels tbody tr", has_text="내 서버")
            row.get_by_role("button", name="삭제 내 서버").click()
            page.wait_for_url(f"{server.url}/account#notifications")
            assert page.get_by_text("아직 채널이 없습니다.").is_visible()
            context.close()
            assert errors == []
    finally:
        server.stop()
